//! The TOML model: what an operator may write, with the defaults they get when they don't.
//! Every table denies unknown keys, so a typo is an error that names its file and line rather
//! than a setting silently ignored.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use crate::duration::HumanDuration;
use crate::retention::Policy;

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
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// IANA zone for schedules and retention buckets; `None` = the system's zone.
    pub timezone: Option<Spanned<String>>,
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent_jobs: u32,
    #[serde(default = "default_shutdown_timeout")]
    pub shutdown_timeout: HumanDuration,
    pub metrics_file: Option<PathBuf>,
    pub metrics_listen: Option<Spanned<String>>,
    pub notify: Option<Notify>,
}

impl Default for Agent {
    fn default() -> Self {
        Agent {
            state_dir: default_state_dir(),
            timezone: None,
            max_concurrent_jobs: default_max_concurrent(),
            shutdown_timeout: default_shutdown_timeout(),
            metrics_file: None,
            metrics_listen: None,
            notify: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Remote {
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    pub user: String,
    pub identity_file: PathBuf,
    pub identity_passphrase_file: Option<PathBuf>,
    /// OpenSSH known_hosts file; required unless `host_key_fingerprint` pins the key.
    pub known_hosts: Option<PathBuf>,
    /// `SHA256:...` as printed by `ssh-keygen -lf` or `backup host-key`.
    pub host_key_fingerprint: Option<Spanned<String>>,
    /// Base directory on the server; snapshots go to `<path>/<job>/`.
    pub path: Spanned<String>,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: HumanDuration,
    /// SFTP channels one upload spreads its writes over (one connection). More than one helps
    /// on high-latency links where sshd's 2 MiB per-channel window caps throughput; 3 measured
    /// best with shared/bench/wan.sh at 20 ms RTT (2: 90 MB/s, 3: 102, 4: 103).
    #[serde(default = "default_channels")]
    pub channels: u32,
    /// SFTP write requests in flight per channel.
    #[serde(default = "default_requests_in_flight")]
    pub requests_in_flight: u32,
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
    pub remote: Spanned<String>,
    pub schedule: Option<Spanned<String>>,
    #[serde(default)]
    pub sources: Vec<Spanned<PathBuf>>,
    /// Like `sources`, but a missing path is a warning instead of a failed run.
    #[serde(default)]
    pub optional_sources: Vec<Spanned<PathBuf>>,
    #[serde(default)]
    pub exclude: Vec<Spanned<String>>,
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
    #[serde(default)]
    pub hooks: Hooks,
    pub notify: Option<Notify>,
    #[serde(default)]
    pub compression: Compression,
    #[serde(default)]
    pub retention: Policy,
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
    /// zstd worker threads; 0 = one per core.
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

fn default_state_dir() -> PathBuf {
    PathBuf::from("/var/lib/backup-agent")
}
fn default_max_concurrent() -> u32 {
    2
}
fn default_shutdown_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(300))
}
fn default_port() -> u16 {
    22
}
fn default_connect_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(30))
}
fn default_channels() -> u32 {
    3
}
fn default_requests_in_flight() -> u32 {
    16
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
