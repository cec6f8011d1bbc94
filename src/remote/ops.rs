//! Operations built from the trait's primitives, the same for every remote.

use tokio::sync::mpsc;

use super::{EntryKind, ErrorKind, Remote, RemoteError};

/// Creates `path` and any missing parents. A parent that exists but is not a directory (a file,
/// or a symlink: never followed) is an error.
pub async fn mkdir_all(remote: &dyn Remote, path: &str) -> Result<(), RemoteError> {
    // The common case, one round trip: it exists already.
    if let Some(e) = remote.stat(path).await?
        && e.kind == EntryKind::Dir
    {
        return Ok(());
    }
    let mut prefix = String::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        prefix.push('/');
        prefix.push_str(part);
        match remote.stat(&prefix).await? {
            Some(e) if e.kind == EntryKind::Dir => {}
            Some(e) => {
                return Err(RemoteError::op(
                    ErrorKind::Other,
                    "mkdir",
                    &prefix,
                    format!("exists and is a {}, not a directory", e.kind.as_str()),
                ));
            }
            None => remote.mkdir(&prefix).await?,
        }
    }
    Ok(())
}

/// Writes a small file in one go (checksums, manifest) and syncs it.
pub async fn write_small(remote: &dyn Remote, path: &str, data: &[u8]) -> Result<(), RemoteError> {
    let (tx, rx) = mpsc::channel(1);
    // The channel has room for the one chunk, so this send cannot wait.
    let _ = tx.try_send(data.to_vec());
    drop(tx);
    remote.create(path, rx).await.map(|_| ())
}

/// Reads a small file whole (manifests, checksum lists, locks); more than `max` bytes is an
/// error, since no file this program writes is that large.
pub async fn read_small(remote: &dyn Remote, path: &str, max: u64) -> Result<Vec<u8>, RemoteError> {
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(16);
    let collect = async {
        let mut out = Vec::new();
        while let Some(c) = rx.recv().await {
            out.extend_from_slice(&c);
        }
        out
    };
    let (end, out) = tokio::join!(remote.read(path, max, tx), collect);
    if end?.over_limit {
        return Err(RemoteError::op(
            ErrorKind::Other,
            "read",
            path,
            format!("larger than {max} bytes; not a file this program wrote"),
        ));
    }
    Ok(out)
}
