//! The TOML model: what an operator may write, with the defaults they get when they don't.
//! Every table denies unknown keys, so a typo is an error that names its file and line rather
//! than a setting silently ignored.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

pub use super::encryption::Encryption;
use crate::duration::HumanDuration;
use crate::size::{ByteSize, Percent};

/// One parsed file: the main config or a drop-in from `jobs.d/`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FileModel {
    pub agent: Option<Spanned<Agent>>,
    #[serde(default)]
    pub remotes: BTreeMap<String, Spanned<Remote>>,
    #[serde(default)]
    pub jobs: BTreeMap<String, Spanned<Job>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    /// `None` = [`DEFAULT_STATE_DIR`]; spanned so `backup check` can point at it.
    pub state_dir: Option<Spanned<PathBuf>>,
    /// IANA zone for schedules and retention buckets; `None` = the system's zone.
    pub timezone: Option<Spanned<String>>,
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent_jobs: u32,
    #[serde(default = "default_shutdown_timeout")]
    pub shutdown_timeout: HumanDuration,
    pub metrics_file: Option<PathBuf>,
    pub metrics_listen: Option<Spanned<String>>,
    pub notify: Option<Notify>,
    /// This machine's name in `{host}`, manifests and ownership records (default: short host name).
    pub host_name: Option<Spanned<String>>,
    /// The default encryption of every job (age recipients).
    pub encryption: Option<Spanned<Encryption>>,
}

impl Default for Agent {
    fn default() -> Self {
        Agent {
            state_dir: None,
            timezone: None,
            max_concurrent_jobs: default_max_concurrent(),
            shutdown_timeout: default_shutdown_timeout(),
            metrics_file: None,
            metrics_listen: None,
            notify: None,
            host_name: None,
            encryption: None,
        }
    }
}

/// What carries the bytes: an SFTP server, or a directory here (a disk, NFS, the server itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RemoteType {
    #[default]
    Sftp,
    Local,
}

/// Every SFTP key is optional, so validation can name (with file and line) those a `local`
/// remote must not have and those an `sftp` remote lacks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Remote {
    #[serde(rename = "type", default)]
    pub kind: RemoteType,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub identity_file: Option<Spanned<PathBuf>>,
    pub identity_passphrase_file: Option<Spanned<PathBuf>>,
    /// OpenSSH known_hosts file; required unless `host_key_fingerprint` pins the key.
    pub known_hosts: Option<Spanned<PathBuf>>,
    /// `SHA256:...` as printed by `ssh-keygen -lf` or `backup host-key`.
    pub host_key_fingerprint: Option<Spanned<String>>,
    /// Base directory; snapshots go to `<path>/<job>/`. May hold `{host}`.
    pub path: Spanned<String>,
    pub connect_timeout: Option<HumanDuration>,
    /// SFTP channels of the one connection an upload spreads its writes over (sshd's 2 MiB
    /// window per channel caps a long link); unset: 3 to 8, from the round-trip time.
    pub channels: Option<u32>,
    /// SFTP write requests in flight per channel.
    pub requests_in_flight: Option<u32>,
    /// Whether the server takes a file's writes at any offset; unset: detected at connect.
    pub write_order: Option<WriteOrder>,
    /// Bytes per second, or a timetable of them (sftp only).
    pub bandwidth: Option<Spanned<super::bandwidth::Written>>,
    /// The agent never removes, renames or changes what it committed there; the server's
    /// `backup vault` seals and rotates (DESIGN.md principle 7).
    #[serde(default)]
    pub append_only: bool,
}

impl Remote {
    /// The SFTP-only keys that are set, for the error on a `local` remote.
    pub fn sftp_keys_set(&self) -> Vec<&'static str> {
        [
            ("host", self.host.is_some()),
            ("port", self.port.is_some()),
            ("user", self.user.is_some()),
            ("identity_file", self.identity_file.is_some()),
            (
                "identity_passphrase_file",
                self.identity_passphrase_file.is_some(),
            ),
            ("known_hosts", self.known_hosts.is_some()),
            ("host_key_fingerprint", self.host_key_fingerprint.is_some()),
            ("connect_timeout", self.connect_timeout.is_some()),
            ("channels", self.channels.is_some()),
            ("requests_in_flight", self.requests_in_flight.is_some()),
            ("write_order", self.write_order.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, set)| set.then_some(k))
        .collect()
    }
}

/// How one file's writes may reach an SFTP server: object-store gateways (rclone's VFS, AWS
/// Transfer Family) stream a file to storage and take writes only in offset order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WriteOrder {
    /// Spread over every channel, each write at its own offset, answered in any order.
    Any,
    /// One handle on one channel, sent strictly in offset order (still pipelined).
    Sequential,
}

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

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    pub healthcheck_url: Option<String>,
    pub webhook_url: Option<String>,
    /// Extra HTTP headers for the webhook; values may hold tokens and are never logged.
    #[serde(default)]
    pub webhook_headers: BTreeMap<String, String>,
    /// A file of `Name: value` lines, for tokens kept out of the config.
    pub webhook_headers_file: Option<PathBuf>,
    #[serde(default = "default_notify_timeout")]
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

pub const DEFAULT_STATE_DIR: &str = "/var/lib/backup-agent";

fn default_max_concurrent() -> u32 {
    2
}
fn default_shutdown_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(300))
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
fn default_notify_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(10))
}
fn default_level() -> i32 {
    3
}
