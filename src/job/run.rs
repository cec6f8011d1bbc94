//! The run itself. Every step that can fail returns before the commit's rename, so a failed
//! run never leaves anything that looks like a snapshot; cleanup of a failed upload is best
//! effort, and whatever it cannot remove is removed by the next run.

use std::sync::Arc;

use chrono::Utc;

use super::JobError;
use super::destination::{self, Target};
use super::guards;
use super::hooks;
use super::lock::{self, LockError};
use super::progress::Display;
use super::streams::{self, Sink};
use super::verdict;
use crate::config::{Config, JobConfig};
use crate::outcome::{Outcome, RunReport};
use crate::remote::Counted;
use crate::repository::Owner;
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
    let mut report = RunReport::started(&job.name, Utc::now());
    tracing::info!(job = %job.name, remote = %job.destination_names().join(","), dry_run = opts.dry_run, "run started");
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
        // Committed, but a copy is missing: the operator must hear it (exit 1), and the hooks
        // see a failure. The snapshot stays in the report: it exists where it was committed.
        Err(e @ JobError::Destinations { .. }) if report.snapshot.is_some() => {
            report.outcome = Outcome::Partial;
            report.error = Some(e.to_string());
            Some(e)
        }
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
        return super::dry_run::dry_run(job, report);
    }
    let counted = Arc::new(Counted::default());
    let progress = Arc::new(Progress::default());
    let early = streams::Early::start(job, &progress);
    let me = Owner::this_machine(&config.agent.host_name);
    let opening = job
        .destinations
        .iter()
        .map(|d| destination::open(job.at(d), &me, counted.clone(), opts.take_over));
    let mut targets = futures::future::join_all(opening).await;
    if targets.iter().any(Target::is_in) {
        destination::begin(&mut targets).await;
    }
    if targets.iter().any(Target::is_in) {
        let streaming = Streaming {
            early,
            progress,
            counted,
        };
        let written = write_snapshot(config, job, &mut targets, &me, streaming, opts, report).await;
        match (written, &mut targets[..]) {
            (Ok(()), _) => {}
            (Err(e), [one]) => one.fail(e),
            (Err(e), all) => all.iter_mut().for_each(|t| t.fail(verdict::shared(&e))),
        }
    }
    report.destinations = targets.iter().map(|t| t.result.clone()).collect();
    let committed: Vec<&Target> = targets.iter().filter(|t| t.result.committed).collect();
    let outcome = match committed.first() {
        None => Err(verdict::every_failure(&mut targets)),
        Some(first) => {
            report.verified_by = first.result.verified_by.clone();
            report.snapshots = first.result.snapshots;
            verdict::partial(report)
        }
    };
    let many = targets.len() > 1;
    for t in &targets {
        let on = |w: &String| {
            if many {
                format!("{}: {w}", t.name())
            } else {
                w.clone()
            }
        };
        report.warnings.extend(t.warnings.iter().map(on));
    }
    futures::future::join_all(targets.into_iter().map(destination::close)).await;
    outcome
}

/// What the streams start from: the sources' producer (already running) and the counters.
struct Streaming {
    early: Option<streams::Early>,
    progress: Arc<Progress>,
    counted: Arc<Counted>,
}

async fn write_snapshot(
    config: &Config,
    job: &JobConfig,
    targets: &mut [Target],
    me: &Owner,
    streaming: Streaming,
    opts: &RunOptions,
    report: &mut RunReport,
) -> Result<(), JobError> {
    let Streaming {
        early,
        progress,
        counted,
    } = streaming;
    let previous = guards::previous_outputs(job, targets).await?;
    let display = Display::start(job, progress.clone(), counted, opts.progress_bar);
    let failures = streams::Failures::new(targets.len());
    let streamed = {
        let live: Vec<(usize, Sink<'_>)> = targets
            .iter()
            .enumerate()
            .filter_map(|(i, t)| {
                let (repo, pending) = t.writing()?;
                Some((
                    i,
                    Sink {
                        remote: repo.remote().as_ref(),
                        pending,
                        verify: t.job.verify,
                    },
                ))
            })
            .collect();
        let sinks: Vec<Sink<'_>> = live.iter().map(|(_, s)| *s).collect();
        let which: Vec<usize> = live.iter().map(|(i, _)| *i).collect();
        let streamed = streams::stream_all(job, early, &sinks, &failures, &progress).await;
        (streamed, which)
    };
    report.bandwidth = display.finish();
    let (streamed, which) = streamed;
    for (k, e) in failures.take().into_iter().enumerate() {
        if let (Some(e), Some(&i)) = (e, which.get(k)) {
            targets[i].fail(e);
        }
    }
    let mut streamed = match streamed {
        Err(JobError::NoneLeft) => return Ok(()),
        other => other?,
    };
    guards::check_all(job, &streamed.commands, &previous)?;
    let sealed = if job.encryption.is_on() {
        let (entry, bytes) = super::record::seal_details(job, &streamed)?;
        streamed.files.push(entry);
        Some(bytes)
    } else {
        None
    };
    let mut stats = streamed.stats.clone();
    stats.bytes_stored = streamed.files.iter().map(|f| f.size).sum();
    report.files = stats.files;
    report.bytes_read = stats.bytes_read;
    report.bytes_stored = stats.bytes_stored;
    report.warnings.extend(streamed.warnings.iter().cloned());
    report.skipped_sources = streamed.skipped_sources.clone();
    let finishing = targets.iter_mut().filter(|t| t.is_in()).map(|t| {
        let one = super::finish::Finish {
            config,
            me,
            started: report.started_at,
            streamed: &streamed,
            stats: &stats,
            sealed: sealed.as_deref(),
        };
        async move { one.commit(t).await }
    });
    futures::future::join_all(finishing).await;
    if let Some(t) = targets.iter().find(|t| t.result.committed)
        && let Some(p) = &t.pending
    {
        report.snapshot = Some(p.id.to_string());
    }
    Ok(())
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
