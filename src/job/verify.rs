//! Checking what landed before it is committed: sizes always, then SHA-256 computed on the
//! server (`remote-hash`) or by reading every byte back (`readback`); `auto` tries the first
//! and falls back to the second on accounts that cannot run commands.

use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::JobError;
use crate::config::VerifyMode;
use crate::remote::{Connection, Sftp};

/// A file as the run produced it.
#[derive(Debug, Clone)]
pub struct Expected {
    pub path: String,
    pub name: String,
    pub size: u64,
    pub sha256: String,
}

/// Verifies `files`; returns the mode that was actually used.
pub async fn verify(
    conn: &Connection,
    sftp: &Sftp,
    files: &[Expected],
    mode: VerifyMode,
) -> Result<VerifyMode, JobError> {
    let mut problems = Vec::new();
    for f in files {
        match sftp.stat(&f.path).await? {
            None => problems.push(format!("{}: missing on the server", f.name)),
            Some(a) if a.size != Some(f.size) => problems.push(format!(
                "{}: the server has {} bytes, {} were sent",
                f.name,
                a.size
                    .map_or("an unknown number of".to_string(), |s| s.to_string()),
                f.size
            )),
            Some(_) => {}
        }
    }
    if !problems.is_empty() {
        return Err(JobError::Verify(problems.join("; ")));
    }
    let used = match mode {
        VerifyMode::Size => VerifyMode::Size,
        VerifyMode::Readback => {
            readback(sftp, files).await?;
            VerifyMode::Readback
        }
        VerifyMode::RemoteHash => {
            remote_hash(conn, files).await?;
            VerifyMode::RemoteHash
        }
        VerifyMode::Auto => match remote_hash(conn, files).await {
            Ok(()) => VerifyMode::RemoteHash,
            Err(JobError::Remote(e)) => {
                tracing::info!(
                    "remote sha256sum is not available ({e}); reading the files back instead"
                );
                readback(sftp, files).await?;
                VerifyMode::Readback
            }
            Err(e) => return Err(e),
        },
    };
    Ok(used)
}

async fn remote_hash(conn: &Connection, files: &[Expected]) -> Result<(), JobError> {
    let paths: Vec<String> = files.iter().map(|f| f.path.clone()).collect();
    let sums = conn.remote_sha256(&paths).await?;
    compare(files, &sums)
}

async fn readback(sftp: &Sftp, files: &[Expected]) -> Result<(), JobError> {
    let mut sums = Vec::new();
    for f in files {
        sums.push(hash_remote_file(sftp, &f.path).await?.0);
    }
    compare(files, &sums)
}

/// Reads a remote file and returns its SHA-256 and length.
pub async fn hash_remote_file(sftp: &Sftp, path: &str) -> Result<(String, u64), JobError> {
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(16);
    let hasher = tokio::task::spawn_blocking(move || {
        let mut h = Sha256::new();
        let mut n = 0u64;
        while let Some(chunk) = rx.blocking_recv() {
            n += chunk.len() as u64;
            h.update(&chunk);
        }
        (hex::encode(h.finalize()), n)
    });
    sftp.download(path, tx).await?;
    hasher
        .await
        .map_err(|e| JobError::Local(format!("hashing {path}: {e}")))
}

fn compare(files: &[Expected], sums: &[String]) -> Result<(), JobError> {
    let bad: Vec<String> = files
        .iter()
        .zip(sums)
        .filter(|(f, s)| f.sha256 != **s)
        .map(|(f, s)| {
            format!(
                "{}: SHA-256 on the server is {s}, expected {}",
                f.name, f.sha256
            )
        })
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(JobError::Verify(bad.join("; ")))
    }
}
