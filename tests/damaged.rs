//! Damaged snapshots, made by editing the server's directory on disk: a manifest that names
//! another snapshot, one cut short, one of 20 MiB, one that lists `../../x.zst`. Each is flagged
//! by `list`, failed by `verify`, skipped by `restore latest` with a warning and kept by
//! retention, which judges every other directory by its own manifest; the other snapshots are
//! unaffected and nothing outside the snapshot is read. Every command runs under a deadline,
//! so a hang fails. Against a local directory and a real sshd.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use common::hosts::{
    Host, SQL, Server, assert_exit, assert_restores, for_each_server, host, ids, list_json,
    server_state, stderr, stdout, tree_and_dump,
};
use common::sample::make_tree;

/// Host `alpha` with three snapshots `[old, middle, newest]` of `dir/data` in `base/t`.
fn three_snapshots(server: Server, dir: &Path, base: &Path) -> (Host, Vec<String>) {
    let root = dir.join("data");
    make_tree(&root, 1);
    let h = host(
        dir,
        "alpha",
        server,
        base.to_str().unwrap(),
        &tree_and_dump(&root, ""),
    );
    for _ in 0..3 {
        h.ok(&["run", "t"]);
    }
    let made = ids(&base.join("t"));
    assert_eq!(made.len(), 3);
    (h, made)
}

fn edit_manifest(snap: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = snap.join("manifest.json");
    let mut m: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    edit(&mut m);
    fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
}

/// The verdicts on a history whose newest snapshot (`made[2]`) is damaged, `problem` being
/// part of what is said about it; the other two are intact.
fn assert_damaged_newest(
    (server, dir, base): (Server, &Path, &Path),
    h: &Host,
    made: &[String],
    problem: &str,
) {
    let label = server.label();
    let bad = made[2].as_str();
    let text = stdout(&h.ok(&["list", "t"]));
    let line = |id: &str| text.lines().find(|l| l.starts_with(id)).unwrap_or("");
    assert!(
        line(bad).contains("DAMAGED") && line(bad).contains(problem),
        "{label}: list flags it\n{text}"
    );
    for id in &made[..2] {
        assert!(line(id).ends_with("host alpha"), "{label}: {id}\n{text}");
    }
    let (listed, listed_ids) = list_json(h);
    assert_eq!(
        listed_ids, made,
        "{label}: listed once each, under its directory's name"
    );
    assert!(listed[2]["damaged"].as_str().unwrap().contains(problem));
    assert!(listed[..2].iter().all(|s| s.get("damaged").is_none()));

    let out = h.backup(&["verify", "t", "--all"]);
    assert_exit(&out, 1, &format!("{label}: verify --all"));
    assert!(
        stderr(&out).contains(&format!("{bad}: ")),
        "{label}: names it\n{}",
        stderr(&out)
    );
    assert_eq!(stdout(&out).matches("intact").count(), 2, "{label}");
    let out = h.backup(&["verify", "t", bad]);
    assert_exit(&out, 1, &format!("{label}: verify {bad}"));
    assert!(stderr(&out).contains(bad), "{label}\n{}", stderr(&out));
    h.ok(&["verify", "t", &made[0]]);
    // `verify JOB` checks what `latest` means: the newest snapshot, damaged here.
    let out = h.backup(&["verify", "t"]);
    assert_exit(&out, 1, &format!("{label}: verify (latest)"));
    assert!(stderr(&out).contains(bad), "{label}\n{}", stderr(&out));

    let out = assert_restores(h, "latest", &dir.join("data"), &dir.join("restored"));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("the newest snapshot {bad} is damaged"))
            && err.contains(&format!("using {}", made[1])),
        "{label}: says which snapshot it used instead\n{err}"
    );
    assert_eq!(stdout(&h.ok(&["cat", "t", "latest", "app.sql"])), SQL);

    // keep_last = 1 keeps the middle one, removes the old one by its own manifest, and keeps
    // the damaged one untouched, whatever its manifest says.
    let damaged_dir = base.join("t").join(bad);
    let before = server_state(&damaged_dir);
    let pruning = host(
        dir,
        "alpha",
        server,
        base.to_str().unwrap(),
        &tree_and_dump(&dir.join("data"), "[jobs.t.retention]\nkeep_last = 1"),
    );
    let text = stdout(&pruning.ok(&["prune", "t"]));
    assert!(
        text.contains(&format!("{bad}  DAMAGED, kept and not counted")),
        "{label}\n{text}"
    );
    assert!(text.contains("keep 1, removed 1"), "{label}\n{text}");
    assert_eq!(ids(&base.join("t")), made[1..], "{label}");
    assert_eq!(
        server_state(&damaged_dir),
        before,
        "{label}: left untouched"
    );
}

#[test]
fn a_manifest_naming_another_snapshot_is_damaged_and_never_taken_for_it() {
    for_each_server(|server, dir, base| {
        let (h, made) = three_snapshots(server, dir, base);
        let old = made[0].clone();
        edit_manifest(&base.join("t").join(&made[2]), |m| {
            m["snapshot"] = old.into()
        });
        let problem = format!("its manifest names snapshot \"{}\"", made[0]);
        assert_damaged_newest((server, dir, base), &h, &made, &problem);
    });
}

