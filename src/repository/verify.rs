//! The verification engine, one implementation for the check before a commit and for
//! `backup verify`: every stored file must be a regular file (looked at without following a
//! link) with the recorded size, and, unless only sizes are asked for, the recorded SHA-256,
//! computed where the data is (`openssl dgst` or `sha256sum` on the server, or the local
//! remote) or by reading every byte back, never more bytes than recorded.

use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::{RepoError, Repository, Snapshot};
use crate::config::VerifyMode;
use crate::layout::{self, manifest::FileEntry};
use crate::remote::{EntryKind, ErrorKind, Remote, RemoteError, read_small};

/// What one stored file turned out to be.
#[derive(Debug, Clone)]
pub struct FileCheck {
    pub name: String,
    pub size: u64,
    /// `None` when the file is intact.
    pub problem: Option<String>,
}

/// The files of one directory, checked.
#[derive(Debug, Clone)]
pub struct FilesCheck {
    pub files: Vec<FileCheck>,
    /// How the hashes were checked: `size`, `remote-hash` or `readback`.
    pub method: VerifyMode,
}

impl FilesCheck {
    pub fn problems(&self) -> impl Iterator<Item = &String> {
        self.files.iter().filter_map(|f| f.problem.as_ref())
    }
}

#[derive(Debug, Clone)]
pub struct SnapshotCheck {
    pub id: String,
    pub files: Vec<FileCheck>,
    /// Problems that are not about one stored file's bytes (e.g. the checksum list disagrees).
    pub problems: Vec<String>,
    /// `remote-hash`, `readback`, or `readback+decrypt`.
    pub method: &'static str,
    /// The stored files are encrypted.
    pub encrypted: bool,
}

impl SnapshotCheck {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty() && self.files.iter().all(|f| f.problem.is_none())
    }
}

/// Checks `files` in the directory `dir` by `mode`. `Err` only when the remote cannot be
/// asked at all (or `remote-hash` was demanded and the remote cannot hash); every finding
/// about the files themselves is in the result.
pub async fn check_files(
    remote: &dyn Remote,
    dir: &str,
    files: &[FileEntry],
    mode: VerifyMode,
) -> Result<FilesCheck, RemoteError> {
    let mut out = FilesCheck {
        files: Vec::with_capacity(files.len()),
        method: VerifyMode::Size,
    };
    // Sizes first: cheap, and a missing file must not make the server's hash tool fail for the others.
    let mut to_hash = Vec::new();
    // Looked at together, not one round trip per stream (at most 32 at once: the manifest
    // comes from the server, and so does the number of files it names).
    let paths: Vec<String> = files.iter().map(|f| format!("{dir}/{}", f.name)).collect();
    let looks: Vec<_> = paths.iter().map(|p| remote.stat(p)).collect();
    let seen: Vec<_> = futures::stream::iter(looks).buffered(32).collect().await;
    for ((f, path), seen) in files.iter().zip(paths).zip(seen) {
        let problem = match seen? {
            None => Some(format!("{}: missing on the server", f.name)),
            Some(e) if e.kind != EntryKind::File => Some(format!(
                "{}: a {} on the server, not a file; it is not read",
                f.name,
                e.kind.as_str()
            )),
            Some(e) if e.size != f.size => Some(format!(
                "{}: {} bytes on the server, {} recorded",
                f.name, e.size, f.size
            )),
            Some(_) => {
                to_hash.push((out.files.len(), path));
                None
            }
        };
        out.files.push(FileCheck {
            name: f.name.clone(),
            size: f.size,
            problem,
        });
    }
    if mode == VerifyMode::Size || to_hash.is_empty() {
        out.method = mode;
        return Ok(out);
    }
    let paths: Vec<String> = to_hash.iter().map(|(_, p)| p.clone()).collect();
    let sums = match mode {
        VerifyMode::Readback => {
            out.method = VerifyMode::Readback;
            readback(remote, &paths, files, &to_hash).await?
        }
        VerifyMode::RemoteHash => {
            out.method = VerifyMode::RemoteHash;
            remote.sha256(&paths).await?
        }
        _ => match remote.sha256(&paths).await {
            Ok(s) => {
                out.method = VerifyMode::RemoteHash;
                s
            }
            Err(e) if e.kind() == ErrorKind::Unsupported => {
                // Expected on every run of an SFTP-only account: say what happens, once, and
                // keep the server's raw answer for -v.
                tracing::debug!("server-side hashing refused: {e}");
                tracing::info!(
                    "verifying by readback: {} cannot hash files on the server (no openssl or sha256sum for this account); set verify = \"readback\" to skip asking",
                    remote.describe()
                );
                out.method = VerifyMode::Readback;
                readback(remote, &paths, files, &to_hash).await?
            }
            Err(e) => return Err(e),
        },
    };
    for ((i, _), sum) in to_hash.iter().zip(&sums) {
        let f = &files[*i];
        if *sum != f.sha256 {
            out.files[*i].problem = Some(format!(
                "{}: SHA-256 on the server is {sum}, the manifest says {}",
                f.name, f.sha256
            ));
        }
    }
    Ok(out)
}

