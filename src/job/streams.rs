//! Every stream of a snapshot at once: `files.tar.zst` from the sources and one `<name>.zst`
//! per command, each with its own producer and its own upload, all running concurrently (a
//! dump does not wait for the file walk, and two dumps may even depend on each other through a
//! pipe). The first stream to fail stops the others: a dropped stream kills its command.
//!
//! Each stream is produced once and written to every destination of the run (fanout.rs). A
//! destination whose upload fails leaves the run (its error is kept in [`Failures`]) and the
//! others go on; only when none is left does the stream fail.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::JobError;
use super::fanout::{self, Dropped};
use crate::config::{CommandConfig, JobConfig, VerifyMode};
use crate::layout::manifest::{CommandEntry, FileEntry, Stats};
use crate::layout::{self};
use crate::remote::Remote;
use crate::repository::Pending;
use crate::snapshot::{self, Progress, StreamDigest, workers};

/// What all streams produced, in config order: sources first, then commands.
#[derive(Debug, Default, Clone)]
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

/// Where a run's streams go: one remote and pending snapshot per destination, in order.
#[derive(Clone, Copy)]
pub struct Sink<'a> {
    pub remote: &'a dyn Remote,
    pub pending: &'a Pending,
    /// How this destination verifies: with a hash on the server, it may start early.
    pub verify: VerifyMode,
}

/// The first error of each destination that left the run, by its index among the sinks.
#[derive(Debug, Default)]
pub struct Failures(Mutex<Vec<Option<JobError>>>);

impl Failures {
    pub fn new(destinations: usize) -> Failures {
        Failures(Mutex::new((0..destinations).map(|_| None).collect()))
    }

    pub fn record(&self, which: usize, e: JobError) {
        if let Ok(mut all) = self.0.lock()
            && let Some(slot @ None) = all.get_mut(which)
        {
            *slot = Some(e);
        }
    }

    pub fn take(self) -> Vec<Option<JobError>> {
        self.0.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}

/// The streams of one run and the destinations still in it.
struct Out<'a> {
    sinks: &'a [Sink<'a>],
    dropped: Arc<Dropped>,
    failures: &'a Failures,
    /// Chunks each destination may lag per stream: the streams share [`fanout::DEPTH`].
    lag: usize,
}

type PartFuture<'a> = Pin<Box<dyn Future<Output = Result<Part, JobError>> + Send + 'a>>;

/// Fails before anything is uploaded when a command's `user` cannot be used.
pub fn check_commands(job: &JobConfig) -> Result<(), JobError> {
    for c in &job.commands {
        snapshot::command::check_user(c).map_err(|e| JobError::Command(e.to_string()))?;
    }
    Ok(())
}

/// The sources' producer, started while the destinations connect: the walk and zstd fill the
/// stream's bounded channel (its share of [`snapshot::CHANNEL_DEPTH`]) instead of waiting for SSH
/// (about 70 ms on a LAN, a twentieth of a 20,000-file run). Commands start only once a
/// destination is ready: a dump is not begun for a run that cannot store it. Dropped unsent
/// (no destination opened), it stops its producer: the closed channel fails its next write.
pub struct Early {
    rx: mpsc::Receiver<Vec<u8>>,
    producer: std::thread::JoinHandle<std::io::Result<snapshot::SourcesOutcome>>,
}

impl Early {
    pub fn start(job: &JobConfig, progress: &Arc<Progress>) -> Option<Early> {
        if job.sources.is_empty() {
            return None;
        }
        let (rx, producer) = snapshot::spawn_sources(job, progress.clone());
        Some(Early { rx, producer })
    }
}

