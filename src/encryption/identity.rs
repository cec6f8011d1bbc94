//! Identities: the private keys that decrypt snapshots, read only where a restore or a
//! verification needs them. An identity file is what `age -i` takes: an age identity file
//! (`AGE-SECRET-KEY-1...` lines), the same encrypted with a passphrase (`age -p`), or an SSH
//! private key (OpenSSH or PEM RSA, passphrase-protected or not). Passphrases come from a file,
//! as every secret of this program does, never from a prompt: restores run in scripts too.

use std::path::{Path, PathBuf};

use age::secrecy::{ExposeSecret, SecretString};

use super::recipient::{Recipient, RecipientInfo};
use crate::secret_file::{Refused, check_private, read_private};

/// Identity files are small; anything larger is not one.
const MAX_IDENTITY_FILE: u64 = 1024 * 1024;

/// Where an identity is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentitySource {
    pub path: PathBuf,
    pub passphrase_file: Option<PathBuf>,
}

/// Loaded identities, with the recipients they answer to (for messages).
pub struct Identities {
    keys: Vec<Key>,
    recipients: Vec<Recipient>,
    path: PathBuf,
}

impl std::fmt::Debug for Identities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Identities({}: {:?})",
            self.path.display(),
            self.recipients
        )
    }
}

impl Identities {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The recipients these identities decrypt for.
    pub fn recipients(&self) -> &[Recipient] {
        &self.recipients
    }

    /// Whether any of these identities is one of `to` (as recorded in a manifest).
    pub fn matches_any(&self, to: &[RecipientInfo]) -> bool {
        self.recipients.iter().any(|r| to.contains(r.info()))
    }

    pub(super) fn as_age(&self) -> impl Iterator<Item = &dyn age::Identity> {
        self.keys.iter().map(|k| match k {
            Key::X25519(k) => k as &dyn age::Identity,
            Key::Ssh(k) => k as &dyn age::Identity,
        })
    }
}

impl IdentitySource {
    /// Reads and, where it is protected, unlocks the identity. The file must be readable by
    /// its owner only, as OpenSSH demands of a private key.
    pub fn load(&self) -> Result<Identities, Refused> {
        check_private(&self.path, "identity file")?;
        let size = fs_err::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        if size > MAX_IDENTITY_FILE {
            return Err(self.refused(format!(
                "is {size} bytes; an age identity file or SSH private key is far smaller"
            )));
        }
        let bytes = fs_err::read(&self.path).map_err(|e| Refused {
            message: format!("cannot read the identity file: {e}"),
            hint: "check the path given with --identity or identity_file".into(),
        })?;
        let text = String::from_utf8_lossy(&bytes);
        let (keys, recipients) = if bytes.starts_with(b"age-encryption.org/")
            || text.contains("-----BEGIN AGE ENCRYPTED FILE-----")
        {
            let plain = self.unlock_age(&bytes)?;
            self.parse_age_identities(&plain)?
        } else if text.contains("PRIVATE KEY-----") {
            self.load_ssh(&bytes)?
        } else {
            self.parse_age_identities(&text)?
        };
        if keys.is_empty() {
            return Err(self.refused("holds no identity".into()));
        }
        Ok(Identities {
            keys,
            recipients,
            path: self.path.clone(),
        })
    }

    /// A passphrase-protected identity file (`age -p`): decrypted with scrypt, in memory only.
    fn unlock_age(&self, bytes: &[u8]) -> Result<String, Refused> {
        let decryptor = age::Decryptor::new(age::armor::ArmoredReader::new(bytes))
            .map_err(|e| self.refused(format!("is not a readable age file: {e}")))?;
        if !decryptor.is_scrypt() {
            return Err(self.refused(
                "is an age file encrypted to a key, not to a passphrase; give the identity itself"
                    .into(),
            ));
        }
        let unlock = age::scrypt::Identity::new(self.passphrase()?);
        let mut plain = String::new();
        decryptor
            .decrypt(std::iter::once(&unlock as &dyn age::Identity))
            .and_then(|mut r| Ok(std::io::Read::read_to_string(&mut r, &mut plain)?))
            .map_err(|e| Refused {
                message: format!(
                    "cannot unlock the identity file {}: {e}",
                    self.path.display()
                ),
                hint: "check the passphrase in identity_passphrase_file (or --identity-passphrase-file)"
                    .into(),
            })?;
        Ok(plain)
    }

