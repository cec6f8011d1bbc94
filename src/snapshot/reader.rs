//! Reading a file that may change under us. tar writes the size in the header before the
//! data, so the data must be exactly that long: a file that shrank is padded with zeros, one
//! that grew is cut at the recorded size, and both are reported, as GNU tar does.

use std::io::{self, Read};

pub struct ExactReader<R> {
    inner: R,
    want: u64,
    done: u64,
    /// Set once the file ran out before `want`: the rest is zeros.
    short_at: Option<u64>,
    read_error: Option<io::Error>,
}

impl<R: Read> ExactReader<R> {
    pub fn new(inner: R, want: u64) -> Self {
        ExactReader {
            inner,
            want,
            done: 0,
            short_at: None,
            read_error: None,
        }
    }

    /// After the data has been consumed: what happened to the file while it was read.
    pub fn finish(mut self) -> Change {
        if let Some(e) = self.read_error {
            return Change::ReadError(e, self.short_at.unwrap_or(self.done));
        }
        if let Some(at) = self.short_at {
            return Change::Shrank(at);
        }
        let mut probe = [0u8; 1];
        match self.inner.read(&mut probe) {
            Ok(0) | Err(_) => Change::None,
            Ok(_) => Change::Grew,
        }
    }
}

#[derive(Debug)]
pub enum Change {
    None,
    /// The file ended at this offset; zeros fill the rest.
    Shrank(u64),
    Grew,
    /// A read failed at this offset (e.g. EIO); zeros fill the rest.
    ReadError(io::Error, u64),
}

impl<R: Read> Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.want - self.done;
        if left == 0 {
            return Ok(0);
        }
        let cap = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        while self.short_at.is_none() {
            match self.inner.read(&mut buf[..cap]) {
                Ok(0) => self.short_at = Some(self.done),
                Ok(n) => {
                    self.done += n as u64;
                    return Ok(n);
                }
                // A signal is no end of file: `Ok(0)` here would end the tar entry early.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.short_at = Some(self.done);
                    self.read_error = Some(e);
                }
            }
        }
        buf[..cap].fill(0);
        self.done += cap as u64;
        Ok(cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(data: &[u8], want: u64) -> (Vec<u8>, Change) {
        let mut r = ExactReader::new(data, want);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        (out, r.finish())
    }

    #[test]
    fn exact_file_is_unchanged() {
        let (out, c) = read_all(b"hello", 5);
        assert_eq!(out, b"hello");
        assert!(matches!(c, Change::None));
    }

    #[test]
    fn shrunk_file_is_padded() {
        let (out, c) = read_all(b"hel", 5);
        assert_eq!(out, b"hel\0\0");
        assert!(matches!(c, Change::Shrank(3)));
    }

    /// Fails with EINTR every other call, as a read interrupted by a signal does.
    struct Interrupting<'a>(&'a [u8], bool);

    impl Read for Interrupting<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.1 = !self.1;
            if self.1 {
                return Err(io::Error::from(io::ErrorKind::Interrupted));
            }
            let n = buf.len().min(self.0.len()).min(2);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn an_interrupted_read_is_retried_not_taken_for_the_end() {
        let mut r = ExactReader::new(Interrupting(b"hello world", false), 11);
        let mut out = Vec::new();
        // read_to_end itself retries EINTR, so call read directly, as tar's copy does.
        let mut buf = [0u8; 64];
        loop {
            match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(out, b"hello world");
        assert!(matches!(r.finish(), Change::None | Change::Grew));
    }

    #[test]
    fn grown_file_is_cut() {
        let (out, c) = read_all(b"hello world", 5);
        assert_eq!(out, b"hello");
        assert!(matches!(c, Change::Grew));
    }
}
