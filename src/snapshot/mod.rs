//! The snapshot producers: synchronous code on their own threads (walkdir, tar, zstd, sha2)
//! that turn sources into compressed, hashed chunks for the uploader. One stream per producer:
//! the sources as `files.tar.zst`, and each command's output as `<name>.zst`.

mod archive;
pub mod child;
pub mod command;
mod names;
mod pax;
mod reader;
mod run_as;
mod seal;
pub mod sink;
mod sparse;
mod tail;
pub mod workers;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::thread::JoinHandle;

use tokio::sync::mpsc;

use crate::config::JobConfig;
use crate::layout::manifest::Stats;
pub use archive::archive_name;
pub use command::{CommandError, CommandOutcome, CommandStream, spawn_command};
pub use sink::{CHANNEL_DEPTH, Encoding, StreamDigest};

/// Counters shared with the progress display and the summary.
#[derive(Debug, Default)]
pub struct Progress {
    /// Bytes read from sources (before compression).
    pub read: AtomicU64,
    /// Compressed bytes produced.
    pub produced: AtomicU64,
}

/// The sources stream, finished.
#[derive(Debug)]
pub struct SourcesOutcome {
    pub digest: StreamDigest,
    pub stats: Stats,
    pub warnings: Vec<String>,
    /// Optional sources that did not exist.
    pub skipped: Vec<String>,
}

/// Starts the producer of `files.tar.zst` for `job`. Its chunks arrive on the returned
/// receiver; dropping the receiver stops the producer with a broken-pipe error.
pub fn spawn_sources(
    job: &JobConfig,
    progress: Arc<Progress>,
) -> (
    mpsc::Receiver<Vec<u8>>,
    JoinHandle<std::io::Result<SourcesOutcome>>,
) {
    let encoding = sink::Encoding::of(job, 0);
    let (tx, rx) = mpsc::channel(encoding.queue);
    let sources = job.sources.clone();
    let exclude = job.exclude.clone();
    let keep = pax::Keep {
        xattrs: job.xattrs,
        acls: job.acls,
        one_file_system: job.one_file_system,
    };
    let handle = std::thread::Builder::new()
        .name(format!("{}-sources", job.name))
        .spawn(move || {
            let sink = sink::ChunkSink::new(tx, progress.clone());
            let enc = sink::encoder(sink, &encoding)?;
            let counting = sink::Counting::new(enc, progress);
            let mut archiver = archive::Archiver::new(counting, exclude, keep);
            for s in &sources {
                archiver.add_source(s)?;
            }
            let skipped = std::mem::take(&mut archiver.skipped);
            let (counting, stats, warnings) = archiver.finish()?;
            let raw = counting.count;
            let digest = sink::finish(counting.inner, raw)?;
            Ok(SourcesOutcome {
                digest,
                stats,
                warnings,
                skipped,
            })
        });
    let handle = match handle {
        Ok(h) => h,
        Err(e) => std::thread::spawn(move || Err(e)),
    };
    (rx, handle)
}
