//! The wrappers around each real remote: a dry run changes nothing and reads through (also
//! under the names it pretended to rename to); progress counts what went through; the retry
//! of reads passes everything through and repeats only reads that delivered nothing.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use backup_agent::remote::{Counted, DryRun, ErrorKind, Progressed, Remote, RetryReads};

use crate::common::tree_digest;
use crate::faulty::Faulty;
use crate::harness::{Target, chunked, data, for_each_remote, put, read_all, sha256_hex};
use crate::history::{committed, repo};

fn names(entries: Vec<backup_agent::remote::DirEntry>) -> Vec<String> {
    entries.into_iter().map(|e| e.name).collect()
}

async fn dry_run_changes_nothing_and_reads_through(t: &Target) {
    let r = t.remote.as_ref();
    r.mkdir(&t.path("d")).await.unwrap();
    r.mkdir(&t.path("d/sub")).await.unwrap();
    put(r, &t.path("d/a"), b"aaa").await;
    put(r, &t.path("f"), b"contents of f").await;
    let healthy = repo(t, t.remote.clone());
    let snapshot = committed(t, &healthy, 70).await;
    let before = tree_digest(&t.disk(""));

    let dry: Arc<dyn Remote> = Arc::new(DryRun::new(t.remote.clone()));
    let d = dry.as_ref();
    d.mkdir(&t.path("new")).await.unwrap();
    let n = d
        .create(&t.path("d/new"), chunked(data(100_000, 8), &[4097]))
        .await
        .unwrap();
    assert_eq!(n, 100_000, "{}", t.name);
    d.create(&t.path("f"), chunked(b"overwritten".to_vec(), &[3]))
        .await
        .unwrap();
    d.create_new(&t.path("f"), b"exclusive").await.unwrap();
    d.rename(&t.path("f"), &t.path("g")).await.unwrap();
    d.remove_file(&t.path("d/a")).await.unwrap();
    d.remove_dir(&t.path("d/sub")).await.unwrap();
    d.rename(&t.path("d"), &t.path(".d.deleting"))
        .await
        .unwrap();
    // A whole deletion through the repository walks the renamed directory.
    repo(t, dry.clone()).delete(snapshot).await.unwrap();
    assert!(
        tree_digest(&t.disk("")) == before,
        "{}: the dry run changed the disk",
        t.name
    );

    // Reads pass through, under the pretended names too.
    let renamed = t.path(".d.deleting/a");
    let seen = (
        read_all(d, &t.path("f"), 100).await.1,
        read_all(d, &t.path("g"), 100).await.1,
        read_all(d, &renamed, 100).await.1,
        d.stat(&renamed).await.unwrap().map(|e| e.size),
        names(d.list(&t.path(".d.deleting")).await.unwrap()),
        names(d.list(&t.path("d")).await.unwrap()),
    );
    let f = b"contents of f".to_vec();
    let d_entries = vec!["a".to_string(), "sub".to_string()];
    let want = (
        f.clone(),
        f,
        b"aaa".to_vec(),
        Some(3),
        d_entries.clone(),
        d_entries,
    );
    assert_eq!(seen, want, "{}", t.name);
    if t.can_hash() {
        assert_eq!(
            d.sha256(&[renamed]).await.unwrap(),
            [sha256_hex(b"aaa")],
            "{}",
            t.name
        );
    }
    assert_eq!(d.capabilities(), r.capabilities(), "{}", t.name);
    assert!(d.describe().ends_with("(dry run)"), "{}", d.describe());
}

async fn progress_counts_written_and_read_bytes(t: &Target) {
    let counted = Arc::new(Counted::default());
    let p = Progressed::new(t.remote.clone(), counted.clone());
    let bytes = data(3 * 1024 * 1024 + 17, 9);
    let len = bytes.len() as u64;
    let n = p
        .create(&t.path("f"), chunked(bytes.clone(), &[65_537, 7]))
        .await
        .unwrap();
    assert_eq!(
        (n, counted.written.load(Ordering::Relaxed)),
        (len, len),
        "{}",
        t.name
    );
    assert!(std::fs::read(t.disk("f")).unwrap() == bytes, "{}", t.name);
    let (end, got) = read_all(&p, &t.path("f"), len).await;
    assert_eq!(
        (end.unwrap().bytes, got.len() as u64),
        (len, len),
        "{}",
        t.name
    );
    read_all(&p, &t.path("f"), 1000).await.0.unwrap();
    assert_eq!(
        counted.read.load(Ordering::Relaxed),
        len + 1000,
        "{}",
        t.name
    );
    assert_eq!(counted.written.load(Ordering::Relaxed), len, "{}", t.name);
}

