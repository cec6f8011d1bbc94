//! `state_dir/daemon.heartbeat`: the last minute the daemon was alive, one RFC 3339 line. It
//! outlives the daemon on purpose: the metrics rendered from it age when the daemon dies.
//! Kept out of `state.json` and written without fsync: it changes every minute, and a value
//! lost in a crash is replaced a minute after the next start.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::files::{Durable, replace};

pub const FILE: &str = "daemon.heartbeat";

fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE)
}

/// Replaces the file ([`replace`]: a reader never sees half a line).
pub fn write(state_dir: &Path, at: DateTime<Utc>) -> Result<(), String> {
    let line = format!(
        "{}\n",
        at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    );
    fs_err::create_dir_all(state_dir)
        .and_then(|()| replace(&path(state_dir), line.as_bytes(), 0o644, Durable::No))
        .map_err(|e| {
            format!(
                "cannot write the daemon heartbeat: {e}\nhint: check that state_dir is writable"
            )
        })
}

/// The last heartbeat, if a daemon ever ran on this state directory.
pub fn read(state_dir: &Path) -> Option<DateTime<Utc>> {
    let text = std::fs::read_to_string(path(state_dir)).ok()?;
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
