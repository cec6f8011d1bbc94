//! One entry point per CLI command. Each loads what it needs, does its work through the library
//! modules, prints its result, and returns the process exit code.

mod check;
mod daemon;
mod destination;
mod host_key;
mod keygen;
mod list;
mod out;

pub use out::eprint_line;
mod prune;
mod restore;
mod run;
mod status;
mod vault;
mod verify;

use std::fmt;

use crate::cli::{Cli, Command};
use crate::config::{self, Config, ConfigError, JobConfig};

/// An error printed once by `main`, with its exit code (DESIGN.md: 1 failed, 2 usage/config)
/// and, apart, what to do about it.
#[derive(Debug)]
pub enum CliError {
    Usage(String),
    Config(ConfigError),
    Failed(String),
    /// Nothing to print: stdout went away (`| head`); exit with this code.
    Silent(i32),
    /// Usage (`code` 2) or failure (1) with a hint `main` prints on its own line.
    Hinted {
        code: i32,
        message: String,
        hint: String,
    },
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) | CliError::Config(_) => 2,
            CliError::Failed(_) => 1,
            CliError::Hinted { code, .. } | CliError::Silent(code) => *code,
        }
    }

    /// What the operator can do, printed once as `hint: ...` (config errors carry their own).
    pub fn hint(&self) -> Option<&str> {
        match self {
            CliError::Hinted { hint, .. } => Some(hint),
            _ => None,
        }
    }

    /// A failure (exit 1) with the hint of the error behind it, if any.
    pub fn failed(message: String, hint: Option<String>) -> CliError {
        match hint {
            Some(hint) => CliError::Hinted {
                code: 1,
                message,
                hint,
            },
            None => CliError::Failed(message),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::Failed(m) => write!(f, "{m}"),
            CliError::Hinted { message, .. } => write!(f, "{message}"),
            CliError::Config(e) => write!(f, "{e}"),
            CliError::Silent(_) => Ok(()),
        }
    }
}

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> Self {
        CliError::Config(e)
    }
}

impl From<crate::remote::RemoteError> for CliError {
    fn from(e: crate::remote::RemoteError) -> Self {
        CliError::failed(e.to_string(), e.hint())
    }
}

impl From<crate::repository::RepoError> for CliError {
    fn from(e: crate::repository::RepoError) -> Self {
        match e {
            // Asking for a snapshot that does not exist is a usage error (exit 2).
            crate::repository::RepoError::NoSnapshot { message, hint }
            | crate::repository::RepoError::Key { message, hint } => CliError::Hinted {
                code: 2,
                message,
                hint,
            },
            e => CliError::failed(e.to_string(), e.hint()),
        }
    }
}

impl From<crate::job::JobError> for CliError {
    fn from(e: crate::job::JobError) -> Self {
        match e {
            crate::job::JobError::Repository(r) => r.into(),
            e => CliError::failed(e.to_string(), e.hint()),
        }
    }
}

pub fn dispatch(cli: Cli) -> Result<i32, CliError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the async runtime: {e}")))?;
    let path = cli.config_path();
    let vault_path = cli.vault_config_path();
    let load = || config::load(&path).map_err(CliError::from);
    match cli.command {
        Command::Run {
            jobs,
            all,
            dry_run,
            wait,
            take_over,
        } => {
            let opts = crate::job::RunOptions {
                dry_run,
                wait_for_lock: wait,
                progress_bar: true,
                take_over,
            };
            rt.block_on(run::run(&load()?, &jobs, all, &opts))
        }
        Command::Check {
            connect,
            config_only,
        } => rt.block_on(check::check(&load()?, connect, config_only)),
        Command::List { job, remote, json } => rt.block_on(async {
            let cfg = destination::narrow(load()?, &job, remote.as_deref()).await?;
            list::list(&cfg, &job, json).await
        }),
        Command::HostKey { remote } => rt.block_on(host_key::host_key(&load()?, &remote)),
        Command::Daemon => rt.block_on(daemon::daemon(&path, load()?)),
        Command::Status { json } => status::status(&load()?, json),
        Command::Verify {
            job,
            remote,
            snapshot,
            all,
            read,
            key,
        } => {
            let cfg = rt.block_on(destination::narrow(load()?, &job, remote.as_deref()))?;
            let opts = verify::VerifyOptions {
                snapshot,
                all,
                read,
                identity: keygen::identity(self::job(&cfg, &job)?, &key),
            };
            rt.block_on(verify::verify(&cfg, &job, &opts))
        }
        Command::Restore {
            job,
            remote,
            snapshot,
            target,
            paths,
            force,
            no_owner,
            devices,
            key,
        } => {
            let cfg = rt.block_on(destination::narrow(load()?, &job, remote.as_deref()))?;
            let opts = crate::restore::RestoreOptions {
                snapshot,
                target,
                paths,
                force,
                no_owner,
                devices,
                progress_bar: true,
                identity: keygen::identity(self::job(&cfg, &job)?, &key),
            };
            rt.block_on(restore::restore(&cfg, &job, &opts))
        }
        Command::Cat {
            job,
            remote,
            snapshot,
            name,
            key,
        } => {
            let cfg = rt.block_on(destination::narrow(load()?, &job, remote.as_deref()))?;
            let opts = crate::restore::CatOptions {
                snapshot,
                name,
                identity: keygen::identity(self::job(&cfg, &job)?, &key),
            };
            rt.block_on(restore::cat(&cfg, &job, &opts))
        }
        Command::Keygen {
            output,
            show,
            identity_passphrase_file,
        } => match show {
            Some(path) => keygen::show(crate::encryption::IdentitySource {
                path,
                passphrase_file: identity_passphrase_file,
            }),
            None => keygen::keygen(output.as_deref()),
        },
        Command::Prune {
            jobs,
            all,
            dry_run,
            remote,
        } => rt.block_on(prune::prune(
            &load()?,
            &jobs,
            all,
            dry_run,
            remote.as_deref(),
        )),
        Command::Vault { command } => rt.block_on(vault::vault(&vault_path, &command)),
    }
}

/// The jobs named on the command line, or all of them.
pub fn select_jobs<'a>(
    cfg: &'a Config,
    names: &[String],
    all: bool,
) -> Result<Vec<&'a JobConfig>, CliError> {
    if all {
        if cfg.jobs.is_empty() {
            return Err(CliError::Usage(format!(
                "no jobs are defined in {}",
                cfg.path.display()
            )));
        }
        return Ok(cfg.jobs.values().collect());
    }
    names.iter().map(|n| job(cfg, n)).collect()
}

pub fn job<'a>(cfg: &'a Config, name: &str) -> Result<&'a JobConfig, CliError> {
    cfg.job(name).ok_or_else(|| {
        let known: Vec<&str> = cfg.jobs.keys().map(String::as_str).collect();
        CliError::Usage(format!(
            "unknown job {name:?}; jobs in {}: {}",
            cfg.path.display(),
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ))
    })
}
