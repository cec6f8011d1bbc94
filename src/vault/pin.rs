//! Directories the vault holds open while it works in them. The client's account can write
//! into every repository, so a path the vault looked at may be a symlink a moment later; as
//! root, following one would chown or remove whatever it points to. So every directory below a
//! root is opened from its parent's descriptor with `O_NOFOLLOW`, every look is an
//! `fstatat(AT_SYMLINK_NOFOLLOW)`, and a path handed to path-based code (the `local` remote,
//! `remove_dir_all`) starts at `/proc/self/fd/N`, the open directory itself. nix wraps the
//! `*at` calls; cap-std would too, but not fchown nor the fdinfo scan (writers.rs).

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::dir::Dir;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat, fstatat};

/// Longest name list read from one directory: a repository the client floods with millions
/// of entries costs the vault a bounded amount of memory (the rest waits for later passes).
pub const MAX_ENTRIES: usize = 100_000;

pub struct Pinned {
    fd: OwnedFd,
    /// Where it is, for messages and state: the root's path, then names below it.
    pub shown: PathBuf,
}

/// A name in a pinned directory, looked at without following it.
pub struct Named {
    pub name: String,
    pub stat: FileStat,
}

impl Named {
    pub fn is_dir(&self) -> bool {
        kind(&self.stat) == SFlag::S_IFDIR
    }

    pub fn is_file(&self) -> bool {
        kind(&self.stat) == SFlag::S_IFREG
    }
}

pub fn kind(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT
}

fn dir_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

pub fn io_err(what: &str, at: &Path, e: nix::Error) -> io::Error {
    io::Error::new(
        io::Error::from(e).kind(),
        format!("cannot {what} {}: {e}", at.display()),
    )
}

impl Pinned {
    /// A configured root: the operator's path, so symlinks in it are the operator's.
    pub fn root(path: &Path) -> io::Result<Pinned> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| io_err("open the vault root", path, e))?;
        Ok(Pinned {
            fd,
            shown: path.to_path_buf(),
        })
    }

    /// The directory `name` in this one; a symlink there is refused (`ELOOP`), not followed.
    pub fn child(&self, name: &str) -> io::Result<Pinned> {
        let shown = self.shown.join(name);
        let fd = openat(self.fd.as_fd(), name, dir_flags(), Mode::empty())
            .map_err(|e| io_err("open the directory", &shown, e))?;
        Ok(Pinned { fd, shown })
    }

    /// `rel` (names separated by `/`) below this directory, one component at a time.
    pub fn descend(&self, rel: &str) -> io::Result<Pinned> {
        let mut at = self.child(".")?;
        at.shown = self.shown.clone();
        for part in rel.split('/').filter(|p| !p.is_empty()) {
            at = at.child(part)?;
        }
        Ok(at)
    }

    /// This directory as a path for path-based code: `/proc/self/fd/N/...` stays inside it.
    pub fn path(&self) -> String {
        format!("/proc/self/fd/{}", self.fd.as_raw_fd())
    }

    pub fn stat(&self) -> io::Result<FileStat> {
        fstat(self.fd.as_fd()).map_err(|e| io_err("look at", &self.shown, e))
    }

    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// `name` here, not followed; `None` when it does not exist.
    pub fn look(&self, name: &str) -> io::Result<Option<FileStat>> {
        match fstatat(self.fd.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(st)),
            Err(nix::Error::ENOENT) => Ok(None),
            Err(e) => Err(io_err("look at", &self.shown.join(name), e)),
        }
    }

    /// The entries (without `.` and `..`), each looked at without following; names that are
    /// not UTF-8 were not written by this program and are skipped. At most [`MAX_ENTRIES`].
    pub fn entries(&self) -> io::Result<Vec<Named>> {
        let fd = openat(self.fd.as_fd(), ".", dir_flags(), Mode::empty())
            .map_err(|e| io_err("list", &self.shown, e))?;
        let mut dir = Dir::from_fd(fd).map_err(|e| io_err("list", &self.shown, e))?;
        let mut out = Vec::new();
        for entry in dir.iter() {
            let entry = entry.map_err(|e| io_err("list", &self.shown, e))?;
            let Ok(name) = entry.file_name().to_str() else {
                continue;
            };
            if name == "." || name == ".." {
                continue;
            }
            if out.len() == MAX_ENTRIES {
                tracing::warn!(
                    "{} holds more than {MAX_ENTRIES} entries; the rest waits for a later pass",
                    self.shown.display()
                );
                break;
            }
            // Gone since it was listed: the client's, mid-change; the next pass sees it.
            if let Some(stat) = self.look(name)? {
                out.push(Named {
                    name: name.to_string(),
                    stat,
                });
            }
        }
        Ok(out)
    }

    /// Removes `name` and everything below it. std's `remove_dir_all` opens each level with
    /// `O_NOFOLLOW` and unlinks relative to it (the fix for CVE-2022-21658), and the path
    /// starts at this pinned directory, so a symlink swapped in anywhere is removed, not
    /// followed.
    pub fn remove_tree(&self, name: &str) -> io::Result<()> {
        let path = PathBuf::from(self.path()).join(name);
        let shown = self.shown.join(name);
        let gone = match self.look(name)? {
            None => return Ok(()),
            Some(st) if kind(&st) == SFlag::S_IFDIR => std::fs::remove_dir_all(&path),
            Some(_) => std::fs::remove_file(&path),
        };
        gone.map_err(|e| {
            io::Error::new(e.kind(), format!("cannot remove {}: {e}", shown.display()))
        })
    }

    /// Renames `from` to `to` in this directory (no replacing: `to` must not exist).
    pub fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        nix::fcntl::renameat2(
            self.fd.as_fd(),
            from,
            self.fd.as_fd(),
            to,
            nix::fcntl::RenameFlags::RENAME_NOREPLACE,
        )
        .map_err(|e| io_err("rename", &self.shown.join(from), e))
    }
}
