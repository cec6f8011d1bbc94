//! Key types, hashed known_hosts, `check --connect` and `--dry-run` against a real sshd.

mod common;

use std::fs;
use std::process::Command;

use common::{backup, describe, toml_str};

fn small_job() -> (tempfile::TempDir, String) {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("a.txt"), "hello\n").unwrap();
    let job = format!(
        "[jobs.t]\nremote = \"test\"\nsources = [{}]\n",
        toml_str(&d.path().to_string_lossy())
    );
    (d, job)
}

/// A fresh client key of `kind`, authorized on the server, used instead of the default one.
fn use_client_key(sshd: &common::Sshd, cfg: &std::path::Path, kind: &[&str]) {
    let key = sshd.dir().join(format!("client_{}", kind[1]));
    let st = Command::new("ssh-keygen")
        .args(["-q", "-N", ""])
        .args(kind)
        .arg("-f")
        .arg(&key)
        .status()
        .unwrap();
    assert!(st.success());
    let pubkey = fs::read_to_string(key.with_extension("pub")).unwrap();
    let auth = sshd.dir().join("authorized_keys");
    let mut text = fs::read_to_string(&auth).unwrap();
    text.push_str(&pubkey);
    fs::write(&auth, text).unwrap();
    let config = fs::read_to_string(cfg).unwrap().replace(
        &toml_str(&sshd.client_key().to_string_lossy()),
        &toml_str(&key.to_string_lossy()),
    );
    fs::write(cfg, config).unwrap();
}

#[test]
fn rsa_and_ecdsa_client_keys_authenticate() {
    let sshd = common::sshd_or_skip!();
    let (_d, job) = small_job();
    let cfg = sshd.write_config(&job);
    use_client_key(&sshd, &cfg, &["-t", "rsa", "-b", "2048"]);
    let out = backup(&cfg, &["run", "t"]);
    assert!(out.status.success(), "rsa: {}", describe(&out));
    let cfg = sshd.write_config(&job);
    use_client_key(&sshd, &cfg, &["-t", "ecdsa", "-b", "256"]);
    let out = backup(&cfg, &["run", "t"]);
    assert!(out.status.success(), "ecdsa: {}", describe(&out));
}

#[test]
fn a_key_the_server_does_not_accept_says_what_to_do() {
    let sshd = common::sshd_or_skip!();
    let (_d, job) = small_job();
    let cfg = sshd.write_config(&job);
    fs::write(sshd.dir().join("authorized_keys"), "").unwrap();
    let out = backup(&cfg, &["run", "t"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("authentication") && err.contains("authorized_keys"),
        "{err}"
    );
}

#[test]
fn hashed_known_hosts_are_accepted() {
    let sshd = common::sshd_or_skip!();
    let (_d, job) = small_job();
    let cfg = sshd.write_config(&job);
    let st = Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(sshd.known_hosts())
        .output()
        .unwrap();
    assert!(st.status.success(), "{}", describe(&st));
    let text = fs::read_to_string(sshd.known_hosts()).unwrap();
    assert!(text.starts_with("|1|"), "{text}");
    let out = backup(&cfg, &["run", "t"]);
    assert!(out.status.success(), "{}", describe(&out));
}

#[test]
fn check_connect_proves_the_remote_and_dry_run_writes_nothing() {
    let sshd = common::sshd_or_skip!();
    let (_d, job) = small_job();
    let cfg = sshd.write_config(&job);
    let out = backup(&cfg, &["check", "--connect"]);
    assert!(out.status.success(), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("remote test: ok"), "{text}");
    // No probe file is left behind.
    let left: Vec<_> = fs::read_dir(sshd.remote_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");

    let out = backup(&cfg, &["run", "t", "--dry-run"]);
    assert!(out.status.success(), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("destination test:") && text.contains("1 files"),
        "{text}"
    );
    assert!(
        !sshd.remote_dir().join("t").exists(),
        "dry run wrote to the server"
    );

    fs::write(sshd.known_hosts(), "").unwrap();
    let out = backup(&cfg, &["check", "--connect"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("remote test: FAILED"));
}
