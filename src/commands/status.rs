//! `backup status [--json]`: per job, the last run and its outcome, the last success, the next
//! scheduled run (in agent.timezone and UTC), who runs it now (from its lock), and the count
//! of consecutive failures. Reads only local files: it works when the remote is down.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::CliError;
use super::out::print_line;
use crate::config::Config;
use crate::job::lock;
use crate::report::state::{self, LastRun};

#[derive(Serialize)]
struct JobStatus {
    job: String,
    schedule: Option<String>,
    timezone: String,
    next_run: Option<DateTime<Utc>>,
    next_run_local: Option<String>,
    running: Option<String>,
    last_run: Option<LastRun>,
    last_success: Option<LastRun>,
    last_scheduled: Option<DateTime<Utc>>,
    consecutive_failures: u32,
}

pub fn status(cfg: &Config, json: bool) -> Result<i32, CliError> {
    let saved = state::read(&cfg.agent.state_dir).map_err(CliError::Failed)?;
    let tz = cfg.agent.timezone;
    let now = Utc::now();
    let jobs: Vec<JobStatus> = cfg
        .jobs
        .values()
        .map(|j| {
            let s = saved.jobs.get(&j.name).cloned().unwrap_or_default();
            let next = j.schedule.as_ref().and_then(|s| s.next_after(now));
            JobStatus {
                job: j.name.clone(),
                schedule: j.schedule.as_ref().map(|s| s.as_str().to_string()),
                timezone: tz.name().to_string(),
                next_run: next,
                next_run_local: next.map(|t| local(t, tz)),
                running: lock::holder(&cfg.agent.state_dir, &j.name),
                last_run: s.last_run,
                last_success: s.last_success,
                last_scheduled: s.last_scheduled,
                consecutive_failures: s.consecutive_failures,
            }
        })
        .collect();
    if json {
        let text = serde_json::to_string_pretty(&jobs)
            .map_err(|e| CliError::Failed(format!("cannot encode the status: {e}")))?;
        print_line(&text)?;
    } else {
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

fn print_text(j: &JobStatus, tz: Tz) -> Result<(), CliError> {
    print_line(&j.job)?;
    match j.schedule.as_deref() {
        Some(s) => print_line(&format!("  schedule:      {s} ({tz})"))?,
        None => print_line("  schedule:      none (on demand only)")?,
    }
    if let Some(n) = j.next_run {
        print_line(&format!(
            "  next run:      {} ({})",
            local(n, tz),
            n.format("%Y-%m-%d %H:%M:%SZ")
        ))?;
    }
    print_line(&format!(
        "  running now:   {}",
        j.running.as_deref().unwrap_or("no")
    ))?;
    print_line(&format!(
        "  last run:      {}",
        j.last_run
            .as_ref()
            .map_or("never".into(), |r| run_line(r, tz))
    ))?;
    print_line(&format!(
        "  last success:  {}",
        j.last_success
            .as_ref()
            .map_or("never".into(), |r| run_line(r, tz))
    ))?;
    if j.consecutive_failures > 0 {
        print_line(&format!(
            "  failures:      {} in a row",
            j.consecutive_failures
        ))?;
    }
    Ok(())
}
