//! Streaming uploads: many writes in flight, and one file's writes spread over several SFTP
//! channels (each at its own offset), because over a WAN one channel is capped by the server's
//! channel window, not by requests in flight.

use std::sync::Arc;

use russh_sftp::client::RawSftpSession;
use russh_sftp::protocol::{FileAttributes, OpenFlags};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::{Sftp, refused, status_error};
use crate::remote::{EntryKind, ErrorKind, RemoteError};

type WriteResult = Result<u64, RemoteError>;

impl Sftp {
    /// Writes every chunk from `rx` to a new file at `path` (mode 0600), syncs it to disk
    /// where the server supports fsync, and returns the bytes written.
    pub async fn upload(
        &self,
        path: &str,
        rx: mpsc::Receiver<Vec<u8>>,
    ) -> Result<u64, RemoteError> {
        let written = self.upload_with(path, rx, true).await;
        match written {
            Err(e) if e.kind() == ErrorKind::Other => Err(self.explain_failure(path, e).await),
            other => other,
        }
    }

    /// SFTP v3 has no "disk full" status: OpenSSH answers a generic Failure. Ask the server
    /// how much room is left to tell the two apart.
    async fn explain_failure(&self, path: &str, e: RemoteError) -> RemoteError {
        match (self.free_space(path).await, &e) {
            (Some(free), RemoteError::Op { message, .. }) if free < 4 * 1024 * 1024 => {
                RemoteError::op(
                    ErrorKind::NoSpace,
                    "write",
                    path,
                    format!(
                        "the server's disk is full ({message}, and only {free} bytes are free there)"
                    ),
                )
            }
            _ => e,
        }
    }

    /// Creates `path` only if it is not there, with `data` in it (a lock).
    pub async fn create_new(&self, path: &str, data: &[u8]) -> Result<(), RemoteError> {
        let attrs = FileAttributes {
            permissions: Some(0o600),
            ..FileAttributes::empty()
        };
        let flags = OpenFlags::CREATE | OpenFlags::EXCLUDE | OpenFlags::WRITE;
        let handle = match self.main().open(path, flags, attrs).await {
            Ok(h) => h.handle,
            Err(e) => return Err(self.exists_or(status_error("create", path, e), path).await),
        };
        let written = self
            .main()
            .write(handle.as_str(), 0, data.to_vec())
            .await
            .map_err(|e| status_error("write", path, e));
        let closed = self
            .main()
            .close(handle.as_str())
            .await
            .map_err(|e| status_error("close", path, e));
        written.and(closed).map(|_| ())
    }

    /// `spread`: write over every channel (large streams) or only the first (small files, where
    /// opening a handle per channel would cost more round trips than it saves).
    async fn upload_with(
        &self,
        path: &str,
        mut rx: mpsc::Receiver<Vec<u8>>,
        spread: bool,
    ) -> Result<u64, RemoteError> {
        let handles = self.open_for_write(path, spread).await?;
        let result = self.write_all(path, &handles, &mut rx).await;
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
            self.main().set_timeout(super::session::FSYNC_TIMEOUT_SECS);
            let r = self.main().fsync(handles[0].as_str()).await;
            self.main()
                .set_timeout(super::session::REQUEST_TIMEOUT_SECS);
            match r.map_err(|e| status_error("fsync", path, e)) {
                Ok(_) => {}
                // Advertised but refused by the server's policy: the data is written, only
                // not forced to disk before the commit; say so once per file, in the log.
                Err(e) if refused(&e) => {
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
                closed = Err(status_error("close", path, e));
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
        handles.push(self.open_new(path, &attrs).await?);
        for s in self.sessions.iter().take(used).skip(1) {
            let h = s
                .open(path, OpenFlags::WRITE, attrs.clone())
                .await
                .map_err(|e| status_error("create", path, e))?;
            handles.push(h.handle);
        }
        Ok(handles)
    }

    /// Creates `path`, or truncates the regular file there. SFTP servers (OpenSSH, ProFTPD)
    /// open through a symlink: a link the server put where we write is removed, never written
    /// through. Exclusive first, so the usual case (a new file) costs no extra round trip.
    async fn open_new(&self, path: &str, attrs: &FileAttributes) -> Result<String, RemoteError> {
        let s = self.main();
        let exclusive = OpenFlags::CREATE | OpenFlags::EXCLUDE | OpenFlags::WRITE;
        let first = match s.open(path, exclusive, attrs.clone()).await {
            Ok(h) => return Ok(h.handle),
            Err(e) => status_error("create", path, e),
        };
        let flags = match self.stat(path).await? {
            Some(e) if e.kind == EntryKind::File => {
                OpenFlags::CREATE | OpenFlags::TRUNCATE | OpenFlags::WRITE
            }
            Some(e) if e.kind == EntryKind::Symlink => {
                tracing::warn!("{path} is a symlink on the server; it is replaced, not followed");
                self.remove_file(path).await?;
                exclusive
            }
            Some(_) => {
                return Err(RemoteError::op(
                    ErrorKind::Other,
                    "create",
                    path,
                    "not a regular file on the server; it is left alone",
                ));
            }
            None => return Err(first),
        };
        s.open(path, flags, attrs.clone())
            .await
            .map(|h| h.handle)
            .map_err(|e| status_error("create", path, e))
    }

    async fn write_all(
        &self,
        path: &str,
        handles: &[String],
        rx: &mut mpsc::Receiver<Vec<u8>>,
    ) -> Result<u64, RemoteError> {
        let channels = handles.len();
        let max_in_flight = self.in_flight * channels;
        let mut tasks: JoinSet<WriteResult> = JoinSet::new();
        let mut offset = 0u64;
        let mut chunk_no = 0usize;
        let mut acked = 0u64;
        let mut account =
            |r: Result<WriteResult, tokio::task::JoinError>| -> Result<(), RemoteError> {
                let n = r.map_err(|e| {
                    RemoteError::op(
                        ErrorKind::Other,
                        "write",
                        path,
                        format!("write task failed: {e}"),
                    )
                })??;
                acked += n;
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
                self.limit.take(piece.len()).await;
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
                        .map_err(|e| status_error("write", &p, e))
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
            _ = lost.wait_for(|gone| *gone) => Some(Ok(Err(super::connection_lost("write", path)))),
        }
    }
}
