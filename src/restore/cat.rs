//! `cat`: one stored file, decompressed, to stdout (`backup cat db latest app.sql | psql`).
//! The verdict on its checksum can only come after the stream, so a mismatch is an exit 1
//! with a message on stderr once the data has gone out.

use std::io::{self, Write};

use super::RestoreError;
use super::fetch::{Fetched, fetch};
use super::run::mismatch;
use crate::config::JobConfig;
use crate::layout::{self, Manifest, manifest::FileEntry};
use crate::remote::{self, Remote, RetryReads};
use crate::repository::Repository;

#[derive(Debug, Clone)]
pub struct CatOptions {
    pub snapshot: String,
    pub name: String,
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
        let path = format!("{}/{}", repo.dir().snapshot(snap.id), f.name);
        let fetched = fetch_to_stdout(remote.as_ref(), &path, f.size).await?;
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
    limit: u64,
) -> Result<Fetched<u64>, RestoreError> {
    fetch(remote, path, limit, None, |input| {
        let mut decoder = zstd::stream::read::Decoder::new(input)?;
        let mut out = io::BufWriter::with_capacity(256 * 1024, io::stdout().lock());
        let n = io::copy(&mut decoder, &mut out)?;
        out.flush()?;
        Ok(n)
    })
    .await
}

/// `app.sql` -> `app.sql.zst`, `files.tar` -> `files.tar.zst`; the stored name works too.
fn stored_file<'a>(m: &'a Manifest, name: &str) -> Result<&'a FileEntry, RestoreError> {
    let wanted = layout::command_file(name);
    m.files
        .iter()
        .find(|f| f.name == wanted || f.name == name)
        .ok_or_else(|| {
            let names: Vec<&str> = m
                .files
                .iter()
                .filter_map(|f| f.name.strip_suffix(".zst"))
                .collect();
            RestoreError::Usage(format!(
                "snapshot {} holds no {wanted}; it holds: {}",
                m.snapshot,
                names.join(", ")
            ))
        })
}
