//! `verify --read` of an encrypted snapshot with its identity: every stored file is read once,
//! hashed as it arrives (the same verdict as a readback), and decrypted and decompressed to
//! nowhere, which proves that the identity opens it and that the plaintext is whole: more
//! than a checksum, which a file encrypted to the wrong key would pass.

use std::io;
use std::sync::Arc;

use tokio::sync::Mutex;

use super::RestoreError;
use super::fetch::fetch;
use super::keys;
use super::keys::refuse_wrong_identity;
use super::run::mismatch;
use crate::encryption::{Identities, IdentitySource};
use crate::repository::{Opener, RepoError, Repository, Snapshot, SnapshotCheck};

/// The [`Opener`] of `verify --read --identity`: loads the identity at the first encrypted
/// snapshot, then opens every file of each.
pub struct Decrypting {
    source: IdentitySource,
    loaded: Mutex<Option<Arc<Identities>>>,
}

impl Decrypting {
    pub fn new(source: IdentitySource) -> Decrypting {
        Decrypting {
            source,
            loaded: Mutex::new(None),
        }
    }
}

#[async_trait::async_trait]
impl Opener for Decrypting {
    async fn open(
        &self,
        repo: &Repository,
        snap: &Snapshot,
        check: &mut SnapshotCheck,
    ) -> Result<(), RepoError> {
        let ids = {
            let mut loaded = self.loaded.lock().await;
            match &*loaded {
                Some(ids) => ids.clone(),
                None => {
                    let ids = keys::identities_for(&snap.manifest, Some(&self.source), repo.job())
                        .await
                        .map_err(into_repo)?
                        .ok_or_else(|| {
                            RepoError::Refused("the snapshot is not encrypted".into())
                        })?;
                    *loaded = Some(ids.clone());
                    ids
                }
            }
        };
        let dir = repo.dir().snapshot(snap.id);
        prove_decrypts(repo.remote().as_ref(), &dir, snap, ids, check)
            .await
            .map_err(into_repo)
    }
}

fn into_repo(e: RestoreError) -> RepoError {
    match e {
        RestoreError::Key { message, hint } => RepoError::Key { message, hint },
        RestoreError::Remote(e) => RepoError::Remote(e),
        RestoreError::Repository(e) => e,
        e => RepoError::Refused(e.to_string()),
    }
}

/// Reads every file of `check` whose size was right, and records what does not decrypt,
/// decompress or hash as recorded.
async fn prove_decrypts(
    remote: &dyn crate::remote::Remote,
    dir: &str,
    snap: &Snapshot,
    ids: Arc<Identities>,
    check: &mut SnapshotCheck,
) -> Result<(), RestoreError> {
    let m = &snap.manifest;
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
                io::copy(
                    &mut keys::content(input, &name, Some(&keys))?,
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
