//! The checked configuration: every value parsed, defaulted and cross-checked. Code after
//! `config::load` relies on these invariants and never re-validates.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono_tz::Tz;
use globset::GlobSet;

pub use super::encryption::EncryptionConfig;
use super::model::{Compression, Hooks, Notify, VerifyMode, WriteOrder};
use crate::retention::Policy;
use crate::schedule::Schedule;
use crate::size::Percent;

#[derive(Debug, Clone)]
pub struct Config {
    /// The main file; drop-ins are listed in `files`.
    pub path: PathBuf,
    pub files: Vec<PathBuf>,
    pub agent: AgentConfig,
    pub remotes: BTreeMap<String, Arc<RemoteConfig>>,
    pub jobs: BTreeMap<String, JobConfig>,
}

impl Config {
    pub fn job(&self, name: &str) -> Option<&JobConfig> {
        self.jobs.get(name)
    }
}

/// Where a setting is written, for messages that send the operator to it: `file:line`, or
/// only the file when the setting is not written (its default applies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub file: PathBuf,
    pub line: Option<usize>,
}

impl Place {
    pub(super) fn of(p: &super::load::Parsed, span: std::ops::Range<usize>) -> Place {
        Place {
            file: p.path.clone(),
            line: Some(super::error::line_col(&p.text, span.start).0),
        }
    }

