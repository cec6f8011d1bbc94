//! An entry's PAX extended records, as the archive (snapshot/pax.rs) or GNU tar wrote them:
//! the mtime with its nanoseconds, extended attributes (`SCHILY.xattr.NAME`) and POSIX ACLs
//! (`SCHILY.acl.*`, turned into the attributes the kernel keeps them in). Records this restore does not use are ignored, as GNU tar
//! ignores unknown keywords. The records are split by members.rs.

use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStringExt;

use super::meta::Stamp;

/// What the PAX records of one entry add to its header.
#[derive(Debug, Default)]
pub struct Extended {
    /// The member's name and link target, when longer than the header holds.
    pub path: Option<Vec<u8>>,
    pub linkpath: Option<Vec<u8>>,
    pub mtime: Option<Stamp>,
    /// (name, value), in the archive's order; ACLs last, in the kernel's form.
    pub xattrs: Vec<(OsString, Vec<u8>)>,
    /// The real name of a sparse member: it wins over the header's and `path`.
    pub sparse_name: Option<Vec<u8>>,
    /// PAX sparse format: (major, minor) and the real size.
    pub sparse_version: Option<(Vec<u8>, Vec<u8>)>,
    pub sparse_size: Option<u64>,
    /// Records that cannot be applied here (an ACL naming a user this machine lacks).
    pub problems: Vec<String>,
}

const XATTR: &[u8] = b"SCHILY.xattr.";

impl Extended {
    /// Applies the records of one PAX extended header; later records override earlier ones.
    pub fn apply(&mut self, data: &[u8]) -> io::Result<()> {
        for (key, value) in super::members::records(data)? {
            match key {
                b"path" => self.path = Some(value.to_vec()),
                b"GNU.sparse.name" => self.sparse_name = Some(value.to_vec()),
                b"GNU.sparse.major" => self.sparse_part(0, value),
                b"GNU.sparse.minor" => self.sparse_part(1, value),
                b"GNU.sparse.realsize" => {
                    let size = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
                    self.sparse_size = Some(size.ok_or_else(|| bad_record("GNU.sparse.realsize"))?);
                }
                b"linkpath" => self.linkpath = Some(value.to_vec()),
                b"mtime" => self.mtime = parse_time(value),
                b"SCHILY.acl.access" => self.acl("system.posix_acl_access", value),
                b"SCHILY.acl.default" => self.acl("system.posix_acl_default", value),
                _ => {
                    if let Some(name) = key.strip_prefix(XATTR)
                        && !name.is_empty()
                    {
                        let name = OsString::from_vec(name.to_vec());
                        self.xattrs.push((name, value.to_vec()));
                    }
                }
            }
        }
        Ok(())
    }

    fn sparse_part(&mut self, i: usize, value: &[u8]) {
        let v = self.sparse_version.get_or_insert_with(Default::default);
        *(if i == 0 { &mut v.0 } else { &mut v.1 }) = value.to_vec();
    }

    /// The real size of a sparse member in the one format this restore reads (1.0, what GNU
    /// tar writes), or why it cannot be restored.
    pub fn sparse(&self) -> Result<Option<u64>, String> {
        match (&self.sparse_version, self.sparse_size) {
            (None, _) => Ok(None),
            (Some((major, minor)), Some(size)) if major == b"1" && minor == b"0" => Ok(Some(size)),
            (Some((major, minor)), _) => Err(format!(
                "sparse format {}.{} is not supported (only 1.0, as GNU tar writes it)",
                String::from_utf8_lossy(major),
                String::from_utf8_lossy(minor)
            )),
        }
    }

    fn acl(&mut self, attr: &str, text: &[u8]) {
        match crate::acl::from_text(&String::from_utf8_lossy(text)) {
            Ok(v) => self.xattrs.push((attr.into(), v)),
            Err(e) => self.problems.push(format!("{attr} not set: {e}")),
        }
    }
}

fn bad_record(key: &str) -> io::Error {
    io::Error::other(format!("malformed PAX record {key}"))
}

/// `SECS[.FRACTION]`; `None` for what is not that (a negative time, text), so that the
/// header's whole-second mtime is used instead.
fn parse_time(v: &[u8]) -> Option<Stamp> {
    let v = std::str::from_utf8(v).ok()?;
    let (secs, frac) = v.split_once('.').unwrap_or((v, ""));
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
    Some(Stamp {
        secs: secs.parse().ok()?,
        nanos: digits.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(secs: u64, nanos: u32) -> Option<Stamp> {
        Some(Stamp { secs, nanos })
    }

    #[test]
    fn pax_times_keep_their_nanoseconds() {
        assert_eq!(
            parse_time(b"1700000000.123456789"),
            stamp(1_700_000_000, 123_456_789)
        );
        assert_eq!(
            parse_time(b"1700000000.5"),
            stamp(1_700_000_000, 500_000_000)
        );
        // More digits than nanoseconds hold: the rest is dropped, as utimensat cannot set it.
        assert_eq!(parse_time(b"1.1234567899"), stamp(1, 123_456_789));
        assert_eq!(parse_time(b"42"), stamp(42, 0));
        assert_eq!(parse_time(b"-1.5"), None);
        assert_eq!(parse_time(b"x"), None);
        assert_eq!(parse_time(b"1.x"), None);
    }
}
