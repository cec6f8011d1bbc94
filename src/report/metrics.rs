//! Prometheus metrics in the node_exporter textfile format, rendered from the state file so
//! every configured job appears, not only the one that just ran. `backup run`, `backup list`
//! and the daemon rewrite `agent.metrics_file` after each run; the daemon can also serve the
//! same text on `agent.metrics_listen` (see `daemon::metrics_http`).
//!
//! A job that never succeeded has `backup_last_success_timestamp_seconds 0`, so a "no success
//! for 26 hours" alert fires for it too instead of finding no series at all.

use std::fmt::Write as _;
use std::path::Path;

use chrono::{DateTime, Utc};

use super::files::{self, Durable};
use super::state::{self, JobState, State};
use crate::config::Config;

/// What one job contributes: its saved state and its next scheduled run.
#[derive(Debug, Clone, Default)]
pub struct JobInput {
    pub job: String,
    /// The job's destinations (remote names), in config order.
    pub remotes: Vec<String>,
    pub state: JobState,
    pub next_run: Option<DateTime<Utc>>,
    /// The job has a `verify_schedule`: its verify metrics are there before the first verify.
    pub verify_scheduled: bool,
}

/// The configured jobs with their state and next run after `now`; jobs only in the state file
/// (removed from the config) are left out, so they stop alerting.
pub fn inputs(config: &Config, saved: &State, now: DateTime<Utc>) -> Vec<JobInput> {
    config
        .jobs
        .values()
        .map(|j| JobInput {
            job: j.name.clone(),
            remotes: j
                .destination_names()
                .into_iter()
                .map(String::from)
                .collect(),
            state: saved.jobs.get(&j.name).cloned().unwrap_or_default(),
            next_run: j.schedule.as_ref().and_then(|s| s.next_after(now)),
            verify_scheduled: j.verify_schedule.is_some(),
        })
        .collect()
}

type Value = fn(&JobInput) -> Option<f64>;

/// Every per-job family: name, help, and how to get the value (`None`: no sample).
const FAMILIES: &[(&str, &str, Value)] = &[
    (
        "backup_last_run_timestamp_seconds",
        "Start of the last run, success or not (Unix time).",
        |j| last(j).map(|r| ts(r.started_at)),
    ),
    (
        "backup_last_success_timestamp_seconds",
        "Start of the last run that committed a snapshot on every destination (Unix time); 0 if none ever did.",
        |j| {
            Some(
                j.state
                    .last_success
                    .as_ref()
                    .map_or(0.0, |r| ts(r.started_at)),
            )
        },
    ),
    (
        "backup_last_run_duration_seconds",
        "Duration of the last run.",
        |j| last(j).map(|r| (r.finished_at - r.started_at).num_milliseconds() as f64 / 1000.0),
    ),
    (
        "backup_last_run_bytes_read",
        "Bytes read from the sources by the last run.",
        |j| last(j).map(|r| r.bytes_read as f64),
    ),
    (
        "backup_last_run_bytes_stored",
        "Bytes stored on the server (compressed) by the last run.",
        |j| last(j).map(|r| r.bytes_stored as f64),
    ),
    (
        "backup_last_run_files",
        "Files archived by the last run.",
        |j| last(j).map(|r| r.files as f64),
    ),
    (
        "backup_last_run_warnings",
        "Warnings (files unreadable or vanished) in the last run.",
        |j| last(j).map(|r| r.warnings as f64),
    ),
    (
        "backup_last_run_success",
        "1 if the last run committed a snapshot on every destination (exit 0 or 3), 0 if not.",
        |j| last(j).map(|r| if r.outcome.committed() { 1.0 } else { 0.0 }),
    ),
    (
        "backup_consecutive_failures",
        "Failed runs since the last success.",
        |j| Some(f64::from(j.state.consecutive_failures)),
    ),
    (
        "backup_snapshots_total",
        "Committed snapshots on the server, as last seen by a run or a list.",
        |j| j.state.snapshots.map(|n| n as f64),
    ),
    (
        "backup_next_run_timestamp_seconds",
        "Next scheduled run (Unix time); absent for jobs without a schedule.",
        |j| j.next_run.map(ts),
    ),
    (
        "backup_last_verify_timestamp_seconds",
        "Start of the last verification of stored snapshots (Unix time).",
        |j| j.state.last_verify.as_ref().map(|v| ts(v.started_at)),
    ),
    (
        "backup_last_verify_success",
        "1 if the last verification proved its snapshots intact, 0 if not.",
        |j| {
            j.state
                .last_verify
                .as_ref()
                .map(|v| if v.is_ok() { 1.0 } else { 0.0 })
        },
    ),
    (
        "backup_last_verify_success_timestamp_seconds",
        "Start of the last verification that proved its snapshots intact (Unix time); 0 if \
         none did; absent for jobs never verified and without verify_schedule.",
        |j| {
            (j.verify_scheduled || j.state.last_verify.is_some())
                .then(|| j.state.last_verify_ok.map_or(0.0, ts))
        },
    ),
];

