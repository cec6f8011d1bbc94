//! `cat`: one stored file, decompressed, to stdout (`backup cat db latest app.sql | psql`).
//! The verdict on its checksum can only come after the stream, so a mismatch is an exit 1
//! with a message on stderr once the data has gone out.

use std::io::{self, Write};

use super::RestoreError;
use super::fetch::{Fetched, fetch};
use super::run::mismatch;
use crate::config::JobConfig;
use crate::job::snapshots::resolve;
use crate::layout::{self, JobDir, Manifest, manifest::FileEntry};
use crate::remote::{Connection, Sftp};

#[derive(Debug, Clone)]
pub struct CatOptions {
    pub snapshot: String,
    pub name: String,
}

/// Streams one stored file, decompressed, to stdout. A reader that goes away early
/// (`| head`) ends it quietly.
pub async fn cat(job: &JobConfig, opts: &CatOptions) -> Result<(), RestoreError> {
    let conn = Connection::open(&job.remote).await?;
    let sftp = conn.sftp().await?;
    let dir = JobDir::new(&job.remote.path, &job.name);
    let m = resolve(&sftp, &dir, &job.name, &opts.snapshot).await?;
    let f = stored_file(&m, &opts.name)?.clone();
    let fetched = fetch_to_stdout(&sftp, &format!("{}/{}", dir.child(&m.snapshot), f.name)).await;
    conn.close().await;
    let fetched = fetched?;
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
    Err(RestoreError::Failed(format!(
        "{}\nthe output above must not be trusted.\nhint: `backup verify {} {}`",
        problems.join("\n"),
        job.name,
        m.snapshot
    )))
}

async fn fetch_to_stdout(sftp: &Sftp, path: &str) -> Result<Fetched<u64>, RestoreError> {
    fetch(sftp, path, None, |input| {
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
