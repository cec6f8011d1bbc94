//! Streaming uploads: many writes in flight, sent in offset order from one task. Where the
//! server writes at any offset, one file's writes are spread over several SFTP channels (each
//! at its own offset), because over a WAN one channel is capped by the server's channel
//! window, not by requests in flight; where it takes writes only in order (write_order.rs),
//! one handle on one channel gets them all.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use futures::FutureExt;
use futures::stream::{FuturesUnordered, StreamExt};
use russh_sftp::client::RawSftpSession;
use russh_sftp::protocol::{FileAttributes, OpenFlags};
use tokio::sync::mpsc;

use super::{Sftp, refused, status_error};
use crate::remote::{EntryKind, ErrorKind, RemoteError};

type WriteResult = Result<u64, RemoteError>;
/// One write on its way: resolves with its byte count once the server answered.
type PendingWrite = Pin<Box<dyn Future<Output = WriteResult> + Send>>;

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
            Err(e) if e.kind() == ErrorKind::Other => {
                let e = self.explain_failure(path, e).await;
                Err(self.maybe_out_of_order(e))
            }
            other => other,
        }
    }

    /// A write or close refused with a generic failure while writes went out of order: say
    /// how to send them in order (the failed run left only its `.partial` directory).
    fn maybe_out_of_order(&self, e: RemoteError) -> RemoteError {
        let out_of_order = !self.write_order.is_sequential()
            && e.kind() == ErrorKind::Other
            && matches!(
                &e,
                RemoteError::Op {
                    op: "write" | "close",
                    ..
                }
            );
        if out_of_order {
            return e.with_hint(super::write_order::out_of_order_hint(&self.remote_name));
        }
        e
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
        let spread = spread && !self.write_order.is_sequential();
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

    /// Sends every piece in offset order from this one task, at most `requests_in_flight` per
    /// channel unanswered; answers are awaited together, in whatever order they come. Whole
    /// chunks go to one handle in turn, so with several each channel writes long runs; with
    /// one (sequential order) the server sees strictly increasing offsets.
    async fn write_all(
        &self,
        path: &str,
        handles: &[String],
        rx: &mut mpsc::Receiver<Vec<u8>>,
    ) -> Result<u64, RemoteError> {
        let channels = handles.len();
        let max_in_flight = self.in_flight * channels;
        let mut pending: FuturesUnordered<PendingWrite> = FuturesUnordered::new();
        let mut offset = 0u64;
        let mut chunk_no = 0usize;
        let mut acked = 0u64;
        while let Some(chunk) = rx.recv().await {
            let which = chunk_no % channels;
            chunk_no += 1;
            for piece in chunk.chunks(self.write_len) {
                while pending.len() >= max_in_flight {
                    acked += self.next_done(&mut pending, path).await?;
                }
                while let Some(Some(done)) = pending.next().now_or_never() {
                    acked += done?;
                }
                self.limit.take(piece.len()).await;
                let session = &self.sessions[which];
                let sent = send_piece(session, &handles[which], offset, piece.to_vec(), path);
                let sent = sent.await;
                pending.push(sent);
                offset += piece.len() as u64;
            }
        }
        while !pending.is_empty() {
            acked += self.next_done(&mut pending, path).await?;
        }
        debug_assert_eq!(acked, offset);
        Ok(offset)
    }

    /// Bytes of the next answered write, or an error as soon as the connection is known gone.
    async fn next_done(
        &self,
        pending: &mut FuturesUnordered<PendingWrite>,
        path: &str,
    ) -> WriteResult {
        let mut lost = self.lost.clone();
        tokio::select! {
            r = pending.next() => r.unwrap_or(Ok(0)),
            _ = lost.wait_for(|gone| *gone) => Err(super::connection_lost("write", path)),
        }
    }
}

/// Where every write leaves: `data` at `at` is on its way to the server when this returns, and
/// the future it gives resolves with the answer. russh-sftp queues a request only when its
/// future is first polled, so it is polled once here: requests leave in the order of these
/// calls (a task spawned per request would run whenever the scheduler picks it).
async fn send_piece(
    session: &Arc<RawSftpSession>,
    handle: &str,
    at: u64,
    data: Vec<u8>,
    path: &str,
) -> PendingWrite {
    let (session, handle, path) = (session.clone(), handle.to_string(), path.to_string());
    let n = data.len() as u64;
    let mut write: PendingWrite = Box::pin(async move {
        session
            .write(handle.as_str(), at, data)
            .await
            .map(|_| n)
            .map_err(|e| status_error("write", &path, e))
    });
    let first = std::future::poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx))).await;
    match first {
        Poll::Ready(answered) => Box::pin(std::future::ready(answered)),
        Poll::Pending => write,
    }
}
