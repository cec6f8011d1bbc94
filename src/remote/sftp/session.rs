//! SFTP over one or more channels of one SSH connection. Uses russh-sftp's raw session so that
//! writes can be pipelined at explicit offsets across channels, and so that extensions
//! (posix-rename, fsync, statvfs, limits) are detected from the server's version packet and
//! used only where offered.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use russh_sftp::client::RawSftpSession;
use russh_sftp::protocol::{FileAttributes, StatusCode};

use super::write_order::Decision;
use super::{entry_of, refused, status_error};
use crate::remote::bandwidth::Limit;
use crate::remote::{DirEntry, EntryKind, ErrorKind, RemoteError};

/// How long one SFTP request may wait for its answer: also what detects a stalled connection,
/// since russh's keepalive cannot fire while its socket writes are blocked by a silent peer.
pub(super) const REQUEST_TIMEOUT_SECS: u64 = 60;
/// fsync of a large file on a busy disk can take far longer than russh-sftp's 10 s default.
pub(super) const FSYNC_TIMEOUT_SECS: u64 = 300;
/// Our receive window on every channel: reading back over a WAN must not be window-bound.
pub(super) const CLIENT_WINDOW: u32 = 16 * 1024 * 1024;
/// Most reads one download keeps in flight.
pub(super) const MAX_READS_IN_FLIGHT: usize = 64;
/// Largest write we send: OpenSSH's sftp-server takes 256 KiB messages, minus headers.
pub(super) const MAX_WRITE: usize = 255 * 1024;
pub(super) const MAX_READ: usize = 255 * 1024;
/// What every SFTP v3 server must accept.
pub(super) const SAFE_IO: usize = 32 * 1024;
/// Writes to a server that does not tell its limits: short enough that the request with its
/// header fits one SSH packet of 32 KiB. ProFTPD's mod_sftp reassembles a request split over
/// packets in one buffer shared by every channel of the connection and mixes the channels'
/// writes up (proftpd/proftpd#1897: unknown handles, status 9, a crashed session).
pub(super) const SAFE_WRITE: usize = 32 * 1024 - 512;

#[derive(Debug, Clone, Copy, Default)]
pub struct Extensions {
    pub posix_rename: bool,
    pub fsync: bool,
    pub statvfs: bool,
}

pub struct Sftp {
    pub(super) sessions: Vec<Arc<RawSftpSession>>,
    pub(super) ext: Extensions,
    pub(super) write_len: usize,
    pub(super) read_len: usize,
    pub(super) in_flight: usize,
    pub(super) lost: tokio::sync::watch::Receiver<bool>,
    pub(super) write_order: Decision,
    /// The remote's name in the config, for hints.
    pub(super) remote_name: String,
    /// `bandwidth`: every write and read request waits its turn here.
    pub(super) limit: Limit,
    pub(super) addr: String,
    /// Uploads in progress on this connection: they share its writes in flight, and only the
    /// last of a snapshot's streams hashes early.
    pub(super) uploads: AtomicUsize,
}

/// Counts an upload in progress for as long as it lives.
pub(super) struct Uploading<'a>(&'a AtomicUsize);

impl<'a> Uploading<'a> {
    pub(super) fn enter(count: &'a AtomicUsize) -> Uploading<'a> {
        count.fetch_add(1, Ordering::SeqCst);
        Uploading(count)
    }
}

impl Drop for Uploading<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Sftp {
    pub(super) fn uploads_in_progress(&self) -> usize {
        self.uploads.load(Ordering::SeqCst)
    }

    pub(super) fn main(&self) -> &RawSftpSession {
        &self.sessions[0]
    }

