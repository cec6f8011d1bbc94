//! The end of every producer pipeline: hashes the compressed bytes as they are produced and
//! hands them to the uploader in fixed-size chunks over a bounded channel. The channel's bound
//! is what keeps memory flat whatever the size of the data.

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::Progress;
use super::seal::Stage;
use super::workers;
use crate::config::JobConfig;
use crate::encryption::Recipient;

/// Chunks handed to the uploader are at least this large (DESIGN.md: 1 MiB or more).
pub const CHUNK_SIZE: usize = 1024 * 1024;

/// How many chunks may wait between producer and uploader, shared by a run's streams.
pub const CHANNEL_DEPTH: usize = 8;

/// What a finished stream turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamDigest {
    pub sha256: String,
    /// Bytes stored (after compression).
    pub size: u64,
    /// Bytes before compression.
    pub raw_size: u64,
}

pub struct ChunkSink {
    tx: mpsc::Sender<Vec<u8>>,
    buf: Vec<u8>,
    hasher: Sha256,
    size: u64,
    progress: Arc<Progress>,
}

impl ChunkSink {
    /// `produced` counts compressed bytes for the progress display.
    pub fn new(tx: mpsc::Sender<Vec<u8>>, progress: Arc<Progress>) -> Self {
        ChunkSink {
            tx,
            buf: Vec::with_capacity(CHUNK_SIZE),
            hasher: Sha256::new(),
            size: 0,
            progress,
        }
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK_SIZE));
        self.tx.blocking_send(full).map_err(|_| {
            // The uploader hung up: it failed, and its error is the one to report.
            io::Error::new(io::ErrorKind::BrokenPipe, "upload stopped")
        })
    }

    /// Sends what is buffered and returns the digest and size of everything written.
    pub fn finish(mut self, raw_size: u64) -> io::Result<StreamDigest> {
        self.send()?;
        Ok(StreamDigest {
            sha256: hex::encode(self.hasher.finalize()),
            size: self.size,
            raw_size,
        })
    }
}

impl Write for ChunkSink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = CHUNK_SIZE - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        self.hasher.update(&data[..n]);
        self.size += n as u64;
        self.progress
            .produced
            .fetch_add(n as u64, Ordering::Relaxed);
        if self.buf.len() == CHUNK_SIZE {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Chunks leave only when full or at finish: flushing small pieces would defeat the
        // large-write pipeline downstream.
        Ok(())
    }
}

/// Counts the raw bytes going into the compressor.
pub struct Counting<W> {
    pub inner: W,
    pub count: u64,
    progress: Arc<Progress>,
}

impl<W: Write> Counting<W> {
    pub fn new(inner: W, progress: Arc<Progress>) -> Self {
        Counting {
            inner,
            count: 0,
            progress,
        }
    }
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(data)?;
        self.count += n as u64;
        self.progress.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// How a stream is stored: compressed, then encrypted when there are recipients.
#[derive(Debug, Clone)]
pub struct Encoding {
    pub level: i32,
    /// zstd workers (workers.rs); 0 = on the producer's own thread.
    pub workers: u32,
    /// Chunks that may wait for the upload: the stream's share of [`CHANNEL_DEPTH`].
    pub queue: usize,
    pub recipients: Arc<Vec<Recipient>>,
}

impl Encoding {
    /// The encoding of the job's stream number `stream`, in config order: the sources first
    /// when the job has any, then its commands.
    pub fn of(job: &JobConfig, stream: usize) -> Encoding {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let budget = workers::budget(
            job.compression.threads,
            u32::try_from(cores).unwrap_or(u32::MAX),
        );
        let streams = workers::streams(job);
        Encoding {
            level: job.compression.level,
            workers: workers::share(budget, streams, stream),
            queue: workers::queue(CHANNEL_DEPTH, streams),
            recipients: job.encryption.recipients.clone(),
        }
    }

