//! Streaming uploads: many writes in flight, and one file's writes spread over several SFTP
//! channels (each at its own offset), because over a WAN one channel is capped by the server's
//! channel window, not by requests in flight.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use russh_sftp::client::RawSftpSession;
use russh_sftp::protocol::{FileAttributes, OpenFlags};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::{RemoteError, Sftp};
use crate::snapshot::Progress;

type WriteResult = Result<u64, RemoteError>;

impl Sftp {
    /// Writes every chunk from `rx` to a new file at `path` (mode 0600), syncs it to disk
    /// where the server supports fsync, and returns the bytes written.
    pub async fn upload(
        &self,
        path: &str,
        rx: mpsc::Receiver<Vec<u8>>,
        progress: &Progress,
    ) -> Result<u64, RemoteError> {
        self.upload_with(path, rx, progress, true).await
    }

    /// `spread`: write over every channel (large streams) or only the first (small files, where
    /// opening a handle per channel would cost more round trips than it saves).
    async fn upload_with(
        &self,
        path: &str,
        mut rx: mpsc::Receiver<Vec<u8>>,
        progress: &Progress,
        spread: bool,
    ) -> Result<u64, RemoteError> {
        let handles = self.open_for_write(path, spread).await?;
        let result = self.write_all(path, &handles, &mut rx, progress).await;
        // Stop the producer promptly if we failed: it sees a closed channel.
        drop(rx);
        let n = match result {
            // A lost or stalled connection would only make each close wait for its timeout.
            Err(e) if e.is_transient() => return Err(e),
            Err(e) => {
                self.close_all(path, &handles).await.ok();
                return Err(e);
            }
            Ok(n) => n,
        };
        if self.ext.fsync {
            self.main().set_timeout(super::sftp::FSYNC_TIMEOUT_SECS);
            let r = self.main().fsync(handles[0].as_str()).await;
            self.main().set_timeout(super::sftp::REQUEST_TIMEOUT_SECS);
            match r.map_err(|e| RemoteError::sftp("fsync", path, e)) {
                Ok(_) => {}
                // Advertised but refused by the server's policy: the data is written, only
                // not forced to disk before the commit; say so once per file, in the log.
                Err(RemoteError::Sftp {
                    code: Some(3 | 8), ..
                }) => {
                    tracing::warn!("the server refused fsync for {path}; committing without it");
                }
                Err(e) => {
                    self.close_all(path, &handles).await.ok();
                    return Err(e);
                }
            }
        }
        // The server reports some write errors (e.g. a full disk on NFS) only at close.
        self.close_all(path, &handles).await?;
        Ok(n)
    }

    async fn close_all(&self, path: &str, handles: &[String]) -> Result<(), RemoteError> {
        let mut closed = Ok(());
        for (s, h) in self.sessions.iter().zip(handles) {
            if let Err(e) = s.close(h.as_str()).await
                && closed.is_ok()
            {
                closed = Err(RemoteError::sftp("close", path, e));
            }
        }
        closed
    }

    async fn open_for_write(&self, path: &str, spread: bool) -> Result<Vec<String>, RemoteError> {
        let attrs = FileAttributes {
            permissions: Some(0o600),
            ..FileAttributes::empty()
        };
        let used = if spread { self.sessions.len() } else { 1 };
        let mut handles = Vec::with_capacity(used);
        for (i, s) in self.sessions.iter().take(used).enumerate() {
            let flags = if i == 0 {
                OpenFlags::CREATE | OpenFlags::TRUNCATE | OpenFlags::WRITE
            } else {
                OpenFlags::WRITE
            };
            let h = s
                .open(path, flags, attrs.clone())
                .await
                .map_err(|e| RemoteError::sftp("create", path, e))?;
            handles.push(h.handle);
        }
        Ok(handles)
    }

    async fn write_all(
        &self,
        path: &str,
        handles: &[String],
        rx: &mut mpsc::Receiver<Vec<u8>>,
        progress: &Progress,
    ) -> Result<u64, RemoteError> {
        let channels = handles.len();
        let max_in_flight = self.in_flight * channels;
        let mut tasks: JoinSet<WriteResult> = JoinSet::new();
        let mut offset = 0u64;
        let mut chunk_no = 0usize;
        let mut acked = 0u64;
        let mut account =
            |r: Result<WriteResult, tokio::task::JoinError>| -> Result<(), RemoteError> {
                let n = r.map_err(|e| RemoteError::Sftp {
                    op: "write",
                    path: path.to_string(),
                    message: format!("write task failed: {e}"),
                    code: None,
                })??;
                acked += n;
                progress.sent.fetch_add(n, Ordering::Relaxed);
                Ok(())
            };
        while let Some(chunk) = rx.recv().await {
            // Whole chunks go to one channel in turn, so each channel writes long runs.
            let which = chunk_no % channels;
            chunk_no += 1;
            for piece in chunk.chunks(self.write_len) {
                while tasks.len() >= max_in_flight {
                    if let Some(r) = self.next_done(&mut tasks, path).await {
                        account(r)?;
                    }
                }
                while let Some(r) = tasks.try_join_next() {
                    account(r)?;
                }
                let session: Arc<RawSftpSession> = self.sessions[which].clone();
                let handle = handles[which].clone();
                let data = piece.to_vec();
                let at = offset;
                let p = path.to_string();
                tasks.spawn(async move {
                    let n = data.len() as u64;
                    session
                        .write(handle.as_str(), at, data)
                        .await
                        .map(|_| n)
                        .map_err(|e| RemoteError::sftp("write", &p, e))
                });
                offset += piece.len() as u64;
            }
        }
        while let Some(r) = self.next_done(&mut tasks, path).await {
            account(r)?;
        }
        debug_assert_eq!(acked, offset);
        Ok(offset)
    }

    /// The next finished write, or an error as soon as the connection is known to be gone.
    async fn next_done(
        &self,
        tasks: &mut JoinSet<WriteResult>,
        path: &str,
    ) -> Option<Result<WriteResult, tokio::task::JoinError>> {
        let mut lost = self.lost.clone();
        tokio::select! {
            r = tasks.join_next() => r,
            _ = lost.wait_for(|gone| *gone) => Some(Ok(Err(RemoteError::Sftp {
                op: "write",
                path: path.to_string(),
                message: "connection lost".into(),
                code: None,
            }))),
        }
    }

    /// Writes a small file in one go (checksums, manifest) and syncs it.
    pub async fn write_small(&self, path: &str, data: &[u8]) -> Result<(), RemoteError> {
        let (tx, rx) = mpsc::channel(1);
        let chunk = data.to_vec();
        // The channel has room for the one chunk, so this send cannot wait.
        let _ = tx.try_send(chunk);
        drop(tx);
        self.upload(path, rx, &Progress::default())
            .await
            .map(|_| ())
    }
}
