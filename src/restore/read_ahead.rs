//! Decompression on its own thread, ahead of the unpacking. One thread doing both (hashing and
//! zstd, then tar and the file writes) kept a restore on one core while `ssh cat | zstd -dc |
//! tar -x` uses three processes; here the reading side (download hash, decryption, zstd) fills
//! blocks that the unpacker takes, at most [`DEPTH`] blocks ahead, so memory stays bounded.
//! The blocks are handed back for reuse: a fresh 256 KiB buffer per block would be an mmap,
//! page faults and an munmap each time.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// Bytes per block handed from the reading thread to the unpacker.
const BLOCK: usize = 256 * 1024;
/// Blocks in flight: at most 2 MiB read ahead.
const DEPTH: usize = 8;

type Block = io::Result<(Vec<u8>, usize)>;

/// The bytes of a reader that another thread reads ahead; see [`with_read_ahead`].
pub struct ReadAhead {
    full: Receiver<Block>,
    empty: SyncSender<Vec<u8>>,
    block: Vec<u8>,
    len: usize,
    pos: usize,
    done: bool,
}

/// Runs `consume` with a reader of `src`'s bytes, read ahead on a thread of its own. The
/// reader must not outlive `consume` (the reading thread is joined when it returns, and it
/// ends when the reader is dropped); a read error of `src` reaches the reader as it was.
pub fn with_read_ahead<R: Read + Send, T>(src: R, consume: impl FnOnce(ReadAhead) -> T) -> T {
    std::thread::scope(|s| {
        let (full_tx, full) = sync_channel(DEPTH);
        let (empty, empty_rx) = sync_channel(DEPTH + 2);
        s.spawn(move || fill(src, &full_tx, &empty_rx));
        consume(ReadAhead {
            full,
            empty,
            block: Vec::new(),
            len: 0,
            pos: 0,
            done: false,
        })
    })
}

/// Reads `src` into full blocks until its end, an error, or the reader going away.
fn fill(mut src: impl Read, full: &SyncSender<Block>, empty: &Receiver<Vec<u8>>) {
    loop {
        let mut buf = empty.try_recv().unwrap_or_else(|_| vec![0; BLOCK]);
        let mut n = 0;
        let mut failed = None;
        while n < BLOCK {
            match src.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        let end = n < BLOCK;
        if n > 0 && full.send(Ok((buf, n))).is_err() {
            return;
        }
        if let Some(e) = failed {
            let _ = full.send(Err(e));
            return;
        }
        if end {
            return;
        }
    }
}

impl Read for ReadAhead {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.len {
            if self.done {
                return Ok(0);
            }
            if !self.block.is_empty() {
                // Full or gone: either way the reading thread makes a new one.
                let _ = self.empty.try_send(std::mem::take(&mut self.block));
            }
            match self.full.recv() {
                Ok(Ok((block, len))) => (self.block, self.len, self.pos) = (block, len, 0),
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => self.done = true,
            }
        }
        let n = out.len().min(self.len - self.pos);
        out[..n].copy_from_slice(&self.block[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gives its bytes in odd-sized pieces, then fails once if asked to.
    struct Source {
        data: Vec<u8>,
        at: usize,
        fail: bool,
    }

    impl Read for Source {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.at == self.data.len() {
                return match std::mem::take(&mut self.fail) {
                    true => Err(io::Error::new(io::ErrorKind::InvalidData, "corrupt frame")),
                    false => Ok(0),
                };
            }
            let n = buf.len().min(7919).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn every_byte_arrives_in_order() {
        for len in [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, BLOCK * (DEPTH + 3) + 5] {
            let d = data(len);
            let src = Source {
                data: d.clone(),
                at: 0,
                fail: false,
            };
            let got = with_read_ahead(src, |mut r| {
                let mut v = Vec::new();
                r.read_to_end(&mut v).map(|_| v)
            });
            assert_eq!(got.unwrap(), d, "len {len}");
        }
    }

    #[test]
    fn a_read_error_arrives_after_the_bytes_before_it() {
        let d = data(BLOCK + 100);
        let src = Source {
            data: d.clone(),
            at: 0,
            fail: true,
        };
        let (got, err) = with_read_ahead(src, |mut r| {
            let mut v = Vec::new();
            let err = r.read_to_end(&mut v).unwrap_err();
            (v, err)
        });
        assert_eq!(got, d);
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(err.to_string(), "corrupt frame");
    }

    #[test]
    fn a_reader_that_stops_early_ends_the_thread() {
        let src = Source {
            data: data(BLOCK * (DEPTH + 10)),
            at: 0,
            fail: false,
        };
        // Returns (the scope joins the reading thread) although most bytes were never read.
        let first = with_read_ahead(src, |mut r| {
            let mut b = [0u8; 10];
            r.read_exact(&mut b).map(|()| b)
        });
        assert_eq!(first.unwrap().to_vec(), data(10));
    }
}