    /// age's identity-file format: `AGE-SECRET-KEY-1...` lines, `#` comments. Parsed here so
    /// that the keys stay plain data that any thread may use (age's own `IdentityFile` hands
    /// out identities that are not `Send`).
    fn parse_age_identities(&self, text: &str) -> Result<Loaded, Refused> {
        let mut keys = Vec::new();
        let mut recipients = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            // The line is a secret: the message names its number, never its text.
            let key: age::x25519::Identity = line.parse().map_err(|_| {
                self.refused(format!(
                    "line {} is not an age identity (AGE-SECRET-KEY-1...)",
                    i + 1
                ))
            })?;
            recipients.push(Recipient::x25519(key.to_public()));
            keys.push(Key::X25519(key));
        }
        Ok((keys, recipients))
    }

    fn load_ssh(&self, bytes: &[u8]) -> Result<Loaded, Refused> {
        let name = self.path.display().to_string();
        let identity = age::ssh::Identity::from_buffer(bytes, Some(name))
            .map_err(|e| self.refused(format!("is not a usable SSH private key: {e}")))?;
        let identity = match identity {
            age::ssh::Identity::Encrypted(key) => {
                let passphrase = self.passphrase()?;
                age::ssh::Identity::Unencrypted(key.decrypt(passphrase).map_err(|e| Refused {
                    message: format!(
                        "cannot unlock the SSH key {}: {e}",
                        self.path.display()
                    ),
                    hint: "check the passphrase in identity_passphrase_file (or --identity-passphrase-file)".into(),
                })?)
            }
            age::ssh::Identity::Unsupported(_) => {
                return Err(self.refused(
                    "is an SSH key age cannot decrypt with; use an ed25519 or RSA key".into(),
                ));
            }
            unencrypted => unencrypted,
        };
        let recipients = age::ssh::Recipient::try_from(identity.clone())
            .ok()
            .and_then(Recipient::ssh)
            .into_iter()
            .collect();
        Ok((vec![Key::Ssh(identity)], recipients))
    }

    fn passphrase(&self) -> Result<SecretString, Refused> {
        let Some(file) = &self.passphrase_file else {
            let mut refused = self
                .refused("is protected by a passphrase, and no passphrase file is given".into());
            refused.hint = "give identity_passphrase_file in [jobs.NAME.encryption] or --identity-passphrase-file FILE (mode 0600)".into();
            return Err(refused);
        };
        let text = read_private(file, "identity passphrase file")?;
        Ok(SecretString::from(
            text.trim_end_matches(['\r', '\n']).to_string(),
        ))
    }

    fn refused(&self, why: String) -> Refused {
        Refused {
            message: format!("the identity file {} {why}", self.path.display()),
            hint:
                "make one with `backup keygen -o FILE` (or age-keygen), or give an SSH private key"
                    .into(),
        }
    }
}

type Loaded = (Vec<Key>, Vec<Recipient>);

/// An identity as plain data (`Send + Sync`), for the decrypting threads.
enum Key {
    X25519(age::x25519::Identity),
    Ssh(age::ssh::Identity),
}

/// A new X25519 identity in age-keygen's file format, and its recipient.
pub fn generate(now: chrono::DateTime<chrono::Utc>) -> (String, Recipient) {
    let id = age::x25519::Identity::generate();
    let public = id.to_public();
    let text = format!(
        "# created: {}\n# public key: {public}\n{}\n",
        now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        id.to_string().expose_secret()
    );
    (text, Recipient::x25519(public))
}
