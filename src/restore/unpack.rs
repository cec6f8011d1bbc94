//! Safe unpacking of a tar stream into a target directory, written here rather than trusted to
//! `tar::Entry::unpack_in`: every entry's name must be relative without `..`; every directory on
//! the way is checked with `lstat` and never followed when it is a symlink (including one this
//! same archive created a moment earlier); hard links may only point at files this restore
//! already wrote. An entry that breaks a rule is refused and reported, and nothing is written
//! for it. Directory modes and mtimes are set last, deepest first, after their contents.

use std::collections::HashSet;
use std::fs::{self, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use tar::{EntryType, Header};

use super::meta::{DirMeta, dir_meta, header_meta, set_meta, set_symlink_mtime};

/// What the unpacker did; `error` is set when it had to stop early.
#[derive(Debug, Default)]
pub struct UnpackReport {
    pub entries: u64,
    pub refused: Vec<String>,
    pub warnings: Vec<String>,
    pub error: Option<String>,
}

pub struct Unpacker {
    root: PathBuf,
    /// Stored paths (relative) to restore; empty means everything.
    select: Vec<PathBuf>,
    owners: bool,
    files: HashSet<PathBuf>,
    dirs: Vec<DirMeta>,
    report: UnpackReport,
}

/// `path` as a safe relative path, or why it is not one.
pub fn safe_relative(path: &Path) -> Result<PathBuf, String> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir => return Err("contains `..`".into()),
            Component::RootDir | Component::Prefix(_) => return Err("is an absolute path".into()),
        }
    }
    if out.as_os_str().is_empty() {
        return Err("has an empty name".into());
    }
    Ok(out)
}

impl Unpacker {
    /// `root` must be an existing directory (canonical, so that it is no symlink itself).
    pub fn new(root: PathBuf, select: Vec<PathBuf>, owners: bool) -> Unpacker {
        Unpacker {
            root,
            select,
            owners,
            files: HashSet::new(),
            dirs: Vec::new(),
            report: UnpackReport::default(),
        }
    }

    /// Unpacks every selected entry of the tar stream `input`. Always returns a report; a read
    /// or write error ends the unpacking and is recorded in it.
    pub fn unpack(mut self, input: impl Read) -> UnpackReport {
        if let Err(e) = self.entries(input) {
            self.report.error = Some(e.to_string());
        }
        self.finish_dirs();
        self.report
    }

