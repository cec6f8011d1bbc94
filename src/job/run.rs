//! The run itself. Every step that can fail returns before the rename, so a failed run never
//! leaves anything that looks like a snapshot; cleanup of a failed upload is best effort, and
//! whatever it cannot remove is removed by the next run.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::JobError;
use super::commit::commit;
use super::hooks;
use super::lock::{self, LockError};
use super::progress::Display;
use super::report::{Outcome, RunReport};
use super::streams;
use super::verify::{self, Expected};
use crate::config::{Config, JobConfig};
use crate::layout::manifest::Manifest;
use crate::layout::{self, Entry, JobDir, SnapshotId};
use crate::remote::{Connection, RemoteError, Sftp};
use crate::snapshot::Progress;

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub dry_run: bool,
    /// Wait for a running instance of the job instead of refusing.
    pub wait_for_lock: bool,
    /// Show a progress bar when stderr is a terminal.
    pub progress_bar: bool,
}

/// Runs `job` once. The report is always returned; the error, when there is one, says whether
/// a retry may help.
pub async fn run(
    config: &Config,
    job: &JobConfig,
    opts: &RunOptions,
) -> (RunReport, Option<JobError>) {
    let started = Utc::now();
    let mut report = RunReport {
        job: job.name.clone(),
        outcome: Outcome::Failed,
        snapshot: None,
        started_at: started,
        finished_at: started,
        files: 0,
        bytes_read: 0,
        bytes_stored: 0,
        warnings: Vec::new(),
        error: None,
        verified_by: None,
        snapshots: None,
    };
    tracing::info!(job = %job.name, remote = %job.remote.name, dry_run = opts.dry_run, "run started");
    let result = match lock::acquire(&config.agent.state_dir, &job.name, opts.wait_for_lock) {
        Err(LockError::Held(who)) => Err(JobError::Locked(format!(
            "{who}; wait for it to finish, or use --wait"
        ))),
        Err(LockError::Io(e)) => Err(JobError::Local(format!(
            "{e}; check that state_dir is writable"
        ))),
        Ok(_lock) => {
            let result = match hooks::before(job, opts.dry_run).await {
                Err(e) => Err(e),
                Ok(()) => {
                    let run = attempt(job, config.agent.timezone, opts, &mut report);
                    match tokio::time::timeout(job.timeout, run).await {
                        Ok(r) => r,
                        Err(_) => Err(JobError::Timeout(job.timeout)),
                    }
                }
            };
            hooks::after_run(job, opts.dry_run, &mut report, &result).await;
            result
        }
    };
    report.finished_at = Utc::now();
    let err = match result {
        Ok(()) => {
            report.outcome = if report.warnings.is_empty() {
                Outcome::Success
            } else {
                Outcome::Warnings
            };
            None
        }
        Err(e) => {
            report.outcome = Outcome::Failed;
            report.snapshot = None;
            report.error = Some(e.to_string());
            Some(e)
        }
    };
    (report, err)
}

async fn attempt(
    job: &JobConfig,
    tz: chrono_tz::Tz,
    opts: &RunOptions,
    report: &mut RunReport,
) -> Result<(), JobError> {
    check_sources(job)?;
    streams::check_commands(job)?;
    let dir = JobDir::new(&job.remote.path, &job.name);
    if opts.dry_run {
        return super::dry_run::dry_run(job, &dir, report);
    }
    let conn = Connection::open(&job.remote).await?;
    let sftp = conn.sftp().await?;
    sftp.mkdir_all(dir.path()).await?;
    let id = new_snapshot_id(&sftp, &dir).await?;
    let partial = dir.partial(id);
    sftp.mkdir(&partial).await?;
    let result = upload_and_commit(job, &conn, &sftp, &dir, id, opts, report).await;
    match &result {
        Ok(()) => {
            report.snapshot = Some(id.to_string());
            super::prune::after_run(&sftp, &dir, job, tz, id, report).await;
        }
        Err(JobError::Verify(_)) => {
            tracing::error!("left {partial} on the server for inspection; the next run removes it")
        }
        // The connection is gone or stalled: cleaning up would only wait for timeouts.
        Err(e) if e.is_transient() => {
            tracing::warn!("{partial} stays on the server; the next run removes it")
        }
        Err(_) => cleanup(&sftp, &partial).await,
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), conn.close()).await;
    result
}

/// Required sources that do not exist fail the run before anything is sent.
fn check_sources(job: &JobConfig) -> Result<(), JobError> {
    for s in job.sources.iter().filter(|s| !s.optional) {
        if let Err(e) = std::fs::symlink_metadata(&s.path) {
            return Err(JobError::Source(format!(
                "source {} {}; fix `sources` in {} or move it to `optional_sources`",
                s.path.display(),
                if e.kind() == std::io::ErrorKind::NotFound {
                    "does not exist".to_string()
                } else {
                    format!("cannot be read: {e}")
                },
                job.defined_in.display()
            )));
        }
    }
    Ok(())
}

