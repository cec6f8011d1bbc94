//! The unpacker against hand-made archives, without a server.
// Test-only: the parent declares this module under #[cfg(test)].

use std::fs;
use std::path::{Path, PathBuf};

use super::unpack::{Unpacker, safe_relative};

fn entry(tar: &mut tar::Builder<Vec<u8>>, name: &str, kind: tar::EntryType, link: &str) {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(0o640);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_600_000_000);
    let data: &[u8] = if kind == tar::EntryType::Regular {
        b"data"
    } else {
        b""
    };
    h.set_size(data.len() as u64);
    let gnu = h.as_gnu_mut().unwrap();
    gnu.name[..name.len()].copy_from_slice(name.as_bytes());
    gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
    h.set_cksum();
    tar.append(&h, data).unwrap();
}

#[test]
fn safe_relative_refuses_escapes() {
    assert_eq!(
        safe_relative(Path::new("./a/b")).unwrap(),
        PathBuf::from("a/b")
    );
    for bad in ["../x", "a/../../x", "/etc/x", "", "."] {
        assert!(safe_relative(Path::new(bad)).is_err(), "{bad}");
    }
}

#[test]
fn never_writes_through_a_symlink_the_archive_made() {
    let outside = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let mut tar = tar::Builder::new(Vec::new());
    entry(&mut tar, "d", tar::EntryType::Directory, "");
    entry(&mut tar, "d/f", tar::EntryType::Regular, "");
    entry(&mut tar, "d/h", tar::EntryType::Link, "d/f");
    entry(
        &mut tar,
        "s",
        tar::EntryType::Symlink,
        outside.path().to_str().unwrap(),
    );
    entry(&mut tar, "s/x", tar::EntryType::Regular, "");
    entry(&mut tar, "s", tar::EntryType::Regular, "");
    entry(&mut tar, "l", tar::EntryType::Symlink, "d/f");
    entry(&mut tar, "h2", tar::EntryType::Link, "l");
    let bytes = tar.into_inner().unwrap();
    let r = Unpacker::new(root.path(), vec![], false)
        .unwrap()
        .unpack(&bytes[..]);
    assert_eq!(r.error, None);
    assert_eq!(r.refused.len(), 2, "{:?}", r.refused);
    assert!(r.refused[0].starts_with("s/x"), "{:?}", r.refused);
    assert!(r.refused[1].starts_with("h2"), "{:?}", r.refused);
    assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);
    // A later regular file replaces the symlink itself, not what it points to.
    assert!(
        fs::symlink_metadata(root.path().join("s"))
            .unwrap()
            .is_file()
    );
    assert_eq!(fs::read(root.path().join("d/h")).unwrap(), b"data");
    let m = fs::metadata(root.path().join("d")).unwrap();
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    assert_eq!(m.permissions().mode() & 0o7777, 0o640);
    assert_eq!(m.mtime(), 1_600_000_000);
}

#[test]
fn selection_restores_only_the_subtree() {
    let root = tempfile::tempdir().unwrap();
    let mut tar = tar::Builder::new(Vec::new());
    entry(&mut tar, "srv/a/x", tar::EntryType::Regular, "");
    entry(&mut tar, "srv/ab", tar::EntryType::Regular, "");
    entry(&mut tar, "srv/b", tar::EntryType::Regular, "");
    let bytes = tar.into_inner().unwrap();
    let r = Unpacker::new(root.path(), vec![PathBuf::from("srv/a")], false)
        .unwrap()
        .unpack(&bytes[..]);
    assert_eq!((r.entries, r.refused.len()), (1, 0));
    assert!(root.path().join("srv/a/x").exists());
    assert!(!root.path().join("srv/ab").exists() && !root.path().join("srv/b").exists());
}

/// A tar entry with a name longer than the header's fields hold, as GNU tar writes it.
fn long_entry(tar: &mut tar::Builder<Vec<u8>>, name: &str) {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o640);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_600_000_000);
    h.set_size(4);
    tar.append_data(&mut h, name, &b"data"[..]).unwrap();
}

#[test]
fn an_entry_that_cannot_be_written_fails_alone_and_is_named() {
    let root = tempfile::tempdir().unwrap();
    let mut tar = tar::Builder::new(Vec::new());
    entry(&mut tar, "a", tar::EntryType::Regular, "");
    let too_long = format!("d/{}", "x".repeat(300));
    long_entry(&mut tar, &too_long);
    entry(&mut tar, "b", tar::EntryType::Regular, "");
    let bytes = tar.into_inner().unwrap();
    let r = Unpacker::new(root.path(), vec![], false)
        .unwrap()
        .unpack(&bytes[..]);
    assert_eq!(r.error, None);
    assert_eq!(r.entries, 2, "{r:?}");
    assert_eq!(r.failed.len(), 1, "{r:?}");
    assert!(r.failed[0].contains(&"x".repeat(300)), "{r:?}");
    assert_eq!(fs::read(root.path().join("a")).unwrap(), b"data");
    assert_eq!(fs::read(root.path().join("b")).unwrap(), b"data");
}

#[test]
fn a_symlink_already_in_the_target_is_never_written_through() {
    // What a local user racing a `--force` restore could swap in for a directory.
    let outside = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), root.path().join("d")).unwrap();
    let mut tar = tar::Builder::new(Vec::new());
    entry(&mut tar, "d/f", tar::EntryType::Regular, "");
    entry(&mut tar, "d/e/f", tar::EntryType::Regular, "");
    let bytes = tar.into_inner().unwrap();
    let r = Unpacker::new(root.path(), vec![], false)
        .unwrap()
        .unpack(&bytes[..]);
    assert_eq!(r.refused.len(), 2, "{r:?}");
    assert!(r.refused[0].contains("symlink d"), "{r:?}");
    assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);
}

#[test]
fn a_selection_that_matches_nothing_is_counted_as_such() {
    let root = tempfile::tempdir().unwrap();
    let mut tar = tar::Builder::new(Vec::new());
    entry(&mut tar, "srv/a", tar::EntryType::Regular, "");
    let bytes = tar.into_inner().unwrap();
    let r = Unpacker::new(root.path(), vec![PathBuf::from("etc")], false)
        .unwrap()
        .unpack(&bytes[..]);
    assert_eq!((r.matched, r.entries), (0, 0));
}
