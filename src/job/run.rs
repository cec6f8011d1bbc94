//! The run itself. Every step that can fail returns before the commit's rename, so a failed
//! run never leaves anything that looks like a snapshot; cleanup of a failed upload is best
//! effort, and whatever it cannot remove is removed by the next run.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::JobError;
use super::guards;
use super::hooks;
use super::lock::{self, LockError};
use super::progress::Display;
use super::streams;
use crate::config::{Config, JobConfig, VerifyMode};
use crate::layout::manifest::CommandEntry;
use crate::outcome::{Outcome, RunReport};
use crate::remote::{self, Counted, Progressed, Remote};
use crate::repository::{
    HashSupport, Owner, Pending, Repository, Snapshot, probe_hash, verify::check_files,
};
use crate::snapshot::Progress;

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub dry_run: bool,
    /// Wait for a running instance of the job instead of refusing.
    pub wait_for_lock: bool,
    /// Show a progress bar when stderr is a terminal.
    pub progress_bar: bool,
    /// Record this machine as the owner of the job's history even if another one is.
    pub take_over: bool,
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
        skipped_sources: Vec::new(),
        error: None,
        verified_by: None,
        snapshots: None,
    };
    tracing::info!(job = %job.name, remote = %job.remote.name, dry_run = opts.dry_run, "run started");
    let lock = lock::acquire_off_runtime(&config.agent.state_dir, &job.name, opts.wait_for_lock);
    let result = match lock.await {
        Err(LockError::Held(who)) => Err(JobError::Locked(who)),
        Err(LockError::Io(e)) => Err(JobError::Local(format!(
            "{e}; check that state_dir is writable"
        ))),
        Ok(_lock) => {
            let result = match hooks::before(job, opts.dry_run).await {
                Err(e) => Err(e),
                Ok(()) => {
                    let run = attempt(config, job, opts, &mut report);
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
    config: &Config,
    job: &JobConfig,
    opts: &RunOptions,
    report: &mut RunReport,
) -> Result<(), JobError> {
    check_sources(job)?;
    streams::check_commands(job)?;
    if opts.dry_run {
        let dir = crate::layout::JobDir::new(&job.remote.path, &job.name);
        return super::dry_run::dry_run(job, &dir, report);
    }
    let counted = Arc::new(Counted::default());
    let remote: Arc<dyn Remote> = Arc::new(Progressed::new(
        remote::open(&job.remote).await?,
        counted.clone(),
    ));
    let repo = Repository::new(remote.clone(), &job.remote.path, &job.name);
    let me = Owner::this_machine(&config.agent.host_name);
    let result = match repo.lock_for_write(&me, opts.take_over).await {
        Err(e) => Err(e.into()),
        Ok(held) => {
            let result = match require_remote_hash(job, &repo).await {
                Ok(()) => write_snapshot(config, job, &repo, &me, counted, opts, report).await,
                Err(e) => Err(e),
            };
            // A lost connection cannot release the lock; it expires (see repository/lock.rs).
            let _ = tokio::time::timeout(Duration::from_secs(10), held.release()).await;
            result
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), remote.close()).await;
    result
}

async fn write_snapshot(
    config: &Config,
    job: &JobConfig,
    repo: &Repository,
    me: &Owner,
    counted: Arc<Counted>,
    opts: &RunOptions,
    report: &mut RunReport,
) -> Result<(), JobError> {
    let pending = repo.begin().await?;
    let result = upload_and_commit(job, repo, &pending, me, counted, opts, report).await;
    if let Err(e) = &result
        && e.is_transient()
        && super::lost_reply::found_committed(job, repo, pending.id, e, report).await
    {
        return Ok(());
    }
    match &result {
        Ok(()) => {
            report.snapshot = Some(pending.id.to_string());
            super::prune::after_run(repo, job, config.agent.timezone, pending.id, report).await;
        }
        Err(JobError::Verify(_)) => tracing::error!(
            "left {} on the server for inspection; the next run removes it",
            pending.path
        ),
        // The connection is gone or stalled: cleaning up would only wait for timeouts.
        Err(e) if e.is_transient() => {
            tracing::warn!(
                "{} stays on the server; the next run removes it",
                pending.path
            )
        }
        Err(_) => repo.abandon(&pending).await,
    }
    result
}

/// `verify = "remote-hash"` on an account that cannot hash would fail only after the whole
/// upload: ask the server first.
async fn require_remote_hash(job: &JobConfig, repo: &Repository) -> Result<(), JobError> {
    if job.verify != VerifyMode::RemoteHash {
        return Ok(());
    }
    match probe_hash(repo.remote().as_ref(), repo.dir().path()).await? {
        HashSupport::Works => Ok(()),
        HashSupport::Unsupported(why) => Err(JobError::CannotHash {
            message: format!(
                "verify = \"remote-hash\", but {} cannot hash files on the server ({why}); nothing was uploaded",
                job.remote.display_addr()
            ),
            hint: format!(
                "set verify = \"auto\" (it reads the files back instead) or \"readback\" for job {} in {}, or allow this account to run sha256sum on the server",
                job.name,
                job.defined_in.display()
            ),
        }),
    }
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

/// The newest intact snapshot, read only when a command compares its size against it.
async fn previous_outputs(
    job: &JobConfig,
    repo: &Repository,
) -> Result<Option<Snapshot>, JobError> {
    if job.commands.iter().all(|c| c.max_shrink.is_none()) {
        return Ok(None);
    }
    Ok(repo.committed().await?.pop())
}

/// Every command's output against its guards, once all streams have ended.
fn check_guards(
    job: &JobConfig,
    commands: &[CommandEntry],
    previous: &Option<Snapshot>,
) -> Result<(), JobError> {
    for (cmd, out) in job.commands.iter().zip(commands) {
        let prev = previous.as_ref().and_then(|s| {
            let c = s.manifest.commands.iter().find(|c| c.name == cmd.name)?;
            Some(guards::Previous {
                snapshot: s.id,
                bytes: c.bytes,
            })
        });
        guards::check(cmd, out.bytes, prev, &job.defined_in)?;
    }
    Ok(())
}

async fn upload_and_commit(
    job: &JobConfig,
    repo: &Repository,
    pending: &Pending,
    me: &Owner,
    counted: Arc<Counted>,
    opts: &RunOptions,
    report: &mut RunReport,
) -> Result<(), JobError> {
    let previous = previous_outputs(job, repo).await?;
    let remote = repo.remote().as_ref();
    let progress = Arc::new(Progress::default());
    let display = Display::start(&job.name, progress.clone(), counted, opts.progress_bar);
    let streamed = streams::stream_all(job, remote, pending, &progress).await;
    display.finish();
    let mut streamed = streamed?;
    check_guards(job, &streamed.commands, &previous)?;
    if job.encryption.is_on() {
        let details = super::record::seal_details(job, remote, pending, &streamed).await?;
        streamed.files.push(details);
    }
    let mut stats = streamed.stats.clone();
    stats.bytes_stored = streamed.files.iter().map(|f| f.size).sum();
    let checked = check_files(remote, &pending.path, &streamed.files, job.verify).await?;
    let problems: Vec<String> = checked.problems().cloned().collect();
    if !problems.is_empty() {
        return Err(JobError::Verify(problems.join("; ")));
    }
    let used = checked.method;
    let warnings = streamed.warnings.clone();
    let skipped_sources = streamed.skipped_sources.clone();
    let manifest = super::record::manifest(
        job,
        pending.id,
        &me.host,
        report.started_at,
        streamed,
        stats.clone(),
        used.as_str(),
    );
    // Filled in before the commit: a commit whose answer is lost may still turn out committed.
    report.files = stats.files;
    report.bytes_read = stats.bytes_read;
    report.bytes_stored = stats.bytes_stored;
    report.warnings = pending.warnings.iter().cloned().chain(warnings).collect();
    report.verified_by = Some(used.as_str().to_string());
    report.skipped_sources = skipped_sources;
    repo.commit(pending, &manifest).await?;
    tracing::info!(job = %job.name, snapshot = %pending.id, "committed {}", repo.dir().snapshot(pending.id));
    Ok(())
}
