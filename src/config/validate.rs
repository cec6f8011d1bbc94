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
            let rc = resolve_remote(p, name, r, &agent.host_name)?;
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
        host_name,
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
    host_name: &str,
) -> Result<RemoteConfig, ConfigError> {
    let key = |k: &str| format!("remotes.{name}.{k}");
    let rv = r.get_ref();
    let whole = |msg: String| {
        ConfigError::at(&p.path, &p.text, Some(r.span()), msg).with_key(format!("remotes.{name}"))
    };
    let raw_path = rv.path.get_ref();
    if raw_path.trim().is_empty() {
        return Err(err(
            p,
            &rv.path,
            key("path"),
            "path is empty; give the base directory for snapshots",
        ));
    }
    if !raw_path.starts_with('/') {
        return Err(err(
            p,
            &rv.path,
            key("path"),
            format!("{raw_path:?} is not an absolute path"),
        )
        .with_hint("write the full path, e.g. \"/srv/backups/{host}\" (a chrooted SFTP account sees its chroot as /)"));
    }
    let substituted = raw_path.replace("{host}", host_name);
    if substituted.contains(['{', '}']) {
        return Err(err(
            p,
            &rv.path,
            key("path"),
            format!("{raw_path:?} holds a placeholder other than {{host}}"),
        ));
    }
    if substituted.split('/').any(|c| c == ".." || c == ".") {
        return Err(err(
            p,
            &rv.path,
            key("path"),
            format!("{raw_path:?} holds a `.` or `..` component"),
        ));
    }
    let trimmed = substituted.trim_end_matches('/');
    let path = if trimmed.is_empty() { "/" } else { trimmed }.to_string();
    let transport = match rv.kind {
        model::RemoteType::Local => {
            let set = rv.sftp_keys_set();
            if !set.is_empty() {
                return Err(whole(format!(
                    "a local remote has only `path`, but {} {} set",
                    set.join(", "),
                    if set.len() == 1 { "is" } else { "are" }
                ))
                .with_hint("remove them, or set type = \"sftp\""));
            }
            Transport::Local
        }
        model::RemoteType::Sftp => Transport::Sftp(resolve_sftp(p, name, r)?),
    };
    Ok(RemoteConfig {
        name: name.to_string(),
        path,
        transport,
    })
}

fn resolve_sftp(
    p: &Parsed,
    name: &str,
    r: &Spanned<model::Remote>,
) -> Result<SftpConfig, ConfigError> {
    let key = |k: &str| format!("remotes.{name}.{k}");
    let rv = r.get_ref();
    let whole = |msg: String| {
        ConfigError::at(&p.path, &p.text, Some(r.span()), msg).with_key(format!("remotes.{name}"))
    };
    let required = |v: &Option<String>, k: &str| -> Result<String, ConfigError> {
        match v.as_deref().map(str::trim) {
            Some(s) if !s.is_empty() => Ok(s.to_string()),
            Some(_) => Err(whole(format!("{k} is empty"))),
            None => Err(whole(format!("missing {k}"))
                .with_hint("an sftp remote needs host, user, identity_file and known_hosts (or host_key_fingerprint); for a directory on this machine set type = \"local\"")),
        }
    };
    let host = required(&rv.host, "host")?;
    let user = required(&rv.user, "user")?;
    let identity_file = rv.identity_file.clone().ok_or_else(|| {
        whole("missing identity_file".into())
            .with_hint("the private key this agent logs in with, e.g. /etc/backup-agent/id_ed25519")
    })?;
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
    // 3 channels measured best with shared/bench/wan.sh at 20 ms RTT (2: 90 MB/s, 3: 102).
    let channels = rv.channels.unwrap_or(3);
    if !(1..=16).contains(&channels) {
        return Err(
            whole(format!("channels = {channels} is out of range (1 to 16)"))
                .with_key(key("channels")),
        );
    }
    let requests_in_flight = rv.requests_in_flight.unwrap_or(16);
    if !(1..=1024).contains(&requests_in_flight) {
        return Err(whole(format!(
            "requests_in_flight = {requests_in_flight} is out of range (1 to 1024)"
        ))
        .with_key(key("requests_in_flight")));
    }
    Ok(SftpConfig {
        name: name.to_string(),
        host,
        port: rv.port.unwrap_or(22),
        user,
        identity_file,
        identity_passphrase_file: rv.identity_passphrase_file.clone(),
        host_key,
        connect_timeout: rv
            .connect_timeout
            .map_or(std::time::Duration::from_secs(30), |d| d.get()),
        channels: channels as usize,
        requests_in_flight: requests_in_flight as usize,
    })
}
