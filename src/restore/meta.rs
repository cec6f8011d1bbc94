//! Restoring an entry's metadata: mode, owner and mtime (to the nanosecond when the archive has
//! it), set through an open descriptor (or, for a symlink, `fchownat`/`utimensat` on its
//! parent's handle without following) so that nothing is applied through a path that could
//! have become a symlink.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use tar::Header;

use super::names::shown;
use super::target::{Target, open_for_meta};

/// An mtime: the header's whole seconds, with nanoseconds when a PAX record gave them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub secs: u64,
    pub nanos: u32,
}

/// A directory's metadata, applied after its contents are in place.
pub struct DirMeta {
    pub rel: PathBuf,
    pub mode: u32,
    pub mtime: Stamp,
    pub owner: (u64, u64),
    pub xattrs: Vec<(OsString, Vec<u8>)>,
}

pub fn set_meta(
    f: &File,
    owners: bool,
    mode: u32,
    owner: (u64, u64),
    mtime: Stamp,
) -> io::Result<()> {
    // chown before chmod: chown clears set-id bits.
    if owners {
        std::os::unix::fs::fchown(f, Some(owner.0 as u32), Some(owner.1 as u32))?;
    }
    f.set_permissions(fs::Permissions::from_mode(mode))?;
    f.set_modified(UNIX_EPOCH + Duration::new(mtime.secs, mtime.nanos))
}

/// Mode bits, (uid, gid) and mtime of an entry.
pub fn header_meta(h: &Header) -> io::Result<(u32, (u64, u64), Stamp)> {
    let mtime = Stamp {
        secs: h.mtime()?,
        nanos: 0,
    };
    Ok((h.mode()? & 0o7777, (h.uid()?, h.gid()?), mtime))
}

pub fn dir_meta(
    rel: &Path,
    mode: u32,
    owner: (u64, u64),
    mtime: Stamp,
    xattrs: &[(OsString, Vec<u8>)],
) -> DirMeta {
    DirMeta {
        rel: rel.to_path_buf(),
        mode,
        mtime,
        owner,
        xattrs: xattrs.to_vec(),
    }
}

/// Sets the directories' metadata deepest first, so that a directory's mtime is set after
/// everything inside it changed; returns the warnings.
pub fn finish_dirs(target: &Target, mut dirs: Vec<DirMeta>, owners: bool) -> Vec<String> {
    let mut warnings = Vec::new();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.rel.components().count()));
    for d in dirs {
        let result = (|| -> io::Result<File> {
            let at = target.place(&d.rel, false)?.map_err(io::Error::other)?;
            let f = open_for_meta(&at, true)?;
            set_meta(&f, owners, d.mode, d.owner, d.mtime)?;
            Ok(f)
        })();
        match result {
            Ok(f) => warnings.extend(super::xattrs::set_all(&f, &d.xattrs, &shown(&d.rel))),
            Err(e) => warnings.push(format!(
                "{}: cannot set mode, owner or mtime: {e}",
                shown(&d.rel)
            )),
        }
    }
    warnings
}

/// Owner, mode (when given) and mtime of the entry at `at` itself, by name on its parent's
/// handle, never following a symlink: for a symlink, and for a device node, which must not be
/// opened (opening a device acts on it).
pub fn set_meta_at(
    at: &super::target::Place,
    owners: bool,
    owner: (u64, u64),
    mtime: Stamp,
    mode: Option<u32>,
) -> io::Result<()> {
    use std::os::fd::AsFd;

    use nix::fcntl::AtFlags;
    use nix::sys::stat::{UtimensatFlags, utimensat};
    use nix::sys::time::TimeSpec;
    use nix::unistd::{Gid, Uid, fchownat};
    if owners {
        fchownat(
            at.dir.as_fd(),
            at.name.as_os_str(),
            Some(Uid::from_raw(owner.0 as u32)),
            Some(Gid::from_raw(owner.1 as u32)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(io::Error::from)?;
    }
    if let Some(mode) = mode {
        use nix::sys::stat::{FchmodatFlags, Mode, fchmodat};
        fchmodat(
            at.dir.as_fd(),
            at.name.as_os_str(),
            Mode::from_bits_truncate(mode),
            FchmodatFlags::NoFollowSymlink,
        )
        .map_err(io::Error::from)?;
    }
    let t = TimeSpec::new(mtime.secs as i64, i64::from(mtime.nanos));
    utimensat(
        at.dir.as_fd(),
        at.name.as_os_str(),
        &TimeSpec::UTIME_OMIT,
        &t,
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(io::Error::from)
}
