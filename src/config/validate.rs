//! Merging the main file with its drop-ins and checking everything that types alone cannot:
//! references between tables, names that become remote paths, value ranges.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use globset::{GlobBuilder, GlobSetBuilder};
use toml::Spanned;

use super::error::ConfigError;
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
            let job = resolve_job(p, name, j, &remotes, &agent_raw)?;
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

fn err<T>(p: &Parsed, v: &Spanned<T>, key: String, msg: impl Into<String>) -> ConfigError {
    ConfigError::at(&p.path, &p.text, Some(v.span()), msg).with_key(key)
}

fn resolve_agent(p: &Parsed, a: &Agent) -> Result<AgentConfig, ConfigError> {
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

/// Job and command names become file and directory names on the server.
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@+".contains(&b))
}

fn resolve_job(
    p: &Parsed,
    name: &str,
    j: &Spanned<model::Job>,
    remotes: &BTreeMap<String, (Arc<RemoteConfig>, PathBuf)>,
    agent: &Agent,
) -> Result<JobConfig, ConfigError> {
    let key = |k: &str| format!("jobs.{name}.{k}");
    let jv = j.get_ref();
    let whole = |msg: String| {
        ConfigError::at(&p.path, &p.text, Some(j.span()), msg).with_key(format!("jobs.{name}"))
    };
    if !valid_name(name) {
        return Err(whole(format!(
            "job name {name:?} cannot be used as a directory name on the server"
        ))
        .with_hint("use letters, digits, '.', '_', '-' and do not start with '.'"));
    }
    let remote = match remotes.get(jv.remote.get_ref()) {
        Some((r, _)) => r.clone(),
        None => {
            let known: Vec<&str> = remotes.keys().map(String::as_str).collect();
            let hint = if known.is_empty() {
                "no [remotes.NAME] table is defined".to_string()
            } else {
                format!("defined remotes: {}", known.join(", "))
            };
            return Err(err(
                p,
                &jv.remote,
                key("remote"),
                format!("unknown remote {:?}", jv.remote.get_ref()),
            )
            .with_hint(hint));
        }
    };
    let mut sources = Vec::new();
    for (list, optional) in [(&jv.sources, false), (&jv.optional_sources, true)] {
        for s in list {
            if !s.get_ref().is_absolute() {
                return Err(err(
                    p,
                    s,
                    key(if optional {
                        "optional_sources"
                    } else {
                        "sources"
                    }),
                    format!("{} is not an absolute path", s.get_ref().display()),
                ));
            }
            sources.push(Source {
                path: s.get_ref().clone(),
                optional,
            });
        }
    }
    if sources.is_empty() && jv.commands.is_empty() {
        return Err(whole(
            "the job has nothing to back up: give sources, optional_sources or [[commands]]".into(),
        ));
    }
    let exclude = build_exclude(p, name, &jv.exclude)?;
    let mut commands: Vec<CommandConfig> = Vec::new();
    for c in &jv.commands {
        let cv = c.get_ref();
        let k = key("commands");
        if !valid_name(&cv.name)
            || cv.name == "files.tar"
            || cv.name == "manifest.json"
            || cv.name == "SHA256SUMS"
        {
            return Err(err(
                p,
                c,
                k,
                format!("command name {:?} is not a plain, free file name", cv.name),
            )
            .with_hint(
                "use a name like \"app.sql\": letters, digits, '.', '_', '-'; not files.tar",
            ));
        }
        if commands.iter().any(|o| o.name == cv.name) {
            return Err(err(
                p,
                c,
                k,
                format!("command name {:?} is used twice in this job", cv.name),
            ));
        }
        if cv.run.is_empty() || cv.run[0].is_empty() {
            return Err(err(
                p,
                c,
                k,
                format!(
                    "command {:?}: run is empty; give the argv, e.g. [\"pg_dump\", \"app\"]",
                    cv.name
                ),
            ));
        }
        commands.push(CommandConfig {
            name: cv.name.clone(),
            run: cv.run.clone(),
            user: cv.user.clone(),
            env: cv.env.clone(),
            cwd: cv.cwd.clone(),
            timeout: cv.timeout.map(|t| t.get()),
        });
    }
    for (hook, argv) in [
        ("before", &jv.hooks.before),
        ("after", &jv.hooks.after),
        ("on_failure", &jv.hooks.on_failure),
        ("finally", &jv.hooks.finally),
    ] {
        if argv
            .as_ref()
            .is_some_and(|a| a.is_empty() || a[0].is_empty())
        {
            return Err(whole(format!(
                "hooks.{hook} is empty; give an argv list or remove it"
            ))
            .with_key(key(&format!("hooks.{hook}"))));
        }
    }
    let notify = jv.notify.clone().or_else(|| agent.notify.clone());
    if let Some(n) = &notify {
        for u in [&n.healthcheck_url, &n.webhook_url].into_iter().flatten() {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                // The URL itself may hold a token or a password: do not echo it.
                return Err(whole(
                    "a notify URL does not start with http:// or https://; fix healthcheck_url or webhook_url"
                        .to_string(),
                )
                .with_key(key("notify")));
            }
        }
    }
    if !(-7..=22).contains(&jv.compression.level) || jv.compression.level == 0 {
        return Err(whole(format!(
            "compression.level = {} is out of range (1 to 22, or -7 to -1 for fast modes)",
            jv.compression.level
        ))
        .with_key(key("compression.level")));
    }
    let schedule = jv.schedule.as_ref().map(|s| s.get_ref().trim().to_string());
    if let Some(s) = &jv.schedule {
        let tz = resolve_agent(p, agent)
            .map(|a| a.timezone)
            .unwrap_or(chrono_tz::Tz::UTC);
        crate::schedule::Schedule::parse(s.get_ref(), tz)
            .map_err(|e| err(p, s, key("schedule"), format!("{e}")).with_hint("5 fields: minute hour day-of-month month day-of-week, e.g. \"0 2 * * *\"; or @daily, @hourly"))?;
    }
    Ok(JobConfig {
        name: name.to_string(),
        defined_in: p.path.clone(),
        remote,
        schedule,
        sources,
        exclude,
        verify: jv.verify,
        catch_up: jv.catch_up,
        jitter: jv.jitter.get(),
        timeout: jv.timeout.get(),
        retry_attempts: jv.retry_attempts,
        retry_delay: jv.retry_delay.get(),
        commands,
        hooks: jv.hooks.clone(),
        notify,
        compression: jv.compression,
        retention: jv.retention.clone(),
    })
}

fn build_exclude(p: &Parsed, job: &str, pats: &[Spanned<String>]) -> Result<Exclude, ConfigError> {
    let mut full = GlobSetBuilder::new();
    let mut base = GlobSetBuilder::new();
    for pat in pats {
        let s = pat.get_ref();
        let glob = GlobBuilder::new(s.trim_end_matches('/'))
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(|e| err(p, pat, format!("jobs.{job}.exclude"), format!("bad glob {s:?}: {}", e.kind()))
                .with_hint("globs use *, ?, [abc] and ** (any depth); a pattern with '/' matches the full path"))?;
        if s.contains('/') {
            full.add(glob);
        } else {
            base.add(glob);
        }
    }
    let build = |b: GlobSetBuilder| {
        b.build()
            .map_err(|e| ConfigError::file(&p.path, format!("exclude patterns: {e}")))
    };
    Ok(Exclude {
        patterns: pats.iter().map(|p| p.get_ref().clone()).collect(),
        full_path: build(full)?,
        base_name: build(base)?,
    })
}
