//! `backup status [--json]`: whether a daemon runs on this state_dir; per job, the last run and
//! its outcome, the last success, the next scheduled run (in agent.timezone and UTC, only when
//! a daemon will make it happen), who runs it now (from its lock), the count of consecutive
//! failures and the last verification. Reads only local files: it works when the remote is
//! down.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::CliError;
use super::out::outln;
use crate::config::Config;
use crate::daemon::instance::{self, Holder};
use crate::job::lock;
use crate::outcome::VerifyReport;
use crate::report::destinations::DestinationState;
use crate::report::state::{self, LastRun};

#[derive(Serialize)]
struct JobStatus {
    job: String,
    schedule: Option<String>,
    timezone: String,
    next_run: Option<DateTime<Utc>>,
    next_run_local: Option<String>,
    /// The daemon on this state_dir (`null`: none runs, so nothing is scheduled).
    daemon: Option<Holder>,
    running: Option<String>,
    last_run: Option<LastRun>,
    last_success: Option<LastRun>,
    last_scheduled: Option<DateTime<Utc>>,
    consecutive_failures: u32,
    verify_schedule: Option<String>,
    next_verify: Option<DateTime<Utc>>,
    last_verify: Option<VerifyReport>,
    last_verify_ok: Option<DateTime<Utc>>,
    /// Each destination's last run and last success, in config order (`remote` names it).
    destinations: Vec<Destination>,
}

#[derive(Serialize)]
struct Destination {
    remote: String,
    #[serde(flatten)]
    state: DestinationState,
}

pub fn status(cfg: &Config, json: bool) -> Result<i32, CliError> {
    let saved = state::read(&cfg.agent.state_dir).map_err(CliError::Failed)?;
    let tz = cfg.agent.timezone;
    let now = Utc::now();
    let daemon = instance::holder(&cfg.agent.state_dir);
    let jobs: Vec<JobStatus> = cfg
        .jobs
        .values()
        .map(|j| {
            let s = saved.jobs.get(&j.name).cloned().unwrap_or_default();
            let scheduled = |s: &Option<crate::schedule::Schedule>| {
                daemon
                    .as_ref()
                    .and(s.as_ref())
                    .and_then(|s| s.next_after(now))
            };
            let next = scheduled(&j.schedule);
            JobStatus {
                job: j.name.clone(),
                schedule: j.schedule.as_ref().map(|s| s.as_str().to_string()),
                timezone: tz.name().to_string(),
                next_run: next,
                next_run_local: next.map(|t| local(t, tz)),
                daemon: daemon.clone(),
                running: lock::holder(&cfg.agent.state_dir, &j.name),
                last_run: s.last_run,
                last_success: s.last_success,
                last_scheduled: s.last_scheduled,
                consecutive_failures: s.consecutive_failures,
                verify_schedule: j.verify_schedule.as_ref().map(|s| s.as_str().to_string()),
                next_verify: scheduled(&j.verify_schedule),
                last_verify: s.last_verify,
                last_verify_ok: s.last_verify_ok,
                destinations: j
                    .destination_names()
                    .into_iter()
                    .map(|r| Destination {
                        remote: r.to_string(),
                        state: s.destinations.get(r).cloned().unwrap_or_default(),
                    })
                    .collect(),
            }
        })
        .collect();
    if json {
        let text = serde_json::to_string_pretty(&jobs)
            .map_err(|e| CliError::Failed(format!("cannot encode the status: {e}")))?;
        outln!("{text}")?;
    } else {
        match &daemon {
            Some(d) => outln!("daemon: running ({})", d.describe())?,
            None => outln!(
                "daemon: not running on {} (nothing runs on schedule)",
                cfg.agent.state_dir.display()
            )?,
        }
        for j in &jobs {
            print_text(j, tz)?;
        }
    }
    Ok(0)
}

fn local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .format("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

fn run_line(r: &LastRun, tz: Tz) -> String {
    let mut s = format!(
        "{} ({}), {}",
        local(r.started_at, tz),
        r.trigger_str(),
        r.outcome.as_str()
    );
    if let Some(id) = &r.snapshot {
        s.push_str(&format!(", snapshot {id}"));
    }
    if r.warnings > 0 {
        s.push_str(&format!(", {} warning(s)", r.warnings));
    }
    if let Some(e) = &r.error {
        s.push_str(&format!(": {}", e.lines().next().unwrap_or_default()));
    }
    s
}

fn destination_line(d: &DestinationState, tz: Tz) -> String {
    let last = d.last_success.map_or("never".into(), |t| local(t, tz));
    match (&d.last_run, d.last_run_committed, &d.last_error) {
        (None, ..) => "no run yet".into(),
        (Some(_), true, _) => format!("committed; last success {last}"),
        (Some(_), false, e) => format!(
            "FAILED {} time(s) in a row ({}); last success {last}",
            d.consecutive_failures,
            e.as_deref()
                .and_then(|e| e.lines().next())
                .unwrap_or("unknown error")
        ),
    }
}

fn print_text(j: &JobStatus, tz: Tz) -> Result<(), CliError> {
    outln!("{}", j.job)?;
    match j.schedule.as_deref() {
        Some(s) => outln!("  schedule:      {s} ({tz})")?,
        None => outln!("  schedule:      none (on demand only)")?,
    }
    if j.schedule.is_some() {
        match j.next_run {
            Some(n) => outln!(
                "  next run:      {} ({})",
                local(n, tz),
                n.format("%Y-%m-%d %H:%M:%SZ")
            )?,
            None => outln!("  next run:      - (no daemon running)")?,
        }
    }
    outln!("  running now:   {}", j.running.as_deref().unwrap_or("no"))?;
    outln!(
        "  last run:      {}",
        j.last_run
            .as_ref()
            .map_or("never".into(), |r| run_line(r, tz))
    )?;
    outln!(
        "  last success:  {}",
        j.last_success
            .as_ref()
            .map_or("never".into(), |r| run_line(r, tz))
    )?;
    if j.consecutive_failures > 0 {
        outln!("  failures:      {} in a row", j.consecutive_failures)?;
    }
    if j.destinations.len() > 1 {
        for d in &j.destinations {
            outln!("  on {}: {}", d.remote, destination_line(&d.state, tz))?;
        }
    }
    if let Some(s) = &j.verify_schedule {
        let next = match (j.next_verify, &j.daemon) {
            (Some(n), _) => local(n, tz),
            (None, None) => "- (no daemon running)".into(),
            (None, Some(_)) => "-".into(),
        };
        outln!("  verify:        {s} ({tz}), next {next}")?;
    }
    if let Some(v) = &j.last_verify {
        outln!(
            "  last verify:   {} ({}), {}",
            local(v.started_at, tz),
            if v.scheduled { "scheduled" } else { "manual" },
            v.summary()
        )?;
    }
    Ok(())
}
