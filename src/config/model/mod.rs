//! The TOML model: what an operator may write, with the defaults they get when they don't.
//! Every table denies unknown keys, so a typo is an error that names its file and line rather
//! than a setting silently ignored. The agent's table and the file's shape here; a remote's
//! table in remote.rs, a job's (with its commands, hooks and compression) in job.rs.

mod job;
mod remote;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

pub use super::encryption::Encryption;
use crate::duration::HumanDuration;
pub use job::{Compression, Hooks, Job, VerifyMode};
pub use remote::{Remote, RemoteType, WriteOrder};

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

pub const DEFAULT_STATE_DIR: &str = "/var/lib/backup-agent";

fn default_max_concurrent() -> u32 {
    2
}
fn default_shutdown_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(300))
}
fn default_notify_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(10))
}
