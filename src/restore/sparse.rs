//! Writing a sparse member (PAX sparse format 1.0, see snapshot/sparse.rs) back with its holes:
//! the map is read from the start of the data, each region is written at its offset (a seek
//! over each hole), and the file is extended to its real size at the end.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

/// Bounds the map a hostile archive can make this restore hold in memory.
const MAX_REGIONS: usize = 1 << 20;

fn bad(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("sparse map: {why}"))
}

/// Reads the map and the regions from `data` into `f`, which ends `size` bytes long.
pub fn write(data: &mut impl Read, f: &mut File, size: u64) -> io::Result<()> {
    let mut map = Map::default();
    let count = map.number(data)?;
    if count > MAX_REGIONS as u64 {
        return Err(bad("too many regions"));
    }
    let mut regions = Vec::with_capacity(count as usize);
    let mut end = 0u64;
    for _ in 0..count {
        let (offset, len) = (map.number(data)?, map.number(data)?);
        let stop = offset
            .checked_add(len)
            .ok_or_else(|| bad("region past the end"))?;
        if offset < end || stop > size {
            return Err(bad("regions out of order or past the file's size"));
        }
        end = stop;
        regions.push((offset, len));
    }
    // The map is padded to a whole block.
    let pad = (512 - map.read % 512) % 512;
    io::copy(&mut data.take(pad), &mut io::sink())?;
    for (offset, len) in regions {
        f.seek(SeekFrom::Start(offset))?;
        let copied = io::copy(&mut data.take(len), f)?;
        if copied != len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the archive member ends inside a region",
            ));
        }
    }
    f.set_len(size)
}

/// Decimal numbers, one a line, read a byte at a time (the map is small, and what follows it
/// must stay in `data`).
#[derive(Default)]
struct Map {
    read: u64,
}

impl Map {
    fn number(&mut self, data: &mut impl Read) -> io::Result<u64> {
        let mut n: u64 = 0;
        let mut digits = 0;
        loop {
            let mut b = [0u8; 1];
            data.read_exact(&mut b)?;
            self.read += 1;
            match b[0] {
                b'\n' if digits > 0 => return Ok(n),
                c @ b'0'..=b'9' if digits < 20 => {
                    n = n
                        .checked_mul(10)
                        .and_then(|n| n.checked_add(u64::from(c - b'0')))
                        .ok_or_else(|| bad("a number too large"))?;
                    digits += 1;
                }
                _ => return Err(bad("not a decimal number")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn restored(member: &[u8], size: u64) -> io::Result<Vec<u8>> {
        let mut f = tempfile::tempfile()?;
        write(&mut &member[..], &mut f, size)?;
        let mut out = Vec::new();
        f.seek(SeekFrom::Start(0))?;
        f.read_to_end(&mut out)?;
        Ok(out)
    }

    fn member(map: &str, data: &[u8]) -> Vec<u8> {
        let mut m = map.as_bytes().to_vec();
        m.resize(m.len().div_ceil(512) * 512, 0);
        m.extend_from_slice(data);
        m
    }

    #[test]
    fn regions_land_at_their_offsets_with_holes_between() {
        let m = member("3\n2\n3\n10\n2\n16\n0\n", b"abcxy");
        assert_eq!(restored(&m, 16).unwrap(), b"\0\0abc\0\0\0\0\0xy\0\0\0\0");
    }

    #[test]
    fn bad_maps_are_errors() {
        for map in [
            "x\n",
            "2\n5\n1\n0\n1\n",
            "1\n10\n10\n",
            "1\n0\n",
            "99999999999999999999999\n",
        ] {
            assert!(
                restored(&member(map, b"0123456789"), 16).is_err(),
                "{map:?}"
            );
        }
    }
}
