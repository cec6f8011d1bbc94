//! Checking one job: its remote, sources, excludes, commands, hooks, notifications and
//! schedule. Job and command names become paths on the server, so they are held to a safe set.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use globset::{GlobBuilder, GlobSetBuilder};
use toml::Spanned;

use super::error::ConfigError;
use super::load::Parsed;
use super::model::{self, Agent};
use super::resolved::*;
use super::validate::err;
use crate::schedule::Schedule;

pub use crate::layout::valid_name;

pub(super) fn resolve_job(
    p: &Parsed,
    name: &str,
    j: &Spanned<model::Job>,
    remotes: &BTreeMap<String, (Arc<RemoteConfig>, PathBuf)>,
    agent: &Agent,
    resolved: &AgentConfig,
) -> Result<JobConfig, ConfigError> {
    let timezone = resolved.timezone;
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
    let destinations = super::destinations::resolve(p, name, j, remotes)?;
    let Some(first) = destinations.first().cloned() else {
        return Err(whole("the job has no destination".into()));
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
                at: Place::of(p, s.span()),
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
            at: Place::of(p, c.span()),
            min_bytes: cv.min_bytes.map_or(DEFAULT_MIN_BYTES, |b| b.0),
            max_shrink: cv.max_shrink,
        });
    }
    let (hooks, hooks_at) = match &jv.hooks {
        Some(h) => (h.get_ref().clone(), Place::of(p, h.span())),
        None => (model::Hooks::default(), Place::of(p, j.span())),
    };
    for (hook, argv) in [
        ("before", &hooks.before),
        ("after", &hooks.after),
        ("on_failure", &hooks.on_failure),
        ("finally", &hooks.finally),
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
    let cron = |field: &Option<Spanned<String>>, name: &str| {
        field
            .as_ref()
            .map(|s| {
                Schedule::parse(s.get_ref(), timezone).map_err(|e| {
                    err(p, s, key(name), e.to_string()).with_hint(
                        "5 fields: minute hour day-of-month month day-of-week, e.g. \"0 2 * * *\"; or @daily, @hourly",
                    )
                })
            })
            .transpose()
    };
    let schedule = cron(&jv.schedule, "schedule")?;
    let verify_schedule = cron(&jv.verify_schedule, "verify_schedule")?;
    Ok(JobConfig {
        name: name.to_string(),
        defined_in: p.path.clone(),
        remote: first.remote,
        destinations,
        schedule,
        verify_schedule,
        verify_all: jv.verify_all,
        sources,
        exclude,
        xattrs: jv.xattrs,
        acls: jv.acls,
        one_file_system: jv.one_file_system,
        verify: jv.verify,
        catch_up: jv.catch_up,
        jitter: jv.jitter.get(),
        timeout: jv.timeout.get(),
        retry_attempts: jv.retry_attempts,
        retry_delay: jv.retry_delay.get(),
        commands,
        hooks,
        hooks_at,
        notify,
        compression: jv.compression,
        retention: first.retention,
        encryption: super::encryption::resolve(
            p,
            &key("encryption"),
            jv.encryption.as_ref(),
            &resolved.encryption,
        )?,
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
