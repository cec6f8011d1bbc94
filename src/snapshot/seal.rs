//! The age stage on a thread of its own. zstd hands its output to the thread that feeds it
//! (for the sources, the file walk), so encrypting there would put every encrypted byte on the
//! walk's critical path; on a tree of small files that walk is the slowest stage
//! (shared/bench/baseline.sh, tree: 1.25x the reference encrypted in line, against 1.02x in
//! clear). Here the compressed bytes go in 1 MiB pieces over a bounded channel to a thread that
//! encrypts them into the hashing sink.

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use super::sink::ChunkSink;
use crate::encryption::{Recipient, Sealed};

/// Pieces handed to the sealing thread.
const PIECE: usize = 1024 * 1024;
/// Pieces that may wait for it: a few MiB per stream at most.
const DEPTH: usize = 4;

/// Where zstd's output goes: straight into the sink, or to the sealing thread.
pub enum Stage {
    Clear(ChunkSink),
    Sealing(Sealing),
}

impl Stage {
    pub fn new(sink: ChunkSink, recipients: &Arc<Vec<Recipient>>) -> io::Result<Stage> {
        if recipients.is_empty() {
            return Ok(Stage::Clear(sink));
        }
        Sealing::start(sink, recipients).map(Stage::Sealing)
    }

    /// Everything written is in the sink (sealed, with age's last chunk), which is returned.
    pub fn finish(self) -> io::Result<ChunkSink> {
        match self {
            Stage::Clear(sink) => Ok(sink),
            Stage::Sealing(s) => s.finish(),
        }
    }
}

impl Write for Stage {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            Stage::Clear(sink) => sink.write(data),
            Stage::Sealing(s) => s.write(data),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stage::Clear(sink) => sink.flush(),
            Stage::Sealing(_) => Ok(()),
        }
    }
}

enum Piece {
    Data(Vec<u8>),
    /// The stream is complete: write age's last chunk. A stream whose producer failed never
    /// sends it, so what reaches the server then is never a well-formed age file.
    End,
}

pub struct Sealing {
    tx: SyncSender<Piece>,
    buf: Vec<u8>,
    worker: JoinHandle<io::Result<ChunkSink>>,
}

impl Sealing {
    fn start(sink: ChunkSink, recipients: &[Recipient]) -> io::Result<Sealing> {
        // Made here, so that a recipient age refuses is an error of this call.
        let sealed = Sealed::new(sink, recipients)?;
        let (tx, rx) = sync_channel(DEPTH);
        let worker = std::thread::Builder::new()
            .name("seal".into())
            .spawn(move || seal(sealed, rx))?;
        Ok(Sealing {
            tx,
            buf: Vec::with_capacity(PIECE),
            worker,
        })
    }

    fn send(&mut self, piece: Piece) -> io::Result<()> {
        self.tx.send(piece).map_err(|_| {
            // The sealing thread stopped: the uploader hung up, and its error is the one to
            // report.
            io::Error::new(io::ErrorKind::BrokenPipe, "encryption stopped")
        })
    }

    fn send_buffer(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.buf, Vec::with_capacity(PIECE));
        self.send(Piece::Data(full))
    }

    fn finish(mut self) -> io::Result<ChunkSink> {
        self.send_buffer()?;
        self.send(Piece::End)?;
        let Sealing { tx, worker, .. } = self;
        drop(tx);
        worker
            .join()
            .map_err(|_| io::Error::other("the encrypting thread panicked"))?
    }
}

impl Write for Sealing {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(PIECE - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == PIECE {
            self.send_buffer()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn seal(mut sealed: Sealed<ChunkSink>, rx: Receiver<Piece>) -> io::Result<ChunkSink> {
    for piece in rx {
        match piece {
            Piece::Data(d) => sealed.write_all(&d)?,
            Piece::End => return sealed.finish(),
        }
    }
    Err(io::Error::other("the stream ended before it was complete"))
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::encryption::{IdentitySource, decrypt, generate};
    use crate::snapshot::Progress;

    /// Writes 3 MiB through a sealing stage, finished or dropped; returns what reached the
    /// sink and the identity that opens it.
    fn sealed(finish: bool) -> (Vec<u8>, crate::encryption::Identities) {
        let dir = tempfile::tempdir().unwrap();
        let (text, recipient) = generate(chrono::Utc::now());
        let key = dir.path().join("key.txt");
        std::fs::write(&key, text).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let ids = IdentitySource {
            path: key,
            passphrase_file: None,
        }
        .load()
        .unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let sink = ChunkSink::new(tx, Arc::new(Progress::default()));
        let mut stage = Stage::new(sink, &Arc::new(vec![recipient])).unwrap();
        stage.write_all(&vec![7u8; 3 << 20]).unwrap();
        if finish {
            stage.finish().unwrap().finish(0).unwrap();
        } else {
            drop(stage);
        }
        let mut out = Vec::new();
        while let Ok(c) = rx.try_recv() {
            out.extend(c);
        }
        (out, ids)
    }

    #[test]
    fn a_finished_stream_opens_and_a_dropped_one_never_does() {
        let (whole, ids) = sealed(true);
        let mut plain = Vec::new();
        decrypt(&whole[..], &ids)
            .unwrap()
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, vec![7u8; 3 << 20]);
        let (cut, ids) = sealed(false);
        let opened = decrypt(&cut[..], &ids).and_then(|mut r| r.read_to_end(&mut Vec::new()));
        assert!(
            opened.is_err(),
            "a stream whose producer failed must not decrypt"
        );
    }
}
