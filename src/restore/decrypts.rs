//! `verify --read` of an encrypted snapshot with its identity: every stored file is read once,
//! hashed as it arrives (the same verdict as a readback), and decrypted and decompressed to
//! nowhere, which proves that the identity opens it and that the plaintext is whole: more
//! than a checksum, which a file encrypted to the wrong key would pass.

use std::io;
use std::sync::Arc;

use super::RestoreError;
use super::fetch::fetch;
use super::keys;
use super::run::{mismatch, refuse_wrong_identity};
use crate::encryption::Identities;
use crate::layout::{Manifest, StoredFile};
use crate::remote::Remote;
use crate::repository::SnapshotCheck;

/// Reads every file of `check` whose size was right, and records what does not decrypt,
/// decompress or hash as recorded.
pub async fn prove_decrypts(
    remote: &dyn Remote,
    dir: &str,
    m: &Manifest,
    ids: Arc<Identities>,
    check: &mut SnapshotCheck,
) -> Result<(), RestoreError> {
    for fc in check.files.iter_mut().filter(|f| f.problem.is_none()) {
        let Some(f) = m.files.iter().find(|f| f.name == fc.name) else {
            continue;
        };
        let (name, keys) = (f.name.clone(), ids.clone());
        let fetched = fetch(
            remote,
            &format!("{dir}/{}", f.name),
            f.size,
            None,
            move |input| {
                let mut plain = keys::plaintext(input, &name, Some(&keys))?;
                if StoredFile::parse(&name) == Some(StoredFile::Details) {
                    return io::copy(&mut plain, &mut io::sink());
                }
                io::copy(
                    &mut zstd::stream::read::Decoder::new(plain)?,
                    &mut io::sink(),
                )
            },
        )
        .await?;
        refuse_wrong_identity(&fetched, Some(&ids), m)?;
        fc.problem = mismatch(f, &fetched).or_else(|| {
            fetched
                .result
                .as_ref()
                .err()
                .map(|e| format!("{}: decrypting and decompressing failed: {e}", f.name))
        });
    }
    check.method = "readback+decrypt";
    Ok(())
}
