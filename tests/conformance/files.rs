//! Writing and reading files: streamed creates, exclusive creates, bounded reads, reads that
//! refuse what is not a regular file, and readers whose consumer goes away.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::sync::Arc;
use std::time::Duration;

use backup_agent::remote::{Counted, ErrorKind, Progressed, ReadEnd, Remote, RetryReads};
use tokio::sync::mpsc;

use crate::harness::{Target, chunked, data, for_each_remote, put, read_all};

/// Odd sizes, so that chunks never line up with the transports' own request sizes.
const CHUNKS: [usize; 7] = [1, 7, 4093, 65_537, 262_147, 1_048_583, 333_331];

async fn create_streams_every_chunk(t: &Target) {
    let bytes = data(5 * 1024 * 1024 + 12_345, 1);
    let path = t.path("big.bin");
    let n = t
        .remote
        .create(&path, chunked(bytes.clone(), &CHUNKS))
        .await
        .unwrap();
    assert_eq!(n, bytes.len() as u64, "{}", t.name);
    let on_disk = std::fs::read(t.disk("big.bin")).unwrap();
    assert!(on_disk == bytes, "{}: the file on disk differs", t.name);
    let mode = std::fs::metadata(t.disk("big.bin"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{}", t.name);
    let (end, back) = read_all(t.remote.as_ref(), &path, bytes.len() as u64).await;
    let end = end.unwrap();
    assert_eq!(
        (end.bytes, end.over_limit),
        (bytes.len() as u64, false),
        "{}",
        t.name
    );
    assert!(back == bytes, "{}: read back differs", t.name);
    assert_eq!(t.remote.stat(&path).await.unwrap().unwrap().size, n);
}

async fn create_truncates_an_existing_file(t: &Target) {
    let r = t.remote.as_ref();
    put(r, &t.path("f"), &data(100_000, 2)).await;
    put(r, &t.path("f"), b"ten bytes!").await;
    assert_eq!(
        std::fs::read(t.disk("f")).unwrap(),
        b"ten bytes!",
        "{}",
        t.name
    );
    put(r, &t.path("f"), b"").await;
    assert_eq!(std::fs::read(t.disk("f")).unwrap(), b"", "{}", t.name);
}

/// A symlink the server put where a file is created (e.g. at `.owner.tmp`) is replaced by the
/// file: nothing is written through it, on any remote.
async fn create_replaces_a_symlink_never_writes_through_it(t: &Target) {
    let r = t.remote.as_ref();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    std::fs::write(&victim, b"keep me").unwrap();
    std::os::unix::fs::symlink(&victim, t.disk("planted")).unwrap();
    put(r, &t.path("planted"), b"ours").await;
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep me", "{}", t.name);
    let meta = std::fs::symlink_metadata(t.disk("planted")).unwrap();
    assert!(
        meta.is_file(),
        "{}: the link was replaced by a file",
        t.name
    );
    assert_eq!(
        std::fs::read(t.disk("planted")).unwrap(),
        b"ours",
        "{}",
        t.name
    );
}

async fn create_new_refuses_an_existing_file(t: &Target) {
    let r = t.remote.as_ref();
    r.create_new(&t.path(".lock"), b"first").await.unwrap();
    assert_eq!(std::fs::read(t.disk(".lock")).unwrap(), b"first");
    let e = r.create_new(&t.path(".lock"), b"second").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyExists, "{}: {e}", t.name);
    assert_eq!(
        std::fs::read(t.disk(".lock")).unwrap(),
        b"first",
        "{}",
        t.name
    );
    let mode = std::fs::metadata(t.disk(".lock"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{}", t.name);
}

async fn read_stops_at_the_limit(t: &Target) {
    let r = t.remote.as_ref();
    let bytes = data(300_001, 3);
    let len = bytes.len() as u64;
    put(r, &t.path("f"), &bytes).await;
    put(r, &t.path("empty"), b"").await;
    for (limit, over) in [
        (0, true),
        (100, true),
        (len - 1, true),
        (len, false),
        (len + 5000, false),
    ] {
        let (end, got) = read_all(r, &t.path("f"), limit).await;
        let want = ReadEnd {
            bytes: limit.min(len),
            over_limit: over,
        };
        assert_eq!(end.unwrap(), want, "{}: limit {limit}", t.name);
        assert!(
            got == bytes[..want.bytes as usize],
            "{}: limit {limit}: bytes differ",
            t.name
        );
    }
    let (end, got) = read_all(r, &t.path("empty"), 0).await;
    assert_eq!(
        (end.unwrap(), got.len()),
        (
            ReadEnd {
                bytes: 0,
                over_limit: false
            },
            0
        )
    );
}

async fn read_refuses_links_and_special_files(t: &Target) {
    let r = t.remote.as_ref();
    put(r, &t.path("target"), b"secret").await;
    symlink(t.disk("target"), t.disk("to-file")).unwrap();
    symlink("/dev/zero", t.disk("to-zero")).unwrap();
    r.mkdir(&t.path("dir")).await.unwrap();
    for name in ["to-file", "to-zero", "dir"] {
        let path = t.path(name);
        let read = read_all(r, &path, 1 << 20);
        let (end, got) = tokio::time::timeout(Duration::from_secs(20), read)
            .await
            .unwrap_or_else(|_| panic!("{}: reading {name} did not end", t.name));
        assert!(end.is_err(), "{}: {name} was read: {end:?}", t.name);
        assert_eq!(got.len(), 0, "{}: bytes of {name} delivered", t.name);
    }
}

/// A read whose consumer takes one chunk and goes away ends soon and without an error, also
/// through the wrappers that stand between (the retry wrapper once deadlocked here).
async fn read_ends_when_the_consumer_goes(t: &Target) {
    put(t.remote.as_ref(), &t.path("f"), &data(8 * 1024 * 1024, 4)).await;
    let counted = Arc::new(Counted::default());
    let wrapped: [(&str, Arc<dyn Remote>); 3] = [
        ("plain", t.remote.clone()),
        ("RetryReads", Arc::new(RetryReads(t.remote.clone()))),
        (
            "Progressed",
            Arc::new(Progressed::new(t.remote.clone(), counted)),
        ),
    ];
    for (how, remote) in wrapped {
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(1);
        let path = t.path("f");
        let read = tokio::spawn(async move { remote.read(&path, u64::MAX / 2, tx).await });
        assert!(
            rx.recv().await.is_some(),
            "{}: {how}: no first chunk",
            t.name
        );
        drop(rx);
        let end = tokio::time::timeout(Duration::from_secs(20), read)
            .await
            .unwrap_or_else(|_| panic!("{}: {how}: the read went on without a consumer", t.name))
            .unwrap();
        let end = end.unwrap_or_else(|e| panic!("{}: {how}: {e}", t.name));
        assert!(end.bytes < 8 * 1024 * 1024, "{}: {how}: {end:?}", t.name);
    }
}

for_each_remote!(
    create_streams_every_chunk,
    create_truncates_an_existing_file,
    create_replaces_a_symlink_never_writes_through_it,
    create_new_refuses_an_existing_file,
    read_stops_at_the_limit,
    read_refuses_links_and_special_files,
    read_ends_when_the_consumer_goes,
);