/// Removes `.partial` directories that crashed runs left behind, and picks a fresh id. Two runs
/// in the same second wait for the next second, so ids stay plain UTC times.
async fn new_snapshot_id(sftp: &Sftp, dir: &JobDir) -> Result<SnapshotId, JobError> {
    let entries = sftp.list(dir.path()).await?;
    let mut taken = Vec::new();
    for e in &entries {
        match Entry::classify(&e.name) {
            Entry::Partial(id) => {
                tracing::info!(
                    "removing {} left by an earlier run that did not finish",
                    dir.partial(id)
                );
                sftp.remove_tree(&dir.partial(id)).await?;
            }
            Entry::Snapshot(id) | Entry::Deleting(id) => taken.push(id),
            Entry::Other => {}
        }
    }
    let mut id = SnapshotId::from_time(Utc::now());
    while taken.contains(&id) || sftp.stat(&dir.snapshot(id)).await?.is_some() {
        let wait = (id.next().time() - Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO);
        tokio::time::sleep(wait + Duration::from_millis(5)).await;
        id = SnapshotId::from_time(Utc::now());
    }
    Ok(id)
}

async fn upload_and_commit(
    job: &JobConfig,
    conn: &Connection,
    sftp: &Sftp,
    dir: &JobDir,
    id: SnapshotId,
    opts: &RunOptions,
    report: &mut RunReport,
) -> Result<(), JobError> {
    let partial = dir.partial(id);
    let progress = Arc::new(Progress::default());
    let display = Display::start(&job.name, progress.clone(), opts.progress_bar);
    let streamed = streams::stream_all(job, sftp, &partial, &progress).await;
    display.finish();
    let streams::Streamed {
        files,
        commands,
        mut stats,
        warnings,
    } = match streamed {
        Ok(s) => s,
        Err(e) => return Err(explain_upload_failure(sftp, &partial, e).await),
    };
    stats.bytes_stored = files.iter().map(|f| f.size).sum();
    let expected: Vec<Expected> = files
        .iter()
        .map(|f| Expected {
            path: format!("{partial}/{}", f.name),
            name: f.name.clone(),
            size: f.size,
            sha256: f.sha256.clone(),
        })
        .collect();
    let used = verify::verify(conn, sftp, &expected, job.verify).await?;
    let manifest = Manifest {
        format_version: layout::manifest::FORMAT_VERSION,
        program: "backup-agent".into(),
        program_version: env!("CARGO_PKG_VERSION").into(),
        job: job.name.clone(),
        snapshot: id.to_string(),
        host: nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default(),
        started_at: report.started_at,
        finished_at: Utc::now(),
        files: files.clone(),
        sources: job
            .sources
            .iter()
            .map(|s| s.path.display().to_string())
            .collect(),
        exclude: job.exclude.patterns.clone(),
        commands,
        stats: stats.clone(),
        warnings: warnings.clone(),
        verified_by: used.as_str().to_string(),
    };
    let sums: Vec<(String, String)> = files
        .iter()
        .map(|f| (f.name.clone(), f.sha256.clone()))
        .collect();
    commit(sftp, dir, id, &sums, &manifest).await?;
    tracing::info!(job = %job.name, snapshot = %id, "committed {}", dir.snapshot(id));
    report.files = stats.files;
    report.bytes_read = stats.bytes_read;
    report.bytes_stored = stats.bytes_stored;
    report.warnings = warnings;
    report.verified_by = Some(used.as_str().to_string());
    Ok(())
}

/// A generic SFTP "Failure" during upload is most often a full disk: ask the server.
async fn explain_upload_failure(sftp: &Sftp, partial: &str, e: JobError) -> JobError {
    if let JobError::Remote(RemoteError::Sftp {
        code: Some(4),
        message,
        ..
    }) = &e
        && let Some(free) = sftp.free_space(partial).await
        && free < 4 * 1024 * 1024
    {
        return JobError::Remote(RemoteError::DiskFull {
            path: partial.to_string(),
            message: format!("{message} while writing, and only {free} bytes are free there"),
        });
    }
    e
}

/// Best effort: a connection that is gone cannot clean up; the next run will.
async fn cleanup(sftp: &Sftp, partial: &str) {
    match tokio::time::timeout(Duration::from_secs(20), sftp.remove_tree(partial)).await {
        Ok(Ok(())) => tracing::info!("removed {partial} after the failed run"),
        _ => tracing::warn!(
            "could not remove {partial} after the failed run; the next run removes it"
        ),
    }
}
