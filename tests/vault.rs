//! Append-only backups against the README's recipe on a real sshd (issue 14): the agent
//! backs up through `ForceCommand internal-sftp -P ...`, `check --connect` sees the
//! protection on (and off on a plain account), `backup vault run` seals what was committed,
//! and an attacker with the client's key and OpenSSH's own `sftp` cannot remove, rename,
//! overwrite, truncate, chmod or symlink-replace anything sealed; the snapshots still pass
//! `sha256sum -c`, and list/verify/restore work on the vault host through a `local` remote.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use common::recipe::Recipe;
use common::{backup, describe, toml_str};

fn recipe(extra: &str) -> Option<Recipe> {
    let r = Recipe::start(extra);
    if r.is_none() && common::require_sshd() && nix::unistd::geteuid().is_root() {
        panic!("the append-only recipe cannot run here");
    }
    r
}

fn ok(out: &std::process::Output, what: &str) {
    assert!(out.status.success(), "{what}: {}", describe(out));
}

pub fn snapshot_ids(job: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(job)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.len() == 16 && n.ends_with('Z'))
        .collect();
    v.sort();
    v
}

/// Every file of the snapshots `ids`: its name, inode and mode.
fn files_of(job: &Path, ids: &[String]) -> Vec<(String, u64, u32)> {
    let mut out = Vec::new();
    for id in ids {
        for e in fs::read_dir(job.join(id)).unwrap() {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            out.push((
                format!("{id}/{}", e.file_name().to_string_lossy()),
                m.ino(),
                m.mode(),
            ));
        }
    }
    out
}