/// Every stream to every sink, the sources from `early`. `Err` is a failure of the run itself
/// (a source or a command), or [`JobError::NoneLeft`] when every destination failed (their
/// errors are in `failures`).
pub async fn stream_all(
    job: &JobConfig,
    early: Option<Early>,
    sinks: &[Sink<'_>],
    failures: &Failures,
    progress: &Arc<Progress>,
) -> Result<Streamed, JobError> {
    let out = Out {
        sinks,
        dropped: Dropped::new(sinks.len()),
        failures,
        lag: workers::queue(fanout::DEPTH, workers::streams(job)),
    };
    let out = &out;
    let mut streams: Vec<PartFuture<'_>> = Vec::new();
    if let Some(early) = early {
        streams.push(Box::pin(sources(job, early, out)));
    }
    let first = workers::first_command(job);
    for (i, c) in job.commands.iter().enumerate() {
        let progress = progress.clone();
        streams.push(Box::pin(command(job, first + i, c, out, progress)));
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

impl Out<'_> {
    /// Writes the stream `rx` as `name` to every destination still in the run, and returns
    /// how many bytes reached the destinations that took all of it.
    async fn upload(&self, name: &str, rx: mpsc::Receiver<Vec<u8>>) -> Vec<Option<u64>> {
        let rxs = fanout::split(rx, &self.dropped, self.lag);
        let ups = self
            .sinks
            .iter()
            .zip(rxs)
            .enumerate()
            .map(|(i, (s, rx))| async move {
                if self.dropped.is_out(i) {
                    return None;
                }
                let path = s.pending.file(name);
                if matches!(s.verify, VerifyMode::Auto | VerifyMode::RemoteHash) {
                    s.remote.hash_when_written(&path);
                }
                match s.remote.create(&path, rx).await {
                    Ok(n) => Some(n),
                    Err(e) => {
                        self.dropped.drop_out(i);
                        self.failures.record(i, e.into());
                        None
                    }
                }
            });
        futures::future::join_all(ups).await
    }

    /// After a stream: each destination got all of it, or leaves the run.
    fn settle(
        &self,
        name: &str,
        sent: &[Option<u64>],
        digest: &StreamDigest,
    ) -> Result<FileEntry, JobError> {
        for (i, n) in sent.iter().enumerate() {
            if let Some(n) = n
                && let Err(e) = entry(name.to_string(), *n, digest)
            {
                self.dropped.drop_out(i);
                self.failures.record(i, e);
            }
        }
        entry(name.to_string(), digest.size, digest)
    }

    fn none_left(&self) -> bool {
        (0..self.sinks.len()).all(|i| self.dropped.is_out(i))
    }
}

async fn sources(job: &JobConfig, early: Early, out: &Out<'_>) -> Result<Part, JobError> {
    let Early { rx, producer } = early;
    let name = layout::sources_file(job.encryption.is_on());
    let sent = out.upload(&name, rx).await;
    let produced = tokio::task::spawn_blocking(move || producer.join())
        .await
        .map_err(|e| JobError::Local(format!("source reader: {e}")))?
        .map_err(|_| JobError::Local("the source reader panicked".into()))?;
    if out.none_left() {
        return Err(JobError::NoneLeft);
    }
    let made = produced.map_err(|e| JobError::Local(format!("reading the sources failed: {e}")))?;
    let file = out.settle(&name, &sent, &made.digest)?;
    Ok(Part::Sources(file, made.stats, made.warnings, made.skipped))
}

/// `cmd`, the job's stream number `stream` (the sources, when it has any, are number 0).
async fn command(
    job: &JobConfig,
    stream: usize,
    cmd: &CommandConfig,
    out: &Out<'_>,
    progress: Arc<Progress>,
) -> Result<Part, JobError> {
    let snapshot::CommandStream { rx, handle, guard } =
        snapshot::spawn_command(cmd, &snapshot::Encoding::of(job, stream), progress.clone())
            .map_err(|e| JobError::Command(e.to_string()))?;
    let name = layout::command_file(&cmd.name, job.encryption.is_on());
    let sent = out.upload(&name, rx).await;
    if out.none_left() {
        // A command that is not writing would never notice that the upload stopped.
        guard.0.abort();
    }
    let produced = tokio::task::spawn_blocking(move || handle.join())
        .await
        .map_err(|e| JobError::Local(format!("command {}: {e}", cmd.name)))?
        .map_err(|_| JobError::Local(format!("the producer of {name} panicked")))?;
    drop(guard);
    if out.none_left() {
        return Err(JobError::NoneLeft);
    }
    let made = produced.map_err(|e| JobError::Command(e.to_string()))?;
    let file = out.settle(&name, &sent, &made.digest)?;
    let entry = CommandEntry {
        name: cmd.name.clone(),
        run: Some(cmd.run.clone()),
        exit_status: made.exit_status,
        duration_seconds: made.duration.as_millis() as f64 / 1000.0,
        bytes: made.digest.raw_size,
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
