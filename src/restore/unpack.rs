//! Safe unpacking of a tar stream into a target directory, written here rather than trusted to
//! `tar::Entry::unpack_in`: every entry's name must be relative without `..`; every entry is
//! created relative to an open handle of its parent directory, reached from the target with
//! `openat(O_NOFOLLOW)` on each component (target.rs), so no symlink is ever written through,
//! whether the archive made it a moment earlier or a local process swapped it in; hard links
//! may only point at files this restore already wrote. An entry that breaks a rule is refused,
//! one that cannot be written (a name too long, no permission, a full disk) fails alone: both
//! are reported by name and the restore goes on with the next entry. Only an archive that
//! cannot be read any further stops it. Directory metadata is set last, deepest first (meta.rs);
//! extended attributes through the entry's descriptor (xattrs.rs).

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::fcntl::AtFlags;
use nix::sys::stat::{Mode, SFlag};
use nix::unistd::UnlinkatFlags;
use tar::{EntryType, Header};

use super::extended::Extended;
use super::members::{self, Member};
use super::meta::{DirMeta, dir_meta, finish_dirs, header_meta, set_meta, set_meta_at};
pub use super::names::safe_relative;
use super::names::shown;
use super::outcome::Skip;
pub use super::outcome::UnpackReport;
use super::read_side::{ReadSide, copy};
use super::special;
use super::target::{Place, Target, create_file, kind, lstat_at, open_for_meta};

pub struct Unpacker {
    target: Target,
    /// Stored paths (relative) to restore; empty means everything.
    select: Vec<PathBuf>,
    owners: bool,
    /// Device nodes are created (`--devices`, as root).
    devices: bool,
    /// The files this restore wrote, the only ones a hard link may point at: a keyed hash of
    /// each path (random key per process, so an archive cannot aim at a collision), 8 bytes a
    /// file where the paths themselves took ~80, which a million-file restore would feel.
    files: HashSet<u64>,
    keys: RandomState,
    dirs: Vec<DirMeta>,
    report: UnpackReport,
    /// The buffer of every file's data (read_side::copy).
    buf: Vec<u8>,
}

impl Unpacker {
    /// `root` must be an existing directory.
    pub fn new(root: &Path, select: Vec<PathBuf>, owners: bool) -> io::Result<Unpacker> {
        Ok(Unpacker {
            target: Target::open(root)?,
            select,
            owners,
            devices: false,
            files: HashSet::new(),
            keys: RandomState::new(),
            dirs: Vec::new(),
            report: UnpackReport::default(),
            buf: Vec::new(),
        })
    }

    /// Creates device nodes too (the restore checks that it runs as root).
    pub fn with_devices(mut self, on: bool) -> Unpacker {
        self.devices = on;
        self
    }

    /// Unpacks every selected entry of the tar stream `input`. Always returns a report; an
    /// archive that cannot be read any further ends the unpacking and is recorded in it.
    pub fn unpack(mut self, input: impl Read) -> UnpackReport {
        if let Err(e) = self.entries(input) {
            self.report.error = Some(e.to_string());
        }
        self.finish_dirs();
        self.report
    }

    fn entries(&mut self, input: impl Read) -> io::Result<()> {
        let mut archive = tar::Archive::new(input);
        let mut entries = archive.entries()?.raw(true);
        while let Some(member) = members::next(&mut entries)? {
            let Member {
                mut entry,
                path,
                link,
                ext,
            } = member;
            let shown = shown(&path);
            let rel = match safe_relative(&path) {
                Ok(r) => r,
                Err(why) => {
                    self.report.matched += 1;
                    self.refuse(format!("{shown}: {why}"));
                    continue;
                }
            };
            if !self.selected(&rel) {
                continue;
            }
            self.report.matched += 1;
            let header = entry.header().clone();
            let mut data = ReadSide::new(&mut entry);
            let result = self.place(&rel, &header, &ext, link.as_deref(), &mut data);
            // A failure to read the archive itself is not this entry's: it ends the restore.
            if let Some(e) = data.error.take() {
                return Err(e);
            }
            for p in &ext.problems {
                self.warn(format!("{shown}: {p}"));
            }
            match result {
                Ok(()) => self.report.entries += 1,
                Err(Skip::Refused(why)) => self.refuse(format!("{shown}: {why}")),
                Err(Skip::Failed(e)) => {
                    tracing::error!("could not restore {shown}: {e}");
                    self.report.failed.push(format!("{shown}: {e}"));
                }
            }
        }
        Ok(())
    }

    fn selected(&self, rel: &Path) -> bool {
        self.select.is_empty() || self.select.iter().any(|s| rel.starts_with(s))
    }

    fn refuse(&mut self, msg: String) {
        tracing::error!("refused archive entry {msg}");
        self.report.refused.push(msg);
    }

    fn warn(&mut self, msg: String) {
        tracing::warn!("{msg}");
        self.report.warnings.push(msg);
    }

    fn parent(&self, rel: &Path) -> Result<Place, Skip> {
        self.target.place(rel, true)?.map_err(Skip::Refused)
    }

