//! The SFTP remote: one SSH connection (host key checked before anything is sent, key auth,
//! keepalives), SFTP over one or more of its channels with pipelined writes and reads, and
//! `openssl dgst` or `sha256sum` over an exec channel where the account may run commands.
//! SFTP status codes are turned into [`ErrorKind`]s here and go no further.

mod checker;
mod connect;
mod dirs;
mod download;
mod exec;
mod handles;
mod identity;
pub mod known_hosts;
mod open;
mod scan;
mod session;
mod upload;
mod write_order;

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use async_trait::async_trait;
use russh_sftp::protocol::StatusCode;
use tokio::sync::mpsc;

use super::{Capabilities, DirEntry, EntryKind, ErrorKind, ReadEnd, Remote, RemoteError};
use crate::config::SftpConfig;

pub use connect::Connection;
pub use identity::load as load_identity;
pub use scan::scan_host_keys;
pub use session::Sftp;
pub use write_order::Decision as WriteOrderDecision;

/// An SFTP server reached over SSH.
pub struct SftpRemote {
    conn: Connection,
    sftp: Sftp,
    /// Which hash tool this account runs, once known, so later checks ask only that one.
    hash_tool: exec::Chosen,
}

impl SftpRemote {
    pub async fn open(cfg: &SftpConfig) -> Result<SftpRemote, RemoteError> {
        let conn = Connection::open(cfg).await?;
        let sftp = conn.sftp().await?;
        Ok(SftpRemote {
            conn,
            sftp,
            hash_tool: exec::Chosen::default(),
        })
    }
}

#[async_trait]
impl Remote for SftpRemote {
    fn describe(&self) -> String {
        self.sftp.addr().to_string()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            rename_dirs: true,
            fsync: self.sftp.extensions().fsync,
            hash: !self.hash_tool.refused(),
            sequential_writes: self.sftp.write_order().is_sequential(),
        }
    }

    async fn list(&self, dir: &str) -> Result<Vec<DirEntry>, RemoteError> {
        self.sftp.list(dir).await
    }

    async fn stat(&self, path: &str) -> Result<Option<DirEntry>, RemoteError> {
        self.sftp.stat(path).await
    }

    async fn mkdir(&self, path: &str) -> Result<(), RemoteError> {
        self.sftp.mkdir(path).await
    }

    async fn create(&self, path: &str, data: mpsc::Receiver<Vec<u8>>) -> Result<u64, RemoteError> {
        self.sftp.upload(path, data).await
    }

    async fn create_new(&self, path: &str, data: &[u8]) -> Result<(), RemoteError> {
        self.sftp.create_new(path, data).await
    }

    async fn read(
        &self,
        path: &str,
        limit: u64,
        tx: mpsc::Sender<Vec<u8>>,
    ) -> Result<ReadEnd, RemoteError> {
        self.sftp.download(path, limit, tx).await
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), RemoteError> {
        self.sftp.rename(from, to).await
    }

    async fn remove_file(&self, path: &str) -> Result<(), RemoteError> {
        self.sftp.remove_file(path).await
    }

    async fn remove_dir(&self, path: &str) -> Result<(), RemoteError> {
        self.sftp.rmdir(path).await
    }

    async fn sha256(&self, paths: &[String]) -> Result<Vec<String>, RemoteError> {
        if self.hash_tool.refused() {
            return Err(exec_refused(paths));
        }
        // Hash only what a no-follow stat shows to be a regular file: a hash tool itself would
        // follow a symlink the server put there, or read a device forever.
        let mut bytes = 0u64;
        for p in paths {
            match self.sftp.stat(p).await? {
                Some(e) if e.kind == EntryKind::File => bytes = bytes.saturating_add(e.size),
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
        Err(refused.unwrap_or_else(|| exec_refused(paths)))
    }

    async fn start_dir(&self) -> Option<String> {
        self.sftp.start_dir().await
    }

    async fn close(&self) {
        self.conn.close().await;
    }
}

fn exec_refused(paths: &[String]) -> RemoteError {
    RemoteError::op(
        ErrorKind::Unsupported,
        "hash",
        paths.first().map_or("", String::as_str),
        "the account cannot run openssl or sha256sum (SFTP-only?)",
    )
}

/// A russh-sftp error as a kind, keeping the server's message.
pub(crate) fn status_error(
    op: &'static str,
    path: &str,
    e: russh_sftp::client::error::Error,
) -> RemoteError {
    use russh_sftp::client::error::Error as E;
    let (kind, message) = match e {
        E::Status(s) => {
            let kind = match s.status_code {
                StatusCode::NoSuchFile => ErrorKind::NotFound,
                StatusCode::PermissionDenied => ErrorKind::PermissionDenied,
                StatusCode::OpUnsupported => ErrorKind::Unsupported,
                StatusCode::NoConnection | StatusCode::ConnectionLost => ErrorKind::Transient,
                _ => ErrorKind::Other,
            };
            let msg = if s.error_message.is_empty() {
                s.status_code.to_string()
            } else {
                s.error_message
            };
            (kind, msg)
        }
        E::Timeout => (
            ErrorKind::Transient,
            "no answer from the server within the request timeout (connection stalled?)"
                .to_string(),
        ),
        E::IO(m) => (ErrorKind::Transient, format!("connection lost ({m})")),
        E::UnexpectedBehavior(m)
            if m.contains("session closed")
                || m.contains("sender dropped")
                || m.contains("SendError")
                || m.contains("RecvError") =>
        {
            (ErrorKind::Transient, format!("connection lost ({m})"))
        }
        other => (ErrorKind::Other, other.to_string()),
    };
    RemoteError::op(kind, op, path, message)
}

/// A request future polled once: russh-sftp puts a request on the wire when it is first
/// polled, so it has left when this returns, in the order of these calls. Await the result
/// for the answer, or drop it to ignore the answer.
pub(super) async fn sent<'a, T: Send + 'a>(
    mut request: Pin<Box<dyn Future<Output = T> + Send + 'a>>,
) -> Pin<Box<dyn Future<Output = T> + Send + 'a>> {
    let first = std::future::poll_fn(|cx| Poll::Ready(request.as_mut().poll(cx))).await;
    match first {
        Poll::Ready(answered) => Box::pin(std::future::ready(answered)),
        Poll::Pending => request,
    }
}

/// True for the answer of a server that refuses an extension it advertised.
fn refused(e: &RemoteError) -> bool {
    matches!(
        e.kind(),
        ErrorKind::PermissionDenied | ErrorKind::Unsupported
    )
}

fn connection_lost(op: &'static str, path: &str) -> RemoteError {
    RemoteError::op(ErrorKind::Transient, op, path, "connection lost")
}

fn entry_of(name: String, attrs: &russh_sftp::protocol::FileAttributes) -> DirEntry {
    use russh_sftp::protocol::FileType;
    let kind = match attrs.permissions.map(FileType::from) {
        Some(FileType::File) => EntryKind::File,
        Some(FileType::Dir) => EntryKind::Dir,
        Some(FileType::Symlink) => EntryKind::Symlink,
        _ => EntryKind::Other,
    };
    DirEntry {
        name,
        kind,
        size: attrs.size.unwrap_or(0),
        mtime: attrs.mtime.map(i64::from),
    }
}
