//! A plain SFTP v3 server: no posix-rename, fsync, statvfs or limits extension (OpenSSH's
//! `sftp-server -P` stops offering them), on an SFTP-only account. The run falls back to plain
//! rename, 32 KiB requests and readback, and still commits a verified snapshot.

mod common;

use std::fs;

use common::{backup, describe, toml_str};

#[test]
fn a_server_without_extensions_still_gets_verified_snapshots() {
    let Some(sshd) = common::Sshd::builder()
        .extra_config("ForceCommand internal-sftp -P posix-rename,fsync,statvfs,fstatvfs,limits")
        .start()
    else {
        return;
    };
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("a.txt"), "hello\n").unwrap();
    let cfg = sshd.write_config(&format!(
        "[jobs.t]\nremote = \"test\"\nsources = [{}]\n",
        toml_str(&src.path().to_string_lossy())
    ));
    let out = common::backup_cmd(&cfg, &["-v", "run", "t"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", describe(&out), sshd.log());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("posix_rename: false, fsync: false, statvfs: false"),
        "{err}"
    );
    assert!(err.contains("verified by readback"), "{err}");
    // A second run in the same job: plain rename never has to replace anything.
    let out = backup(&cfg, &["run", "t"]);
    assert!(out.status.success(), "{}", describe(&out));
    let listed = backup(&cfg, &["list", "t", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(v.as_array().map(Vec::len), Some(2), "{}", describe(&listed));
    let out = backup(&cfg, &["verify", "t", "--all"]);
    assert!(out.status.success(), "{}", describe(&out));
}
