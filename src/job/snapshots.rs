//! Finding committed snapshots on the server: a directory named by an id that holds a readable
//! `manifest.json`. Shared by `list`, `verify`, `restore`, `cat` and `prune`, so every command
//! agrees on what a snapshot is and on what `latest` means.

use super::JobError;
use crate::layout::{self, Entry, JobDir, Manifest, SnapshotId};
use crate::remote::Sftp;

/// Largest manifest we read; anything bigger was not written by this program.
const MAX_MANIFEST: u64 = 16 * 1024 * 1024;

/// Manifests of the committed snapshots under `dir`, oldest first. A snapshot directory whose
/// manifest is missing is not committed and is skipped; `.partial` and `.deleting` directories
/// are never snapshots.
pub async fn committed(sftp: &Sftp, dir: &JobDir) -> Result<Vec<Manifest>, JobError> {
    let entries = match sftp.list(dir.path()).await {
        Ok(e) => e,
        Err(e) if e.is_not_found() => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::new();
    for e in entries {
        let Entry::Snapshot(id) = Entry::classify(&e.name) else {
            continue;
        };
        let path = format!("{}/{}", dir.snapshot(id), layout::MANIFEST_FILE);
        match sftp.read_small(&path, MAX_MANIFEST).await {
            Ok(bytes) => match Manifest::from_json(&bytes) {
                Ok(m) => out.push(m),
                Err(err) => tracing::warn!("{path}: {err}; snapshot {id} skipped"),
            },
            Err(err) if err.is_not_found() => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(out)
}

/// The committed snapshot `which` names: an id, or `latest`.
pub async fn resolve(
    sftp: &Sftp,
    dir: &JobDir,
    job: &str,
    which: &str,
) -> Result<Manifest, JobError> {
    let wanted = if which == "latest" {
        None
    } else {
        Some(SnapshotId::parse(which).ok_or_else(|| {
            JobError::Snapshot(format!(
                "{which:?} is not a snapshot id (YYYYMMDDTHHMMSSZ) nor `latest`\n\
                 hint: `backup list {job}` shows the snapshots"
            ))
        })?)
    };
    let mut all = committed(sftp, dir).await?;
    let found = match wanted {
        None => all.pop(),
        Some(id) => all.into_iter().find(|m| m.snapshot == id.to_string()),
    };
    found.ok_or_else(|| {
        JobError::Snapshot(match wanted {
            None => format!(
                "job {job} has no committed snapshot in {}\nhint: run `backup run {job}` first",
                dir.path()
            ),
            Some(id) => format!(
                "job {job} has no committed snapshot {id} in {}\nhint: `backup list {job}` shows the snapshots",
                dir.path()
            ),
        })
    })
}
