//! SFTP-only accounts, against a real sshd: `check --connect` says whether the server can hash
//! and which method `verify = "auto"` uses; `verify = "remote-hash"` on an account that cannot
//! hash fails before anything is uploaded; `auto` falls back with one clear line.

mod common;

use std::fs;
use std::path::Path;

use common::{backup, describe, toml_str};

fn jobs(src: &Path) -> String {
    let s = toml_str(&src.to_string_lossy());
    format!(
        "[jobs.t]\nremote = \"test\"\nsources = [{s}]\n\n\
         [jobs.strict]\nremote = \"test\"\nsources = [{s}]\nverify = \"remote-hash\"\n"
    )
}

fn source() -> tempfile::TempDir {
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("a.txt"), "hello\n".repeat(1000)).unwrap();
    src
}

#[test]
fn check_connect_says_whether_the_server_hashes_and_what_auto_uses() {
    let Some(full) = common::sshd() else { return };
    let Some(sftp_only) = common::sshd_sftp_only() else {
        return;
    };
    let src = source();

    let out = backup(
        &full.write_config(&jobs(src.path())),
        &["check", "--connect"],
    );
    assert!(out.status.success(), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("remote test: server-side hashing works"),
        "{text}"
    );
    assert!(
        text.contains("job t: verify = \"auto\" uses remote-hash"),
        "{text}"
    );

    let out = backup(
        &sftp_only.write_config(&jobs(src.path())),
        &["check", "--connect"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("remote test: server-side hashing is not available for this account"),
        "{text}"
    );
    assert!(
        text.contains("job t: verify = \"auto\" uses readback"),
        "{text}"
    );
    assert!(
        text.contains("job strict: FAILED: verify = \"remote-hash\" cannot work on this account"),
        "{text}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("remote(s) failed the check: test"));
}

#[test]
fn remote_hash_on_an_sftp_only_account_fails_before_the_upload() {
    let Some(sshd) = common::sshd_sftp_only() else {
        return;
    };
    let src = source();
    let cfg = sshd.write_config(&jobs(src.path()));
    let out = backup(&cfg, &["run", "strict"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot hash files on the server") && err.contains("nothing was uploaded"),
        "{err}"
    );
    assert!(
        err.contains("hint: set verify = \"auto\"")
            && err.contains("allow this account to run openssl or sha256sum"),
        "{err}"
    );
    // No snapshot, no partial upload, no probe left behind: only the history's records.
    let dir = sshd.remote_dir().join("strict");
    for e in fs::read_dir(&dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        assert!(
            !e.file_type().unwrap().is_dir() && !name.starts_with(".backup-agent-probe"),
            "{name} in {}",
            dir.display()
        );
    }
}

#[test]
fn auto_on_an_sftp_only_account_says_once_why_it_reads_back() {
    let Some(sshd) = common::sshd_sftp_only() else {
        return;
    };
    let src = source();
    let out = backup(&sshd.write_config(&jobs(src.path())), &["run", "t"]);
    assert!(out.status.success(), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("sha256sum")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains("verifying by readback")
            && lines[0].contains("cannot hash files on the server"),
        "{err}"
    );
    assert!(!err.contains("exit status"), "{err}");
}
