//! Setting an entry's extended attributes back, through its open descriptor (`fsetxattr`),
//! never by path. One that cannot be set (`security.*` or `trusted.*` without root, a file
//! system without them) is a warning naming the file and the attribute; the others are set.
//! Called after chown (which clears `security.capability`) and chmod.

use std::ffi::OsString;
use std::fs::File;

use xattr::FileExt;

/// Sets every attribute; returns a warning for each that could not be set.
pub fn set_all(f: &File, xattrs: &[(OsString, Vec<u8>)], shown: &str) -> Vec<String> {
    let mut warnings = Vec::new();
    for (name, value) in xattrs {
        if let Err(e) = f.set_xattr(name, value) {
            warnings.push(format!(
                "{shown}: extended attribute {} not set: {e}{}",
                name.to_string_lossy(),
                why(&e, name)
            ));
        }
    }
    warnings
}

fn why(e: &std::io::Error, name: &OsString) -> &'static str {
    let privileged = name.as_encoded_bytes().starts_with(b"security.")
        || name.as_encoded_bytes().starts_with(b"trusted.");
    match e.raw_os_error() {
        Some(libc::EPERM) if privileged => " (only root may set it: restore as root)",
        Some(libc::ENOTSUP) => " (the target's file system does not support it)",
        _ => "",
    }
}
