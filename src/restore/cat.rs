//! `cat`: one stored file, decrypted and decompressed, to stdout (`backup cat db latest app.sql | psql`).
//! The verdict on its checksum can only come after the stream, so a mismatch is an exit 1
//! with a message on stderr once the data has gone out.

use std::io::{self, Write};
use std::sync::Arc;

use super::RestoreError;
use super::fetch::{Fetched, fetch};
use super::keys;
use super::keys::refuse_wrong_identity;
use super::run::mismatch;
use crate::config::JobConfig;
use crate::encryption::{Identities, IdentitySource};
use crate::layout::{Manifest, StoredFile, manifest::FileEntry};
use crate::remote::{self, Remote, RetryReads};
use crate::repository::Repository;

#[derive(Debug, Clone)]
pub struct CatOptions {
    pub snapshot: String,
    pub name: String,
    /// Decrypts encrypted snapshots.
    pub identity: Option<IdentitySource>,
}

/// Streams one stored file, decompressed, to stdout. A reader that goes away early
/// (`| head`) ends it quietly.
pub async fn cat(job: &JobConfig, opts: &CatOptions) -> Result<(), RestoreError> {
    let remote: std::sync::Arc<dyn Remote> =
        std::sync::Arc::new(RetryReads(remote::open(&job.remote).await?));
    let repo = Repository::new(remote.clone(), &job.remote.path, &job.name);
    let result = async {
        let snap = repo.resolve(&opts.snapshot).await?;
        let f = stored_file(&snap.manifest, &opts.name)?.clone();
        let ids = keys::identities_for(&snap.manifest, opts.identity.as_ref(), &job.name).await?;
        let path = format!("{}/{}", repo.dir().snapshot(snap.id), f.name);
        let fetched = fetch_to_stdout(remote.as_ref(), &path, &f, ids.clone()).await?;
        refuse_wrong_identity(&fetched, ids.as_deref(), &snap.manifest)?;
        Ok::<_, RestoreError>((snap.manifest, f, fetched))
    }
    .await;
    remote.close().await;
    let (m, f, fetched) = result?;
    match &fetched.result {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
            tracing::debug!("stdout was closed before the end of {}", f.name);
            return Ok(());
        }
        _ => {}
    }
    let mut problems: Vec<String> = mismatch(&f, &fetched).into_iter().collect();
    if let Err(e) = &fetched.result {
        problems.insert(0, format!("decompressing {} failed: {e}", f.name));
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(RestoreError::Untrusted {
        message: format!(
            "{}\nthe output above must not be trusted.",
            problems.join("\n")
        ),
        hint: format!("`backup verify {} {}`", job.name, m.snapshot),
    })
}

async fn fetch_to_stdout(
    remote: &dyn Remote,
    path: &str,
    f: &FileEntry,
    ids: Option<Arc<Identities>>,
) -> Result<Fetched<u64>, RestoreError> {
    let name = f.name.clone();
    fetch(remote, path, f.size, None, move |input| {
        let mut content = keys::content(input, &name, ids.as_deref())?;
        let mut out = io::BufWriter::with_capacity(256 * 1024, io::stdout().lock());
        let n = io::copy(&mut content, &mut out)?;
        out.flush()?;
        Ok(n)
    })
    .await
}

/// What `cat` calls a stored file: `app.sql`, `files.tar`, `details.json`.
fn plain_name(stored: &str) -> Option<String> {
    match StoredFile::parse(stored)? {
        StoredFile::Command { name, .. } => Some(name),
        StoredFile::Sources { .. } => Some("files.tar".into()),
        StoredFile::Details => Some("details.json".into()),
    }
}

/// `app.sql` -> `app.sql.zst` (or `.zst.age`), `files.tar` -> `files.tar.zst`; the stored
/// name works too.
fn stored_file<'a>(m: &'a Manifest, name: &str) -> Result<&'a FileEntry, RestoreError> {
    m.files
        .iter()
        .find(|f| f.name == name || plain_name(&f.name).as_deref() == Some(name))
        .ok_or_else(|| {
            let names: Vec<String> = m.files.iter().filter_map(|f| plain_name(&f.name)).collect();
            RestoreError::Usage(format!(
                "snapshot {} holds no {name}; it holds: {}",
                m.snapshot,
                names.join(", ")
            ))
        })
}