    /// Creates one entry.
    fn place(
        &mut self,
        rel: &Path,
        h: &Header,
        ext: &Extended,
        link: Option<&Path>,
        data: &mut impl Read,
    ) -> Result<(), Skip> {
        let (mode, owner, mtime) =
            header_meta(h).map_err(|e| Skip::Refused(format!("unreadable header: {e}")))?;
        let mtime = ext.mtime.unwrap_or(mtime);
        let at = self.parent(rel)?;
        let kind_wanted = h.entry_type();
        if matches!(kind_wanted, EntryType::Char | EntryType::Block)
            && let Some(why) = special::devices_refused(self.devices)
        {
            self.warn(format!("{}: device node not restored: {why}", shown(rel)));
            return Ok(());
        }
        if let Some(st) = lstat_at(&at.dir, &at.name)? {
            if kind(&st) == SFlag::S_IFDIR {
                if kind_wanted == EntryType::Directory {
                    self.dirs
                        .push(dir_meta(rel, mode, owner, mtime, &ext.xattrs));
                    return Ok(());
                }
                return Err(Skip::Refused("would replace a directory".into()));
            }
            // Unlinks a file or a symlink itself, never what a symlink points to.
            nix::unistd::unlinkat(
                at.dir.as_fd(),
                at.name.as_os_str(),
                UnlinkatFlags::NoRemoveDir,
            )
            .map_err(io::Error::from)?;
            self.files.remove(&self.keys.hash_one(rel));
        }
        match kind_wanted {
            EntryType::Directory => {
                nix::sys::stat::mkdirat(
                    at.dir.as_fd(),
                    at.name.as_os_str(),
                    Mode::from_bits_truncate(0o700),
                )
                .map_err(io::Error::from)?;
                self.dirs
                    .push(dir_meta(rel, mode, owner, mtime, &ext.xattrs));
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                let sparse = ext.sparse().map_err(Skip::Refused)?;
                let mut f = create_file(&at)?;
                match sparse {
                    Some(size) => super::sparse::write(data, &mut f, size)?,
                    None => drop(copy(data, &mut f, &mut self.buf)?),
                }
                set_meta(&f, self.owners, mode, owner, mtime)?;
                self.set_xattrs(&f, rel, ext);
                self.files.insert(self.keys.hash_one(rel));
            }
            EntryType::Symlink => {
                let target =
                    link.ok_or_else(|| Skip::Refused("symlink without a target".into()))?;
                // The target is stored as it was; it is never followed by this restore.
                nix::unistd::symlinkat(target, at.dir.as_fd(), at.name.as_os_str())
                    .map_err(io::Error::from)?;
                set_meta_at(&at, self.owners, owner, mtime, None)?;
                if !ext.xattrs.is_empty() {
                    // No descriptor of a symlink can take them, and a path could be swapped.
                    self.warn(format!(
                        "{}: extended attributes of a symlink are not restored",
                        shown(rel)
                    ));
                }
            }
            EntryType::Link => return self.hard_link(rel, &at, link),
            EntryType::Fifo => {
                special::fifo(&at)?;
                let f = open_for_meta(&at, false)?;
                set_meta(&f, self.owners, mode, owner, mtime)?;
                self.set_xattrs(&f, rel, ext);
            }
            EntryType::Char | EntryType::Block => {
                special::device(&at, h)?;
                set_meta_at(&at, self.owners, owner, mtime, Some(mode))?;
            }
            other => {
                self.warn(format!(
                    "{}: entry type {other:?} is not restored",
                    shown(rel)
                ));
            }
        }
        Ok(())
    }

    fn hard_link(&mut self, rel: &Path, at: &Place, link: Option<&Path>) -> Result<(), Skip> {
        let target = link.ok_or_else(|| Skip::Refused("hard link without a target".into()))?;
        let target = safe_relative(target)
            .map_err(|why| Skip::Refused(format!("hard link target {why}")))?;
        if !self.files.contains(&self.keys.hash_one(&target)) {
            if self.select.is_empty() {
                return Err(Skip::Refused(format!(
                    "hard link to {}, which this restore did not write",
                    shown(&target)
                )));
            }
            self.warn(format!(
                "{}: hard link to {}, which is outside the paths restored; skipped",
                shown(rel),
                shown(&target)
            ));
            return Ok(());
        }
        let src = self.target.place(&target, false)?.map_err(Skip::Refused)?;
        match lstat_at(&src.dir, &src.name)? {
            Some(st) if kind(&st) == SFlag::S_IFREG => {}
            _ => {
                return Err(Skip::Refused(
                    "hard link target is no longer a regular file".into(),
                ));
            }
        }
        // Without AT_SYMLINK_FOLLOW: links the name itself.
        nix::unistd::linkat(
            src.dir.as_fd(),
            src.name.as_os_str(),
            at.dir.as_fd(),
            at.name.as_os_str(),
            AtFlags::empty(),
        )
        .map_err(io::Error::from)?;
        self.files.insert(self.keys.hash_one(rel));
        Ok(())
    }

    fn finish_dirs(&mut self) {
        let dirs = std::mem::take(&mut self.dirs);
        for w in finish_dirs(&self.target, dirs, self.owners) {
            self.warn(w);
        }
    }

    /// The entry's extended attributes, set through its open descriptor.
    fn set_xattrs(&mut self, f: &std::fs::File, rel: &Path, ext: &Extended) {
        for w in super::xattrs::set_all(f, &ext.xattrs, &shown(rel)) {
            self.warn(w);
        }
    }
}
