//! Making and looking at snapshots of job `db` through a `Repository`, as `job/run.rs` does:
//! begin, stream the files into `.partial`, verify, commit with a manifest. And what is on
//! the disk beside the committed snapshots afterwards.

use std::sync::Arc;

use backup_agent::config::VerifyMode;
use backup_agent::layout::manifest::{FORMAT_VERSION, FileEntry, Manifest, Stats};
use backup_agent::layout::{Entry, SnapshotId};
use backup_agent::remote::Remote;
use backup_agent::repository::verify::check_files;
use backup_agent::repository::{Pending, RepoError, Repository};

use crate::harness::{Target, chunked, data, disk_names, sha256_hex};

pub const JOB: &str = "db";

pub fn repo(t: &Target, remote: Arc<dyn Remote>) -> Repository {
    Repository::new(remote, &t.base, JOB)
}

/// The stored files of a snapshot: names the layout's grammar takes, a few hundred KiB.
pub fn sample(seed: u64) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("files.tar.zst", data(300_007, seed)),
        ("app.sql.zst", data(70_001, seed + 1)),
    ]
}

/// Streams `files` into the pending snapshot, in order, and returns their manifest entries.
pub async fn upload(
    repo: &Repository,
    pending: &Pending,
    files: &[(&str, Vec<u8>)],
) -> Result<Vec<FileEntry>, RepoError> {
    let mut out = Vec::new();
    for (name, bytes) in files {
        let rx = chunked(bytes.clone(), &[65_536, 100_003]);
        let size = repo.remote().create(&pending.file(name), rx).await?;
        out.push(FileEntry {
            name: name.to_string(),
            size,
            sha256: sha256_hex(bytes),
            raw_size: size * 3,
        });
    }
    Ok(out)
}

pub fn manifest(pending: &Pending, files: Vec<FileEntry>, verified_by: VerifyMode) -> Manifest {
    let now = chrono::Utc::now();
    Manifest {
        format_version: FORMAT_VERSION,
        program: "backup-agent".into(),
        program_version: env!("CARGO_PKG_VERSION").into(),
        job: JOB.into(),
        snapshot: pending.id.to_string(),
        host: "conformance".into(),
        started_at: pending.id.time(),
        finished_at: now,
        stats: Some(Stats {
            files: files.len() as u64,
            bytes_stored: files.iter().map(|f| f.size).sum(),
            ..Stats::default()
        }),
        files,
        sources: Some(vec!["/srv/data".into()]),
        exclude: Some(vec![]),
        commands: vec![],
        warnings: Some(vec![]),
        encryption: None,
        skipped_sources: vec![],
        verified_by: verified_by.as_str().into(),
    }
}

/// One whole run: begin, upload, verify (`auto`), commit. `Err` at the first failing step.
pub async fn make_snapshot(
    repo: &Repository,
    files: &[(&str, Vec<u8>)],
) -> Result<SnapshotId, RepoError> {
    let pending = repo.begin().await?;
    let entries = upload(repo, &pending, files).await?;
    let checked = check_files(
        repo.remote().as_ref(),
        &pending.path,
        &entries,
        VerifyMode::Auto,
    )
    .await?;
    let problems: Vec<&String> = checked.problems().collect();
    assert!(problems.is_empty(), "verify before commit: {problems:?}");
    repo.commit(&pending, &manifest(&pending, entries, checked.method))
        .await?;
    Ok(pending.id)
}

/// [`make_snapshot`], which must succeed.
pub async fn committed(t: &Target, repo: &Repository, seed: u64) -> SnapshotId {
    make_snapshot(repo, &sample(seed))
        .await
        .unwrap_or_else(|e| panic!("{}: commit: {e}", t.name))
}

/// What a committed snapshot's directory holds, and nothing else.
pub fn assert_snapshot_files(t: &Target, id: SnapshotId) {
    let stored = [
        "SHA256SUMS",
        "app.sql.zst",
        "files.tar.zst",
        "manifest.json",
    ];
    assert_eq!(
        disk_names(t, &format!("{JOB}/{id}")),
        stored,
        "{}: {id}",
        t.name
    );
}

/// What `remote-hash` falls back to where the remote cannot hash.
pub fn expected_method(t: &Target) -> &'static str {
    if t.can_hash() {
        "remote-hash"
    } else {
        "readback"
    }
}

/// Every snapshot the repository lists is intact (manifest, `SHA256SUMS` and every file's
/// hash, by `auto` or by reading back) and none is damaged; their ids, oldest first.
pub async fn intact(t: &Target, repo: &Repository, readback: bool) -> Vec<SnapshotId> {
    let listing = repo
        .listing()
        .await
        .unwrap_or_else(|e| panic!("{}: list: {e}", t.name));
    assert_eq!(listing.damaged, [], "{}", t.name);
    for s in &listing.snapshots {
        let check = repo.check(s, readback).await.unwrap();
        assert!(
            check.is_ok(),
            "{}: snapshot {} is not intact: {check:?}",
            t.name,
            s.id
        );
        let method = if readback {
            "readback"
        } else {
            expected_method(t)
        };
        assert_eq!(check.method, method, "{}", t.name);
        crate::common::snap::sha256sum_c(&t.disk(&format!("{JOB}/{}", s.id)));
    }
    listing.snapshots.iter().map(|s| s.id).collect()
}

/// The `.partial` and `.deleting` directories in the job directory on disk, with what each
/// holds; also anything else that is neither a snapshot nor the owner record or lock.
pub fn leftovers(t: &Target) -> Vec<(String, Vec<String>)> {
    disk_names(t, JOB)
        .into_iter()
        .filter(|n| {
            let snapshot = matches!(Entry::classify(n), Entry::Snapshot(_))
                && t.disk(&format!("{JOB}/{n}/manifest.json")).exists();
            !snapshot && n != ".owner" && n != ".lock"
        })
        .map(|n| {
            let inside = disk_names(t, &format!("{JOB}/{n}"));
            (n, inside)
        })
        .collect()
}
