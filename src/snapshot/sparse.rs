//! Sparse files in PAX sparse format 1.0, as GNU tar writes and reads them: the data regions
//! are found with `SEEK_DATA`/`SEEK_HOLE`, so a hole is neither read nor compressed. The
//! member holds a map (`COUNT\n` then `OFFSET\nLENGTH\n` per region, padded to 512 bytes),
//! then the regions' data; `GNU.sparse.*` PAX records (pax.rs) give the real name and size,
//! and the header's own name is GNU tar's `DIR/GNUSparseFile.0/NAME`, so that a reader
//! without sparse support extracts a file of that name instead of a wrong one. The header is
//! ustar, not GNU: GNU tar reads PAX sparse records only with a POSIX header, and with a GNU
//! one would take the real size for the stored one.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use tar::{EntryType, Header};

/// Where a file's data lies, when it has holes.
pub struct Layout {
    regions: Vec<(u64, u64)>,
    map: Vec<u8>,
}

impl Layout {
    /// `None` for a file without holes (or a file system that cannot tell): stored as usual.
    pub fn of(file: &File, meta: &std::fs::Metadata) -> Option<Layout> {
        use std::os::unix::fs::MetadataExt;
        let size = meta.len();
        // Fewer blocks than the size needs is what a hole looks like (as GNU tar tests it):
        // a dense file costs no probing.
        if meta.blocks().saturating_mul(512) >= size {
            return None;
        }
        let layout = Self::find(file, size);
        // Probing moved the file's offset; a dense file is then read from its start.
        seek(file, 0, libc::SEEK_SET);
        layout
    }

    fn find(file: &File, size: u64) -> Option<Layout> {
        let mut regions = Vec::new();
        let mut pos = 0u64;
        while pos < size {
            let Some(data) = seek(file, pos, libc::SEEK_DATA) else {
                break; // ENXIO: only a hole is left
            };
            if data >= size {
                break;
            }
            let end = seek(file, data, libc::SEEK_HOLE).unwrap_or(size).min(size);
            regions.push((data, end - data));
            pos = end;
        }
        let data: u64 = regions.iter().map(|r| r.1).sum();
        if data == size {
            return None;
        }
        // GNU tar ends the map with an empty region at the end: the size is in the map too.
        if regions.last().is_none_or(|&(o, l)| o + l < size) {
            regions.push((size, 0));
        }
        let mut map = format!("{}\n", regions.len());
        for (o, l) in &regions {
            map.push_str(&format!("{o}\n{l}\n"));
        }
        let mut map = map.into_bytes();
        map.resize(map.len().div_ceil(512) * 512, 0);
        Some(Layout { regions, map })
    }

    /// The member's stored size: the map and the data.
    pub fn stored(&self) -> u64 {
        self.map.len() as u64 + self.regions.iter().map(|r| r.1).sum::<u64>()
    }

    /// The header's name for the real name `name`: one that fits the ustar name field, since
    /// only readers without sparse support use it.
    pub fn header_name(name: &Path) -> PathBuf {
        let base = name.file_name().unwrap_or(name.as_os_str());
        let full = match name.parent() {
            Some(dir) => dir.join("GNUSparseFile.0").join(base),
            None => Path::new("GNUSparseFile.0").join(base),
        };
        if full.as_os_str().len() < 100 {
            full
        } else {
            PathBuf::from("GNUSparseFile.0/sparse-file")
        }
    }

    /// The ustar header of the member: `gnu`'s metadata with the stored size.
    pub fn header(&self, gnu: &Header) -> io::Result<Header> {
        let mut h = Header::new_ustar();
        h.set_entry_type(EntryType::Regular);
        h.set_mode(gnu.mode()?);
        h.set_uid(gnu.uid()?);
        h.set_gid(gnu.gid()?);
        h.set_mtime(gnu.mtime()?);
        if let Ok(Some(u)) = gnu.username() {
            h.set_username(u)?;
        }
        if let Ok(Some(g)) = gnu.groupname() {
            h.set_groupname(g)?;
        }
        h.set_size(self.stored());
        Ok(h)
    }

    /// The member's data, read from `file`.
    pub fn reader<R: Read + Seek>(self, file: R) -> Regions<R> {
        Regions {
            file,
            map: io::Cursor::new(self.map),
            regions: self.regions.into_iter(),
            left: 0,
        }
    }
}

fn seek(file: &File, from: u64, whence: libc::c_int) -> Option<u64> {
    let from = libc::off_t::try_from(from).ok()?;
    // SAFETY: lseek on a descriptor we own; it only moves the file offset.
    let r = unsafe { libc::lseek(file.as_raw_fd(), from, whence) };
    u64::try_from(r).ok()
}

/// The map, then each region's bytes. A file that shrank ends early (the caller pads with
/// zeros and warns); after the last region it reads on, so that growth is noticed.
pub struct Regions<R> {
    file: R,
    map: io::Cursor<Vec<u8>>,
    regions: std::vec::IntoIter<(u64, u64)>,
    left: u64,
}

impl<R: Read + Seek> Read for Regions<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.map.read(buf)?;
        if n > 0 {
            return Ok(n);
        }
        while self.left == 0 {
            let Some((offset, len)) = self.regions.next() else {
                return self.file.read(buf);
            };
            self.file.seek(SeekFrom::Start(offset))?;
            self.left = len;
        }
        let cap = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.file.read(&mut buf[..cap])?;
        self.left -= n as u64;
        Ok(n)
    }
}