    fn entries(&mut self, input: impl Read) -> io::Result<()> {
        let mut archive = tar::Archive::new(input);
        for entry in archive.entries()? {
            let mut entry = entry?;
            let path = entry.path()?.into_owned();
            let shown = path.display().to_string();
            let rel = match safe_relative(&path) {
                Ok(r) => r,
                Err(why) => {
                    self.refuse(format!("{shown}: {why}"));
                    continue;
                }
            };
            if !self.selected(&rel) {
                continue;
            }
            let link = entry.link_name()?.map(|l| l.into_owned());
            let header = entry.header().clone();
            if let Err(why) = self.place(&rel, &header, link.as_deref(), &mut entry)? {
                self.refuse(format!("{shown}: {why}"));
            } else {
                self.report.entries += 1;
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

    /// Creates one entry. The outer `Err` is an I/O failure that stops the restore; the inner
    /// one a refusal of this entry only.
    fn place(
        &mut self,
        rel: &Path,
        h: &Header,
        link: Option<&Path>,
        data: &mut impl Read,
    ) -> io::Result<Result<(), String>> {
        let (mode, owner, mtime) = match header_meta(h) {
            Ok(m) => m,
            Err(e) => return Ok(Err(format!("unreadable header: {e}"))),
        };
        if let Err(why) = self.parents(rel)? {
            return Ok(Err(why));
        }
        let full = self.root.join(rel);
        let kind = h.entry_type();
        let existing = match fs::symlink_metadata(&full) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        if let Some(m) = &existing {
            if m.is_dir() && kind == EntryType::Directory {
                self.dirs.push(dir_meta(rel, mode, owner, mtime));
                return Ok(Ok(()));
            }
            if m.is_dir() {
                return Ok(Err("would replace a directory".into()));
            }
            // Unlinks a file or a symlink itself, never what a symlink points to.
            fs::remove_file(&full)?;
            self.files.remove(rel);
        }
        match kind {
            EntryType::Directory => {
                fs::DirBuilder::new().mode(0o700).create(&full)?;
                self.dirs.push(dir_meta(rel, mode, owner, mtime));
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                let mut f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&full)?;
                io::copy(data, &mut f)?;
                set_meta(&f, self.owners, mode, owner, mtime)?;
                self.files.insert(rel.to_path_buf());
            }
            EntryType::Symlink => {
                let Some(target) = link else {
                    return Ok(Err("symlink without a target".into()));
                };
                // The target is stored as it was; it is never followed by this restore.
                std::os::unix::fs::symlink(target, &full)?;
                if self.owners {
                    std::os::unix::fs::lchown(&full, Some(owner.0 as u32), Some(owner.1 as u32))?;
                }
                set_symlink_mtime(&full, mtime)?;
            }
            EntryType::Link => {
                let Some(target) = link else {
                    return Ok(Err("hard link without a target".into()));
                };
                let target = match safe_relative(target) {
                    Ok(t) => t,
                    Err(why) => return Ok(Err(format!("hard link target {why}"))),
                };
                if !self.files.contains(&target) {
                    if self.select.is_empty() {
                        return Ok(Err(format!(
                            "hard link to {}, which this restore did not write",
                            target.display()
                        )));
                    }
                    self.warn(format!(
                        "{}: hard link to {}, which is outside the paths restored; skipped",
                        rel.display(),
                        target.display()
                    ));
                    return Ok(Ok(()));
                }
                let src = self.root.join(&target);
                if !fs::symlink_metadata(&src)?.is_file() {
                    return Ok(Err("hard link target is no longer a regular file".into()));
                }
                // linkat(2) without AT_SYMLINK_FOLLOW: links the name itself.
                fs::hard_link(&src, &full)?;
                self.files.insert(rel.to_path_buf());
            }
            EntryType::Fifo => {
                nix::unistd::mkfifo(&full, nix::sys::stat::Mode::from_bits_truncate(0o600))
                    .map_err(io::Error::from)?;
                let f = OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                    .open(&full)?;
                set_meta(&f, self.owners, mode, owner, mtime)?;
            }
            other => {
                self.warn(format!(
                    "{}: entry type {other:?} is not restored",
                    rel.display()
                ));
            }
        }
        Ok(Ok(()))
    }

    /// Creates the missing directories above `rel`; refuses to go through anything that is not
    /// a real directory.
    fn parents(&self, rel: &Path) -> io::Result<Result<(), String>> {
        let mut cur = self.root.clone();
        let Some(parent) = rel.parent() else {
            return Ok(Ok(()));
        };
        for c in parent.components() {
            cur.push(c);
            match fs::symlink_metadata(&cur) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Ok(Err(format!(
                        "would write through the symlink {}",
                        cur.strip_prefix(&self.root).unwrap_or(&cur).display()
                    )));
                }
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Ok(Err(format!(
                        "{} is not a directory",
                        cur.strip_prefix(&self.root).unwrap_or(&cur).display()
                    )));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    fs::DirBuilder::new().mode(0o755).create(&cur)?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Ok(()))
    }

    /// Deepest first, so setting a directory's mtime comes after everything inside it changed.
    fn finish_dirs(&mut self) {
        let mut dirs = std::mem::take(&mut self.dirs);
        dirs.sort_by_key(|d| std::cmp::Reverse(d.rel.components().count()));
        for d in dirs {
            let full = self.root.join(&d.rel);
            let result = (|| -> io::Result<()> {
                // Opened without following a symlink, so the metadata lands on the directory.
                let f = OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NOFOLLOW | libc::O_DIRECTORY)
                    .open(&full)?;
                set_meta(&f, self.owners, d.mode, d.owner, d.mtime)
            })();
            if let Err(e) = result {
                self.warn(format!(
                    "{}: cannot set mode, owner or mtime: {e}",
                    d.rel.display()
                ));
            }
        }
    }
}
