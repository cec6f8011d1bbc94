//! Merging the main file with its drop-ins and checking everything that types alone cannot:
//! references between tables, names that become remote paths, value ranges.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use toml::Spanned;

use super::error::ConfigError;
use super::job::resolve_job;
use super::load::Parsed;
use super::model::{Agent, DEFAULT_STATE_DIR};
use super::remote::resolve_remote;
use super::resolved::*;

pub(super) fn resolve(main: Parsed, dropins: Vec<Parsed>) -> Result<Config, ConfigError> {
    let mut files = vec![main.path.clone()];
    files.extend(dropins.iter().map(|d| d.path.clone()));
    for d in &dropins {
        if let Some(agent) = &d.model.agent {
            return Err(ConfigError::at(
                &d.path,
                &d.text,
                Some(agent.span()),
                "[agent] belongs in the main config file, not in a drop-in",
            )
            .with_key("agent")
            .with_hint(format!("move it to {}", main.path.display())));
        }
    }
    let agent_raw = main
        .model
        .agent
        .as_ref()
        .map(|a| a.get_ref().clone())
        .unwrap_or_default();
    let agent = resolve_agent(&main, &agent_raw)?;

    let all: Vec<&Parsed> = std::iter::once(&main).chain(dropins.iter()).collect();
    let mut remotes: BTreeMap<String, (Arc<RemoteConfig>, PathBuf)> = BTreeMap::new();
    for p in &all {
        for (name, r) in &p.model.remotes {
            if let Some((_, first)) = remotes.get(name) {
                return Err(duplicate(p, r.span(), "remote", name, first));
            }
            let rc = resolve_remote(p, name, r, &agent)?;
            remotes.insert(name.clone(), (Arc::new(rc), p.path.clone()));
        }
    }
    let mut jobs: BTreeMap<String, JobConfig> = BTreeMap::new();
    for p in &all {
        for (name, j) in &p.model.jobs {
            if let Some(first) = jobs.get(name) {
                return Err(duplicate(p, j.span(), "job", name, &first.defined_in));
            }
            let job = resolve_job(p, name, j, &remotes, &agent_raw, &agent)?;
            jobs.insert(name.clone(), job);
        }
    }
    Ok(Config {
        path: main.path.clone(),
        files,
        agent,
        remotes: remotes.into_iter().map(|(k, (r, _))| (k, r)).collect(),
        jobs,
    })
}

fn duplicate(
    p: &Parsed,
    span: std::ops::Range<usize>,
    what: &str,
    name: &str,
    first: &Path,
) -> ConfigError {
    ConfigError::at(
        &p.path,
        &p.text,
        Some(span),
        format!(
            "{what} {name:?} is defined twice: here and in {}",
            first.display()
        ),
    )
    .with_key(format!("{what}s.{name}"))
    .with_hint(format!("keep one definition of {what} {name:?}"))
}

pub(super) fn err<T>(
    p: &Parsed,
    v: &Spanned<T>,
    key: String,
    msg: impl Into<String>,
) -> ConfigError {
    ConfigError::at(&p.path, &p.text, Some(v.span()), msg).with_key(key)
}

pub(super) fn resolve_agent(p: &Parsed, a: &Agent) -> Result<AgentConfig, ConfigError> {
    let timezone = match &a.timezone {
        Some(tz) => tz.get_ref().parse::<chrono_tz::Tz>().map_err(|_| {
            err(
                p,
                tz,
                "agent.timezone".into(),
                format!("{:?} is not an IANA time zone", tz.get_ref()),
            )
            .with_hint("use a name such as \"Europe/Berlin\", \"America/New_York\" or \"UTC\"")
        })?,
        None => system_timezone(),
    };
    let metrics_listen = match &a.metrics_listen {
        Some(l) => Some(l.get_ref().parse().map_err(|_| {
            err(
                p,
                l,
                "agent.metrics_listen".into(),
                format!("{:?} is not an address with a port", l.get_ref()),
            )
            .with_hint("e.g. \"127.0.0.1:9479\"")
        })?),
        None => None,
    };
    let host_name = match &a.host_name {
        Some(h) => {
            let name = h.get_ref().trim();
            if let Err(why) = check_host_name(name) {
                return Err(err(p, h, "agent.host_name".into(), why)
                    .with_hint("use a plain name such as \"db01\""));
            }
            name.to_string()
        }
        None => system_host_name(),
    };
    if a.max_concurrent_jobs == 0 {
        return Err(
            ConfigError::file(&p.path, "agent.max_concurrent_jobs must be at least 1")
                .with_key("agent.max_concurrent_jobs"),
        );
    }
    let (state_dir, state_dir_at) = match &a.state_dir {
        Some(s) => (s.get_ref().clone(), Place::of(p, s.span())),
        None => (PathBuf::from(DEFAULT_STATE_DIR), Place::unset(&p.path)),
    };
    Ok(AgentConfig {
        metrics_file: a
            .metrics_file
            .clone()
            .unwrap_or_else(|| state_dir.join("metrics.prom")),
        state_dir,
        state_dir_at,
        timezone,
        max_concurrent_jobs: a.max_concurrent_jobs as usize,
        shutdown_timeout: a.shutdown_timeout.get(),
        metrics_listen,
        host_name,
        encryption: super::encryption::resolve(
            p,
            "agent.encryption",
            a.encryption.as_ref(),
            &EncryptionConfig::default(),
        )?,
    })
}

/// A host name becomes a path component through `{host}`: no separators, nothing hidden.
fn check_host_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(['.', '-'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a usable host name (letters, digits, '-', '_' and '.', at most 64, not starting with '.' or '-')"
        ))
    }
}

/// The short host name (up to the first dot), as `hostname -s` prints it.
fn system_host_name() -> String {
    let full = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let short = full.split('.').next().unwrap_or_default();
    if check_host_name(short).is_ok() {
        short.to_string()
    } else {
        "localhost".to_string()
    }
}

/// The system's zone, as the operator's clocks show it; UTC when it cannot be told.
/// The machine's zone, where a config names none (the agent's and the vault's).
pub(crate) fn system_timezone() -> chrono_tz::Tz {
    iana_time_zone::get_timezone()
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(chrono_tz::Tz::UTC)
}
