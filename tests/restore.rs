//! `backup restore` and `backup cat` against a real sshd: the round trip restores identically,
//! a PATH subset restores only that subtree, a hostile archive is refused without writing
//! outside the target, a corrupted archive exits 1, and `cat` streams the exact tar.

mod common;

use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::Stdio;

use common::sample::{backed_up, flip_byte, make_tree, snapshot_dirs};
use common::surgery::{plant_snapshot, raw_entry};
use common::{backup, backup_cmd, describe};
use sha2::{Digest, Sha256};

fn stored(root: &Path) -> std::path::PathBuf {
    root.strip_prefix("/").unwrap().to_path_buf()
}

#[test]
fn round_trip_restores_identically_and_refuses_a_non_empty_target() {
    let sshd = common::sshd_or_skip!();
    let src = tempfile::tempdir().unwrap();
    let root = src.path().join("data");
    make_tree(&root, 3);
    let cfg = backed_up(&sshd, &root, 1);

    let dest = tempfile::tempdir().unwrap();
    let target = dest.path().join("restored");
    let t = target.to_str().unwrap();
    let out = backup(&cfg, &["restore", "t", "latest", "--target", t]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("checksums match"),
        "{}",
        describe(&out)
    );
    common::assert_trees_eq(&root, &target.join(stored(&root)));

    let out = backup(&cfg, &["restore", "t", "--target", t]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    let out = backup(&cfg, &["restore", "t", "--target", t, "--force"]);
    assert!(out.status.success(), "{}", describe(&out));
    common::assert_trees_eq(&root, &target.join(stored(&root)));
}

#[test]
fn a_path_subset_restores_only_that_subtree() {
    let sshd = common::sshd_or_skip!();
    let src = tempfile::tempdir().unwrap();
    let root = src.path().join("data");
    make_tree(&root, 1);
    let cfg = backed_up(&sshd, &root, 1);
    let id = snapshot_dirs(&sshd.remote_dir().join("t"))[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();

    let dest = tempfile::tempdir().unwrap();
    let wanted = root.join("a");
    let out = backup(
        &cfg,
        &[
            "restore",
            "t",
            &id,
            "--target",
            dest.path().to_str().unwrap(),
            wanted.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", describe(&out));
    let back = dest.path().join(stored(&root));
    common::assert_trees_eq(&wanted, &back.join("a"));
    let mut names: Vec<String> = fs::read_dir(&back)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["a"], "only the subtree is restored");
}

#[test]
fn a_crafted_archive_is_refused_without_writing_outside_the_target() {
    let sshd = common::sshd_or_skip!();
    let outside = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let target = work.path().join("target");
    let abs = outside.path().join("abs-x");
    let mut tar = tar::Builder::new(Vec::new());
    raw_entry(&mut tar, "../x", tar::EntryType::Regular, "");
    raw_entry(&mut tar, abs.to_str().unwrap(), tar::EntryType::Regular, "");
    raw_entry(
        &mut tar,
        "a",
        tar::EntryType::Symlink,
        outside.path().to_str().unwrap(),
    );
    raw_entry(&mut tar, "a/pwned", tar::EntryType::Regular, "");
    raw_entry(&mut tar, "b/../../y", tar::EntryType::Regular, "");
    raw_entry(&mut tar, "h", tar::EntryType::Link, "a");
    raw_entry(&mut tar, "ok.txt", tar::EntryType::Regular, "");
    let bytes = tar.into_inner().unwrap();
    plant_snapshot(&sshd.remote_dir(), "20260101T000000Z", &bytes);
    let cfg = sshd.write_config("[jobs.t]\nremote = \"test\"\nsources = [\"/nonexistent\"]\n");

    let out = backup(
        &cfg,
        &["restore", "t", "--target", target.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in ["../x", "abs-x", "a/pwned", "symlink a", "b/../../y", "h:"] {
        assert!(err.contains(needle), "{needle:?} not reported\n{err}");
    }
    let escaped: Vec<_> = fs::read_dir(outside.path()).unwrap().flatten().collect();
    assert!(escaped.is_empty(), "written outside: {escaped:?}");
    assert!(!work.path().join("x").exists() && !work.path().join("y").exists());
    // The symlink itself is restored (never followed); harmless entries still are.
    assert!(
        fs::symlink_metadata(target.join("a"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(fs::read(target.join("ok.txt")).unwrap(), b"pwned\n");
}

#[test]
fn a_corrupted_archive_exits_1_and_says_not_to_trust_the_target() {
    let sshd = common::sshd_or_skip!();
    let src = tempfile::tempdir().unwrap();
    let root = src.path().join("data");
    make_tree(&root, 1);
    let cfg = backed_up(&sshd, &root, 1);
    let snap = &snapshot_dirs(&sshd.remote_dir().join("t"))[0];
    flip_byte(&snap.join("files.tar.zst"));

    let dest = tempfile::tempdir().unwrap();
    let out = backup(
        &cfg,
        &["restore", "t", "--target", dest.path().to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("must not be trusted"), "{err}");
    assert!(err.contains("files.tar.zst"), "{err}");
}

#[test]
fn cat_streams_the_exact_tar_and_survives_a_closed_stdout() {
    let sshd = common::sshd_or_skip!();
    let src = tempfile::tempdir().unwrap();
    let root = src.path().join("data");
    make_tree(&root, 2);
    let cfg = backed_up(&sshd, &root, 1);
    let snap = &snapshot_dirs(&sshd.remote_dir().join("t"))[0];
    let stored = fs::read(snap.join("files.tar.zst")).unwrap();
    let expected = hex::encode(Sha256::digest(zstd::decode_all(&stored[..]).unwrap()));

    let out = backup(&cfg, &["cat", "t", "latest", "files.tar"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(hex::encode(Sha256::digest(&out.stdout)), expected);

    // `| head -c 100`: the reader goes away; cat ends quietly, without a panic.
    let mut child = backup_cmd(&cfg, &["cat", "t", "latest", "files.tar"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 100];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panick"));

    let out = backup(&cfg, &["cat", "t", "latest", "app.sql"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));

    flip_byte(&snap.join("files.tar.zst"));
    let out = backup(&cfg, &["cat", "t", "latest", "files.tar"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("must not be trusted"));
}
