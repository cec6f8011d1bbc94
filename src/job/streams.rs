//! Every stream of a snapshot at once: `files.tar.zst` from the sources and one `<name>.zst`
//! per command, each with its own producer and its own upload, all running concurrently (a
//! dump does not wait for the file walk, and two dumps may even depend on each other through a
//! pipe). The first stream to fail stops the others: a dropped stream kills its command.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::JobError;
use crate::config::{CommandConfig, JobConfig};
use crate::layout::manifest::{CommandEntry, FileEntry, Stats};
use crate::layout::{self};
use crate::remote::Remote;
use crate::repository::Pending;
use crate::snapshot::{self, Progress, StreamDigest};

/// What all streams produced, in config order: sources first, then commands.
#[derive(Debug, Default)]
pub struct Streamed {
    pub files: Vec<FileEntry>,
    pub commands: Vec<CommandEntry>,
    pub stats: Stats,
    pub warnings: Vec<String>,
    /// Optional sources that did not exist.
    pub skipped_sources: Vec<String>,
}

enum Part {
    Sources(FileEntry, Stats, Vec<String>, Vec<String>),
    Command(FileEntry, CommandEntry),
}

type PartFuture<'a> = Pin<Box<dyn Future<Output = Result<Part, JobError>> + Send + 'a>>;

/// Fails before anything is uploaded when a command's `user` cannot be used.
pub fn check_commands(job: &JobConfig) -> Result<(), JobError> {
    for c in &job.commands {
        snapshot::command::check_user(c).map_err(|e| JobError::Command(e.to_string()))?;
    }
    Ok(())
}

pub async fn stream_all(
    job: &JobConfig,
    remote: &dyn Remote,
    pending: &Pending,
    progress: &Arc<Progress>,
) -> Result<Streamed, JobError> {
    let mut streams: Vec<PartFuture<'_>> = Vec::new();
    if !job.sources.is_empty() {
        streams.push(Box::pin(sources(job, remote, pending, progress.clone())));
    }
    for c in &job.commands {
        streams.push(Box::pin(command(job, c, remote, pending, progress.clone())));
    }
    let parts = futures::future::try_join_all(streams).await?;
    let mut out = Streamed::default();
    for p in parts {
        match p {
            Part::Sources(f, stats, warnings, skipped) => {
                out.files.push(f);
                out.stats = stats;
                out.warnings = warnings;
                out.skipped_sources = skipped;
            }
            Part::Command(f, c) => {
                out.stats.bytes_read += c.bytes;
                out.files.push(f);
                out.commands.push(c);
            }
        }
    }
    Ok(out)
}

async fn sources(
    job: &JobConfig,
    remote: &dyn Remote,
    pending: &Pending,
    progress: Arc<Progress>,
) -> Result<Part, JobError> {
    let (rx, producer) = snapshot::spawn_sources(job, progress.clone());
    let name = layout::sources_file(job.encryption.is_on());
    let uploaded = remote.create(&pending.file(&name), rx).await;
    let produced = tokio::task::spawn_blocking(move || producer.join())
        .await
        .map_err(|e| JobError::Local(format!("source reader: {e}")))?
        .map_err(|_| JobError::Local("the source reader panicked".into()))?;
    let sent = uploaded?;
    let out = produced.map_err(|e| JobError::Local(format!("reading the sources failed: {e}")))?;
    let file = entry(name, sent, &out.digest)?;
    Ok(Part::Sources(file, out.stats, out.warnings, out.skipped))
}

async fn command(
    job: &JobConfig,
    cmd: &CommandConfig,
    remote: &dyn Remote,
    pending: &Pending,
    progress: Arc<Progress>,
) -> Result<Part, JobError> {
    let snapshot::CommandStream { rx, handle, guard } =
        snapshot::spawn_command(cmd, &snapshot::Encoding::of(job), progress.clone())
            .map_err(|e| JobError::Command(e.to_string()))?;
    let name = layout::command_file(&cmd.name, job.encryption.is_on());
    let uploaded = remote.create(&pending.file(&name), rx).await;
    if uploaded.is_err() {
        // A command that is not writing would never notice that the upload stopped.
        guard.0.abort();
    }
    let produced = tokio::task::spawn_blocking(move || handle.join())
        .await
        .map_err(|e| JobError::Local(format!("command {}: {e}", cmd.name)))?
        .map_err(|_| JobError::Local(format!("the producer of {name} panicked")))?;
    drop(guard);
    let sent = uploaded?;
    let out = produced.map_err(|e| JobError::Command(e.to_string()))?;
    let file = entry(name, sent, &out.digest)?;
    let entry = CommandEntry {
        name: cmd.name.clone(),
        run: Some(cmd.run.clone()),
        exit_status: out.exit_status,
        duration_seconds: out.duration.as_millis() as f64 / 1000.0,
        bytes: out.digest.raw_size,
    };
    Ok(Part::Command(file, entry))
}

fn entry(name: String, sent: u64, digest: &StreamDigest) -> Result<FileEntry, JobError> {
    if sent != digest.size {
        return Err(JobError::Local(format!(
            "sent {sent} bytes of {name} but produced {}",
            digest.size
        )));
    }
    Ok(FileEntry {
        name,
        size: digest.size,
        sha256: digest.sha256.clone(),
        raw_size: digest.raw_size,
    })
}
