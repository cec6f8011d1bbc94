//! Whether a remote can hash files where they are (`openssl dgst` or `sha256sum` on the
//! server), asked with a small probe file through the same [`Remote::sha256`] the verify step
//! calls: `check --connect` reports it, and a run with `verify = "remote-hash"` learns it
//! before uploading.

use sha2::{Digest, Sha256};

use crate::remote::{ErrorKind, Remote, RemoteError, write_small};

const PROBE: &[u8] = b"backup-agent hash probe\n";

/// What the probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashSupport {
    Works,
    /// The account cannot hash on the server (an SFTP-only account); why, for messages.
    Unsupported(String),
}

/// Writes `<dir>/.backup-agent-probe-<pid>`, hashes it on the remote and removes it. `Err`
/// when writing or removing fails, or the server answers with a wrong hash.
pub async fn probe_hash(remote: &dyn Remote, dir: &str) -> Result<HashSupport, RemoteError> {
    let path = format!(
        "{}/.backup-agent-probe-{}",
        dir.trim_end_matches('/'),
        std::process::id()
    );
    write_small(remote, &path, PROBE).await?;
    let hashed = remote.sha256(std::slice::from_ref(&path)).await;
    let removed = remote.remove_file(&path).await;
    let support = match hashed {
        Ok(sums) => {
            let want = hex::encode(Sha256::digest(PROBE));
            if sums.first() != Some(&want) {
                return Err(RemoteError::op(
                    ErrorKind::Other,
                    "hash",
                    &path,
                    format!("the server's SHA-256 is {sums:?}, the file's is {want}"),
                ));
            }
            HashSupport::Works
        }
        Err(e) if e.kind() == ErrorKind::Unsupported => {
            tracing::debug!("server-side hashing refused: {e}");
            HashSupport::Unsupported(
                "the account may run neither openssl nor sha256sum: SFTP-only, e.g. ForceCommand internal-sftp"
                    .into(),
            )
        }
        Err(e) => return Err(e),
    };
    removed?;
    Ok(support)
}
