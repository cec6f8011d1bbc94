//! Streaming uploads: many writes in flight, sent in offset order from one task. Where the
//! server writes at any offset, one file's writes are spread over several SFTP channels (each
//! at its own offset), because over a WAN one channel is capped by the server's channel
//! window, not by requests in flight; where it takes writes only in order (write_order.rs),
//! one handle on one channel gets them all.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures::FutureExt;
use futures::stream::{FuturesUnordered, StreamExt};
use russh_sftp::client::RawSftpSession;
use russh_sftp::protocol::OpenFlags;
use tokio::sync::{mpsc, oneshot};

use super::handles::write_attrs;
use super::{Sftp, refused, status_error};
use crate::remote::{ErrorKind, RemoteError};

type WriteResult = Result<u64, RemoteError>;
/// One write on its way: resolves with its byte count once the server answered.
type PendingWrite = Pin<Box<dyn Future<Output = WriteResult> + Send>>;

impl Sftp {
    /// Writes every chunk from `rx` to a new file at `path` (mode 0600), syncs it to disk
    /// where the server supports fsync, and returns the bytes written. `all_answered` is told
    /// once the server has answered every write, before the fsync and close: from then on the
    /// file holds what was sent.
    pub async fn upload(
        &self,
        path: &str,
        rx: mpsc::Receiver<Vec<u8>>,
        all_answered: Option<oneshot::Sender<()>>,
    ) -> Result<u64, RemoteError> {
        let _counted = super::session::Uploading::enter(&self.uploads);
        let written = self.upload_with(path, rx, true, all_answered).await;
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
        let attrs = write_attrs();
        let flags = OpenFlags::CREATE | OpenFlags::EXCLUDE | OpenFlags::WRITE;
        let handle = match self.main().open(path, flags, attrs).await {
            Ok(h) => h.handle,
            Err(e) => return Err(self.exists_or(status_error("create", path, e), path).await),
        };
        // The write and the close leave together: one round trip, answered in order.
        let s = self.main();
        let write = super::sent(Box::pin(s.write(handle.as_str(), 0, data.to_vec()))).await;
        let closes = self.send_closes(std::slice::from_ref(&handle)).await;
        let written = write.await.map_err(|e| status_error("write", path, e));
        let closed = super::handles::closed(path, closes).await;
        written.and(closed).map(|_| ())
    }

    /// `spread`: write over every channel (large streams) or only the first (small files, where
    /// opening a handle per channel would cost more round trips than it saves). A stream that
    /// ends within its first chunk is small: the first handle opens while that is found out,
    /// and the others, when wanted, open together.
    async fn upload_with(
        &self,
        path: &str,
        mut rx: mpsc::Receiver<Vec<u8>>,
        spread: bool,
        all_answered: Option<oneshot::Sender<()>>,
    ) -> Result<u64, RemoteError> {
        let attrs = write_attrs();
        let spread = spread && !self.write_order.is_sequential() && self.sessions.len() > 1;
        let (first, head) = tokio::join!(self.open_new(path, &attrs), peek(&mut rx, spread));
        let mut handles = vec![first?];
        if head.len() > 1 {
            match self.open_more(path, &attrs).await {
                Ok(more) => handles.extend(more),
                Err(e) => {
                    self.close_all(path, &handles).await.ok();
                    return Err(e);
                }
            }
        }
        let result = self.write_all(path, &handles, head, &mut rx).await;
        // Stop the producer promptly if we failed: it sees a closed channel.
        drop(rx);
        let (n, mut pending) = match result {
            // A lost or stalled connection would only make each close wait for its timeout.
            Err(e) if e.is_transient() => return Err(e),
            Err(e) => {
                self.close_all(path, &handles).await.ok();
                return Err(e);
            }
            Ok(written) => written,
        };
        // One handle: the server takes a channel's requests in order, so the fsync and close go
        // out behind the last writes, not a round trip after each. Several channels are several
        // server processes: every write is answered before the fsync on the first handle. So
        // is it when someone waits to read the file.
        if (handles.len() > 1 || all_answered.is_some())
            && let Err(e) = self.drain(&mut pending, path).await
        {
            if !e.is_transient() {
                self.close_all(path, &handles).await.ok();
            }
            return Err(e);
        }
        if let Some(tell) = all_answered {
            tell.send(()).ok();
        }
        let fsync = match self.ext.fsync {
            true => {
                let s = self.main();
                s.set_timeout(super::session::FSYNC_TIMEOUT_SECS);
                let sent = super::sent(Box::pin(s.fsync(handles[0].as_str()))).await;
                Some(sent)
            }
            false => None,
        };
        // The server reports some write errors (e.g. a full disk on NFS) only at close.
        let closes = self.send_closes(&handles).await;
        self.main()
            .set_timeout(super::session::REQUEST_TIMEOUT_SECS);
        self.drain(&mut pending, path).await?;
        if let Some(fsync) = fsync {
            match fsync.await.map_err(|e| status_error("fsync", path, e)) {
                Ok(_) => {}
                // Advertised but refused by the server's policy: the data is written, only
                // not forced to disk before the commit; say so once per file, in the log.
                Err(e) if refused(&e) => {
                    tracing::warn!("the server refused fsync for {path}; committing without it");
                }
                Err(e) => return Err(e),
            }
        }
        super::handles::closed(path, closes).await?;
        tracing::debug!(
            "uploaded {path}: {n} bytes over {} channel(s)",
            handles.len()
        );
        Ok(n)
    }