fn last(j: &JobInput) -> Option<&state::LastRun> {
    j.state.last_run.as_ref()
}

fn ts(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

/// The whole text: HELP and TYPE lines, then one sample per job that has a value.
pub fn render(jobs: &[JobInput], version: &str) -> String {
    let mut out = String::new();
    out.push_str("# HELP backup_build_info The running backup-agent's version.\n");
    out.push_str("# TYPE backup_build_info gauge\n");
    let _ = writeln!(
        out,
        "backup_build_info{{version=\"{}\"}} 1",
        escape(version)
    );
    for (name, help, value) in FAMILIES {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        for j in jobs {
            if let Some(v) = value(j) {
                let _ = writeln!(out, "{name}{{job=\"{}\"}} {v}", escape(&j.job));
            }
        }
    }
    super::destinations::render(jobs, &mut out);
    out
}

/// The daemon's last heartbeat, if a daemon ever ran on this state directory. It stays when
/// the daemon dies, so its age is what tells.
pub fn render_heartbeat(at: Option<DateTime<Utc>>) -> String {
    let Some(at) = at else {
        return String::new();
    };
    format!(
        "# HELP {HEARTBEAT} Last minute the daemon was seen alive (Unix time).\n\
         # TYPE {HEARTBEAT} gauge\n{HEARTBEAT} {}\n",
        ts(at)
    )
}

pub const HEARTBEAT: &str = "backup_daemon_heartbeat_timestamp_seconds";

/// Label values escape backslash, double quote and newline (text format 0.0.4).
pub fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The current text for `config`, from the state file in `state_dir`.
pub fn current(config: &Config, state_dir: &Path) -> String {
    let saved = state::read(state_dir).unwrap_or_else(|e| {
        tracing::warn!("{e}");
        State::default()
    });
    let mut text = render(
        &inputs(config, &saved, Utc::now()),
        env!("CARGO_PKG_VERSION"),
    );
    text.push_str(&render_heartbeat(super::heartbeat::read(state_dir)));
    text
}

/// Rewrites `agent.metrics_file` atomically and durably ([`files::replace`]): after a crash
/// the file says what the state file says, not the run before it.
pub fn write(config: &Config, state_dir: &Path) -> Result<(), String> {
    // One writer at a time, each rendering after the one before it renamed: without this the
    // heartbeat's render of the state before a run could land after the run's own.
    static WRITING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = WRITING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let target = &config.agent.metrics_file;
    let text = current(config, state_dir);
    files::replace(target, text.as_bytes(), 0o644, Durable::Yes).map_err(|e| {
        format!(
            "cannot write the metrics file {}: {e}\nhint: check agent.metrics_file and that its directory exists and is writable",
            target.display()
        )
    })
}

/// [`write`], with a failure logged: metrics must never fail or stop a backup.
pub fn refresh(config: &Config, state_dir: &Path) {
    if let Err(e) = write(config, state_dir) {
        tracing::warn!("{e}");
    }
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