async fn readback(
    remote: &dyn Remote,
    paths: &[String],
    files: &[FileEntry],
    which: &[(usize, String)],
) -> Result<Vec<String>, RemoteError> {
    let mut out = Vec::with_capacity(paths.len());
    for (p, (i, _)) in paths.iter().zip(which) {
        let (sum, _) = hash_file(remote, p, files[*i].size).await?;
        out.push(sum);
    }
    Ok(out)
}

/// Reads `path` (at most `limit` bytes) and returns its SHA-256 and length. A file longer than
/// `limit` hashes as what it is not: its first `limit` bytes plus a marker, so it never matches.
pub async fn hash_file(
    remote: &dyn Remote,
    path: &str,
    limit: u64,
) -> Result<(String, u64), RemoteError> {
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(16);
    let hasher = tokio::task::spawn_blocking(move || {
        let mut h = Sha256::new();
        let mut n = 0u64;
        while let Some(chunk) = rx.blocking_recv() {
            n += chunk.len() as u64;
            h.update(&chunk);
        }
        (h, n)
    });
    let end = remote.read(path, limit, tx).await?;
    let (mut h, n) = hasher
        .await
        .map_err(|e| RemoteError::op(ErrorKind::Other, "hash", path, e.to_string()))?;
    if end.over_limit {
        h.update(b"\0more than recorded");
    }
    Ok((hex::encode(h.finalize()), n))
}

impl Repository {
    /// Proves that a committed snapshot is intact: `SHA256SUMS` agrees with the manifest, and
    /// every file checks out by `remote-hash` where the remote can, else (or with `readback`)
    /// by reading it back.
    pub async fn check(
        &self,
        snap: &Snapshot,
        force_readback: bool,
    ) -> Result<SnapshotCheck, RepoError> {
        let mode = if force_readback {
            VerifyMode::Readback
        } else {
            VerifyMode::Auto
        };
        self.check_by(snap, mode).await
    }

    /// [`Repository::check`] with the hashes checked by `mode` (`size`: only sizes and the
    /// checksum list, for a caller that reads every byte itself).
    pub async fn check_by(
        &self,
        snap: &Snapshot,
        mode: VerifyMode,
    ) -> Result<SnapshotCheck, RepoError> {
        let dir = self.dir.snapshot(snap.id);
        // Together: the checksum list is read while the files are looked at (and read back).
        let (problems, checked) = tokio::join!(
            self.compare_sums(&dir, &snap.manifest.files),
            check_files(self.remote.as_ref(), &dir, &snap.manifest.files, mode)
        );
        let (problems, checked) = (problems?, checked?);
        Ok(SnapshotCheck {
            id: snap.id.to_string(),
            files: checked.files,
            problems,
            method: checked.method.as_str(),
            encrypted: snap.manifest.is_encrypted(),
        })
    }

    /// `SHA256SUMS` must list exactly the manifest's files with the same hashes, so that
    /// `sha256sum -c` on any machine checks what this program checks.
    async fn compare_sums(&self, dir: &str, files: &[FileEntry]) -> Result<Vec<String>, RepoError> {
        let path = format!("{dir}/{}", layout::SUMS_FILE);
        let text = match read_small(self.remote.as_ref(), &path, 1024 * 1024).await {
            Ok(b) => b,
            Err(e) if e.is_not_found() => {
                return Ok(vec![format!(
                    "{}: missing on the server",
                    layout::SUMS_FILE
                )]);
            }
            Err(e) if e.is_transient() => return Err(e.into()),
            Err(e) => return Ok(vec![format!("{}: {e}", layout::SUMS_FILE)]),
        };
        let sums = match layout::sums::parse(&String::from_utf8_lossy(&text)) {
            Ok(s) => s,
            Err(e) => {
                return Ok(vec![format!(
                    "{}: {}",
                    layout::SUMS_FILE,
                    super::escape(&e)
                )]);
            }
        };
        let mut problems = Vec::new();
        for f in files {
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
            if !files.iter().any(|f| f.name == *n) {
                problems.push(format!(
                    "\"{}\": listed in {} but not in manifest.json",
                    super::escape(n),
                    layout::SUMS_FILE
                ));
            }
        }
        Ok(problems)
    }
}