fn sums_ok(dir: &Path) -> bool {
    Command::new("sha256sum")
        .args(["-c", "--quiet", "SHA256SUMS"])
        .current_dir(dir)
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn an_attacker_with_the_clients_key_cannot_touch_what_the_vault_sealed() {
    let Some(r) = recipe("") else { return };
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a.txt"), "precious\n").unwrap();
    let cfg = r.agent_config(&src, "");

    let out = backup(&cfg, &["check", "--connect"]);
    ok(&out, "check --connect");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("append-only: enforced"), "{said}");

    for _ in 0..2 {
        let out = backup(&cfg, &["run", "t"]);
        assert!(out.status.success(), "{}\n{}", describe(&out), r.sshd.log());
    }
    let vault = r.vault_config("", "");
    let out = backup(&vault, &["vault", "run"]);
    ok(&out, "vault run");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("upload/db01/t: 2 sealed, 0 damaged"),
        "{}",
        describe(&out)
    );
    let job = r.job_dir();
    // The directories the client made (its `{host}` level and the job's) are the vault's now,
    // sticky, still open to the client's group for new snapshots.
    for dir in [r.upload.join("db01"), job.clone()] {
        let m = fs::metadata(&dir).unwrap();
        assert_eq!(
            (m.uid(), m.gid(), m.mode() & 0o7777),
            (r.vault_uid, r.client_gid, 0o1770),
            "{}",
            dir.display()
        );
    }
    let ids = snapshot_ids(&job);
    assert_eq!(ids.len(), 2, "{ids:?}");
    let before = files_of(&job, &ids);
    for (_, _, mode) in &before {
        assert_eq!(mode & 0o7777, 0o444);
    }

    let evil = d.path().join("evil");
    fs::write(&evil, "ransom\n").unwrap();
    let evil = evil.display();
    let mut attempts = vec![
        "rename /upload/db01/t /upload/db01/t2".to_string(),
        "rename /upload/db01 /upload/elsewhere".to_string(),
        "rmdir /upload/db01".to_string(),
        "rmdir /upload/db01/t".to_string(),
        "chmod 777 /upload/db01/t".to_string(),
        "rm /upload/db01/t/.owner".to_string(),
        format!("put {evil} /upload/db01/t/.owner"),
        "rename /upload/db01/t/.owner /upload/db01/t/.owner2".to_string(),
    ];
    for id in &ids {
        let s = format!("/upload/db01/t/{id}");
        attempts.extend([
            format!("rm {s}/files.tar.zst"),
            format!("rm {s}/manifest.json"),
            format!("rmdir {s}"),
            format!("rename {s} /upload/db01/t/x{id}"),
            format!("rename {s}/files.tar.zst {s}/moved"),
            format!("put {evil} {s}/files.tar.zst"),
            format!("put {evil} {s}/SHA256SUMS"),
            format!("reput {evil} {s}/files.tar.zst"),
            format!("put {evil} {s}/extra"),
            format!("mkdir {s}/sub"),
            format!("chmod 666 {s}/files.tar.zst"),
            format!("chmod 777 {s}"),
            format!("symlink /etc/passwd {s}/files.tar.zst"),
            format!("symlink /etc {s}/evil"),
            format!("ln {s}/files.tar.zst /upload/db01/t/hard"),
        ]);
    }
    // The same client can still read: every refusal below is the server's, not a failed login.
    ok(&r.sftp("ls -l /upload/db01/t"), "sftp ls");
    let fetched = d.path().join("fetched");
    ok(
        &r.sftp(&format!(
            "get /upload/db01/t/{}/files.tar.zst {}",
            ids[0],
            fetched.display()
        )),
        "sftp get",
    );
    for a in &attempts {
        let out = r.sftp(a);
        assert!(
            !out.status.success(),
            "the server carried out `{a}`: {}",
            describe(&out)
        );
    }

    let after = files_of(&job, &ids);
    assert_eq!(before, after);
    for id in &ids {
        assert!(sums_ok(&job.join(id)), "{id} no longer passes sha256sum -c");
    }
    assert_eq!(snapshot_ids(&job), ids);

    // The agent keeps backing up through it, and the vault seals the new one.
    ok(&backup(&cfg, &["run", "t"]), "a run after the attack");
    let out = backup(&vault, &["vault", "run"]);
    ok(&out, "second vault run");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("upload/db01/t: 1 sealed, 0 damaged"),
        "{}",
        describe(&out)
    );

    // On the vault host, without the client: list, verify and restore through `local`.
    let here = d.path().join("here.toml");
    fs::write(
        &here,
        format!(
            "[agent]\nstate_dir = {}\n[remotes.here]\ntype = \"local\"\npath = {}\nappend_only = true\n[jobs.t]\nremote = \"here\"\nsources = [{}]\n",
            toml_str(&d.path().join("here-state").to_string_lossy()),
            toml_str(&r.upload.join("db01").to_string_lossy()),
            toml_str(&src.to_string_lossy()),
        ),
    )
    .unwrap();
    let out = backup(&here, &["list", "t", "--json"]);
    ok(&out, "list on the vault host");
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(3));
    ok(
        &backup(&here, &["verify", "t", "--all"]),
        "verify on the vault host",
    );
    let out = backup(&here, &["cat", "t", "latest", "files.tar"]);
    ok(&out, "cat on the vault host");
    assert!(out.stdout.windows(9).any(|w| w == b"precious\n"));
    let target = d.path().join("restored");
    ok(
        &backup(
            &here,
            &[
                "restore",
                "t",
                "latest",
                "--target",
                &target.to_string_lossy(),
            ],
        ),
        "restore on the vault host",
    );
    let restored = target.join(src.strip_prefix("/").unwrap()).join("a.txt");
    assert_eq!(fs::read_to_string(restored).unwrap(), "precious\n");
}

#[test]
fn check_connect_says_not_enforced_on_a_plain_account() {
    let Some(sshd) = common::sshd() else { return };
    let d = tempfile::tempdir().unwrap();
    let job = format!(
        "[jobs.t]\nremote = \"test\"\nsources = [{}]\n",
        toml_str(&d.path().to_string_lossy())
    );
    let base = sshd.remote_dir().join("plain");
    let cfg = sshd.write_config_full(sshd.port(), &base, "append_only = true", &job);
    let out = backup(&cfg, &["check", "--connect"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("append-only: NOT enforced: the server let this key rename, remove, rmdir"),
        "{said}"
    );
    // A server that allows removal gets its scratch directory back clean.
    let left: Vec<_> = fs::read_dir(&base).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}
