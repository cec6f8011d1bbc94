//! Build 1, one gate for server names: a name in a manifest's `files` or in `SHA256SUMS`
//! that is not a stored file's name (`..`, a path up and out, an absolute path, a slash, a
//! newline, control characters, ANSI sequences) never becomes a path on either machine, and
//! reaches the terminal escaped. `list`, `verify`, `restore` and `cat` all say so.

use std::fs;

use backup_agent::layout::escape;

use super::world::World;
use crate::common::bounded::assert_reported;
use crate::common::surgery::{edit_manifest, sha256_hex, write_sums};

/// Names a hostile server might put where a stored file's name belongs.
fn crafted(w: &World) -> Vec<String> {
    let mut v: Vec<String> = [
        "..",
        "../../x.zst",
        "a/b.zst",
        "two\nlines.zst",
        "bell\u{7}\u{8}\u{0}.zst",
        "red\u{1b}[31mALERT\u{1b}[0m.zst",
        "\u{1b}]0;owned\u{7}title.zst",
        "\u{1b}[2J\u{1b}[Hclear.zst",
    ]
    .map(String::from)
    .to_vec();
    v.push(w.sshd.remote_dir().join("x.zst").display().to_string());
    v.push(w.server_outside.join("sentinel.txt").display().to_string());
    v
}

#[test]
fn crafted_names_in_a_manifest_never_become_paths() {
    let Some(w) = World::new() else { return };
    let base_id = w.base_id();
    let mut ids = Vec::new();
    for (i, name) in crafted(&w).iter().enumerate() {
        let (id, snap) = w.copy(i as i64 + 1);
        // The command output's entry renamed, its size and hash (here and in `SHA256SUMS`)
        // those of `<base>/x.zst`: a reader that used the name as a path would find the
        // file it points to (or the one `../../x.zst` points to) entirely as recorded.
        edit_manifest(&snap, |m| {
            let f = m.files.iter_mut().find(|f| f.name == "app.sql.zst");
            let f = f.unwrap();
            f.name = name.clone();
            f.size = w.loot.len() as u64;
            f.sha256 = sha256_hex(&w.loot);
            write_sums(&snap, m);
        });
        w.refuses(&id, &[&escape(name), "never writes"]);
        ids.push(id);
    }
    let damaged: Vec<&str> = ids.iter().map(String::as_str).collect();
    w.lists(&[&base_id], &damaged);
    w.verify_all_names(&damaged);

    // `latest` is damaged: restore falls back to the newest intact snapshot, saying so.
    let (out, target) = w.restore("latest");
    let newest = ids.last().unwrap();
    assert_reported(&out, 0, &[newest, &base_id]);
    let back = target.join(w.root.strip_prefix("/").unwrap());
    assert_eq!(fs::read(back.join("g.txt")).unwrap(), b"g\n");
    assert_eq!(fs::read(target.join("app.sql")).unwrap(), b"select 1;\n");
    w.sentinels.assert_intact();
}

#[test]
fn crafted_names_in_sha256sums_are_reported_escaped_and_never_read() {
    let Some(w) = World::new() else { return };
    let base_id = w.base_id();
    let (id, snap) = w.copy(1);
    let hex = "ab".repeat(32);
    let names = crafted(&w);
    let mut sums = fs::read_to_string(snap.join("SHA256SUMS")).unwrap();
    for n in names.iter().filter(|n| !n.contains('\n')) {
        sums.push_str(&format!("{hex}  {n}\n"));
    }
    fs::write(snap.join("SHA256SUMS"), &sums).unwrap();

    let out = w.run(&["verify", "t", &id]);
    let mut said: Vec<String> = names
        .iter()
        .filter(|n| !n.contains('\n'))
        .map(|n| escape(n))
        .collect();
    said.push(id.clone());
    said.push("SHA256SUMS".into());
    let said: Vec<&str> = said.iter().map(String::as_str).collect();
    assert_reported(&out, 1, &said);
    w.sentinels.assert_intact();

    // A newline in a name splits its line: the list no longer parses, and says where.
    let (id2, snap2) = w.copy(2);
    let mut sums = fs::read_to_string(snap2.join("SHA256SUMS")).unwrap();
    sums.push_str(&format!("{hex}  two\nlines.zst\n"));
    fs::write(snap2.join("SHA256SUMS"), sums).unwrap();
    let out = w.run(&["verify", "t", &id2]);
    assert_reported(&out, 1, &[&id2, "SHA256SUMS", "line "]);

    // `list`, `restore` and `cat` trust the manifest, which is intact, and never read
    // `SHA256SUMS` (it is for `sha256sum -c`): they work, and touch nothing outside.
    w.lists(&[&base_id, &id, &id2], &[]);
    for which in [&id, &id2] {
        let (out, target) = w.restore(which);
        assert_reported(&out, 0, &["checksums match"]);
        assert_eq!(fs::read(target.join("app.sql")).unwrap(), b"select 1;\n");
        let out = w.run(&["cat", "t", which, "app.sql"]);
        assert_reported(&out, 0, &[]);
        assert_eq!(out.stdout, b"select 1;\n");
    }
    w.sentinels.assert_intact();

    // Stray names in the job directory itself are not snapshots and are never used.
    for n in [
        "\u{1b}[2Jx",
        "20260101T000000Z\n",
        ".20260101T000000Z.partial\u{1b}",
    ] {
        fs::create_dir(w.job.join(n)).unwrap();
    }
    w.lists(&[&base_id, &id, &id2], &[]);
}
