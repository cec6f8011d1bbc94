//! The archive's members, read from the tar crate's raw entries: GNU long names and PAX
//! extended headers are applied here. The tar crate's own PAX parser splits records at every
//! newline, so a binary attribute value holding one (legal: records are length-prefixed)
//! would end the restore; this reader goes by the lengths, as GNU tar does.

use std::io::{self, Read};
use std::path::PathBuf;

use tar::EntryType;

use super::extended::Extended;

/// GNU long names and PAX headers of one member larger than this, together, are not an archive
/// this agent (or GNU tar with attributes of at most 64 KiB each) writes; refusing them bounds
/// the memory a hostile archive can take, however many headers it chains before a member.
const MAX_HEADER_DATA: u64 = 16 << 20;

/// One member: its entry (header and data), its full names and its PAX records.
pub struct Member<'a, R: Read> {
    pub entry: tar::Entry<'a, R>,
    pub path: PathBuf,
    pub link: Option<PathBuf>,
    pub ext: Extended,
}

/// The next member of `entries` (made with `.raw(true)`); `None` at the end of the archive.
pub fn next<'a, R: Read>(entries: &mut tar::Entries<'a, R>) -> io::Result<Option<Member<'a, R>>> {
    let mut long_name = None;
    let mut long_link = None;
    let mut ext = Extended::default();
    let mut pending = false;
    let mut budget = MAX_HEADER_DATA;
    loop {
        let Some(entry) = entries.next() else {
            if pending {
                return Err(io::Error::other(
                    "the archive ends between a member's extended headers and the member",
                ));
            }
            return Ok(None);
        };
        let mut entry = entry?;
        pending = true;
        match entry.header().entry_type() {
            EntryType::GNULongName => long_name = Some(name_data(&mut entry, &mut budget)?),
            EntryType::GNULongLink => long_link = Some(name_data(&mut entry, &mut budget)?),
            EntryType::XHeader => ext.apply(&small_data(&mut entry, &mut budget)?)?,
            // Global records (GNU tar writes none) change nothing this restore uses.
            EntryType::XGlobalHeader => drop(small_data(&mut entry, &mut budget)?),
            _ => {
                let h = entry.header();
                let path = ext
                    .sparse_name
                    .take()
                    .or(ext.path.take())
                    .or(long_name)
                    .unwrap_or_else(|| h.path_bytes().into_owned());
                let link = ext
                    .linkpath
                    .take()
                    .or(long_link)
                    .or_else(|| h.link_name_bytes().map(|l| l.into_owned()));
                return Ok(Some(Member {
                    entry,
                    path: bytes_path(path),
                    link: link.map(bytes_path),
                    ext,
                }));
            }
        }
    }
}

/// The data of a header member, taken from what is left of the member's `budget`.
fn small_data<R: Read>(entry: &mut tar::Entry<'_, R>, budget: &mut u64) -> io::Result<Vec<u8>> {
    let size = entry.header().entry_size()?;
    if size > *budget {
        return Err(io::Error::other(format!(
            "extended headers of more than {MAX_HEADER_DATA} bytes before one member; this is not an archive the agent wrote"
        )));
    }
    *budget -= size;
    let mut data = Vec::with_capacity(size as usize);
    entry.read_to_end(&mut data)?;
    Ok(data)
}

/// A GNU long name: NUL-terminated.
fn name_data<R: Read>(entry: &mut tar::Entry<'_, R>, budget: &mut u64) -> io::Result<Vec<u8>> {
    let mut data = small_data(entry, budget)?;
    while data.last() == Some(&0) {
        data.pop();
    }
    Ok(data)
}

fn bytes_path(b: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(b))
}

/// The records of a PAX extended header: `LEN KEY=VALUE\n`, LEN counting the whole record.
pub fn records(data: &[u8]) -> io::Result<Vec<(&[u8], &[u8])>> {
    let bad = || io::Error::other("malformed PAX extended header");
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let space = rest
            .iter()
            .take(20)
            .position(|&b| b == b' ')
            .ok_or_else(bad)?;
        let len: usize = std::str::from_utf8(&rest[..space])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)?;
        if len <= space + 1 || len > rest.len() || rest[len - 1] != b'\n' {
            return Err(bad());
        }
        let record = &rest[space + 1..len - 1];
        let eq = record.iter().position(|&b| b == b'=').ok_or_else(bad)?;
        out.push((&record[..eq], &record[eq + 1..]));
        rest = &rest[len..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_values_may_hold_newlines_and_nuls() {
        let data = b"30 mtime=1700000000.123456789\n27 SCHILY.xattr.user.b=\0\n\n\n";
        let r = records(data).unwrap();
        assert_eq!(r[0], (&b"mtime"[..], &b"1700000000.123456789"[..]));
        assert_eq!(r[1], (&b"SCHILY.xattr.user.b"[..], &b"\0\n\n"[..]));
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn malformed_records_are_errors() {
        for bad in [
            &b"5 a=b"[..],
            b"99 a=b\n",
            b"x a=b\n",
            b"7 ab\n\n\n",
            b"2 \n",
        ] {
            assert!(records(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn chained_extended_headers_are_bounded_together() {
        // 20 headers of 1 MiB before one member: each alone is small, together over the bound.
        let mut b = tar::Builder::new(Vec::new());
        let record = {
            let value = "v".repeat((1 << 20) - 40);
            let body = format!(" SCHILY.xattr.user.x={value}\n");
            // The length counts its own 7 digits.
            format!("{}{body}", body.len() + 7)
        };
        for _ in 0..20 {
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(tar::EntryType::XHeader);
            h.set_size(record.len() as u64);
            h.set_cksum();
            b.append(&h, record.as_bytes()).unwrap();
        }
        let mut h = tar::Header::new_ustar();
        h.set_path("f").unwrap();
        h.set_size(0);
        h.set_cksum();
        b.append(&h, &b""[..]).unwrap();
        let data = b.into_inner().unwrap();
        let mut archive = tar::Archive::new(&data[..]);
        let mut entries = archive.entries().unwrap().raw(true);
        let e = next(&mut entries).err().unwrap();
        assert!(e.to_string().contains("extended headers"), "{e}");
    }
}
