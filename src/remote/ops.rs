//! Operations built from the trait's primitives, the same for every remote.

use tokio::sync::mpsc;

use super::{EntryKind, ErrorKind, Remote, RemoteError};

/// Creates `path` and any missing parents. A component that exists but is not a directory (a
/// file, or a symlink: never followed) is an error. Looks from the deepest component up, so a
/// missing job directory under an existing base costs two round trips, not one per component
/// (each is a round trip over a WAN).
pub async fn mkdir_all(remote: &dyn Remote, path: &str) -> Result<(), RemoteError> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let prefix = |n: usize| format!("/{}", parts[..n].join("/"));
    // How many leading components exist, all directories (the root always does).
    let mut have = parts.len();
    while have > 0 {
        let at = prefix(have);
        match remote.stat(&at).await? {
            Some(e) if e.kind == EntryKind::Dir => break,
            Some(e) => {
                return Err(RemoteError::op(
                    ErrorKind::Other,
                    "mkdir",
                    &at,
                    format!("exists and is a {}, not a directory", e.kind.as_str()),
                ));
            }
            None => have -= 1,
        }
    }
    for n in have + 1..=parts.len() {
        match remote.mkdir(&prefix(n)).await {
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                return Err(with_start_dir_hint(remote, path, e).await);
            }
            other => other?,
        }
    }
    Ok(())
}

/// A base path the account may not create is most often a path written as this machine sees
/// the server's disk, for an account that sshd chroots: say where the account starts, as the
/// server shows it, and the path as the account would see it.
async fn with_start_dir_hint(remote: &dyn Remote, path: &str, e: RemoteError) -> RemoteError {
    let Some(start) = remote.start_dir().await else {
        return e;
    };
    let visible: Vec<String> = remote
        .list("/")
        .await
        .map(|l| {
            l.into_iter()
                .filter(|d| d.kind == EntryKind::Dir)
                .map(|d| d.name)
                .collect()
        })
        .unwrap_or_default();
    let mut hint = format!(
        "the SFTP server shows this account's start directory as {start}; `path` is as the account sees it (under sshd's ChrootDirectory the chroot is /)"
    );
    match chroot_relative(path, &visible) {
        Some((chroot, inside)) => hint.push_str(&format!(
            ": the chroot looks like {chroot} on the server's disk; remove that from the start of `path` ({path} is {inside} for this account)"
        )),
        None => hint.push_str(&format!(
            "; use a directory the account may write to, e.g. under {start}"
        )),
    }
    e.with_hint(hint)
}

/// `path` split where its first component below the top is one the account sees at its `/`:
/// the likely chroot, and the path inside it (a chroot hides what lies above it).
fn chroot_relative(path: &str, visible_at_root: &[String]) -> Option<(String, String)> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let i = (1..parts.len()).find(|&i| visible_at_root.iter().any(|v| v == parts[i]))?;
    Some((
        format!("/{}", parts[..i].join("/")),
        format!("/{}", parts[i..].join("/")),
    ))
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

#[cfg(test)]
mod tests {
    use super::{chroot_relative, mkdir_all};
    use crate::remote::local::Local;

    #[tokio::test]
    async fn mkdir_all_creates_what_is_missing_and_refuses_a_file_or_symlink_on_the_way() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().to_str().unwrap().to_string();
        let local = Local::new(&base).unwrap();
        let deep = format!("{base}/a/b/c");
        mkdir_all(&local, &deep).await.unwrap();
        assert!(std::path::Path::new(&deep).is_dir());
        // Again: nothing to do.
        mkdir_all(&local, &deep).await.unwrap();
        std::fs::write(tmp.path().join("file"), b"x").unwrap();
        let e = mkdir_all(&local, &format!("{base}/file/d"))
            .await
            .unwrap_err();
        // Over SFTP the file is found on the way up; a local stat under it fails (ENOTDIR).
        assert!(
            e.to_string().to_lowercase().contains("not a directory"),
            "{e}"
        );
        std::os::unix::fs::symlink(tmp.path().join("a"), tmp.path().join("link")).unwrap();
        let e = mkdir_all(&local, &format!("{base}/link/d"))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("symlink"), "{e}");
        assert!(!tmp.path().join("a/d").exists());
    }

    #[test]
    fn the_path_inside_a_chroot_starts_at_what_the_account_sees() {
        let top = vec!["upload".to_string()];
        assert_eq!(
            chroot_relative("/srv/sftp/alice/upload/db01", &top),
            Some(("/srv/sftp/alice".into(), "/upload/db01".into()))
        );
        assert_eq!(chroot_relative("/upload/db01", &top), None);
        assert_eq!(chroot_relative("/tmp/x", &top), None);
    }
}
