//! Changing what is there: renames, removals, what a missing path answers; and what a remote
//! says about itself: `sha256` where the data is, and its capabilities.

use std::os::unix::fs::symlink;

use backup_agent::remote::{Capabilities, ErrorKind, RemoteError};

use crate::harness::{Kind, Target, data, disk_names, for_each_remote, put, sha256_hex};

async fn rename_replaces_a_file(t: &Target) {
    let r = t.remote.as_ref();
    put(r, &t.path("new"), b"new contents").await;
    put(r, &t.path("old"), b"old").await;
    r.rename(&t.path("new"), &t.path("old")).await.unwrap();
    assert_eq!(
        std::fs::read(t.disk("old")).unwrap(),
        b"new contents",
        "{}",
        t.name
    );
    assert_eq!(r.stat(&t.path("new")).await.unwrap(), None, "{}", t.name);
    assert_eq!(disk_names(t, ""), ["old"], "{}", t.name);
}

async fn rename_moves_a_directory(t: &Target) {
    let r = t.remote.as_ref();
    r.mkdir(&t.path("d1")).await.unwrap();
    put(r, &t.path("d1/a"), b"a").await;
    put(r, &t.path("d1/b"), b"bb").await;
    r.rename(&t.path("d1"), &t.path("d2")).await.unwrap();
    let names: Vec<String> = r
        .list(&t.path("d2"))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["a", "b"], "{}", t.name);
    assert_eq!(r.stat(&t.path("d1")).await.unwrap(), None, "{}", t.name);
}

async fn remove_file_removes_a_link_not_its_target(t: &Target) {
    let r = t.remote.as_ref();
    put(r, &t.path("target"), b"keep me").await;
    r.mkdir(&t.path("dir")).await.unwrap();
    put(r, &t.path("dir/inside"), b"keep me too").await;
    symlink(t.disk("target"), t.disk("to-file")).unwrap();
    symlink(t.disk("dir"), t.disk("to-dir")).unwrap();
    r.remove_file(&t.path("to-file")).await.unwrap();
    r.remove_file(&t.path("to-dir")).await.unwrap();
    assert_eq!(disk_names(t, ""), ["dir", "target"], "{}", t.name);
    assert_eq!(disk_names(t, "dir"), ["inside"], "{}", t.name);
    assert_eq!(std::fs::read(t.disk("target")).unwrap(), b"keep me");
    r.remove_file(&t.path("target")).await.unwrap();
    assert_eq!(disk_names(t, ""), ["dir"], "{}", t.name);
}

async fn remove_dir_only_when_empty(t: &Target) {
    let r = t.remote.as_ref();
    r.mkdir(&t.path("d")).await.unwrap();
    put(r, &t.path("d/f"), b"x").await;
    // SFTP v3 has no "not empty" status: both servers answer Failure (ProFTPD with the
    // message "Directory is not empty"), the local remote ENOTEMPTY.
    let e = r.remove_dir(&t.path("d")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Other, "{}: {e}", t.name);
    assert_eq!(disk_names(t, "d"), ["f"], "{}: {e}", t.name);
    r.remove_file(&t.path("d/f")).await.unwrap();
    r.remove_dir(&t.path("d")).await.unwrap();
    assert_eq!(disk_names(t, ""), Vec::<String>::new(), "{}", t.name);
}

async fn missing_paths_are_not_found(t: &Target) {
    let r = t.remote.as_ref();
    let (gone, orphan) = (t.path("gone"), t.path("no/such"));
    let kind = |what: &str, res: Result<(), RemoteError>| {
        let e = res.expect_err(what);
        assert_eq!(e.kind(), ErrorKind::NotFound, "{}: {what}: {e}", t.name);
    };
    kind("list", r.list(&gone).await.map(drop));
    kind(
        "read",
        r.read(&gone, 10, tokio::sync::mpsc::channel(1).0)
            .await
            .map(drop),
    );
    kind("rename", r.rename(&gone, &t.path("x")).await);
    kind("remove_file", r.remove_file(&gone).await);
    kind("remove_dir", r.remove_dir(&gone).await);
    kind("mkdir", r.mkdir(&orphan).await);
    kind(
        "create",
        backup_agent::remote::write_small(r, &orphan, b"x").await,
    );
    kind("create_new", r.create_new(&orphan, b"x").await);
    kind(
        "sha256",
        r.sha256(std::slice::from_ref(&gone)).await.map(drop),
    );
}

async fn sha256_is_computed_where_the_data_is(t: &Target) {
    let r = t.remote.as_ref();
    let files = [
        ("empty", data(0, 5)),
        ("it's a file.zst", data(3, 6)),
        ("big", data(2 << 20, 7)),
    ];
    for (name, bytes) in &files {
        put(r, &t.path(name), bytes).await;
    }
    let paths: Vec<String> = files.iter().map(|(n, _)| t.path(n)).collect();
    if !t.can_hash() {
        let e = r.sha256(&paths).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{}: {e}", t.name);
        assert!(!r.capabilities().hash, "{}: still claims to hash", t.name);
        return;
    }
    let want: Vec<String> = files.iter().map(|(_, b)| sha256_hex(b)).collect();
    assert_eq!(r.sha256(&paths).await.unwrap(), want, "{}", t.name);
    symlink(t.disk("big"), t.disk("link")).unwrap();
    let e = r.sha256(&[t.path("link")]).await.unwrap_err();
    assert_ne!(e.kind(), ErrorKind::Unsupported, "{}: {e}", t.name);
}

async fn capabilities_are_as_documented(t: &Target) {
    let caps = t.remote.capabilities();
    // Both SFTP servers advertise fsync@openssh.com; whether the account may run
    // `sha256sum` shows only when it is asked (sha256_is_computed_where_the_data_is).
    let want = Capabilities {
        rename_dirs: true,
        fsync: true,
        hash: true,
        sequential_writes: false,
    };
    assert_eq!(caps, want, "{}", t.name);
    let describe = t.remote.describe();
    match t.kind {
        Kind::Local => assert_eq!(describe, format!("local {}", t.base)),
        Kind::Sshd | Kind::Proftpd => assert!(describe.contains("@127.0.0.1:"), "{describe}"),
    }
}

for_each_remote!(
    rename_replaces_a_file,
    rename_moves_a_directory,
    remove_file_removes_a_link_not_its_target,
    remove_dir_only_when_empty,
    missing_paths_are_not_found,
    sha256_is_computed_where_the_data_is,
    capabilities_are_as_documented,
);
