//! `backup verify`: proving that committed snapshots are intact. For each snapshot,
//! `manifest.json` and `SHA256SUMS` must agree, every listed file must exist with its size, and
//! its SHA-256 must match, computed on the server (`sha256sum`) where the account can run
//! commands, else by reading it back.

use super::JobError;
use super::verify::hash_remote_file;
use crate::layout::{self, JobDir, Manifest, SnapshotId};
use crate::remote::{Connection, Sftp};

/// What one file of a snapshot turned out to be.
#[derive(Debug, Clone)]
pub struct FileCheck {
    pub name: String,
    pub size: u64,
    /// `None` when the file is intact.
    pub problem: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SnapshotCheck {
    pub id: String,
    pub files: Vec<FileCheck>,
    /// Problems that are not about one stored file's bytes (e.g. the checksum list disagrees).
    pub problems: Vec<String>,
    /// `remote-hash` or `readback`.
    pub method: &'static str,
}

impl SnapshotCheck {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty() && self.files.iter().all(|f| f.problem.is_none())
    }
}

/// Checks one committed snapshot. `Err` only when the server cannot be asked at all; every
/// finding about the snapshot itself is in the result.
pub async fn check_snapshot(
    conn: &Connection,
    sftp: &Sftp,
    dir: &JobDir,
    manifest: &Manifest,
    force_readback: bool,
) -> Result<SnapshotCheck, JobError> {
    let id = SnapshotId::parse(&manifest.snapshot).ok_or_else(|| {
        JobError::Snapshot(format!(
            "manifest names snapshot {:?}, which is not an id",
            manifest.snapshot
        ))
    })?;
    let snap = dir.snapshot(id);
    let mut check = SnapshotCheck {
        id: manifest.snapshot.clone(),
        files: Vec::new(),
        problems: compare_sums(sftp, &snap, manifest).await?,
        method: "remote-hash",
    };
    // Sizes first: cheap, and a missing file must not make `sha256sum` fail for the others.
    let mut to_hash = Vec::new();
    for f in &manifest.files {
        let path = format!("{snap}/{}", f.name);
        let problem = match sftp.stat(&path).await? {
            None => Some(format!("{}: missing on the server", f.name)),
            Some(a) if a.size != Some(f.size) => Some(format!(
                "{}: {} bytes on the server, the manifest says {}",
                f.name,
                a.size
                    .map_or("an unknown number of".to_string(), |s| s.to_string()),
                f.size
            )),
            Some(_) => {
                to_hash.push((check.files.len(), path));
                None
            }
        };
        check.files.push(FileCheck {
            name: f.name.clone(),
            size: f.size,
            problem,
        });
    }
    let paths: Vec<String> = to_hash.iter().map(|(_, p)| p.clone()).collect();
    let sums = match (force_readback, paths.is_empty()) {
        (_, true) => Vec::new(),
        (false, false) => match conn.remote_sha256(&paths).await {
            Ok(s) => s,
            Err(e) => {
                tracing::info!("remote sha256sum is not available ({e}); reading the files back");
                check.method = "readback";
                readback(sftp, &paths).await?
            }
        },
        (true, false) => {
            check.method = "readback";
            readback(sftp, &paths).await?
        }
    };
    for ((i, _), sum) in to_hash.iter().zip(&sums) {
        let expected = &manifest.files[*i].sha256;
        if sum != expected {
            check.files[*i].problem = Some(format!(
                "{}: SHA-256 on the server is {sum}, the manifest says {expected}",
                manifest.files[*i].name
            ));
        }
    }
    Ok(check)
}

async fn readback(sftp: &Sftp, paths: &[String]) -> Result<Vec<String>, JobError> {
    let mut out = Vec::with_capacity(paths.len());
    for p in paths {
        out.push(hash_remote_file(sftp, p).await?.0);
    }
    Ok(out)
}

/// `SHA256SUMS` must list exactly the manifest's files with the same hashes, so that
/// `sha256sum -c` on any machine checks what this program checks.
async fn compare_sums(
    sftp: &Sftp,
    snap: &str,
    manifest: &Manifest,
) -> Result<Vec<String>, JobError> {
    let path = format!("{snap}/{}", layout::SUMS_FILE);
    let text = match sftp.read_small(&path, 1024 * 1024).await {
        Ok(b) => b,
        Err(e) if e.is_not_found() => {
            return Ok(vec![format!(
                "{}: missing on the server",
                layout::SUMS_FILE
            )]);
        }
        Err(e) => return Err(e.into()),
    };
    let sums = match layout::sums::parse(&String::from_utf8_lossy(&text)) {
        Ok(s) => s,
        Err(e) => return Ok(vec![format!("{}: {e}", layout::SUMS_FILE)]),
    };
    let mut problems = Vec::new();
    for f in &manifest.files {
        match sums.iter().find(|(n, _)| *n == f.name) {
            None => problems.push(format!(
                "{}: listed in manifest.json but not in {}",
                f.name,
                layout::SUMS_FILE
            )),
            Some((_, h)) if *h != f.sha256 => problems.push(format!(
                "{}: {} says {h}, manifest.json says {}",
                f.name,
                layout::SUMS_FILE,
                f.sha256
            )),
            Some(_) => {}
        }
    }
    for (n, _) in &sums {
        if !manifest.files.iter().any(|f| f.name == *n) {
            problems.push(format!(
                "{n}: listed in {} but not in manifest.json",
                layout::SUMS_FILE
            ));
        }
    }
    Ok(problems)
}
