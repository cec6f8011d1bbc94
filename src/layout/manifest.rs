//! `manifest.json`: what a snapshot holds and how it was made. Written last; its presence in a
//! directory named by an id is what makes that directory a committed snapshot.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::encryption::RecipientInfo;

/// The newest format this program reads and writes for encrypted snapshots. Snapshots in
/// clear are still written as [`PLAIN_FORMAT_VERSION`], which older versions read.
pub const FORMAT_VERSION: u32 = 2;
pub const PLAIN_FORMAT_VERSION: u32 = 1;

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
    /// `sources`, `exclude`, `stats`, `warnings` and the commands' `run` are absent from an
    /// encrypted snapshot's manifest: they are in its `details.json.age`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<Vec<String>>,
    #[serde(default)]
    pub commands: Vec<CommandEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<Stats>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<String>>,
    /// Optional sources that did not exist when this snapshot was made (in an encrypted
    /// snapshot: in its details).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_sources: Vec<String>,
    /// How the upload was verified before commit: `size`, `remote-hash` or `readback`.
    pub verified_by: String,
    /// Present when the stored files are encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<EncryptionInfo>,
}

/// How a snapshot is encrypted: the format and whom to (fingerprints only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncryptionInfo {
    /// `age-v1`.
    pub format: String,
    pub recipients: Vec<RecipientInfo>,
}

/// The part of a run's record that an encrypted snapshot keeps from the server, stored as
/// `details.json.age`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Details {
    pub sources: Vec<String>,
    pub exclude: Vec<String>,
    pub commands: Vec<CommandLine>,
    pub stats: Stats,
    pub warnings: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_sources: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandLine {
    pub name: String,
    pub run: Vec<String>,
}

impl Details {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<Vec<String>>,
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
    pub fn is_encrypted(&self) -> bool {
        self.encryption.is_some()
    }

    pub fn to_json(&self) -> String {
        // Serializing plain structs of strings and numbers cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    pub fn from_json(text: &[u8]) -> Result<Manifest, String> {
        serde_json::from_slice(text).map_err(|e| format!("manifest.json is not valid: {e}"))
    }
}
