//! Write handles of one upload: the file created (or a regular file there truncated, never a
//! symlink followed) on the first channel, a handle on each other channel once it exists, all
//! opened and closed together so that more channels cost no more round trips.

use std::future::Future;
use std::pin::Pin;

use russh_sftp::protocol::{FileAttributes, OpenFlags};

use super::{Sftp, sent, status_error};
use crate::remote::{EntryKind, ErrorKind, RemoteError};

impl Sftp {
    /// Closes every handle at once: one round trip, however many channels wrote.
    pub(super) async fn close_all(
        &self,
        path: &str,
        handles: &[String],
    ) -> Result<(), RemoteError> {
        closed(path, self.send_closes(handles).await).await
    }

    /// A close for each handle, on its way (see [`super::sent`]) when this returns: behind
    /// whatever was sent before on the same channel.
    pub(super) async fn send_closes(&self, handles: &[String]) -> Vec<PendingClose> {
        let mut closes = Vec::with_capacity(handles.len());
        for (s, h) in self.sessions.iter().zip(handles) {
            let (s, h) = (s.clone(), h.clone());
            closes.push(sent(Box::pin(async move { s.close(h.as_str()).await.map(drop) })).await);
        }
        closes
    }

    /// A write handle on each channel after the first, opened together once the file exists.
    pub(super) async fn open_more(
        &self,
        path: &str,
        attrs: &FileAttributes,
    ) -> Result<Vec<String>, RemoteError> {
        let opening = self.sessions[1..]
            .iter()
            .map(|s| s.open(path, OpenFlags::WRITE, attrs.clone()));
        let opened = futures::future::join_all(opening).await;
        opened
            .into_iter()
            .map(|r| {
                r.map(|h| h.handle)
                    .map_err(|e| status_error("create", path, e))
            })
            .collect()
    }

    /// Creates `path`, or truncates the regular file there. SFTP servers (OpenSSH, ProFTPD)
    /// open through a symlink: a link the server put where we write is removed, never written
    /// through. Exclusive first, so the usual case (a new file) costs no extra round trip.
    pub(super) async fn open_new(
        &self,
        path: &str,
        attrs: &FileAttributes,
    ) -> Result<String, RemoteError> {
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
}

/// A close sent, resolving with the server's answer.
pub(super) type PendingClose =
    Pin<Box<dyn Future<Output = Result<(), russh_sftp::client::error::Error>> + Send>>;

/// The answers of `closes`, the first error among them named as the close of `path`.
pub(super) async fn closed(path: &str, closes: Vec<PendingClose>) -> Result<(), RemoteError> {
    let answers = futures::future::join_all(closes).await;
    match answers.into_iter().find_map(Result::err) {
        Some(e) => Err(status_error("close", path, e)),
        None => Ok(()),
    }
}

pub(super) fn write_attrs() -> FileAttributes {
    FileAttributes {
        permissions: Some(0o600),
        ..FileAttributes::empty()
    }
}
