//! Names read from an archive: which are safe relative paths under the target, and how they
//! are shown in messages.

use std::path::{Component, Path, PathBuf};

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

/// A path from the archive as it may be shown: escaped, so that no control character or ANSI
/// sequence a hostile archive put in a name reaches a terminal or a log.
pub(super) fn shown(path: &Path) -> String {
    crate::layout::escape(&path.display().to_string())
}
