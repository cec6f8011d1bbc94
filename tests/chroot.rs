//! A chrooted SFTP account (sshd's `ChrootDirectory` + `ForceCommand internal-sftp`, the
//! README's `Match` block) against a real sshd: a base path written as the server's disk has it
//! fails with a hint naming the account's start directory and the path as the account sees it,
//! and that path works.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{Sshd, backup, describe, toml_str};

/// `/run/backup-agent-chroot-PID/`: sshd demands a chroot whose every component is root-owned
/// and writable by nobody else, which a temp dir under /tmp (mode 1777) is not. Removed on drop.
struct Jail(PathBuf);

impl Drop for Jail {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_path_outside_the_chroot_fails_with_the_path_the_account_sees() {
    let Some(nobody) = nix::unistd::User::from_name("nobody").ok().flatten() else {
        return;
    };
    if !nix::unistd::geteuid().is_root() {
        return; // sshd chroots only when it runs as root
    }
    let top = Jail(PathBuf::from(format!(
        "/run/backup-agent-chroot-{}",
        std::process::id()
    )));
    let jail = top.0.join("jail");
    let upload = jail.join("upload");
    fs::create_dir_all(&upload).unwrap();
    for d in [&top.0, &jail] {
        fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
    }
    nix::unistd::chown(&upload, Some(nobody.uid), Some(nobody.gid)).unwrap();
    // sshd reads authorized_keys as the account: a copy `nobody` can read.
    let keys = top.0.join("authorized_keys");
    let Some(sshd) = Sshd::builder()
        .extra_config(&format!(
            "Match User nobody\n  ChrootDirectory {}\n  ForceCommand internal-sftp\n  AuthorizedKeysFile {}",
            jail.display(),
            keys.display()
        ))
        .start()
    else {
        return;
    };
    fs::copy(sshd.dir().join("authorized_keys"), &keys).unwrap();
    fs::set_permissions(&keys, fs::Permissions::from_mode(0o644)).unwrap();
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("a.txt"), "hello\n").unwrap();
    let job = format!(
        "[jobs.t]\nremote = \"test\"\nsources = [{}]\n",
        toml_str(&src.path().to_string_lossy())
    );
    let as_nobody = |base: &Path| {
        let cfg = sshd.write_config_at(base, &job);
        let text = fs::read_to_string(&cfg).unwrap();
        let user = format!("user = {}", toml_str(sshd.user()));
        fs::write(&cfg, text.replace(&user, "user = \"nobody\"")).unwrap();
        cfg
    };

    // The path as this machine sees the server's disk: wrong inside the chroot.
    let cfg = as_nobody(&upload.join("db01"));
    let out = backup(&cfg, &["run", "t"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}\n{}",
        describe(&out),
        sshd.log()
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Permission denied") || err.contains("permission denied"),
        "{err}"
    );
    assert!(
        err.contains("hint: the SFTP server shows this account's start directory as /")
            && err.contains(&format!(
                "the chroot looks like {} on the server's disk",
                jail.display()
            ))
            && err.contains("db01/t is /upload/db01/t for this account"),
        "{err}"
    );

    // The suggested path works, and lands in the chroot's upload/ directory.
    let cfg = as_nobody(Path::new("/upload/db01"));
    let out = backup(&cfg, &["run", "t"]);
    assert!(out.status.success(), "{}\n{}", describe(&out), sshd.log());
    assert!(upload.join("db01/t").is_dir());
}
