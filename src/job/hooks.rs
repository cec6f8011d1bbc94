//! The job's hooks: `before` (its failure aborts the run before anything is uploaded), `after`
//! (after a commit), `on_failure` (after a failed run) and `finally` (always). They run as the
//! agent, in their own process group, killed at `hooks.timeout`, and learn how the run went from
//! `BACKUP_JOB`, `BACKUP_SNAPSHOT`, `BACKUP_STATUS`, `BACKUP_ERROR` and `BACKUP_BYTES`.
//!
//! Hooks never change what happened to the backup: a failing `after` or `finally` turns a
//! committed run into "committed, with warnings", and a failing `on_failure` is logged next to
//! the run's own error, never in its place.

use std::process::Command;
use std::time::Duration;

use super::JobError;
use crate::config::JobConfig;
use crate::outcome::RunReport;
use crate::snapshot::child::{self, AbortOnDrop, Running};

/// What a hook is told about the run.
struct HookEnv<'a> {
    snapshot: Option<&'a str>,
    status: &'a str,
    error: Option<&'a str>,
    bytes: u64,
}

/// Runs `before`, if any. Its failure is the run's error.
/// A dry run runs no hooks.
pub async fn before(job: &JobConfig, dry_run: bool) -> Result<(), JobError> {
    let Some(argv) = job.hooks.before.as_ref().filter(|_| !dry_run) else {
        return Ok(());
    };
    let env = HookEnv {
        snapshot: None,
        status: "running",
        error: None,
        bytes: 0,
    };
    run_hook(job, "before", argv, &env)
        .await
        .map_err(JobError::Hook)
}

/// Runs `after` or `on_failure`, then `finally`, once the run's `result` is known.
pub async fn after_run(
    job: &JobConfig,
    dry_run: bool,
    report: &mut RunReport,
    result: &Result<(), JobError>,
) {
    if dry_run {
        return;
    }
    let hooks = &job.hooks;
    let error = result.as_ref().err().map(|e| e.to_string());
    match (result, &hooks.after, &hooks.on_failure) {
        (Ok(()), Some(argv), _) => {
            let env = env_of(report, None);
            if let Err(e) = run_hook(job, "after", argv, &env).await {
                warn(report, e);
            }
        }
        (Err(_), _, Some(argv)) => {
            let env = env_of(report, error.as_deref());
            if let Err(e) = run_hook(job, "on_failure", argv, &env).await {
                tracing::error!(job = %job.name, "{e} (the run had already failed; see its error)");
            }
        }
        _ => {}
    }
    if let Some(argv) = &hooks.finally {
        let env = env_of(report, error.as_deref());
        if let Err(e) = run_hook(job, "finally", argv, &env).await {
            if result.is_ok() {
                warn(report, e);
            } else {
                tracing::error!(job = %job.name, "{e} (the run had already failed; see its error)");
            }
        }
    }
}

fn warn(report: &mut RunReport, e: String) {
    tracing::warn!(job = %report.job, "{e}");
    report.warnings.push(e);
}

fn env_of<'a>(report: &'a RunReport, error: Option<&'a str>) -> HookEnv<'a> {
    HookEnv {
        snapshot: report.snapshot.as_deref(),
        status: if error.is_some() && report.snapshot.is_some() {
            // Committed on some destinations, not all (`on_failure` runs for it).
            "partial"
        } else if error.is_some() {
            "failed"
        } else if report.warnings.is_empty() {
            "success"
        } else {
            "warnings"
        },
        error,
        bytes: report.bytes_stored,
    }
}

async fn run_hook(
    job: &JobConfig,
    which: &str,
    argv: &[String],
    env: &HookEnv<'_>,
) -> Result<(), String> {
    // Logs and errors show hook URLs as `scheme://host/…`: their userinfo, path and query may
    // be the credential (a healthchecks.io UUID, a token).
    let shown = argv
        .iter()
        .map(|a| {
            if a.contains("://") {
                crate::report::deliver::redact(a)
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    let timeout: Duration = job.hooks.timeout.get();
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    child::configure(&mut cmd, None);
    cmd.env("BACKUP_JOB", &job.name)
        .env("BACKUP_SNAPSHOT", env.snapshot.unwrap_or(""))
        .env("BACKUP_STATUS", env.status)
        .env("BACKUP_ERROR", env.error.unwrap_or(""))
        .env("BACKUP_BYTES", env.bytes.to_string());
    tracing::info!(job = %job.name, "running hook {which}: {shown}");
    let running = Running::start(cmd, Some(timeout), true)
        .map_err(|e| format!("hook {which} ({shown}) could not be started: {e}"))?;
    // Dropped with the run (e.g. at the job's timeout), the hook dies with it.
    let guard = AbortOnDrop(running.control.clone());
    let finished = tokio::task::spawn_blocking(move || running.wait())
        .await
        .map_err(|e| format!("hook {which}: {e}"))?
        .map_err(|e| format!("hook {which} ({shown}): waiting for it failed: {e}"))?;
    drop(guard);
    let (out, err) = (finished.stdout.text(), finished.stderr.text());
    if !out.is_empty() {
        tracing::info!(job = %job.name, "hook {which} stdout:\n{out}");
    }
    if finished.success() {
        if !err.is_empty() {
            tracing::info!(job = %job.name, "hook {which} stderr:\n{err}");
        }
        return Ok(());
    }
    let tail = finished.stderr.last_lines(10);
    Err(format!(
        "hook {which} ({shown}) {}{}",
        finished.describe(),
        if tail.is_empty() {
            String::new()
        } else {
            format!("; the end of its stderr:\n{tail}")
        }
    ))
}