    /// Answers of the writes still in flight, the first error ending the wait.
    async fn drain(
        &self,
        pending: &mut FuturesUnordered<PendingWrite>,
        path: &str,
    ) -> Result<(), RemoteError> {
        while !pending.is_empty() {
            self.next_done(pending, path).await?;
        }
        Ok(())
    }

    /// Sends every piece in offset order from this one task, at most `requests_in_flight` per
    /// channel unanswered, shared with the other uploads in progress on the connection (their
    /// data waits at the same bottleneck, and each would otherwise hold a full set: a job with
    /// six streams held 12 MiB per stream); answers are taken in whatever order they come,
    /// and the last ones are returned still in flight with the bytes sent. Whole chunks go to
    /// one handle in turn, so with several each channel writes long runs; with one
    /// (sequential order) the server sees strictly increasing offsets.
    async fn write_all(
        &self,
        path: &str,
        handles: &[String],
        mut head: VecDeque<Vec<u8>>,
        rx: &mut mpsc::Receiver<Vec<u8>>,
    ) -> Result<(u64, FuturesUnordered<PendingWrite>), RemoteError> {
        let channels = handles.len();
        let max_in_flight =
            || (self.in_flight * channels / self.uploads_in_progress().max(1)).max(channels);
        let mut pending: FuturesUnordered<PendingWrite> = FuturesUnordered::new();
        let mut offset = 0u64;
        let mut chunk_no = 0usize;
        loop {
            let chunk = match head.pop_front() {
                Some(c) => c,
                None => match rx.recv().await {
                    Some(c) => c,
                    None => break,
                },
            };
            let which = chunk_no % channels;
            chunk_no += 1;
            for piece in chunk.chunks(self.write_len) {
                while pending.len() >= max_in_flight() {
                    self.next_done(&mut pending, path).await?;
                }
                while let Some(Some(done)) = pending.next().now_or_never() {
                    done?;
                }
                self.limit.take(piece.len()).await;
                let session = &self.sessions[which];
                let sent = send_piece(session, &handles[which], offset, piece.to_vec(), path);
                let sent = sent.await;
                pending.push(sent);
                offset += piece.len() as u64;
            }
        }
        // The writes left in flight are the caller's to await (with its fsync and close).
        Ok((offset, pending))
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

/// The stream's first chunk, and its second where there is one: more than one chunk is worth
/// spreading. Without `spread`, only the first.
async fn peek(rx: &mut mpsc::Receiver<Vec<u8>>, spread: bool) -> VecDeque<Vec<u8>> {
    let mut head = VecDeque::new();
    let want = if spread { 2 } else { 1 };
    while head.len() < want {
        match rx.recv().await {
            Some(c) => head.push_back(c),
            None => break,
        }
    }
    head
}

/// Where every write leaves: `data` at `at` is on its way to the server when this returns, and
/// the future it gives resolves with the answer. Sent at once (see [`super::sent`]): requests
/// leave in the order of these calls (a task spawned per request would run whenever the
/// scheduler picks it).
async fn send_piece(
    session: &Arc<RawSftpSession>,
    handle: &str,
    at: u64,
    data: Vec<u8>,
    path: &str,
) -> PendingWrite {
    let (session, handle, path) = (session.clone(), handle.to_string(), path.to_string());
    let n = data.len() as u64;
    super::sent(Box::pin(async move {
        session
            .write(handle.as_str(), at, data)
            .await
            .map(|_| n)
            .map_err(|e| status_error("write", &path, e))
    }))
    .await
}
