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
mod hashing;
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
    ahead: hashing::Ahead,
}

impl SftpRemote {
    pub async fn open(cfg: &SftpConfig) -> Result<SftpRemote, RemoteError> {
        let conn = Connection::open(cfg).await?;
        let sftp = conn.sftp().await?;
        Ok(SftpRemote {
            conn,
            sftp,
            hash_tool: exec::Chosen::default(),
            ahead: hashing::Ahead::default(),
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
        self.upload(path, data).await
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
        self.sha256_of(paths).await
    }

    fn hash_when_written(&self, path: &str) {
        self.ahead.want(path);
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