/// Every operation of `r`, on paths under `dir`: the results a plain remote gives.
async fn exercise(t: &Target, r: &dyn Remote, dir: &str) {
    let p = |rel: &str| t.path(&format!("{dir}/{rel}"));
    r.mkdir(&p("")).await.unwrap();
    assert_eq!(
        r.mkdir(&p("")).await.unwrap_err().kind(),
        ErrorKind::AlreadyExists
    );
    let bytes = data(1_000_003, 10);
    let n = r
        .create(&p("f"), chunked(bytes.clone(), &[333_333]))
        .await
        .unwrap();
    assert_eq!(n, bytes.len() as u64, "{}", t.name);
    r.create_new(&p("lock"), b"x").await.unwrap();
    assert_eq!(
        r.create_new(&p("lock"), b"y").await.unwrap_err().kind(),
        ErrorKind::AlreadyExists
    );
    assert_eq!(
        r.stat(&p("f")).await.unwrap().unwrap().size,
        n,
        "{}",
        t.name
    );
    assert_eq!(
        names(r.list(&p("")).await.unwrap()),
        ["f", "lock"],
        "{}",
        t.name
    );
    let (end, got) = read_all(r, &p("f"), n).await;
    assert!(!end.unwrap().over_limit && got == bytes, "{}: read", t.name);
    let missing = r.read(&p("gone"), 1, tokio::sync::mpsc::channel(1).0).await;
    assert_eq!(
        missing.unwrap_err().kind(),
        ErrorKind::NotFound,
        "{}",
        t.name
    );
    match r.sha256(&[p("f")]).await {
        Ok(sums) => assert_eq!(sums, [sha256_hex(&bytes)], "{}", t.name),
        Err(e) => assert!(
            !t.can_hash() && e.kind() == ErrorKind::Unsupported,
            "{}: {e}",
            t.name
        ),
    }
    r.rename(&p("f"), &p("lock")).await.unwrap();
    r.remove_file(&p("lock")).await.unwrap();
    r.remove_dir(&p("")).await.unwrap();
    assert_eq!(r.stat(&p("")).await.unwrap(), None, "{}", t.name);
}

async fn retry_reads_passes_everything_through(t: &Target) {
    let retry = RetryReads(t.remote.clone());
    exercise(t, &retry, "retry").await;
    assert_eq!(retry.capabilities(), t.remote.capabilities(), "{}", t.name);
    assert_eq!(retry.describe(), t.remote.describe(), "{}", t.name);
    // Reads that lost their answer before delivering anything are asked again...
    put(t.remote.as_ref(), &t.path("f"), b"read me").await;
    let flaky = || RetryReads(Arc::new(Faulty::flaky_reads(t.remote.clone(), 1)));
    let size = flaky().stat(&t.path("f")).await.unwrap().map(|e| e.size);
    assert_eq!(size, Some(7), "{}", t.name);
    assert_eq!(
        names(flaky().list(&t.base).await.unwrap()),
        ["f"],
        "{}",
        t.name
    );
    assert_eq!(
        read_all(&flaky(), &t.path("f"), 10).await.1,
        b"read me",
        "{}",
        t.name
    );
    // ... writes never are.
    let cut = Arc::new(Faulty::crash_after(
        t.remote.clone(),
        0,
        crate::faulty::Crash::Cut,
    ));
    let retry = RetryReads(cut.clone());
    assert!(retry.mkdir(&t.path("x")).await.unwrap_err().is_transient());
    assert!(retry.create_new(&t.path("y"), b"y").await.is_err());
    assert_eq!(cut.calls(), 2, "{}: a write was repeated", t.name);
}

for_each_remote!(
    dry_run_changes_nothing_and_reads_through,
    progress_counts_written_and_read_bytes,
    retry_reads_passes_everything_through,
);
