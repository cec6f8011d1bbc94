//! How bytes reach a server: one [`Remote`] trait with the operations the repository needs and
//! nothing transport-specific in its signatures, two implementations (`sftp/`: SSH with host
//! key check, key auth and pipelined SFTP; `local.rs`: a directory on this machine), and
//! wrappers that compose around any of them (`dry_run.rs`, `progress.rs`, `retry.rs`);
//! `bandwidth/` is the limiter the SFTP transfers take their turn from.
//!
//! Semantics every implementation keeps (tests/conformance.rs checks them against each):
//! paths are absolute strings with `/` separators; nothing follows a symlink (list and stat
//! describe the link itself, reads and removals refuse or remove the link, never its target);
//! a created file is written whole, synced where the remote can, and only then reported
//! written; `rename` replaces an existing file target atomically; errors are [`ErrorKind`]s.

pub mod bandwidth;
mod dry_run;
mod error;
mod local;
mod ops;
mod progress;
mod retry;
pub mod sftp;

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::config::{RemoteConfig, Transport};

pub use dry_run::DryRun;
pub use error::{ErrorKind, RemoteError};
pub use local::Local;
pub use ops::{mkdir_all, read_small, write_small};
pub use progress::{Counted, Progressed};
pub use retry::RetryReads;
pub use sftp::{known_hosts, scan_host_keys};

/// What a directory entry is, as the remote sees it (never following a link).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    /// Devices, sockets, FIFOs, or a server that does not say.
    Other,
}

impl EntryKind {
    /// The kind in an operator's words, for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::File => "file",
            EntryKind::Dir => "directory",
            EntryKind::Symlink => "symlink",
            EntryKind::Other => "special file",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The bare name as the server sent it: untrusted until the repository's gate parsed it.
    pub name: String,
    pub kind: EntryKind,
    pub size: u64,
    /// Seconds since the epoch, by the server's clock, when it says.
    pub mtime: Option<i64>,
}

/// What a remote can do, so callers choose a protocol up front instead of parsing errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// A directory can be renamed (the commit renames `.<id>.partial/` to `<id>/`); where it
    /// cannot, the commit moves files one by one.
    pub rename_dirs: bool,
    /// Files (and, locally, directories) are synced to disk before they count as written.
    pub fsync: bool,
    /// [`Remote::sha256`] may work (an SFTP account may still refuse to run commands).
    pub hash: bool,
    /// The server accepts a file's writes only in offset order.
    pub sequential_writes: bool,
}

/// How a bounded read ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadEnd {
    /// Bytes delivered (never more than the limit).
    pub bytes: u64,
    /// The file holds more than the limit: it is not the file that was recorded.
    pub over_limit: bool,
}

#[async_trait]
pub trait Remote: Send + Sync {
    /// Where this remote is, for messages: `user@host:port` or `local`.
    fn describe(&self) -> String;

    fn capabilities(&self) -> Capabilities;

    /// Entries of `dir` (without `.` and `..`), sorted by name.
    async fn list(&self, dir: &str) -> Result<Vec<DirEntry>, RemoteError>;

    /// The entry at `path` itself (a symlink is described, not followed); `None` if absent.
    async fn stat(&self, path: &str) -> Result<Option<DirEntry>, RemoteError>;

    /// Creates one directory (mode 0700); its parent must exist.
    async fn mkdir(&self, path: &str) -> Result<(), RemoteError>;

    /// Creates (or truncates) `path` with mode 0600, writes every chunk from `data`, syncs it
    /// where the remote can, and returns the bytes written.
    async fn create(&self, path: &str, data: mpsc::Receiver<Vec<u8>>) -> Result<u64, RemoteError>;

    /// Creates `path` only if it does not exist ([`ErrorKind::AlreadyExists`] otherwise) and
    /// writes `data` into it: what locks are made of.
    async fn create_new(&self, path: &str, data: &[u8]) -> Result<(), RemoteError>;

    /// Sends the bytes of the regular file `path` in order to `tx`, at most `limit` of them.
    /// A consumer that goes away ends the read early, without an error.
    async fn read(
        &self,
        path: &str,
        limit: u64,
        tx: mpsc::Sender<Vec<u8>>,
    ) -> Result<ReadEnd, RemoteError>;

    /// Renames `from` to `to`; a file at `to` is replaced atomically.
    async fn rename(&self, from: &str, to: &str) -> Result<(), RemoteError>;

    /// Removes a file or a symlink (never what it points to).
    async fn remove_file(&self, path: &str) -> Result<(), RemoteError>;

    /// Removes an empty directory.
    async fn remove_dir(&self, path: &str) -> Result<(), RemoteError>;

    /// SHA-256 (hex) of each regular file in `paths`, computed where the data is, in order.
    /// [`ErrorKind::Unsupported`] when this remote cannot (an SFTP-only account).
    async fn sha256(&self, paths: &[String]) -> Result<Vec<String>, RemoteError>;

    /// `path` is about to be written by [`create`](Self::create), and [`sha256`](Self::sha256)
    /// will be asked for it before anything else changes it: a remote that hashes on the
    /// server may start as soon as the last write is answered, beside its sync.
    fn hash_when_written(&self, _path: &str) {}

    /// The account's start directory as the server shows it (SFTP realpath of "."; a
    /// chrooted account sees a path inside its chroot), for hints; `None` where it means nothing.
    async fn start_dir(&self) -> Option<String> {
        None
    }

    /// Ends the session; later calls fail.
    async fn close(&self);
}

/// Opens the remote a job's config names: connects (SFTP) or checks the directory (local).
pub async fn open(config: &Arc<RemoteConfig>) -> Result<Arc<dyn Remote>, RemoteError> {
    match &config.transport {
        Transport::Sftp(s) => Ok(Arc::new(sftp::SftpRemote::open(s).await?)),
        Transport::Local => Ok(Arc::new(Local::new(&config.path)?)),
    }
}
