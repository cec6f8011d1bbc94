//! Which directories under a root are repositories. A repository is a directory below the
//! root that directly holds `.owner` or an entry named like a snapshot (`<id>`,
//! `.<id>.partial`, `.<id>.deleting`): that is what a run leaves in `<path>/<job>/`, whatever
//! `path` is (`.owner` keeps a history whose leftovers were all cleaned a repository). The
//! walk follows no symlink, skips hidden names, goes at most [`MAX_DEPTH`] levels deep and
//! does not descend into a repository. Its key is its path below the root (`db01/db`), and
//! its job is the last component. `check --connect` scratch directories found on the way are
//! returned too, to be removed after the grace period like any leftover.

use super::pin::Pinned;
use crate::layout::Entry;

/// Deep enough for `<root>/<host>/<path...>/<job>`.
pub const MAX_DEPTH: usize = 8;
pub const PROBE_PREFIX: &str = ".backup-agent-probe-";

#[derive(Debug, Default)]
pub struct Found {
    /// Paths below the root, `/`-separated.
    pub repositories: Vec<String>,
    pub probes: Vec<String>,
    /// Directories that could not be read (a pass error, not a reason to stop).
    pub problems: Vec<String>,
}

pub fn is_repository(entries: &[super::pin::Named]) -> bool {
    entries.iter().any(|e| {
        e.name == crate::layout::OWNER_FILE || !matches!(Entry::classify(&e.name), Entry::Other)
    })
}

pub fn discover(root: &Pinned) -> Found {
    let mut found = Found::default();
    let mut stack = vec![(String::new(), 0usize)];
    while let Some((rel, depth)) = stack.pop() {
        let dir = match root.descend(&rel) {
            Ok(d) => d,
            // A symlink swapped in since the listing: nothing to follow.
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => continue,
            Err(e) => {
                found.problems.push(e.to_string());
                continue;
            }
        };
        let entries = match dir.entries() {
            Ok(e) => e,
            Err(e) => {
                found.problems.push(e.to_string());
                continue;
            }
        };
        if !rel.is_empty() && is_repository(&entries) {
            found.repositories.push(rel);
            continue;
        }
        for e in entries {
            let child = if rel.is_empty() {
                e.name.clone()
            } else {
                format!("{rel}/{}", e.name)
            };
            if e.name.starts_with(PROBE_PREFIX) {
                found.probes.push(child);
            } else if !e.name.starts_with('.') && e.is_dir() && depth < MAX_DEPTH {
                stack.push((child, depth + 1));
            }
        }
    }
    found.repositories.sort();
    found.probes.sort();
    found
}
