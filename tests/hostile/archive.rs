//! Build 5, a hostile tar whose checksums pass (the server, or an intruder on it, uploaded
//! `files.tar.zst` with a matching manifest and `SHA256SUMS`): path escapes, a symlink to
//! outside followed by files through it, hard links to outside, device nodes, a name longer
//! than NAME_MAX. The restore writes nothing outside its target, restores every other entry,
//! lists each refused or failed entry by name and exits 1.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use backup_agent::layout::escape;
use tar::EntryType;

use super::world::World;
use crate::common::bounded::assert_reported;
use crate::common::surgery::{device_entry, long_entry, plant_snapshot, raw_entry, shifted};
use crate::common::{Kind, tree_digest};

const ESC_LINK: &str = "\u{1b}[31mred";
const ESC_TARGET: &str = "\u{1b}[2Jgone";
const ESC_DEVICE: &str = "\u{1b}]0;title\u{7}dev";

/// Every path in `target` with its kind, as `path kind` lines.
fn contents(target: &Path) -> BTreeSet<String> {
    tree_digest(target)
        .iter()
        .map(|e| format!("{} {:?}", String::from_utf8_lossy(&e.path), e.kind))
        .collect()
}

#[test]
fn a_hostile_archive_writes_nothing_outside_and_restores_every_other_entry() {
    let Some(w) = World::new() else { return };
    let id = shifted(&w.base_id(), 1);
    let outside = w.local_outside.display().to_string();
    let etc = format!("/etc/backup-agent-hostile-{}", std::process::id());
    let long = format!("long/{}", "n".repeat(300));
    let mut tar = tar::Builder::new(Vec::new());
    raw_entry(&mut tar, "ok.txt", EntryType::Regular, "");
    raw_entry(&mut tar, "dir", EntryType::Directory, "");
    raw_entry(&mut tar, "dir/inner.txt", EntryType::Regular, "");
    // Refused: escapes by name.
    raw_entry(&mut tar, "../x", EntryType::Regular, "");
    raw_entry(&mut tar, "dir/../../y", EntryType::Regular, "");
    raw_entry(&mut tar, &etc, EntryType::Regular, "");
    raw_entry(
        &mut tar,
        &format!("{outside}/abs-x"),
        EntryType::Regular,
        "",
    );
    // A symlink to outside is restored as a link; nothing is written through it.
    raw_entry(&mut tar, "s", EntryType::Symlink, &outside);
    raw_entry(&mut tar, "s/through.txt", EntryType::Regular, "");
    raw_entry(&mut tar, "s/sub/deeper.txt", EntryType::Regular, "");
    raw_entry(&mut tar, "s/sentinel.txt", EntryType::Regular, "");
    // Refused: hard links to what this restore did not write.
    raw_entry(
        &mut tar,
        "h-abs",
        EntryType::Link,
        &format!("{outside}/sentinel.txt"),
    );
    raw_entry(
        &mut tar,
        "h-up",
        EntryType::Link,
        "../../outside/sentinel.txt",
    );
    raw_entry(&mut tar, "h-via-s", EntryType::Link, "s/sentinel.txt");
    // Not restored: devices.
    device_entry(&mut tar, "dev-zero", EntryType::Char);
    device_entry(&mut tar, "dev-block", EntryType::Block);
    // Names with ANSI sequences: every one is shown escaped, in every message about it.
    raw_entry(&mut tar, ESC_LINK, EntryType::Symlink, &outside);
    raw_entry(&mut tar, &format!("{ESC_LINK}/x"), EntryType::Regular, "");
    raw_entry(&mut tar, "h-esc", EntryType::Link, ESC_TARGET);
    device_entry(&mut tar, ESC_DEVICE, EntryType::Char);
    // Failed: a name longer than NAME_MAX (255).
    long_entry(&mut tar, &long, b"long\n");
    // Good entries after every bad one.
    raw_entry(&mut tar, "rel-link", EntryType::Symlink, "ok.txt");
    raw_entry(&mut tar, "ok-hard", EntryType::Link, "ok.txt");
    raw_entry(&mut tar, "last.txt", EntryType::Regular, "");
    plant_snapshot(&w.sshd.remote_dir(), &id, &tar.into_inner().unwrap());

    let (out, target) = w.restore(&id);
    assert_reported(
        &out,
        1,
        &[
            &id,
            "../x",
            "dir/../../y",
            &etc,
            "abs-x",
            "s/through.txt",
            "s/sub/deeper.txt",
            "s/sentinel.txt",
            "h-abs",
            "h-up",
            "h-via-s",
            "dev-zero",
            "dev-block",
            &"n".repeat(300),
            "File name too long",
            &escape(&format!("{ESC_LINK}/x")),
            &escape(ESC_TARGET),
            &escape(ESC_DEVICE),
        ],
    );
    // The summary itself names every entry not restored, devices included.
    let err = String::from_utf8_lossy(&out.stderr);
    let summary = &err[err.find("error: restore of snapshot").expect("a summary")..];
    for name in [
        "../x",
        "h-via-s",
        "dev-zero",
        "dev-block",
        &escape(ESC_DEVICE),
        &long,
    ] {
        assert!(
            summary.contains(name),
            "{name} not in the summary\n{summary}"
        );
    }
    let want: BTreeSet<String> = [
        "dir Dir",
        "dir/inner.txt File",
        "last.txt File",
        "long Dir",
        "ok-hard File",
        "ok.txt File",
        "rel-link Symlink",
        "s Symlink",
    ]
    .map(String::from)
    .into_iter()
    .chain([format!("{ESC_LINK} Symlink")])
    .collect();
    assert_eq!(contents(&target), want);
    for f in ["ok.txt", "ok-hard", "dir/inner.txt", "last.txt"] {
        assert_eq!(fs::read(target.join(f)).unwrap(), b"pwned\n", "{f}");
    }
    assert_eq!(fs::read_link(target.join("s")).unwrap(), w.local_outside);
    let beside = target.parent().unwrap();
    assert!(!beside.join("x").exists() && !beside.join("y").exists());
    assert!(!Path::new(&etc).exists(), "{etc} written");
    w.sentinels.assert_intact();
}

