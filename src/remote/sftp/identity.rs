//! Loading the client's private key, with OpenSSH's rule that a key other users can read is
//! refused: such a key must be considered leaked.

use std::path::Path;

use russh::keys::PrivateKey;

use crate::config::SftpConfig;
use crate::remote::RemoteError;
use crate::secret_file::{Refused, check_private, read_private};

pub fn load(remote: &SftpConfig) -> Result<PrivateKey, RemoteError> {
    let path = &remote.identity_file;
    let refused = |path: &Path, r: Refused| RemoteError::Identity {
        path: path.to_path_buf(),
        message: r.message,
        hint: r.hint,
    };
    check_private(path, "private key").map_err(|r| refused(path, r))?;
    let passphrase = match &remote.identity_passphrase_file {
        Some((p, _)) => Some(read_passphrase(p)?),
        None => None,
    };
    russh::keys::load_secret_key(path, passphrase.as_deref()).map_err(|e| {
        let (message, hint) = match (&e, passphrase.is_some()) {
            (russh::keys::Error::KeyIsEncrypted, false) => (
                "the private key is protected by a passphrase".to_string(),
                "set identity_passphrase_file to a file (mode 0600) holding the passphrase".to_string(),
            ),
            (_, true) => (
                format!("cannot decrypt the private key: {e}"),
                "check that identity_passphrase_file holds this key's passphrase".to_string(),
            ),
            _ => (
                format!("cannot load the private key: {e}"),
                "use an OpenSSH private key (ed25519, ecdsa or rsa), e.g. from `ssh-keygen -t ed25519`".to_string(),
            ),
        };
        RemoteError::Identity {
            path: path.clone(),
            message,
            hint,
        }
    })
}

fn read_passphrase(path: &Path) -> Result<String, RemoteError> {
    let text = read_private(path, "passphrase file").map_err(|r| RemoteError::Identity {
        path: path.to_path_buf(),
        message: r.message,
        hint: r.hint,
    })?;
    // A trailing newline from `echo secret > file` is not part of the passphrase.
    Ok(text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text)
        .to_string())
}