    pub fn encrypted(&self) -> bool {
        !self.recipients.is_empty()
    }
}

/// The head of a producer pipeline: zstd, then age when encrypting (on its own thread), into
/// the hashing sink.
pub type Encoder = zstd::Encoder<'static, Stage>;

/// A zstd encoder at the stream's level and workers feeding the sink through the encryption
/// stage.
pub fn encoder(sink: ChunkSink, encoding: &Encoding) -> io::Result<Encoder> {
    let mut enc = zstd::Encoder::new(Stage::new(sink, &encoding.recipients)?, encoding.level)?;
    if encoding.level <= UNSPLIT_LEVELS {
        enc.set_parameter(zstd::stream::raw::CParameter::MaxBlockSize(UNSPLIT_BLOCK))?;
    }
    if encoding.workers > 0 {
        enc.multithread(encoding.workers)?;
        if encoding.level <= SMALL_JOB_LEVELS {
            enc.set_parameter(zstd::stream::raw::CParameter::JobSize(job_size(
                encoding.workers,
            )))?;
        }
    }
    Ok(enc)
}

/// Input per multi-threaded zstd job. zstd's own choice is four windows, 8 MiB at level 3,
/// and it holds (workers + 3) jobs of input plus the output of up to (workers + 2) jobs that
/// the stream has not taken yet; an output buffer, once made, stays in zstd's pool. With 2
/// workers that was 40 + 34 MiB, reached by a run long enough to hit the worst moment, so peak
/// RSS rose with the length of a run (a 4th output buffer at 200k files, not at 20k). One
/// window per job bounds it at 10 + 8.4 MiB, for 0.3% more output on the bench tree and no
/// more CPU.
const JOB_SIZE: u32 = 2 << 20;

/// A stream with one worker takes half-size jobs: it holds about 4 jobs of input and 3 of
/// output whatever their size, the part that multiplies when a run has several streams, and
/// one worker has no peer to wait for (1 MiB jobs cost it nothing here; with 2 workers they
/// took 20% more wall time).
fn job_size(workers: u32) -> u32 {
    if workers == 1 { JOB_SIZE / 2 } else { JOB_SIZE }
}

/// The levels whose window is at most [`JOB_SIZE`] (zstd's clevels.h). Above them every job
/// starts by loading an overlap of up to a whole window, so smaller jobs would cost CPU there.
const SMALL_JOB_LEVELS: i32 = 8;

/// The fast levels (zstd's `fast` and `dfast` strategies), where zstd 1.5.7's block
/// pre-splitter is not worth its cost. It cuts each 128 KiB block where the data's statistics
/// change: on the benchmark machine (a `local` remote, 4 runs each) that took 7% of the client's
/// CPU at level 3, on the 1 GiB dump (2.80 s of user time without it, 3.02 s with it, wall
/// 1.73 s and 1.85 s) and on the 20,000-file tree (1.41 s and 1.52 s), for output as large on
/// the dump and 1.3% smaller on the tree. A backup over a fast link is CPU-bound, and these
/// are the levels chosen for speed; zstd 1.5.6 and before (Debian 12's zstd CLI) never split.
const UNSPLIT_LEVELS: i32 = 4;

/// Blocks one byte short of zstd's 128 KiB: zstd splits only full-size blocks
/// (`ZSTD_optimalBlockSize`), and zstd-safe does not wrap `ZSTD_c_blockSplitterLevel`, the
/// parameter that says "no splitting" in so many words. The byte costs nothing measurable.
const UNSPLIT_BLOCK: u32 = (128 << 10) - 1;

/// Ends the zstd frame and the age stream, and hands on the last chunk.
pub fn finish(enc: Encoder, raw_size: u64) -> io::Result<StreamDigest> {
    enc.finish()?.finish()?.finish(raw_size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_full_size_and_hash_matches() {
        let (tx, mut rx) = mpsc::channel(64);
        let progress = Arc::new(Progress::default());
        let mut sink = ChunkSink::new(tx, progress.clone());
        let data: Vec<u8> = (0..(CHUNK_SIZE * 2 + 17))
            .map(|i| (i % 251) as u8)
            .collect();
        for piece in data.chunks(1000) {
            sink.write_all(piece).unwrap();
        }
        let d = sink.finish(0).unwrap();
        let mut got = Vec::new();
        let mut sizes = Vec::new();
        while let Ok(c) = rx.try_recv() {
            sizes.push(c.len());
            got.extend(c);
        }
        assert_eq!(sizes, vec![CHUNK_SIZE, CHUNK_SIZE, 17]);
        assert_eq!(got, data);
        assert_eq!(d.sha256, hex::encode(Sha256::digest(&data)));
        assert_eq!(d.size, data.len() as u64);
        assert_eq!(progress.produced.load(Ordering::Relaxed), data.len() as u64);
    }

    #[test]
    fn a_multithreaded_stream_of_many_jobs_decodes_whole() {
        let (tx, mut rx) = mpsc::channel(64);
        let sink = ChunkSink::new(tx, Arc::new(Progress::default()));
        let encoding = Encoding {
            level: 3,
            workers: 2,
            queue: CHANNEL_DEPTH,
            recipients: Arc::new(Vec::new()),
        };
        let mut enc = encoder(sink, &encoding).unwrap();
        // Several jobs' worth, compressible but not a repeated block.
        let data: Vec<u8> = (0..(JOB_SIZE as usize * 3 + 12345))
            .map(|i| ((i / 7) % 251) as u8 ^ ((i >> 16) as u8))
            .collect();
        enc.write_all(&data).unwrap();
        finish(enc, data.len() as u64).unwrap();
        let mut stored = Vec::new();
        while let Ok(c) = rx.try_recv() {
            stored.extend(c);
        }
        assert_eq!(zstd::decode_all(&stored[..]).unwrap(), data);
    }

    #[test]
    fn a_closed_uploader_stops_the_producer() {
        let (tx, rx) = mpsc::channel(1);
        drop(rx);
        let mut sink = ChunkSink::new(tx, Arc::new(Progress::default()));
        let err = sink.write_all(&vec![0u8; CHUNK_SIZE]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    }
}
