//! What the vault remembers between passes, in `<state_dir>/state.json`: for every
//! repository (by its path below the root), the snapshots it has seen with the time it first
//! saw each (the time the client cannot forge), what it found, and when it first saw each
//! leftover of a failed run. A mark is never lifted, so this file is the vault's memory of
//! what must never be counted; `backup vault status` reads it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::report::files::{Durable, replace};

pub const STATE_FILE: &str = "state.json";
/// Largest state file read: far beyond any fleet's (about 300 bytes per snapshot).
const MAX_STATE: u64 = 256 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Committed and sealed, but a descriptor could still write it: checked next pass.
    Waiting,
    /// Sealed, checked, believable: retention counts it.
    Sealed,
    /// Sealed but failed its check: kept, reported, never counted.
    Damaged,
    /// Sealed and intact, but its id disagrees with the server's time or it came in a flood:
    /// kept, reported, never counted.
    Suspicious,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Waiting => "waiting",
            Status::Sealed => "sealed",
            Status::Damaged => "damaged",
            Status::Suspicious => "suspicious",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Seen {
    pub status: Status,
    /// When a pass first saw its manifest.
    pub first_seen: DateTime<Utc>,
    /// The server's time for it: the earlier of its manifest's ctime then and `first_seen`.
    pub trusted: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Totals {
    pub sealed: u64,
    pub removed: u64,
    pub cleaned: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RepoState {
    /// By id.
    pub snapshots: BTreeMap<String, Seen>,
    /// Leftovers of failed runs (and probes), by name, with when a pass first saw each.
    pub incomplete: BTreeMap<String, DateTime<Utc>>,
    pub totals: Totals,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_pass: Option<DateTime<Utc>>,
    /// The last pass's error, if it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl RepoState {
    pub fn count(&self, status: Status) -> usize {
        self.snapshots
            .values()
            .filter(|s| s.status == status)
            .count()
    }

    /// The newest sealed, counted snapshot.
    pub fn newest_sealed(&self) -> Option<&str> {
        self.snapshots
            .iter()
            .rev()
            .find(|(_, s)| s.status == Status::Sealed)
            .map(|(id, _)| id.as_str())
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct VaultState {
    pub version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_pass: Option<DateTime<Utc>>,
    pub repositories: BTreeMap<String, RepoState>,
    /// Probe scratch directories outside repositories, by path below the root.
    #[serde(default)]
    pub leftovers: BTreeMap<String, DateTime<Utc>>,
}

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(STATE_FILE)
}

/// The state, or a fresh one when there is none yet. A state that cannot be read is an
/// error: starting over would forget every mark.
pub fn load(state_dir: &Path) -> std::io::Result<VaultState> {
    let p = path(state_dir);
    let bytes = match fs_err::metadata(&p) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(VaultState {
                version: 1,
                ..VaultState::default()
            });
        }
        Err(e) => return Err(e),
        Ok(m) if m.len() > MAX_STATE => {
            return Err(std::io::Error::other(format!(
                "{} is {} bytes, more than this program writes",
                p.display(),
                m.len()
            )));
        }
        Ok(_) => fs_err::read(&p)?,
    };
    serde_json::from_slice(&bytes).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{} cannot be read ({e}); move it aside only if you accept that the vault forgets its marks",
                p.display()
            ),
        )
    })
}

pub fn save(state_dir: &Path, state: &VaultState) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
    replace(&path(state_dir), &json, 0o600, Durable::Yes)
}
