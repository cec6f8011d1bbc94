//! OpenSSH set up as other servers are. A plain SFTP v3 server: no posix-rename, fsync,
//! statvfs or limits extension (OpenSSH's `sftp-server -P` stops offering them), on an
//! SFTP-only account: the run falls back to plain rename, 32 KiB requests and readback, and
//! still commits a verified snapshot. And `write_order = "sequential"`, as an object-store
//! gateway needs (tests/interop_rclone.rs), seen from the server's side.

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
    let err = run_verbose(&sshd, &cfg);
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

/// `write_order = "sequential"`: OpenSSH's SFTP log (`sftp-server -e -l DEBUG3` logs each
/// write's offset; internal-sftp would send its log to syslog or into the channel) shows
/// every file written from offset 0 up, each write where the last one ended, over hundreds of
/// writes to the big stream.
#[test]
fn sequential_write_order_sends_each_file_in_offset_order() {
    let candidates = [
        "/usr/lib/openssh/sftp-server",
        "/usr/libexec/openssh/sftp-server",
    ];
    let Some(server) = candidates.iter().find(|p| std::path::Path::new(p).exists()) else {
        eprintln!("skipping: no OpenSSH sftp-server binary in {candidates:?}");
        return;
    };
    let logs = tempfile::tempdir().unwrap();
    let sftp_log = logs.path().join("sftp-server.log");
    let Some(sshd) = common::Sshd::builder()
        .extra_config(&format!(
            "ForceCommand {server} -e -l DEBUG3 2>>{}",
            sftp_log.display()
        ))
        .start()
    else {
        return;
    };
    let cfg = sshd.write_config_with(
        "write_order = \"sequential\"",
        &format!(
            "[jobs.t]\nremote = \"test\"\nverify = \"size\"\n{}",
            common::snap::command("big.bin", &["head", "-c", "67108864", "/dev/urandom"], "")
        ),
    );
    let err = run_verbose(&sshd, &cfg);
    assert!(
        err.contains("writes in sequential order: set by write_order"),
        "{err}"
    );
    let log = fs::read_to_string(&sftp_log).unwrap_or_default();
    let writes = writes_by_file(&log);
    let big = writes
        .iter()
        .find(|(name, _)| name.ends_with("/big.bin.zst"))
        .unwrap_or_else(|| panic!("no writes to big.bin.zst in the log:\n{log}"));
    assert!(big.1.len() >= 200, "only {} writes", big.1.len());
    for (name, offsets) in &writes {
        let mut next = 0;
        for &(off, len) in offsets {
            assert_eq!(off, next, "{name}: a write at {off}, expected {next}");
            next = off + len;
        }
    }
}

/// `backup -v run t`, which must succeed; its stderr.
fn run_verbose(sshd: &common::Sshd, cfg: &std::path::Path) -> String {
    let out = common::backup_cmd(cfg, &["-v", "run", "t"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", describe(&out), sshd.log());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `(file, [(offset, len)...])` in log order, from sftp-server's
/// `request N: write "NAME" (handle H) off OFF len LEN` lines.
fn writes_by_file(log: &str) -> Vec<(String, Vec<(u64, u64)>)> {
    let mut files: Vec<(String, Vec<(u64, u64)>)> = Vec::new();
    for line in log.lines() {
        let Some(rest) = line.split(": write \"").nth(1) else {
            continue;
        };
        let Some((name, tail)) = rest.split_once('"') else {
            continue;
        };
        let num = |key: &str| -> u64 {
            let v = tail.split(key).nth(1).unwrap_or_default();
            v.split_whitespace()
                .next()
                .unwrap_or_default()
                .parse()
                .unwrap()
        };
        let write = (num(" off "), num(" len "));
        match files.iter_mut().find(|(n, _)| n == name) {
            Some((_, w)) => w.push(write),
            None => files.push((name.to_string(), vec![write])),
        }
    }
    files
}
