//! The restore target as an open directory handle: every entry is created relative to it, and
//! every directory on the way is opened with `openat(O_NOFOLLOW | O_DIRECTORY)`, one component
//! at a time. No path is ever resolved from its text again, so a symlink found on the way (put
//! there by the archive, or swapped in by a local user while a `--force` restore runs) ends the
//! walk instead of redirecting a write outside the target. Written with nix's `*at` calls
//! because the checks below (refuse any link on the way, create what is missing, report which
//! component was wrong) are the policy, and no crate offers exactly that walk.

use std::cell::RefCell;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use nix::errno::Errno;

use super::RestoreError;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{FileStat, Mode, SFlag, fstatat, mkdirat};

/// An entry's parent directory, opened, and the entry's own name in it.
pub struct Place {
    pub dir: Rc<OwnedFd>,
    pub name: std::ffi::OsString,
}

pub struct Target {
    root: OwnedFd,
    /// The directory the last walk ended in: an archive lists a directory's entries together,
    /// and walking again from the root for each would cost an `openat` and a `close` per
    /// component per file. The handle stays right: the restore never removes or replaces a
    /// directory, and a name swapped for a link later does not move what the handle is.
    last: RefCell<Option<(PathBuf, Rc<OwnedFd>)>>,
}

fn dir_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

fn io_err(e: Errno) -> io::Error {
    io::Error::from(e)
}

impl Target {
    /// `root` must be a directory (created by the caller); it is opened without following a
    /// link in its last component.
    pub fn open(root: &Path) -> io::Result<Target> {
        let root =
            openat(nix::fcntl::AT_FDCWD, root, dir_flags(), Mode::empty()).map_err(io_err)?;
        Ok(Target {
            root,
            last: RefCell::new(None),
        })
    }

    /// The parent of `rel` (a safe relative path), creating missing directories (mode 0755)
    /// when `create`. `Ok(Err(why))` when something on the way is not a real directory.
    pub fn place(&self, rel: &Path, create: bool) -> io::Result<Result<Place, String>> {
        let Some(name) = rel.file_name() else {
            return Ok(Err("has no name".into()));
        };
        let parent = rel.parent().unwrap_or(Path::new(""));
        if let Some((path, dir)) = self.last.borrow().as_ref()
            && path == parent
        {
            return Ok(Ok(Place {
                dir: dir.clone(),
                name: name.to_os_string(),
            }));
        }
        let dir = match self.walk(parent, create)? {
            Ok(dir) => Rc::new(dir),
            Err(why) => return Ok(Err(why)),
        };
        *self.last.borrow_mut() = Some((parent.to_path_buf(), dir.clone()));
        Ok(Ok(Place {
            dir,
            name: name.to_os_string(),
        }))
    }

    /// Opens `parent` from the root, one component at a time.
    fn walk(&self, parent: &Path, create: bool) -> io::Result<Result<OwnedFd, String>> {
        let mut dir = self.root.try_clone()?;
        let mut walked = std::path::PathBuf::new();
        for c in parent.components() {
            let Component::Normal(part) = c else {
                return Ok(Err("is not a plain relative path".into()));
            };
            walked.push(part);
            match openat(dir.as_fd(), part, dir_flags(), Mode::empty()) {
                Ok(next) => dir = next,
                Err(Errno::ENOENT) if create => {
                    match mkdirat(dir.as_fd(), part, Mode::from_bits_truncate(0o755)) {
                        Ok(()) | Err(Errno::EEXIST) => {}
                        Err(e) => return Err(io_err(e)),
                    }
                    match openat(dir.as_fd(), part, dir_flags(), Mode::empty()) {
                        Ok(next) => dir = next,
                        Err(e) => return self.why_not_a_dir(&dir, part, &walked, e),
                    }
                }
                Err(e) => return self.why_not_a_dir(&dir, part, &walked, e),
            }
        }
        Ok(Ok(dir))
    }

    fn why_not_a_dir<T>(
        &self,
        dir: &OwnedFd,
        part: &std::ffi::OsStr,
        walked: &Path,
        e: Errno,
    ) -> io::Result<Result<T, String>> {
        match lstat_at(dir, part)? {
            Some(st) if kind(&st) == SFlag::S_IFLNK => Ok(Err(format!(
                "would write through the symlink {}",
                super::names::shown(walked)
            ))),
            Some(st) if kind(&st) != SFlag::S_IFDIR => Ok(Err(format!(
                "{} is not a directory",
                super::names::shown(walked)
            ))),
            _ => Err(io_err(e)),
        }
    }
}

/// What is at `name` in `dir`, without following a link; `None` when nothing is.
pub fn lstat_at(dir: &OwnedFd, name: &std::ffi::OsStr) -> io::Result<Option<FileStat>> {
    match fstatat(dir.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(io_err(e)),
    }
}

pub fn kind(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

/// Opens `name` in `dir` as a new file (never an existing one, never through a link).
pub fn create_file(p: &Place) -> io::Result<File> {
    let flags =
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    openat(
        p.dir.as_fd(),
        p.name.as_os_str(),
        flags,
        Mode::from_bits_truncate(0o600),
    )
    .map(File::from)
    .map_err(io_err)
}

/// Opens an existing entry for its metadata: a directory, or a FIFO (without blocking).
pub fn open_for_meta(p: &Place, directory: bool) -> io::Result<File> {
    let mut flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK;
    if directory {
        flags |= OFlag::O_DIRECTORY;
    }
    openat(p.dir.as_fd(), p.name.as_os_str(), flags, Mode::empty())
        .map(File::from)
        .map_err(io_err)
}

/// The target must be an empty directory (or `--force`), or not exist yet.
pub fn check_target(target: &Path, force: bool) -> Result<(), RestoreError> {
    match std::fs::symlink_metadata(target) {
        Ok(m) if !m.is_dir() && !m.file_type().is_symlink() => {
            return Err(RestoreError::Usage(format!(
                "target {} exists and is not a directory",
                target.display()
            )));
        }
        Ok(_) => {
            let mut entries =
                fs_err::read_dir(target).map_err(|e| RestoreError::Failed(e.to_string()))?;
            if entries.next().is_some() && !force {
                return Err(RestoreError::Usage(format!(
                    "target {} is not empty\nhint: restore into a new or empty directory, or pass --force to write over what is there",
                    target.display()
                )));
            }
        }
        Err(_) => {}
    }
    Ok(())
}

/// Creates the target if missing; its canonical path, so that the root is no symlink.
pub fn create_target(target: &Path) -> Result<PathBuf, RestoreError> {
    fs_err::create_dir_all(target).map_err(|e| RestoreError::Failed(e.to_string()))?;
    fs_err::canonicalize(target).map_err(|e| RestoreError::Failed(e.to_string()))
}
