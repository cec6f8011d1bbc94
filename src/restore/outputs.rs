//! Command outputs restored as plain files beside the archive's tree: `app.sql.zst` becomes
//! `DIR/app.sql`, decompressed, written through the target's directory handle.

use std::io;
use std::path::Path;

use crate::layout;

/// A command output's plain file name under the target, if it is a safe one.
pub(super) fn output_name(stored: &str) -> Option<&str> {
    match layout::StoredFile::parse(stored)? {
        layout::StoredFile::Command { name, .. } => Some(&stored[..name.len()]),
        layout::StoredFile::Sources { .. } | layout::StoredFile::Details => None,
    }
}

/// Writes one command output as `name` in the target, through the target's handle. Nothing is
/// created before the first byte arrives, so a stored file the server does not let us read
/// leaves no empty file behind that would pass for an empty output.
pub(super) fn write_output(
    input: impl io::Read,
    root: &Path,
    name: &str,
    force: bool,
) -> io::Result<u64> {
    use std::io::BufRead;
    let mut input = io::BufReader::new(input);
    if input.fill_buf()?.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "nothing was received",
        ));
    }
    let target = super::target::Target::open(root)?;
    let at = target
        .place(Path::new(name), false)?
        .map_err(io::Error::other)?;
    if force {
        use std::os::fd::AsFd;
        match nix::unistd::unlinkat(
            at.dir.as_fd(),
            at.name.as_os_str(),
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        ) {
            Ok(()) | Err(nix::errno::Errno::ENOENT) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let mut out = super::target::create_file(&at)?;
    let mut decoder = zstd::stream::read::Decoder::with_buffer(input)?;
    super::read_side::copy(&mut decoder, &mut out, &mut Vec::new())
}
