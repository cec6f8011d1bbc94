//! Build 2, no link followed on the server: a symlink where a snapshot, `.partial` or
//! `.deleting` directory should be is reported and left alone (a run or prune never deletes
//! through it), and a stored file that is a symlink (to a file outside, to `/dev/zero`), a
//! FIFO or a device is never read or hashed: `verify`, `restore` and `cat` refuse it in time.
//! Each link points at something that would pass every check if followed, so following it
//! would show (as a read of a sentinel, or as a success).

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use super::world::World;
use crate::common::bounded::assert_reported;
use crate::common::snap::snapshots;
use crate::common::surgery::{edit_manifest, reseal, shifted};

#[test]
fn a_symlink_in_place_of_a_snapshot_directory_is_never_followed() {
    let Some(mut w) = World::new() else { return };
    let base_id = w.base_id();
    // An intact snapshot, moved out of the job directory; its id there is a link to it.
    let (id, snap) = w.copy(1);
    let outside = w.sshd.dir().join("elsewhere");
    fs::create_dir(&outside).unwrap();
    fs::rename(&snap, outside.join(&id)).unwrap();
    symlink(outside.join(&id), w.job.join(&id)).unwrap();
    w.sentinels.watch(&outside);

    w.refuses(&id, &["symlink"]);
    w.lists(&[&base_id], &[&id]);
    w.verify_all_names(&[&id, "symlink"]);
    let (out, _) = w.restore("latest");
    assert_reported(&out, 0, &[&id, &base_id]);
    w.sentinels.assert_intact();

    // Retention decides over intact snapshots only: a run and a prune that keep one remove
    // the base, never the link nor anything behind it.
    w.reconfigure("[jobs.t.retention]\nkeep_last = 1\n");
    let out = w.run(&["run", "t"]);
    assert_reported(&out, 0, &[]);
    let out = w.run(&["prune", "t"]);
    assert_reported(&out, 0, &[&id, "damaged"]);
    assert!(!w.job.join(&base_id).exists(), "the base was pruned");
    assert!(w.job.join(&id).is_symlink(), "the link is left alone");
    w.sentinels.assert_intact();
}

#[test]
fn the_next_run_never_deletes_through_a_symlinked_partial_directory() {
    let Some(w) = World::new() else { return };
    let before = snapshots(&w.job);
    let name = format!(".{}.partial", shifted(&w.base_id(), -1));
    symlink(&w.server_outside, w.job.join(&name)).unwrap();

    // The backup is made all the same, and the link is its warning (exit 3), said.
    let out = w.run(&["run", "t"]);
    assert_reported(&out, 3, &[&name, "symlink", "left alone"]);
    assert!(w.job.join(&name).is_symlink(), "the link is left alone");
    assert_eq!(
        snapshots(&w.job).len(),
        before.len() + 1,
        "committed beside it"
    );
    w.sentinels.assert_intact();
}

#[test]
fn prune_never_deletes_through_a_symlinked_deleting_directory() {
    let Some(w) = World::new() else { return };
    let name = format!(".{}.deleting", shifted(&w.base_id(), -1));
    symlink(&w.server_outside, w.job.join(&name)).unwrap();

    for args in [&["prune", "t"][..], &["prune", "t", "--dry-run"]] {
        let out = w.run(args);
        // Pruned as asked, with the link as its warning (exit 3).
        assert_reported(&out, 3, &[&name, "symlink", "left alone"]);
        assert!(w.job.join(&name).is_symlink(), "the link is left alone");
        w.sentinels.assert_intact();
    }
    assert_eq!(snapshots(&w.job).len(), 1);
}

#[test]
fn a_run_whose_retention_meets_a_symlinked_deleting_directory_says_so() {
    let Some(w) = World::new() else { return };
    let name = format!(".{}.deleting", shifted(&w.base_id(), -1));
    symlink(&w.server_outside, w.job.join(&name)).unwrap();
    w.reconfigure("[jobs.t.retention]\nkeep_last = 1\n");
    let out = w.run(&["run", "t"]);
    // Committed and pruned, and the link is its warning (exit 3), said.
    assert_reported(&out, 3, &[&name, "symlink", "left alone"]);
    assert_eq!(snapshots(&w.job).len(), 1, "retention still applies");
    assert!(w.job.join(&name).is_symlink(), "the link is left alone");
    w.sentinels.assert_intact();
}

