//! Reading encrypted snapshots: the identity is loaded once, only when the snapshot is
//! encrypted, and checked against the recipients its manifest names before anything is
//! downloaded. The manifest is only a hint here: what decides is whether the identity opens
//! each file's age header, and a file that does not open is a clear error, not a checksum
//! mismatch.

use std::io::{self, Read};
use std::sync::Arc;

use super::RestoreError;
use super::fetch::{Fetched, HashingReader};
use crate::encryption::{self, Identities, IdentitySource};
use crate::layout::{Manifest, StoredFile};

/// The identities for `m`, or `None` when it is in clear.
pub async fn identities_for(
    m: &Manifest,
    source: Option<&IdentitySource>,
    job: &str,
) -> Result<Option<Arc<Identities>>, RestoreError> {
    let Some(info) = &m.encryption else {
        return Ok(None);
    };
    let to = info
        .recipients
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let Some(source) = source.cloned() else {
        return Err(RestoreError::Key {
            message: format!(
                "snapshot {} of job {job} is encrypted (to {to}) and no identity is given",
                m.snapshot
            ),
            hint: format!(
                "give --identity FILE, or identity_file in [jobs.{job}.encryption] on the machine that restores"
            ),
        });
    };
    // Unlocking a passphrase-protected identity runs scrypt for about a second.
    let loaded = tokio::task::spawn_blocking(move || source.load())
        .await
        .map_err(|e| RestoreError::Failed(format!("loading the identity failed: {e}")))?
        .map_err(|r| RestoreError::Key {
            message: r.message,
            hint: r.hint,
        })?;
    if !info.recipients.is_empty() && !loaded.matches_any(&info.recipients) {
        return Err(wrong(&loaded, m));
    }
    Ok(Some(Arc::new(loaded)))
}

/// The error for identities that cannot open `m`'s files.
pub fn wrong(ids: &Identities, m: &Manifest) -> RestoreError {
    let named = |v: Vec<String>| {
        if v.is_empty() {
            "unknown recipients".to_string()
        } else {
            v.join(", ")
        }
    };
    let to = m
        .encryption
        .as_ref()
        .map(|e| e.recipients.iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    RestoreError::Key {
        message: format!(
            "the identity {} ({}) cannot decrypt snapshot {}: it was encrypted to {}",
            ids.path().display(),
            named(ids.recipients().iter().map(|r| r.info().to_string()).collect()),
            m.snapshot,
            named(to)
        ),
        hint: "give the identity of one of those recipients (`backup keygen -y FILE` prints an identity's fingerprint)".into(),
    }
}

/// A file the identity cannot open ends the read with its own error, never a checksum one.
pub fn refuse_wrong_identity<T>(
    fetched: &Fetched<T>,
    ids: Option<&Identities>,
    m: &Manifest,
) -> Result<(), RestoreError> {
    match (&fetched.result, ids) {
        (Err(e), Some(ids)) if encryption::is_wrong_identity(e) => Err(wrong(ids, m)),
        _ => Ok(()),
    }
}

/// The content of a stored file as it was made: decrypted when its name says it is
/// encrypted, then decompressed (the details are JSON, sealed but not compressed).
pub fn content<'a>(
    input: &'a mut HashingReader,
    name: &str,
    ids: Option<&Identities>,
) -> io::Result<Box<dyn Read + 'a>> {
    let plain = plaintext(input, name, ids)?;
    if StoredFile::parse(name) == Some(StoredFile::Details) {
        return Ok(plain);
    }
    Ok(Box::new(zstd::stream::read::Decoder::new(plain)?))
}

/// Whether a stored file is encrypted, by its name.
pub fn is_encrypted(name: &str) -> bool {
    StoredFile::parse(name).is_some_and(|f| f.is_encrypted())
}

/// The plaintext side of a stored file: decrypted when its name says it is encrypted.
pub fn plaintext<'a>(
    input: &'a mut HashingReader,
    name: &str,
    ids: Option<&Identities>,
) -> io::Result<Box<dyn Read + Send + 'a>> {
    if !is_encrypted(name) {
        return Ok(Box::new(input));
    }
    match ids {
        Some(ids) => Ok(Box::new(encryption::decrypt(input, ids)?)),
        None => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the file is encrypted but its manifest does not say so",
        )),
    }
}