    pub(super) fn unset(file: &Path) -> Place {
        Place {
            file: file.to_path_buf(),
            line: None,
        }
    }
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}", self.file.display()),
            None => write!(f, "{} (not set: the default)", self.file.display()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub state_dir: PathBuf,
    pub state_dir_at: Place,
    pub timezone: Tz,
    pub max_concurrent_jobs: usize,
    pub shutdown_timeout: Duration,
    pub metrics_file: PathBuf,
    pub metrics_listen: Option<SocketAddr>,
    /// This machine's name for `{host}`, manifests and history ownership.
    pub host_name: String,
    /// `[agent.encryption]`: what a job without its own table uses.
    pub encryption: EncryptionConfig,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyCheck {
    KnownHosts(PathBuf),
    Fingerprint(String),
}

#[derive(Debug, Clone)]
pub struct RemoteConfig {
    pub name: String,
    /// Absolute base path (on the server, or on this machine for a local remote), without a
    /// trailing slash, with `{host}` already replaced.
    pub path: String,
    pub transport: Transport,
    /// `append_only = true`: commit without a rename, never prune, leave what a failed run
    /// left for the server's vault (repository/append.rs).
    pub append_only: bool,
}

#[derive(Debug, Clone)]
pub enum Transport {
    Sftp(Box<SftpConfig>),
    /// A directory on this machine.
    Local,
}

#[derive(Debug, Clone)]
pub struct SftpConfig {
    /// The remote's name in the config, for hints such as `backup host-key NAME`.
    pub name: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub identity_file: PathBuf,
    pub identity_file_at: Place,
    pub identity_passphrase_file: Option<(PathBuf, Place)>,
    pub host_key: HostKeyCheck,
    /// Where `known_hosts` or `host_key_fingerprint` is set.
    pub host_key_at: Place,
    pub connect_timeout: Duration,
    /// `None`: chosen at connect from the measured round-trip time (remote/sftp/open.rs).
    pub channels: Option<usize>,
    pub requests_in_flight: usize,
    /// `None`: detected from what the server announces when the connection opens.
    pub write_order: Option<WriteOrder>,
    /// `None`: no limit.
    pub bandwidth: Option<crate::remote::bandwidth::Bandwidth>,
}

impl SftpConfig {
    /// `user@host:port`, for messages.
    pub fn display_addr(&self) -> String {
        format!("{}@{}:{}", self.user, self.host, self.port)
    }
}

impl RemoteConfig {
    /// Where the snapshots go, for messages: `user@host:port` or `local`.
    pub fn display_addr(&self) -> String {
        match &self.transport {
            Transport::Sftp(s) => s.display_addr(),
            Transport::Local => "local".to_string(),
        }
    }

    pub fn sftp(&self) -> Option<&SftpConfig> {
        match &self.transport {
            Transport::Sftp(s) => Some(s.as_ref()),
            Transport::Local => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub path: PathBuf,
    pub optional: bool,
    pub at: Place,
}

/// Exclude patterns: one with a `/` matches the whole path, one without matches the base name.
#[derive(Debug, Clone)]
pub struct Exclude {
    pub patterns: Vec<String>,
    pub(super) full_path: GlobSet,
    pub(super) base_name: GlobSet,
}

impl Exclude {
    pub fn is_excluded(&self, path: &Path) -> bool {
        if self.full_path.is_match(path) {
            return true;
        }
        path.file_name()
            .is_some_and(|name| self.base_name.is_match(Path::new(name)))
    }
}

#[derive(Debug, Clone)]
pub struct CommandConfig {
    pub name: String,
    pub run: Vec<String>,
    pub user: Option<String>,
    pub env: BTreeMap<String, String>,
    pub cwd: Option<PathBuf>,
    pub timeout: Option<Duration>,
    pub at: Place,
    /// Fewer output bytes than this fail the run: an empty or error-only dump.
    pub min_bytes: u64,
    /// Output smaller than the last snapshot's by more than this fails the run.
    pub max_shrink: Option<Percent>,
}

/// The `min_bytes` floor when none is set: above what a dump of nothing prints (`sqlite3
/// .dump` of a corrupt file exits 0 with about 120 bytes), below a real dump's header.
pub const DEFAULT_MIN_BYTES: u64 = 512;

#[derive(Debug, Clone)]
pub struct JobConfig {
    pub name: String,
    /// The file that defines this job, for messages.
    pub defined_in: PathBuf,
    /// The destination this view of the job is about: the first of `destinations`, or the one
    /// chosen with [`JobConfig::at`].
    pub remote: Arc<RemoteConfig>,
    /// Every destination a run writes to, in config order (at least one; the first is
    /// `remote`, with `retention`).
    pub destinations: Vec<Destination>,
    /// Parsed at load time in `agent.timezone`; `None` = on demand only.
    pub schedule: Option<Schedule>,
    /// When the daemon runs `backup verify` of this job; same rules as `schedule`.
    pub verify_schedule: Option<Schedule>,
    pub verify_all: bool,
    pub sources: Vec<Source>,
    pub exclude: Exclude,
    /// Extended attributes are stored with each entry.
    pub xattrs: bool,
    /// POSIX ACLs are stored with each entry.
    pub acls: bool,
    /// Mount points below a source are stored empty, like `tar --one-file-system`.
    pub one_file_system: bool,
    pub verify: VerifyMode,
    pub catch_up: bool,
    pub jitter: Duration,
    pub timeout: Duration,
    pub retry_attempts: u32,
    pub retry_delay: Duration,
    pub commands: Vec<CommandConfig>,
    pub hooks: Hooks,
    /// The `hooks` table, or the job's when it has none.
    pub hooks_at: Place,
    /// The job's own `[notify]`, else `[agent.notify]`.
    pub notify: Option<Notify>,
    pub compression: Compression,
    /// The policy of `remote`.
    pub retention: Policy,
    pub encryption: EncryptionConfig,
}

/// One place a job's snapshots go, with the retention that applies there.
#[derive(Debug, Clone)]
pub struct Destination {
    pub remote: Arc<RemoteConfig>,
    pub retention: Policy,
}

impl JobConfig {
    /// The job as seen at one destination: `remote` and `retention` are that destination's, and
    /// it is the only one in `destinations`.
    pub fn at(&self, d: &Destination) -> JobConfig {
        JobConfig {
            remote: d.remote.clone(),
            retention: d.retention.clone(),
            destinations: vec![d.clone()],
            ..self.clone()
        }
    }

    /// The job at the destination named `remote`, if it is one of its destinations.
    pub fn at_remote(&self, remote: &str) -> Option<JobConfig> {
        self.destinations
            .iter()
            .find(|d| d.remote.name == remote)
            .map(|d| self.at(d))
    }

    /// The destinations' names, for messages.
    pub fn destination_names(&self) -> Vec<&str> {
        self.destinations
            .iter()
            .map(|d| d.remote.name.as_str())
            .collect()
    }
}
