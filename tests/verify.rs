//! `backup verify` against a real sshd: intact snapshots pass; a flipped byte or a removed file
//! on the server exits 1 and names the file; an SFTP-only account verifies by reading back.

mod common;

use std::fs;

use common::sample::{flip_byte, job_toml, snapshot_dirs};
use common::{Sshd, backup, describe};

fn small_tree(root: &std::path::Path) {
    fs::create_dir_all(root.join("d")).unwrap();
    fs::write(root.join("d/f.txt"), "hello\n".repeat(1000)).unwrap();
    fs::write(root.join("g.bin"), vec![7u8; 100_000]).unwrap();
}

/// Two runs, so there are two snapshots; returns the config and the snapshot dirs.
fn two_snapshots(
    sshd: &Sshd,
    root: &std::path::Path,
) -> (std::path::PathBuf, Vec<std::path::PathBuf>) {
    small_tree(root);
    let cfg = sshd.write_config(&job_toml("t", root, ""));
    for _ in 0..2 {
        let out = backup(&cfg, &["run", "t"]);
        assert!(out.status.success(), "{}", describe(&out));
    }
    let snaps = snapshot_dirs(&sshd.remote_dir().join("t"));
    assert_eq!(snaps.len(), 2);
    (cfg, snaps)
}

fn id(p: &std::path::Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn intact_passes_flipped_byte_and_missing_file_fail_naming_the_file() {
    let sshd = common::sshd_or_skip!();
    let src = tempfile::tempdir().unwrap();
    let (cfg, snaps) = two_snapshots(&sshd, &src.path().join("data"));

    for args in [
        vec!["verify", "t"],
        vec!["verify", "t", "--all"],
        vec!["verify", "t", "--all", "--read"],
    ] {
        let out = backup(&cfg, &args);
        assert!(out.status.success(), "{args:?}\n{}", describe(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("intact"), "{text}");
        assert!(!text.contains("FAIL"), "{text}");
    }
    let out = backup(&cfg, &["verify", "t"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("remote-hash"));
    let out = backup(&cfg, &["verify", "t", "20200101T000000Z"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let out = backup(
        &cfg,
        &[
            "restore",
            "t",
            "20200101T000000Z",
            "--target",
            "/nonexistent-x",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));

    // Damage the older snapshot: `verify t` (latest) still passes, the old one fails.
    flip_byte(&snaps[0].join("files.tar.zst"));
    let out = backup(&cfg, &["verify", "t"]);
    assert!(out.status.success(), "{}", describe(&out));
    for args in [
        vec!["verify", "t", "--all"],
        vec!["verify", "t", &id(&snaps[0])],
        vec!["verify", "t", &id(&snaps[0]), "--read"],
    ] {
        let out = backup(&cfg, &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}\n{}", describe(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("{}/files.tar.zst: SHA-256", id(&snaps[0]))),
            "{err}"
        );
    }

    fs::remove_file(snaps[1].join("files.tar.zst")).unwrap();
    let out = backup(&cfg, &["verify", "t", "latest"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("files.tar.zst: missing on the server"),
        "{err}"
    );
}

#[test]
fn checksum_list_that_disagrees_with_the_manifest_fails() {
    let sshd = common::sshd_or_skip!();
    let src = tempfile::tempdir().unwrap();
    let (cfg, snaps) = two_snapshots(&sshd, &src.path().join("data"));
    let sums = snaps[1].join("SHA256SUMS");
    let text = fs::read_to_string(&sums).unwrap();
    fs::write(&sums, format!("{}  extra.zst\n{text}", "0".repeat(64))).unwrap();
    let out = backup(&cfg, &["verify", "t"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("extra.zst"));
}

#[test]
fn sftp_only_account_verifies_by_reading_back() {
    let Some(sshd) = common::sshd_sftp_only() else {
        return;
    };
    let src = tempfile::tempdir().unwrap();
    let (cfg, snaps) = two_snapshots(&sshd, &src.path().join("data"));
    let out = backup(&cfg, &["verify", "t", "--all"]);
    assert!(out.status.success(), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("hashed by readback"), "{text}");

    flip_byte(&snaps[1].join("files.tar.zst"));
    let out = backup(&cfg, &["verify", "t"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("files.tar.zst: SHA-256"));
}
