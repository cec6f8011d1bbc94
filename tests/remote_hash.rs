//! Which program hashes the uploads on the server for `verify = "auto"`: `openssl dgst -sha256`
//! where the account has it (it uses the CPU's SHA instructions), else `sha256sum`, chosen once
//! per connection; either answer must match the hash the stream had as it was sent. The real
//! sshd's PATH is set (`SetEnv`) to a directory of wrappers that log each call, so the test sees
//! what the server ran. The last stream to finish is hashed as soon as its writes are answered;
//! one that finished earlier is hashed at the check, so a byte changed on the server while a
//! dump runs on is caught.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::snap::{command, snapshots};
use common::{backup, describe, toml_str};

/// What the server's `openssl` is in a test.
enum Openssl {
    Real,
    Missing,
    /// Exit 0 with output in no shape a hash tool prints (an odd build).
    Odd,
}

fn script(path: &Path, body: &str) {
    fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// The calls the server's hash tools saw, in order: during `backup run`, then `backup verify`.
struct Calls {
    run: Vec<String>,
    verify: Vec<String>,
}

/// The job of these tests: the sources, and a dump that runs on for a second after its
/// output, so the sources' stream always finishes first.
fn job(src: &Path) -> String {
    format!(
        "[jobs.t]\nremote = \"test\"\nsources = [{}]\nverify = \"auto\"\n\n{}",
        toml_str(&src.to_string_lossy()),
        command("dump.sql", &["sh", "-c", "echo rows; sleep 1"], "")
    )
}

/// Runs [`job`] and then `backup verify` against a server whose `openssl` is `openssl`.
fn hash_calls(openssl: Openssl) -> Option<Calls> {
    let bin = tempfile::tempdir().unwrap();
    let log = bin.path().join("calls");
    let log_s = log.display();
    let real = "/usr/bin/openssl";
    let body = match openssl {
        Openssl::Real => format!("echo openssl >> {log_s}\nexec {real} \"$@\""),
        Openssl::Missing => format!("echo openssl-missing >> {log_s}\nexit 127"),
        Openssl::Odd => format!("echo openssl-odd >> {log_s}\necho 'SHA2-256(x)= 00'"),
    };
    script(&bin.path().join("openssl"), &body);
    script(
        &bin.path().join("sha256sum"),
        &format!("echo sha256sum >> {log_s}\nexec /usr/bin/sha256sum \"$@\""),
    );
    if !Path::new(real).exists() {
        eprintln!("skipping: no {real} (apt-get install openssl)");
        return None;
    }
    let path = format!("SetEnv PATH={}:/usr/bin:/bin", bin.path().display());
    let sshd = common::Sshd::builder().extra_config(&path).start()?;

    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("a.txt"), "hello\n".repeat(1000)).unwrap();
    let cfg = sshd.write_config(&job(src.path()));
    let out = backup(&cfg, &["run", "t"]);
    assert!(out.status.success(), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("verified by remote-hash"), "{stderr}");
    let snaps = snapshots(&sshd.remote_dir().join("t"));
    assert_eq!(snaps.len(), 1, "{snaps:?}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(snaps[0].join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["verified_by"], "remote-hash");
    let lines = || -> Vec<String> {
        let calls = fs::read_to_string(&log).unwrap_or_default();
        calls.lines().map(str::to_string).collect()
    };
    let run = lines();

    let out = backup(&cfg, &["verify", "t"]);
    assert!(out.status.success(), "{}", describe(&out));
    let verify = lines()[run.len()..].to_vec();
    Some(Calls { run, verify })
}

#[test]
fn openssl_hashes_the_uploads_where_the_server_has_it() {
    let Some(calls) = hash_calls(Openssl::Real) else {
        return;
    };
    // The run: the dump as soon as its writes are answered (beside its fsync), then the
    // sources, which finished first, at the check. `backup verify` hashes both in one call.
    // sha256sum is never asked.
    assert_eq!(calls.run, ["openssl", "openssl"]);
    assert_eq!(calls.verify, ["openssl"]);
}

#[test]
fn sha256sum_hashes_them_where_openssl_is_missing_or_odd() {
    for (openssl, tried) in [
        (Openssl::Missing, "openssl-missing"),
        (Openssl::Odd, "openssl-odd"),
    ] {
        let Some(calls) = hash_calls(openssl) else {
            return;
        };
        // Once per connection: the run finds openssl unusable on its first hash.
        assert_eq!(calls.run, [tried, "sha256sum", "sha256sum"]);
        assert_eq!(calls.verify, [tried, "sha256sum"]);
    }
}

#[test]
fn a_byte_changed_while_a_dump_runs_on_fails_the_run() {
    let Some(sshd) = common::sshd() else {
        return;
    };
    let src = tempfile::tempdir().unwrap();
    let body: Vec<u8> = (0..400_000u32).flat_map(|i| i.to_le_bytes()).collect();
    fs::write(src.path().join("a.bin"), body).unwrap();
    let cfg = sshd.write_config(&job(src.path()).replace("sleep 1", "sleep 3"));
    let child = common::backup_cmd(&cfg, &["run", "t"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The sources' stream is complete once its size holds still while the dump sleeps.
    let job_dir = sshd.remote_dir().join("t");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut flipped = None;
    while flipped.is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let partial = fs::read_dir(&job_dir)
            .into_iter()
            .flatten()
            .flatten()
            .find(|e| e.file_name().to_string_lossy().ends_with(".partial"));
        let Some(f) = partial.map(|e| e.path().join("files.tar.zst")) else {
            continue;
        };
        let Ok(size) = fs::metadata(&f).map(|m| m.len()) else {
            continue;
        };
        std::thread::sleep(std::time::Duration::from_millis(500));
        if size > 0 && fs::metadata(&f).map(|m| m.len()).ok() == Some(size) {
            let mut bytes = fs::read(&f).unwrap();
            let at = bytes.len() / 2;
            bytes[at] ^= 0x5A;
            fs::write(&f, bytes).unwrap();
            flipped = Some(f);
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(flipped.is_some(), "never saw the finished sources stream");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("SHA-256 on the server"), "{stderr}");
    assert!(snapshots(&job_dir).is_empty(), "nothing may be committed");
}
