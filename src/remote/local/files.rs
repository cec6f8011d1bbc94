//! The file system primitives of the local remote: errors as kinds, entries described without
//! following links, directories synced after a change, and regular files opened for reading
//! without following a link or blocking on a FIFO.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::remote::{DirEntry, EntryKind, ErrorKind, RemoteError};

/// Chunk size of local reads: as large as the uploader's, so consumers see the same shapes.
pub(super) const CHUNK: usize = 1024 * 1024;

pub(super) fn io_error(op: &'static str, path: &str, e: io::Error) -> RemoteError {
    let kind = match (e.kind(), e.raw_os_error()) {
        (io::ErrorKind::NotFound, _) => ErrorKind::NotFound,
        (io::ErrorKind::PermissionDenied, _) => ErrorKind::PermissionDenied,
        (io::ErrorKind::AlreadyExists, _) => ErrorKind::AlreadyExists,
        (_, Some(libc::ENOSPC | libc::EDQUOT)) => ErrorKind::NoSpace,
        _ => ErrorKind::Other,
    };
    let message = match e.raw_os_error() {
        Some(libc::ELOOP) => "is a symlink; it is not followed".to_string(),
        _ => e.to_string(),
    };
    RemoteError::op(kind, op, path, message)
}

pub(super) fn kind_of(t: fs::FileType) -> EntryKind {
    if t.is_symlink() {
        EntryKind::Symlink
    } else if t.is_dir() {
        EntryKind::Dir
    } else if t.is_file() {
        EntryKind::File
    } else {
        EntryKind::Other
    }
}

pub(super) fn entry(name: String, m: &fs::Metadata) -> DirEntry {
    DirEntry {
        name,
        kind: kind_of(m.file_type()),
        size: m.len(),
        mtime: Some(m.mtime()),
    }
}

/// Makes a rename or a new entry in `dir` durable.
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

pub(super) fn parent(path: &str) -> PathBuf {
    Path::new(path)
        .parent()
        .map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
}

/// Opens a regular file for reading without following a link, and without blocking on a FIFO.
pub(super) fn open_regular(path: &str) -> Result<File, RemoteError> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| io_error("read", path, e))?;
    let m = f.metadata().map_err(|e| io_error("read", path, e))?;
    if !m.file_type().is_file() {
        let what = if m.file_type().is_fifo() {
            "a FIFO"
        } else {
            "not a regular file"
        };
        return Err(RemoteError::op(
            ErrorKind::Other,
            "read",
            path,
            format!("{what}; it is not read"),
        ));
    }
    Ok(f)
}

pub(super) async fn blocking<T: Send + 'static>(
    op: &'static str,
    path: &str,
    f: impl FnOnce() -> Result<T, RemoteError> + Send + 'static,
) -> Result<T, RemoteError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| RemoteError::op(ErrorKind::Other, op, path, e.to_string()))?
}