    pub fn extensions(&self) -> Extensions {
        self.ext
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The order one file's writes take, and why (config or detection).
    pub fn write_order(&self) -> &Decision {
        &self.write_order
    }

    /// `None` when the path does not exist. Never follows a symlink: `lstat`, and `readlink`
    /// beside it, since ProFTPD's mod_sftp resolves links in the last component before its
    /// lstat (`dir_best_path`) and so describes a link to a file or directory as its target.
    /// Both requests are in flight at once, so this costs no extra round trip.
    pub async fn stat(&self, path: &str) -> Result<Option<DirEntry>, RemoteError> {
        self.stat_on(self.main(), path).await
    }

    /// [`stat`](Self::stat) on the last channel, which waits behind no fsync on the first
    /// (where there are several: the server answers each channel's requests in order).
    pub async fn stat_aside(&self, path: &str) -> Result<Option<DirEntry>, RemoteError> {
        let last = self.sessions.last().map(Arc::as_ref);
        self.stat_on(last.unwrap_or_else(|| self.main()), path)
            .await
    }

    async fn stat_on(
        &self,
        s: &RawSftpSession,
        path: &str,
    ) -> Result<Option<DirEntry>, RemoteError> {
        let (lstat, link) = tokio::join!(s.lstat(path), s.readlink(path));
        match lstat {
            Ok(a) => {
                let mut e = entry_of(
                    path.rsplit('/').next().unwrap_or(path).to_string(),
                    &a.attrs,
                );
                if link.is_ok() {
                    e.kind = EntryKind::Symlink;
                }
                Ok(Some(e))
            }
            Err(russh_sftp::client::error::Error::Status(s))
                if s.status_code == StatusCode::NoSuchFile =>
            {
                Ok(None)
            }
            Err(e) => Err(status_error("stat", path, e)),
        }
    }

    pub async fn mkdir(&self, path: &str) -> Result<(), RemoteError> {
        let attrs = FileAttributes {
            permissions: Some(0o700),
            ..FileAttributes::empty()
        };
        match self.main().mkdir(path, attrs).await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.exists_or(status_error("mkdir", path, e), path).await),
        }
    }

    /// SFTP v3 has no "exists" status (OpenSSH answers a plain Failure): a generic failure of
    /// an exclusive create is `AlreadyExists` when something is at `path`.
    pub(super) async fn exists_or(&self, e: RemoteError, path: &str) -> RemoteError {
        if e.kind() != ErrorKind::Other || !matches!(self.stat(path).await, Ok(Some(_))) {
            return e;
        }
        match e {
            RemoteError::Op { op, .. } => {
                RemoteError::op(ErrorKind::AlreadyExists, op, path, "already exists")
            }
            other => other,
        }
    }

    pub async fn remove_file(&self, path: &str) -> Result<(), RemoteError> {
        self.main()
            .remove(path)
            .await
            .map(|_| ())
            .map_err(|e| status_error("remove", path, e))
    }

    pub async fn rmdir(&self, path: &str) -> Result<(), RemoteError> {
        self.main()
            .rmdir(path)
            .await
            .map(|_| ())
            .map_err(|e| status_error("rmdir", path, e))
    }

    /// Renames `from` to `to`. With posix-rename an existing `to` file is replaced atomically;
    /// without it, plain SFTP rename is used, which fails if `to` exists.
    pub async fn rename(&self, from: &str, to: &str) -> Result<(), RemoteError> {
        if self.ext.posix_rename {
            match self.posix_rename(from, to).await {
                // Advertised but refused (OpenSSH's `sftp-server -P`, some gateways): the plain
                // rename below still works where the target does not exist, which is our case.
                Err(e) if refused(&e) => {
                    tracing::debug!("posix-rename refused; using plain SFTP rename");
                }
                other => return other,
            }
        }
        self.main()
            .rename(from, to)
            .await
            .map(|_| ())
            .map_err(|e| status_error("rename", from, e))
    }

    async fn posix_rename(&self, from: &str, to: &str) -> Result<(), RemoteError> {
        let mut data = Vec::new();
        for s in [from, to] {
            data.extend_from_slice(&(s.len() as u32).to_be_bytes());
            data.extend_from_slice(s.as_bytes());
        }
        let reply = self
            .main()
            .extended("posix-rename@openssh.com", data)
            .await
            .map_err(|e| status_error("rename", from, e))?;
        match reply {
            russh_sftp::protocol::Packet::Status(s) if s.status_code == StatusCode::Ok => Ok(()),
            russh_sftp::protocol::Packet::Status(s) => Err(status_error(
                "rename",
                from,
                russh_sftp::client::error::Error::Status(s),
            )),
            _ => Err(RemoteError::op(
                ErrorKind::Other,
                "rename",
                from,
                "unexpected answer to posix-rename",
            )),
        }
    }

    /// Free bytes on the file system holding `path`, when the server tells.
    pub(super) async fn free_space(&self, path: &str) -> Option<u64> {
        if !self.ext.statvfs {
            return None;
        }
        self.main()
            .statvfs(path)
            .await
            .ok()
            .map(|s| s.blocks_avail.saturating_mul(s.fragment_size))
    }
}