#[test]
fn one_unwritable_entry_fails_alone_and_is_listed() {
    let Some(w) = World::new() else { return };
    let id = shifted(&w.base_id(), 1);
    let long = format!("d/{}", "x".repeat(300));
    let mut tar = tar::Builder::new(Vec::new());
    raw_entry(&mut tar, "a.txt", EntryType::Regular, "");
    raw_entry(&mut tar, "d", EntryType::Directory, "");
    raw_entry(&mut tar, "d/b.txt", EntryType::Regular, "");
    long_entry(&mut tar, &long, b"too long\n");
    raw_entry(&mut tar, "d/c.txt", EntryType::Regular, "");
    raw_entry(&mut tar, "z.txt", EntryType::Regular, "");
    plant_snapshot(&w.sshd.remote_dir(), &id, &tar.into_inner().unwrap());

    let (out, target) = w.restore(&id);
    assert_reported(&out, 1, &[&id, &long, "1 entry could not be written"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("refused"), "{err}");
    assert!(!err.contains("must not be trusted"), "{err}");
    let files: Vec<_> = tree_digest(&target)
        .into_iter()
        .filter(|e| e.kind == Kind::File)
        .map(|e| String::from_utf8_lossy(&e.path).into_owned())
        .collect();
    assert_eq!(files, ["a.txt", "d/b.txt", "d/c.txt", "z.txt"]);
    for f in &files {
        assert_eq!(fs::read(target.join(f)).unwrap(), b"pwned\n", "{f}");
    }
    w.sentinels.assert_intact();
}
