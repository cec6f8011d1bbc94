//! A job's table: `[jobs.NAME]`, its commands, hooks and compression.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::{Encryption, Notify};
use crate::duration::HumanDuration;
use crate::size::{ByteSize, Percent};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum VerifyMode {
    #[default]
    Auto,
    RemoteHash,
    Readback,
    Size,
}

impl VerifyMode {
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyMode::Auto => "auto",
            VerifyMode::RemoteHash => "remote-hash",
            VerifyMode::Readback => "readback",
            VerifyMode::Size => "size",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// The one destination; exclusive with `remotes`.
    pub remote: Option<Spanned<String>>,
    /// Several destinations: one read of the sources, one snapshot on each.
    pub remotes: Option<Spanned<Vec<Spanned<String>>>>,
    pub schedule: Option<Spanned<String>>,
    /// When the daemon verifies stored snapshots (cron, like `schedule`).
    pub verify_schedule: Option<Spanned<String>>,
    /// true: the scheduled verification checks every snapshot, not only the latest.
    #[serde(default)]
    pub verify_all: bool,
    #[serde(default)]
    pub sources: Vec<Spanned<PathBuf>>,
    /// Like `sources`, but a missing path is a warning instead of a failed run.
    #[serde(default)]
    pub optional_sources: Vec<Spanned<PathBuf>>,
    #[serde(default)]
    pub exclude: Vec<Spanned<String>>,
    /// Store extended attributes (`SCHILY.xattr.*` PAX records).
    #[serde(default = "default_true")]
    pub xattrs: bool,
    /// Store POSIX ACLs (`SCHILY.acl.*` PAX records).
    #[serde(default = "default_true")]
    pub acls: bool,
    /// Do not descend into mount points below a source.
    #[serde(default)]
    pub one_file_system: bool,
    #[serde(default)]
    pub verify: VerifyMode,
    #[serde(default = "default_true")]
    pub catch_up: bool,
    #[serde(default)]
    pub jitter: HumanDuration,
    #[serde(default = "default_job_timeout")]
    pub timeout: HumanDuration,
    #[serde(default = "default_retry_attempts")]
    pub retry_attempts: u32,
    #[serde(default = "default_retry_delay")]
    pub retry_delay: HumanDuration,
    #[serde(default)]
    pub commands: Vec<Spanned<Command>>,
    /// Spanned so `backup check` can point at the table.
    pub hooks: Option<Spanned<Hooks>>,
    pub notify: Option<Notify>,
    #[serde(default)]
    pub compression: Compression,
    /// A `Policy`'s keys and per-destination sub-tables: see `config::destinations`.
    pub retention: Option<BTreeMap<String, Spanned<toml::Value>>>,
    pub encryption: Option<Spanned<Encryption>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Command {
    pub name: String,
    pub run: Vec<String>,
    pub user: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub cwd: Option<PathBuf>,
    pub timeout: Option<HumanDuration>,
    /// Dump guard: fewer bytes than this fails the run (default `DEFAULT_MIN_BYTES`).
    pub min_bytes: Option<ByteSize>,
    /// Dump guard: shrinking by more than this against the last snapshot fails the run.
    pub max_shrink: Option<Percent>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hooks {
    pub before: Option<Vec<String>>,
    pub after: Option<Vec<String>>,
    pub on_failure: Option<Vec<String>>,
    pub finally: Option<Vec<String>>,
    #[serde(default = "default_hook_timeout")]
    pub timeout: HumanDuration,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Compression {
    #[serde(default = "default_level")]
    pub level: i32,
    /// zstd workers of the whole job, shared by its streams (snapshot/workers.rs); 0 = auto.
    #[serde(default)]
    pub threads: u32,
}

impl Default for Compression {
    fn default() -> Self {
        Compression {
            level: default_level(),
            threads: 0,
        }
    }
}

fn default_true() -> bool {
    true
}
fn default_job_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(24 * 3600))
}
fn default_retry_attempts() -> u32 {
    2
}
fn default_retry_delay() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(300))
}
fn default_hook_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(600))
}
fn default_level() -> i32 {
    3
}