#[test]
fn a_manifest_cut_short_is_damaged() {
    for_each_server(|server, dir, base| {
        let (h, made) = three_snapshots(server, dir, base);
        let path = base.join("t").join(&made[2]).join("manifest.json");
        let text = fs::read(&path).unwrap();
        fs::write(&path, &text[..text.len() / 2]).unwrap();
        assert_damaged_newest((server, dir, base), &h, &made, "manifest.json is not valid");
    });
}

#[test]
fn a_20_mib_manifest_is_damaged_by_its_size_alone() {
    for_each_server(|server, dir, base| {
        let (h, made) = three_snapshots(server, dir, base);
        // Valid JSON, and the right manifest, but for its size.
        let path = base.join("t").join(&made[2]).join("manifest.json");
        let mut text = vec![b' '; 20 << 20];
        text.extend(fs::read(&path).unwrap());
        fs::write(&path, text).unwrap();
        assert_damaged_newest((server, dir, base), &h, &made, "larger than");
    });
}

/// Seconds of the last access to `path`.
fn atime(path: &Path) -> i64 {
    fs::metadata(path).unwrap().atime()
}

#[test]
fn a_manifest_listing_a_file_outside_the_snapshot_is_damaged_and_nothing_outside_is_read() {
    for_each_server(|server, dir, base| {
        let label = server.label();
        let (h, made) = three_snapshots(server, dir, base);
        // `<id>/../../x.zst` is `base/x.zst`: a valid stream, recorded with its true hash, so
        // only the name gives it away. Its access time is set back to 1970: any read of it
        // moves that (relatime updates an atime older than the mtime).
        let outside = base.join("x.zst");
        let zst = zstd::encode_all(&b"OUTSIDE THE SNAPSHOT\n"[..], 3).unwrap();
        fs::write(&outside, &zst).unwrap();
        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&zst));
        let snap = base.join("t").join(&made[2]);
        edit_manifest(&snap, |m| {
            m["files"].as_array_mut().unwrap().push(serde_json::json!({
                "name": "../../x.zst", "size": zst.len(), "sha256": sha, "raw_size": 21,
            }))
        });
        let sums = fs::read_to_string(snap.join("SHA256SUMS")).unwrap();
        fs::write(
            snap.join("SHA256SUMS"),
            format!("{sums}{sha}  ../../x.zst\n"),
        )
        .unwrap();
        common::run_ok("touch", &["-a", "-d", "@1", outside.to_str().unwrap()]);
        assert_eq!(atime(&outside), 1);

        let problem = "lists a file named \"../../x.zst\"";
        assert_damaged_newest((server, dir, base), &h, &made, problem);
        for args in [
            &["cat", "t", &made[2], "../../x"][..],
            &["verify", "t", &made[2], "--read"],
        ] {
            let out = h.backup(args);
            assert_exit(&out, 1, &format!("{label}: {args:?}"));
            assert!(!stdout(&out).contains("OUTSIDE"), "{label}: {args:?}");
        }
        let target = dir.join("restored-damaged");
        let out = h.backup(&[
            "restore",
            "t",
            &made[2],
            "--target",
            target.to_str().unwrap(),
        ]);
        assert_exit(
            &out,
            1,
            &format!("{label}: restore of the damaged snapshot"),
        );
        assert!(
            stderr(&out).contains("is damaged"),
            "{label}\n{}",
            stderr(&out)
        );
        assert_eq!(
            atime(&outside),
            1,
            "{label}: {} was read",
            outside.display()
        );
        assert_eq!(fs::read(&outside).unwrap(), zst);
    });
}

#[test]
fn when_every_snapshot_is_damaged_latest_fails_saying_so() {
    let dir = tempfile::tempdir().unwrap();
    let (dir, base) = (dir.path(), dir.path().join("remote"));
    let root = dir.join("data");
    make_tree(&root, 0);
    let h = host(
        dir,
        "alpha",
        Server::Local,
        base.to_str().unwrap(),
        &tree_and_dump(&root, ""),
    );
    h.ok(&["run", "t"]);
    let id = ids(&base.join("t")).remove(0);
    fs::write(base.join("t").join(&id).join("manifest.json"), "{").unwrap();
    let target = dir.join("restored");
    for args in [
        &[
            "restore",
            "t",
            "latest",
            "--target",
            target.to_str().unwrap(),
        ][..],
        &["cat", "t", "latest", "app.sql"],
        &["verify", "t"],
    ] {
        let out = h.backup(args);
        // A failure (1), not "no such snapshot" (2) with the hint to make a first one.
        assert_exit(&out, 1, &format!("{args:?}"));
        let err = stderr(&out);
        assert!(
            err.contains("no intact snapshot") && err.contains(&format!("the newest {id}")),
            "{args:?}\n{err}"
        );
        assert!(!err.contains("first"), "{args:?}\n{err}");
    }
}
