//! Looking without following: `list`, `stat`, and `mkdir` with what it answers for a
//! directory that is there already.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::process::Command;

use backup_agent::remote::{DirEntry, EntryKind, ErrorKind};

use crate::harness::{Target, for_each_remote, put};

/// `d/` holding a file of each size, a directory, links (to a file, to a directory, dangling)
/// and a FIFO.
async fn populate(t: &Target) {
    let r = t.remote.as_ref();
    r.mkdir(&t.path("d")).await.unwrap();
    r.mkdir(&t.path("d/sub")).await.unwrap();
    put(r, &t.path("d/b.bin"), &[7u8; 1000]).await;
    put(r, &t.path("d/a.txt"), b"abc").await;
    put(r, &t.path("d/empty"), b"").await;
    symlink(t.disk("d/a.txt"), t.disk("d/link-file")).unwrap();
    symlink(t.disk("d/sub"), t.disk("d/link-dir")).unwrap();
    symlink("/nonexistent/target", t.disk("d/dangling")).unwrap();
    let st = Command::new("mkfifo")
        .arg(t.disk("d/fifo"))
        .status()
        .unwrap();
    assert!(st.success());
}

fn kinds(entries: &[DirEntry]) -> Vec<(&str, EntryKind)> {
    entries.iter().map(|e| (e.name.as_str(), e.kind)).collect()
}

async fn list_is_sorted_and_never_follows(t: &Target) {
    populate(t).await;
    let entries = t.remote.list(&t.path("d")).await.unwrap();
    use EntryKind::*;
    assert_eq!(
        kinds(&entries),
        [
            ("a.txt", File),
            ("b.bin", File),
            ("dangling", Symlink),
            ("empty", File),
            ("fifo", Other),
            ("link-dir", Symlink),
            ("link-file", Symlink),
            ("sub", Dir),
        ],
        "{}",
        t.name
    );
    let size = |n: &str| entries.iter().find(|e| e.name == n).unwrap().size;
    assert_eq!(
        (size("a.txt"), size("b.bin"), size("empty")),
        (3, 1000, 0),
        "{}",
        t.name
    );
    assert!(entries.iter().all(|e| e.mtime.is_some()), "{}", t.name);
    // An empty directory lists as nothing (no `.`, no `..`).
    let sub = t.remote.list(&t.path("d/sub")).await.unwrap();
    assert_eq!(sub, [], "{}", t.name);
}

async fn stat_describes_the_entry_itself(t: &Target) {
    populate(t).await;
    let r = t.remote.as_ref();
    let stat = |rel: &'static str| async move {
        r.stat(&t.path(rel))
            .await
            .unwrap_or_else(|e| panic!("{}: stat {rel}: {e}", t.name))
    };
    let file = stat("d/b.bin").await.unwrap();
    assert_eq!(
        (file.name.as_str(), file.kind, file.size),
        ("b.bin", EntryKind::File, 1000)
    );
    assert_eq!(stat("d/sub").await.unwrap().kind, EntryKind::Dir);
    let mut links = Vec::new();
    for link in ["d/link-dir", "d/link-file", "d/dangling"] {
        links.push((link, stat(link).await.map(|e| e.kind)));
    }
    let symlink = Some(EntryKind::Symlink);
    assert_eq!(
        links,
        [
            ("d/link-dir", symlink),
            ("d/link-file", symlink),
            ("d/dangling", symlink)
        ],
        "{}",
        t.name
    );
    assert_eq!(stat("d/fifo").await.unwrap().kind, EntryKind::Other);
    assert_eq!(stat("d/missing").await, None, "{}", t.name);
    assert_eq!(stat("no/such/dir").await, None, "{}", t.name);
}

async fn mkdir_creates_one_directory(t: &Target) {
    let r = t.remote.as_ref();
    r.mkdir(&t.path("x")).await.unwrap();
    let meta = std::fs::metadata(t.disk("x")).unwrap();
    assert!(meta.is_dir());
    assert_eq!(meta.permissions().mode() & 0o777, 0o700, "{}", t.name);
    // SFTP v3 has no "exists" status: OpenSSH answers Failure ("Failure"), ProFTPD Failure
    // ("File already exists"); the SFTP remote then looks, and says AlreadyExists.
    let again = r.mkdir(&t.path("x")).await.unwrap_err();
    assert_eq!(
        again.kind(),
        ErrorKind::AlreadyExists,
        "{}: {again}",
        t.name
    );
    put(r, &t.path("f"), b"1").await;
    let on_file = r.mkdir(&t.path("f")).await.unwrap_err();
    assert_eq!(
        on_file.kind(),
        ErrorKind::AlreadyExists,
        "{}: {on_file}",
        t.name
    );
    let orphan = r.mkdir(&t.path("missing/x")).await.unwrap_err();
    assert_eq!(orphan.kind(), ErrorKind::NotFound, "{}: {orphan}", t.name);
}

for_each_remote!(
    list_is_sorted_and_never_follows,
    stat_describes_the_entry_itself,
    mkdir_creates_one_directory,
);
