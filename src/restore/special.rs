//! Special files: FIFOs and device nodes, created with `mkfifoat`/`mknodat` on the handle of
//! their parent inside the target (target.rs), so never outside it. A device node is made only
//! by root and only when asked (`backup restore --devices`): one written into an arbitrary
//! target would give whoever can reach it the device itself (a disk, memory).

use std::io;
use std::os::fd::AsFd;

use nix::sys::stat::{Mode, SFlag};
use tar::{EntryType, Header};

use super::target::Place;

/// Why device nodes are not created by this restore, if they are not.
pub fn devices_refused(asked: bool) -> Option<&'static str> {
    if !nix::unistd::geteuid().is_root() {
        Some("only root can create device nodes")
    } else if !asked {
        Some("pass --devices to create device nodes")
    } else {
        None
    }
}

pub fn fifo(at: &Place) -> io::Result<()> {
    nix::unistd::mkfifoat(
        at.dir.as_fd(),
        at.name.as_os_str(),
        Mode::from_bits_truncate(0o600),
    )
    .map_err(io::Error::from)
}

/// A character or block device with the header's numbers, mode 0600 until its own is set.
pub fn device(at: &Place, h: &Header) -> io::Result<()> {
    let kind = if h.entry_type() == EntryType::Block {
        SFlag::S_IFBLK
    } else {
        SFlag::S_IFCHR
    };
    let major = h.device_major()?.unwrap_or(0);
    let minor = h.device_minor()?.unwrap_or(0);
    nix::sys::stat::mknodat(
        at.dir.as_fd(),
        at.name.as_os_str(),
        kind,
        Mode::from_bits_truncate(0o600),
        nix::sys::stat::makedev(major.into(), minor.into()),
    )
    .map_err(io::Error::from)
}
