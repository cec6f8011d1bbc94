//! Merging the main file with its drop-ins and checking everything that types alone cannot:
//! references between tables, names that become remote paths, value ranges.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use toml::Spanned;

use super::error::ConfigError;
use super::job::resolve_job;
use super::load::Parsed;
use super::model::{self, Agent};
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
            let rc = resolve_remote(p, name, r)?;
            remotes.insert(name.clone(), (Arc::new(rc), p.path.clone()));
        }
    }
    let mut jobs: BTreeMap<String, JobConfig> = BTreeMap::new();
    for p in &all {
        for (name, j) in &p.model.jobs {
            if let Some(first) = jobs.get(name) {
                return Err(duplicate(p, j.span(), "job", name, &first.defined_in));
            }
            let job = resolve_job(p, name, j, &remotes, &agent_raw, agent.timezone)?;
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
    if a.max_concurrent_jobs == 0 {
        return Err(
            ConfigError::file(&p.path, "agent.max_concurrent_jobs must be at least 1")
                .with_key("agent.max_concurrent_jobs"),
        );
    }
    Ok(AgentConfig {
        metrics_file: a
            .metrics_file
            .clone()
            .unwrap_or_else(|| a.state_dir.join("metrics.prom")),
        state_dir: a.state_dir.clone(),
        timezone,
        max_concurrent_jobs: a.max_concurrent_jobs as usize,
        shutdown_timeout: a.shutdown_timeout.get(),
        metrics_listen,
    })
}

/// The system's zone, as the operator's clocks show it; UTC when it cannot be told.
fn system_timezone() -> chrono_tz::Tz {
    iana_time_zone::get_timezone()
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(chrono_tz::Tz::UTC)
}

fn resolve_remote(
    p: &Parsed,
    name: &str,
    r: &Spanned<model::Remote>,
) -> Result<RemoteConfig, ConfigError> {
    let key = |k: &str| format!("remotes.{name}.{k}");
    let rv = r.get_ref();
    let whole = |msg: String| {
        ConfigError::at(&p.path, &p.text, Some(r.span()), msg).with_key(format!("remotes.{name}"))
    };
    if rv.host.trim().is_empty() {
        return Err(whole("host is empty".into()));
    }
    if rv.user.trim().is_empty() {
        return Err(whole("user is empty".into()));
    }
    let host_key = match (&rv.known_hosts, &rv.host_key_fingerprint) {
        (Some(k), None) => HostKeyCheck::KnownHosts(k.clone()),
        (None, Some(f)) => {
            let fp = f.get_ref().trim();
            if !fp.starts_with("SHA256:") || fp.len() < 20 {
                return Err(err(
                    p,
                    f,
                    key("host_key_fingerprint"),
                    format!("{fp:?} is not a SHA256 fingerprint"),
                )
                .with_hint(format!(
                    "run `backup host-key {name}` and copy the \"SHA256:...\" value"
                )));
            }
            HostKeyCheck::Fingerprint(fp.to_string())
        }
        (None, None) => {
            return Err(whole("no way to check the server's host key: set known_hosts (an OpenSSH known_hosts file) or host_key_fingerprint".into())
                .with_hint(format!("run `backup host-key {name}` to see the server's keys, check them out of band, and save them")));
        }
        (Some(_), Some(_)) => {
            return Err(whole(
                "known_hosts and host_key_fingerprint are both set; keep one".into(),
            ));
        }
    };
    let path = rv.path.get_ref().trim_end_matches('/').to_string();
    if path.is_empty() && rv.path.get_ref().is_empty() {
        return Err(err(
            p,
            &rv.path,
            key("path"),
            "path is empty; give the base directory for snapshots on the server",
        ));
    }
    let path = if path.is_empty() {
        "/".to_string()
    } else {
        path
    };
    if !(1..=16).contains(&rv.channels) {
        return Err(whole(format!(
            "channels = {} is out of range (1 to 16)",
            rv.channels
        ))
        .with_key(key("channels")));
    }
    if !(1..=1024).contains(&rv.requests_in_flight) {
        return Err(whole(format!(
            "requests_in_flight = {} is out of range (1 to 1024)",
            rv.requests_in_flight
        ))
        .with_key(key("requests_in_flight")));
    }
    Ok(RemoteConfig {
        name: name.to_string(),
        host: rv.host.clone(),
        port: rv.port,
        user: rv.user.clone(),
        identity_file: rv.identity_file.clone(),
        identity_passphrase_file: rv.identity_passphrase_file.clone(),
        host_key,
        path,
        connect_timeout: rv.connect_timeout.get(),
        channels: rv.channels as usize,
        requests_in_flight: rv.requests_in_flight as usize,
    })
}
