//! `manifest.json`: what a snapshot holds and how it was made. Written last; its presence in a
//! directory named by an id is what makes that directory a committed snapshot.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub program: String,
    pub program_version: String,
    pub job: String,
    pub snapshot: String,
    pub host: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub files: Vec<FileEntry>,
    pub sources: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub commands: Vec<CommandEntry>,
    pub stats: Stats,
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Optional sources that did not exist when this snapshot was made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_sources: Vec<String>,
    /// How the upload was verified before commit: `size`, `remote-hash` or `readback`.
    pub verified_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub name: String,
    /// Stored (compressed) bytes.
    pub size: u64,
    pub sha256: String,
    /// Bytes before compression: the tar stream or the command's output.
    pub raw_size: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandEntry {
    pub name: String,
    pub run: Vec<String>,
    pub exit_status: i32,
    pub duration_seconds: f64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub bytes_read: u64,
    pub bytes_stored: u64,
}

impl Manifest {
    pub fn to_json(&self) -> String {
        // Serializing plain structs of strings and numbers cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    pub fn from_json(text: &[u8]) -> Result<Manifest, String> {
        serde_json::from_slice(text).map_err(|e| format!("manifest.json is not valid: {e}"))
    }
}
