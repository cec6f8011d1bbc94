//! Hashing stored files on the server, and starting early: with `verify = "auto"` or
//! `"remote-hash"` the job says which uploads it will hash ([`Remote::hash_when_written`]), and
//! the last of a snapshot's uploads to finish hashes its file as soon as the server has
//! answered every write, beside the fsync and close, instead of after them (the fsync of a
//! 200 MB stream takes about as long as openssl takes to hash it). The later
//! [`Remote::sha256`] answers from what was found, after a fresh no-follow look.
//!
//! Only the last: the check follows its fsync and close at once, so the hash is as close to
//! the commit as a hash after them would be. A stream that ends while another still sends
//! (a dump that runs on) is hashed at the check, as before: a byte the server's disk changes
//! meanwhile is caught (tests/soak.sh's "corrupt" step, tests/remote_hash.rs).
//!
//! [`Remote::hash_when_written`]: crate::remote::Remote::hash_when_written
//! [`Remote::sha256`]: crate::remote::Remote::sha256

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::SftpRemote;
use crate::remote::{EntryKind, ErrorKind, RemoteError};

/// Uploads whose hash the job will ask for: `None` until found.
#[derive(Debug, Default)]
pub struct Ahead(Mutex<HashMap<String, Option<String>>>);

impl Ahead {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Option<String>>) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn want(&self, path: &str) {
        self.with(|m| m.insert(path.to_string(), None));
    }

    fn wanted(&self, path: &str) -> bool {
        self.with(|m| m.contains_key(path))
    }

    fn found(&self, path: &str, sum: String) {
        self.with(|m| m.insert(path.to_string(), Some(sum)));
    }

    /// What was found for each of `paths`, forgetting them: a later question hashes again.
    fn take(&self, paths: &[String]) -> Vec<Option<String>> {
        self.with(|m| paths.iter().map(|p| m.remove(p).flatten()).collect())
    }
}

impl SftpRemote {
    /// [`Remote::create`](crate::remote::Remote::create), hashing on the server beside the
    /// fsync when the job will ask and no other upload is still going on. A hash that fails
    /// here is not an error of the upload: the later question asks again and reports it (or
    /// falls back to reading back).
    pub(super) async fn upload(
        &self,
        path: &str,
        data: mpsc::Receiver<Vec<u8>>,
    ) -> Result<u64, RemoteError> {
        if !self.ahead.wanted(path) || self.hash_tool.refused() {
            return self.sftp.upload(path, data, None).await;
        }
        let (written, all_answered) = oneshot::channel();
        let hash = async {
            all_answered.await.ok()?;
            if self.sftp.uploads_in_progress() > 1 {
                return None;
            }
            self.hash(std::slice::from_ref(&path.to_string()))
                .await
                .ok()?
                .pop()
        };
        let (sent, sum) = tokio::join!(self.sftp.upload(path, data, Some(written)), hash);
        if let (Ok(_), Some(sum)) = (&sent, sum) {
            self.ahead.found(path, sum);
        }
        sent
    }

    /// SHA-256 of each of `paths`, from an early hash where there is one.
    pub(super) async fn sha256_of(&self, paths: &[String]) -> Result<Vec<String>, RemoteError> {
        if self.hash_tool.refused() {
            return Err(super::exec_refused(paths));
        }
        // No answer, early or not, without a no-follow look at what is there now.
        let sizes = self.gate(paths).await?;
        let mut known = self.ahead.take(paths);
        let (mut missing, mut bytes) = (Vec::new(), 0u64);
        for ((p, k), size) in paths.iter().zip(&known).zip(&sizes) {
            if k.is_none() {
                missing.push(p.clone());
                bytes = bytes.saturating_add(*size);
            }
        }
        if !missing.is_empty() {
            let mut sums = self.run_tool(&missing, bytes).await?.into_iter();
            for k in known.iter_mut().filter(|k| k.is_none()) {
                *k = sums.next();
            }
        }
        Ok(known.into_iter().flatten().collect())
    }

    /// Looks at `paths` without following links and returns their sizes: only regular files
    /// are hashed, since a hash tool would follow a symlink the server put there, or read a
    /// device forever.
    async fn gate(&self, paths: &[String]) -> Result<Vec<u64>, RemoteError> {
        let mut sizes = Vec::with_capacity(paths.len());
        for p in paths {
            match self.sftp.stat_aside(p).await? {
                Some(e) if e.kind == EntryKind::File => sizes.push(e.size),
                Some(e) => {
                    return Err(RemoteError::op(
                        ErrorKind::Other,
                        "hash",
                        p,
                        format!("a {}, not a regular file", e.kind.as_str()),
                    ));
                }
                None => return Err(RemoteError::op(ErrorKind::NotFound, "hash", p, "missing")),
            }
        }
        Ok(sizes)
    }

    async fn hash(&self, paths: &[String]) -> Result<Vec<String>, RemoteError> {
        let sizes = self.gate(paths).await?;
        self.run_tool(paths, sizes.iter().fold(0u64, |a, b| a.saturating_add(*b)))
            .await
    }

    /// Hashes `paths` (`bytes` in all, as just seen) on the server with the first tool the
    /// account runs.
    async fn run_tool(&self, paths: &[String], bytes: u64) -> Result<Vec<String>, RemoteError> {
        if self.hash_tool.refused() {
            return Err(super::exec_refused(paths));
        }
        // A file that keeps growing after that look would keep the tool reading: bound it by
        // the time the bytes seen take at a slow disk's pace, then give up (dropping the
        // channel ends the command on the server).
        let bound = Duration::from_secs(120 + bytes / (20 * 1024 * 1024));
        tracing::debug!(
            "hashing {} files on the server ({bytes} bytes)",
            paths.len()
        );
        let mut refused = None;
        for &tool in self.hash_tool.to_ask() {
            let hashed = tokio::time::timeout(bound, self.conn.remote_sha256(tool, paths))
                .await
                .map_err(|_| {
                    RemoteError::op(
                        ErrorKind::Other,
                        "hash",
                        paths.first().map_or("", String::as_str),
                        format!(
                            "{} on the server did not finish within {bound:?}",
                            tool.name()
                        ),
                    )
                })?;
            match hashed {
                Err(e) if e.kind() == ErrorKind::Unsupported => {
                    tracing::debug!("{} on the server: {e}", tool.name());
                    refused = Some(e);
                }
                Ok(sums) => {
                    tracing::debug!(
                        "hashed {} files on the server with {}",
                        paths.len(),
                        tool.name()
                    );
                    self.hash_tool.remember(Some(tool));
                    return Ok(sums);
                }
                Err(e) => return Err(e),
            }
        }
        self.hash_tool.remember(None);
        Err(refused.unwrap_or_else(|| super::exec_refused(paths)))
    }
}
