//! Which program hashes the uploads on the server for `verify = "auto"`: `openssl dgst -sha256`
//! where the account has it (it uses the CPU's SHA instructions), else `sha256sum`, chosen once
//! per connection; either answer must match the hash the stream had as it was sent. The real
//! sshd's PATH is set (`SetEnv`) to a directory of wrappers that log each call, so the test sees
//! what the server ran.

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

/// Runs a job with two streams and then `backup verify` against a server whose `openssl` is
/// `openssl`.
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
    let cfg = sshd.write_config(&format!(
        "[jobs.t]\nremote = \"test\"\nsources = [{}]\nverify = \"auto\"\n\n{}",
        toml_str(&src.path().to_string_lossy()),
        command("dump.sql", &["echo", "rows"], "")
    ));
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

fn count(calls: &[String], what: &str) -> usize {
    calls.iter().filter(|c| *c == what).count()
}

#[test]
fn openssl_hashes_the_uploads_where_the_server_has_it() {
    let Some(calls) = hash_calls(Openssl::Real) else {
        return;
    };
    // The run hashes each stream once its writes are answered (beside its fsync), and asks
    // nothing more before the commit; `backup verify` hashes both streams in one call.
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
        // The two streams finish about together: the second may ask openssl before the
        // first has found it unusable, never after.
        assert_eq!(count(&calls.run, "sha256sum"), 2, "{:?}", calls.run);
        let asked = count(&calls.run, tried);
        assert!((1..=2).contains(&asked), "{:?}", calls.run);
        assert_eq!(calls.run[0], tried, "{:?}", calls.run);
        assert_eq!(calls.verify, [tried, "sha256sum"]);
    }
}
