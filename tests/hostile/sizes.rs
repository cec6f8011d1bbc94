//! Builds 3 and 4, bounded reads and damage that is never silent: a stored file longer or
//! shorter than its manifest records is a damaged file, reported promptly by `verify`,
//! `restore` and `cat` naming it; a manifest that is huge (20 MiB, over the 16 MiB cap),
//! truncated or empty marks its snapshot damaged, and the job's other snapshots stay
//! listable and restorable.

use std::fs;
use std::io::Write;

use super::world::World;
use crate::common::bounded::assert_reported;
use crate::common::surgery::edit_manifest;

/// Appends `n` bytes to `path`.
fn append(path: &std::path::Path, n: usize) {
    let mut f = fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(&vec![0x5a; n]).unwrap();
}

/// Cuts `path` to half its length.
fn cut(path: &std::path::Path) {
    let len = fs::metadata(path).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
}

#[test]
fn stored_files_longer_or_shorter_than_recorded_are_damaged_files() {
    let Some(w) = World::new() else { return };
    // (stored file, change, the name `cat` asks for)
    type Change = fn(&std::path::Path);
    let cases: [(&str, Change, &str); 4] = [
        ("files.tar.zst", |p| append(p, 1 << 20), "files.tar"),
        ("files.tar.zst", cut, "files.tar"),
        ("app.sql.zst", |p| append(p, 4096), "app.sql"),
        ("app.sql.zst", cut, "app.sql"),
    ];
    let mut ids = Vec::new();
    for (i, (file, change, cat_name)) in cases.iter().enumerate() {
        let (id, snap) = w.copy(i as i64 + 1);
        change(&snap.join(file));
        let out = w.run(&["verify", "t", &id]);
        assert_reported(&out, 1, &[&id, file, "recorded"]);
        let (out, _) = w.restore(&id);
        assert_reported(&out, 1, &[&id, file, "must not be trusted"]);
        let out = w.run(&["cat", "t", &id, cat_name]);
        // `cat` streams, then judges: what went out must not be trusted, and it says so.
        assert_reported(&out, 1, &[&id, file, "must not be trusted"]);
        w.sentinels.assert_intact();
        ids.push(id);
    }
    let mut said: Vec<&str> = ids.iter().map(String::as_str).collect();
    said.extend(["files.tar.zst", "app.sql.zst"]);
    w.verify_all_names(&said);
}

#[test]
fn a_huge_truncated_or_empty_manifest_marks_only_its_snapshot_damaged() {
    let Some(w) = World::new() else { return };
    let base_id = w.base_id();

    // 20 MiB of valid JSON: only the size cap can refuse it.
    let (huge, snap) = w.copy(1);
    edit_manifest(&snap, |m| m.warnings = Some(vec!["w".repeat(20 << 20)]));
    assert!(fs::metadata(snap.join("manifest.json")).unwrap().len() > 20 << 20);

    let (truncated, snap) = w.copy(2);
    let json = fs::read(snap.join("manifest.json")).unwrap();
    fs::write(snap.join("manifest.json"), &json[..json.len() / 2]).unwrap();

    let (empty, snap) = w.copy(3);
    fs::write(snap.join("manifest.json"), "").unwrap();

    let (garbage, snap) = w.copy(4);
    fs::write(snap.join("manifest.json"), b"\x1b[2J\x00\xff not json").unwrap();

    for id in [&huge, &truncated, &empty, &garbage] {
        w.refuses(id, &["manifest"]);
    }
    let damaged = [&*huge, &*truncated, &*empty, &*garbage];
    w.lists(&[&base_id], &damaged);
    w.verify_all_names(&damaged);

    // The intact snapshot is still restorable, by id and as `latest` (saying why).
    let (out, target) = w.restore(&base_id);
    assert_reported(&out, 0, &["checksums match"]);
    let back = target.join(w.root.strip_prefix("/").unwrap());
    assert_eq!(fs::read(back.join("g.txt")).unwrap(), b"g\n");
    let (out, _) = w.restore("latest");
    assert_reported(&out, 0, &[&garbage, &base_id]);
    w.sentinels.assert_intact();
}
