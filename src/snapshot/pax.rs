//! PAX extended records written in front of an entry, for what a GNU header cannot hold: the
//! sub-second part of the mtime (`mtime=SECS.NANOS`), extended attributes
//! (`SCHILY.xattr.NAME`) and POSIX ACLs (`SCHILY.acl.access` / `.default`, as text: acl.rs),
//! all as GNU tar writes them. GNU tar and the restore
//! (restore/extended.rs) read them; a reader that ignores PAX still gets the rest.

use std::ffi::{OsStr, OsString};
use std::fs::{File, Metadata};
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use xattr::FileExt;

/// What the job's switches keep: `xattrs`, `acls`, and `one_file_system` (directories on
/// another file system than their source are stored, empty, as GNU tar stores mount points).
#[derive(Debug, Clone, Copy)]
pub struct Keep {
    pub xattrs: bool,
    pub acls: bool,
    pub one_file_system: bool,
}

/// The attributes that hold POSIX ACLs, and the records GNU tar keeps them in.
const ACLS: [(&str, &str); 2] = [
    ("system.posix_acl_access", "SCHILY.acl.access"),
    ("system.posix_acl_default", "SCHILY.acl.default"),
];

/// The records of one entry, in the order they are written.
#[derive(Default)]
pub struct Records(Vec<(String, Vec<u8>)>);

/// Where an entry's attributes are read: its open file when there is one, else its path,
/// without following a link.
#[derive(Clone, Copy)]
pub struct Origin<'a> {
    pub path: &'a Path,
    pub file: Option<&'a File>,
}

/// The records of an entry with metadata `meta`; problems reading its attributes are pushed
/// to `warnings` (the entry is still stored).
pub fn records(
    from: Origin<'_>,
    meta: &Metadata,
    keep: Keep,
    warnings: &mut Vec<String>,
) -> Records {
    let mut r = Records::of(meta);
    if !(keep.xattrs || keep.acls) {
        return r;
    }
    let mut warn = |what: &str, e: io::Error| {
        let msg = format!("{}: {what} not stored ({e})", from.path.display());
        tracing::warn!("{msg}");
        warnings.push(msg);
    };
    // One listing for both: ACLs are listed among the attributes, so a file without any costs
    // one system call.
    let names = match from.list() {
        Ok(n) => n,
        Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => return r,
        Err(e) => {
            warn("extended attributes and ACLs", e);
            return r;
        }
    };
    if keep.xattrs
        && let Err(e) = r.add_xattrs(from, &names)
    {
        warn("extended attributes", e);
    }
    if keep.acls
        && let Err(e) = r.add_acls(from, &names)
    {
        warn("ACLs", e);
    }
    r
}

impl Origin<'_> {
    fn list(&self) -> io::Result<Vec<OsString>> {
        Ok(match self.file {
            Some(f) => f.list_xattr()?.collect(),
            None => xattr::list(self.path)?.collect(),
        })
    }

    fn get(&self, name: &OsStr) -> io::Result<Option<Vec<u8>>> {
        match self.file {
            Some(f) => f.get_xattr(name),
            None => xattr::get(self.path, name),
        }
    }
}

impl Records {
    /// The mtime record for an entry with metadata `meta`, when it has a sub-second part.
    pub fn of(meta: &Metadata) -> Records {
        let mut r = Records::default();
        if let Some(t) = mtime_value(meta.mtime(), meta.mtime_nsec()) {
            r.0.push(("mtime".into(), t.into_bytes()));
        }
        r
    }

    /// Every attribute the agent can read. POSIX ACLs are not among them: GNU tar keeps those
    /// only as `SCHILY.acl.*` (with `--acls`), and restores `SCHILY.xattr.system.*` as neither.
    fn add_xattrs(&mut self, from: Origin<'_>, names: &[OsString]) -> io::Result<()> {
        let mut names: Vec<_> = names
            .iter()
            .filter(|n| !n.as_encoded_bytes().starts_with(b"system.posix_acl_"))
            .collect();
        names.sort();
        for name in names {
            let Some(text) = name.to_str() else {
                return Err(io::Error::other(format!(
                    "the name {name:?} is not UTF-8, which PAX keys must be"
                )));
            };
            // Gone since the listing: nothing to keep.
            if let Some(value) = from.get(name)? {
                self.0.push((format!("SCHILY.xattr.{text}"), value));
            }
        }
        Ok(())
    }

    fn add_acls(&mut self, from: Origin<'_>, names: &[OsString]) -> io::Result<()> {
        for (attr, key) in ACLS {
            if !names.iter().any(|n| n == attr) {
                continue;
            }
            let value = match from.get(OsStr::new(attr)) {
                Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => return Ok(()),
                other => other?,
            };
            if let Some(v) = value {
                let text = crate::acl::to_text(&v).map_err(io::Error::other)?;
                self.0.push((key.into(), text.into_bytes()));
            }
        }
        Ok(())
    }

    /// PAX sparse format 1.0 for the member `name` of real size `size` (sparse.rs).
    pub fn add_sparse(&mut self, name: &Path, size: u64) {
        use std::os::unix::ffi::OsStrExt;
        self.0.push(("GNU.sparse.major".into(), b"1".to_vec()));
        self.0.push(("GNU.sparse.minor".into(), b"0".to_vec()));
        let name = name.as_os_str().as_bytes().to_vec();
        self.0.push(("GNU.sparse.name".into(), name));
        let size = size.to_string().into_bytes();
        self.0.push(("GNU.sparse.realsize".into(), size));
    }

    /// Writes the records as one PAX extended header; nothing when there are none.
    pub fn write<W: Write>(&self, tar: &mut tar::Builder<W>) -> io::Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        tar.append_pax_extensions(self.0.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
    }
}

/// `SECS.FRACTION` without trailing zeros; `None` for a whole second (the header holds it) and
/// for times before 1970, which the header's unsigned field cannot carry anyway.
fn mtime_value(secs: i64, nanos: i64) -> Option<String> {
    if nanos <= 0 || secs < 0 || nanos >= 1_000_000_000 {
        return None;
    }
    let frac = format!("{nanos:09}");
    Some(format!("{secs}.{}", frac.trim_end_matches('0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mtimes_carry_their_nanoseconds_like_gnu_tar() {
        assert_eq!(
            mtime_value(1_700_000_000, 123_456_789).as_deref(),
            Some("1700000000.123456789")
        );
        assert_eq!(
            mtime_value(1_700_000_000, 500_000_000).as_deref(),
            Some("1700000000.5")
        );
        assert_eq!(
            mtime_value(1_700_000_000, 1).as_deref(),
            Some("1700000000.000000001")
        );
        assert_eq!(mtime_value(1_700_000_000, 0), None);
        assert_eq!(mtime_value(-5, 10), None);
    }
}
