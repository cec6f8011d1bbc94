//! Downloading one stored file as a stream: the pipelined SFTP reads feed a bounded channel, and
//! a blocking thread reads it through [`HashingReader`] (for zstd and tar, which are
//! synchronous). Every byte is hashed as it arrives, including bytes the consumer did not need,
//! so the result always says whether the whole file matched its checksum.

use std::io::{self, Read};

use indicatif::ProgressBar;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::RestoreError;
use crate::remote::Remote;

/// Chunks in flight between the network and the consumer; with 255 KiB reads this bounds the
/// memory of a restore to a few MiB whatever the archive's size.
const DEPTH: usize = 16;

/// A stored file's bytes, hashed on the way to its consumer.
pub struct HashingReader {
    rx: mpsc::Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    pos: usize,
    hasher: Sha256,
    bytes: u64,
    bar: Option<ProgressBar>,
}

impl HashingReader {
    fn next_chunk(&mut self) -> bool {
        match self.rx.blocking_recv() {
            Some(c) => {
                self.hasher.update(&c);
                self.bytes += c.len() as u64;
                if let Some(b) = &self.bar {
                    b.inc(c.len() as u64);
                }
                self.chunk = c;
                self.pos = 0;
                true
            }
            None => false,
        }
    }

    /// Reads (and hashes) whatever the consumer left unread.
    fn drain(&mut self) {
        while self.next_chunk() {}
    }
}

impl Read for HashingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.chunk.len() {
            if !self.next_chunk() {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// What came of one streamed file.
pub struct Fetched<T> {
    /// Hex SHA-256 of every byte received.
    pub sha256: String,
    pub bytes: u64,
    /// The server had more bytes than the manifest records (they were not read).
    pub over_limit: bool,
    /// The consumer's own result.
    pub result: io::Result<T>,
}

/// Streams `path` (at most `limit` bytes, what the manifest records) to `consume`, which runs
/// on a blocking thread. When the consumer fails with
/// a broken pipe (`backup cat | head`), the download stops at once; otherwise the rest of the
/// file is still read and hashed, so a corrupt archive is reported as such.
pub async fn fetch<T, F>(
    remote: &dyn Remote,
    path: &str,
    limit: u64,
    bar: Option<ProgressBar>,
    consume: F,
) -> Result<Fetched<T>, RestoreError>
where
    T: Send + 'static,
    F: FnOnce(&mut HashingReader) -> io::Result<T> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(DEPTH);
    let worker = tokio::task::spawn_blocking(move || {
        let mut reader = HashingReader {
            rx,
            chunk: Vec::new(),
            pos: 0,
            hasher: Sha256::new(),
            bytes: 0,
            bar,
        };
        let result = consume(&mut reader);
        // A reader that went away, or an identity that cannot open the file: reading the
        // rest would prove nothing the caller can use.
        let stop = matches!(&result, Err(e) if e.kind() == io::ErrorKind::BrokenPipe
            || crate::encryption::is_wrong_identity(e));
        if !stop {
            reader.drain();
        }
        Fetched {
            sha256: hex::encode(reader.hasher.finalize()),
            bytes: reader.bytes,
            over_limit: false,
            result,
        }
    });
    let downloaded = remote.read(path, limit, tx).await;
    let mut fetched = worker
        .await
        .map_err(|e| RestoreError::Failed(format!("the unpacking thread failed: {e}")))?;
    fetched.over_limit = downloaded?.over_limit;
    Ok(fetched)
}