#[test]
fn a_stored_file_that_is_a_link_a_fifo_or_a_device_is_never_read() {
    let Some(mut w) = World::new() else { return };
    let base = w.base();
    // Exact copies outside: a reader that followed a link to them would find every checksum
    // right, and would show as a read of a watched file.
    let copies = w.sshd.dir().join("copies");
    fs::create_dir(&copies).unwrap();
    for f in ["files.tar.zst", "app.sql.zst"] {
        fs::copy(base.join(f), copies.join(f)).unwrap();
    }
    w.sentinels.watch(&copies);

    type Make = Box<dyn Fn(&Path)>;
    let link_to = |to: PathBuf| -> Make { Box::new(move |p| symlink(&to, p).unwrap()) };
    // (stored file, replaced by, the name `cat` asks for, what the message must say)
    let mut cases: Vec<(&str, Make, &str, &str)> = vec![
        (
            "files.tar.zst",
            link_to(copies.join("files.tar.zst")),
            "files.tar",
            "symlink",
        ),
        (
            "app.sql.zst",
            link_to(copies.join("app.sql.zst")),
            "app.sql",
            "symlink",
        ),
        (
            "app.sql.zst",
            link_to("/dev/zero".into()),
            "app.sql",
            "symlink",
        ),
        ("app.sql.zst", Box::new(mkfifo), "app.sql", "app.sql.zst"),
    ];
    if unsafe { libc::geteuid() } == 0 {
        cases.push((
            "app.sql.zst",
            Box::new(mknod_zero),
            "app.sql",
            "app.sql.zst",
        ));
    }
    let mut ids = Vec::new();
    for (i, (file, make, cat_name, said)) in cases.iter().enumerate() {
        let (id, snap) = w.copy(i as i64 + 1);
        fs::remove_file(snap.join(file)).unwrap();
        make(&snap.join(file));
        w.refuses_file(&id, cat_name, &[file, said]);
        ids.push(id);
    }
    let mut said: Vec<&str> = ids.iter().map(String::as_str).collect();
    said.extend(["files.tar.zst", "app.sql.zst"]);
    w.verify_all_names(&said);

    // manifest.json as a link to a forged copy outside that describes this very snapshot.
    let (id, snap) = w.copy(50);
    let forged = w.sshd.dir().join("forged");
    fs::create_dir(&forged).unwrap();
    fs::rename(snap.join("manifest.json"), forged.join("manifest.json")).unwrap();
    symlink(forged.join("manifest.json"), snap.join("manifest.json")).unwrap();
    w.sentinels.watch(&forged);
    w.refuses(&id, &["manifest.json", "symlink"]);

    // `SHA256SUMS` as a link to a device: `verify` reports it without reading the device.
    let (id, snap) = w.copy(100);
    fs::remove_file(snap.join("SHA256SUMS")).unwrap();
    symlink("/dev/zero", snap.join("SHA256SUMS")).unwrap();
    let out = w.run(&["verify", "t", &id]);
    assert_reported(&out, 1, &[&id, "SHA256SUMS"]);
    w.sentinels.assert_intact();
}

fn mkfifo(p: &Path) {
    nix::unistd::mkfifo(p, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
}

/// A character device like `/dev/zero` (1, 5) itself in place of a stored file (root only).
fn mknod_zero(p: &Path) {
    use nix::sys::stat::{Mode, SFlag, makedev, mknod};
    mknod(
        p,
        SFlag::S_IFCHR,
        Mode::from_bits_truncate(0o644),
        makedev(1, 5),
    )
    .unwrap();
}

/// Build 5 for stored files: a restore refuses a stored file it must not read, names it, and
/// still restores every other stored file of the snapshot.
#[test]
fn restore_goes_on_past_a_stored_file_it_refuses() {
    let Some(w) = World::new() else { return };
    for (i, bad) in ["files.tar.zst", "app.sql.zst"].iter().enumerate() {
        let (id, snap) = w.copy(i as i64 + 1);
        // A second command output after the first, so that something follows each bad file.
        fs::write(
            snap.join("zz.sql.zst"),
            zstd::encode_all(&b"zz\n"[..], 3).unwrap(),
        )
        .unwrap();
        edit_manifest(&snap, |m| {
            let mut f = m.files[1].clone();
            f.name = "zz.sql.zst".into();
            m.files.push(f);
        });
        reseal(&snap);
        fs::remove_file(snap.join(bad)).unwrap();
        symlink("/dev/zero", snap.join(bad)).unwrap();

        let (out, target) = w.restore(&id);
        assert_reported(&out, 1, &[&id, bad, "symlink"]);
        assert_eq!(fs::read(target.join("zz.sql")).unwrap(), b"zz\n", "{bad}");
        let tree = target.join(w.root.strip_prefix("/").unwrap());
        if *bad == "files.tar.zst" {
            assert_eq!(fs::read(target.join("app.sql")).unwrap(), b"select 1;\n");
            assert!(!tree.exists());
        } else {
            assert_eq!(fs::read(tree.join("g.txt")).unwrap(), b"g\n");
            assert!(!target.join("app.sql").exists());
        }
        w.sentinels.assert_intact();
    }
}
