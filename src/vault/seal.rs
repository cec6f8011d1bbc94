//! Sealing: after it, the client's account can no longer touch a snapshot. The directory goes
//! first (owner the vault user, 0555), so no entry can be added, removed or renamed while
//! the files are looked at; then every entry must be a regular file with one link (a hard
//! link would carry the seal to a file elsewhere), and is given to the vault user with 0444.
//! The job directory and every directory above it that the client could change get the vault
//! user as owner and the sticky bit: the client may still create there, but not remove or
//! rename what is not its own. A file opened for writing before the seal stays writable
//! through that descriptor, so the writers scan (writers.rs) has the last word.

use std::collections::HashSet;
use std::io;
use std::os::fd::AsFd;

use nix::fcntl::{OFlag, openat};
use nix::sys::stat::{FileStat, Mode, fchmod, fstat};
use nix::unistd::{Uid, fchown};

use super::pin::{Pinned, io_err};

const DIR_MODE: u32 = 0o555;
const FILE_MODE: u32 = 0o444;
/// The job directory: the client's group may create snapshots, nobody may remove another's.
pub const JOB_DIR_MODE: u32 = 0o1770;

/// What sealing `<id>/` found.
pub struct Seal {
    /// The names in it, sealed.
    pub names: Vec<String>,
    /// (dev, ino) of every sealed file, for the writers scan.
    pub inodes: HashSet<(u64, u64)>,
    /// Entries that are not what this program writes: the snapshot is damaged.
    pub problems: Vec<String>,
}

fn set(fd: impl AsFd, st: &FileStat, uid: u32, mode: u32) -> nix::Result<()> {
    if st.st_uid != uid {
        fchown(fd.as_fd(), Some(Uid::from_raw(uid)), None)?;
    }
    if st.st_mode & 0o7777 != mode {
        fchmod(fd.as_fd(), Mode::from_bits_truncate(mode))?;
    }
    Ok(())
}

/// Seals the snapshot directory `dir`.
pub fn seal_snapshot(dir: &Pinned, uid: u32) -> io::Result<Seal> {
    let st = dir.stat()?;
    set(dir.fd(), &st, uid, DIR_MODE).map_err(|e| io_err("seal", &dir.shown, e))?;
    let mut seal = Seal {
        names: Vec::new(),
        inodes: HashSet::new(),
        problems: Vec::new(),
    };
    for e in dir.entries()? {
        let shown = dir.shown.join(&e.name);
        seal.names.push(e.name.clone());
        if !e.is_file() {
            seal.problems.push(format!(
                "{}: not a regular file; left as it is",
                crate::repository::escape(&e.name)
            ));
            continue;
        }
        if e.stat.st_nlink != 1 {
            seal.problems.push(format!(
                "{}: has {} hard links; left as it is",
                e.name, e.stat.st_nlink
            ));
            continue;
        }
        let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
        let fd = openat(dir.fd(), e.name.as_str(), flags, Mode::empty())
            .map_err(|err| io_err("open", &shown, err))?;
        let now = fstat(fd.as_fd()).map_err(|err| io_err("look at", &shown, err))?;
        if (now.st_dev, now.st_ino) != (e.stat.st_dev, e.stat.st_ino) {
            seal.problems
                .push(format!("{}: replaced while it was sealed", e.name));
            continue;
        }
        set(&fd, &now, uid, FILE_MODE).map_err(|err| io_err("seal", &shown, err))?;
        seal.inodes.insert((now.st_dev, now.st_ino));
    }
    Ok(seal)
}

/// Seals one regular file the client wrote in the job directory (`.owner`): no longer
/// replaceable by the client's key. Anything else by that name is left alone.
pub fn seal_file(dir: &Pinned, name: &str, uid: u32) -> io::Result<()> {
    let Some(st) = dir.look(name)? else {
        return Ok(());
    };
    if super::pin::kind(&st) != nix::sys::stat::SFlag::S_IFREG || st.st_nlink != 1 {
        return Ok(());
    }
    let shown = dir.shown.join(name);
    let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    let fd = openat(dir.fd(), name, flags, Mode::empty()).map_err(|e| io_err("open", &shown, e))?;
    let now = fstat(fd.as_fd()).map_err(|e| io_err("look at", &shown, e))?;
    set(&fd, &now, uid, FILE_MODE).map_err(|e| io_err("seal", &shown, e))
}

/// Guards a directory the client could change: one the client owns (it made it: the job
/// directory, a `{host}` level) goes to the vault user with [`JOB_DIR_MODE`], keeping its
/// group, so the client's group may still create there but nobody may remove or rename what
/// is not theirs; a root's or the vault user's directory that others may write gets the
/// sticky bit. A root-owned directory nobody else may write (an sshd chroot, which must stay
/// so) is left alone.
pub fn guard_dir(dir: &Pinned, uid: u32, job_dir: bool) -> io::Result<()> {
    let st = dir.stat()?;
    let mode = st.st_mode & 0o7777;
    let ours = st.st_uid == 0 || st.st_uid == uid;
    if job_dir || !ours {
        return set(dir.fd(), &st, uid, JOB_DIR_MODE).map_err(|e| io_err("guard", &dir.shown, e));
    }
    if mode & 0o022 == 0 || mode & 0o1000 != 0 {
        return Ok(());
    }
    set(dir.fd(), &st, st.st_uid, mode | 0o1000).map_err(|e| io_err("guard", &dir.shown, e))
}
