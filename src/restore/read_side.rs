//! Reading an archive entry's data while it is written out: a read error (a corrupt archive,
//! a failed download) ends the restore, a write error fails only that entry, and after an
//! `io::copy` the two look alike unless the reading side remembers its own.

use std::io::{self, Read};

/// The archive side of a copy: remembers a read error, so that it is told apart from a write
/// error (which fails one entry) after the copy.
pub(super) struct ReadSide<'a, R> {
    inner: &'a mut R,
    pub(super) error: Option<io::Error>,
}

impl<'a, R: Read> ReadSide<'a, R> {
    pub(super) fn new(inner: &'a mut R) -> Self {
        ReadSide { inner, error: None }
    }
}

impl<R: Read> Read for ReadSide<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.inner.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let shown = io::Error::new(e.kind(), e.to_string());
                    self.error = Some(e);
                    return Err(shown);
                }
                ok => return ok,
            }
        }
    }
}

/// Bytes per write of a file's data.
const WRITE_BLOCK: usize = 256 * 1024;

/// `io::copy` with `buf` (grown to [`WRITE_BLOCK`] once) in place of its 8 KiB stack buffer:
/// that would be 131,072 writes for a 1 GiB dump. Returns the bytes copied.
pub(super) fn copy(
    data: &mut impl Read,
    out: &mut impl io::Write,
    buf: &mut Vec<u8>,
) -> io::Result<u64> {
    buf.resize(WRITE_BLOCK, 0);
    let mut copied = 0u64;
    loop {
        let n = match data.read(buf) {
            Ok(0) => return Ok(copied),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.write_all(&buf[..n])?;
        copied += n as u64;
    }
}
