//! `state_dir/state.json`: per job, the last scheduled time the daemon accounted for, the last
//! run's result, the last success, the count of consecutive failures and the last
//! verification.
//!
//! The daemon and `backup run` both write it, so every update is read-modify-write under an
//! exclusive flock on `state.json.lock`, and the new file (fsynced) replaces the old one by
//! rename, then the directory is fsynced: a crash leaves either the old or the new state, never
//! half of one, and a power cut after the update returned leaves the new one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::destinations::DestinationState;
use super::files::{Durable, adopt_owner, replace};
use crate::outcome::{DestinationResult, Outcome, RunReport, VerifyReport};

pub const STATE_FILE: &str = "state.json";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    #[serde(default)]
    pub jobs: BTreeMap<String, JobState>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobState {
    /// The latest scheduled time the daemon has dealt with (run it, skipped it, or first saw
    /// the job after it). Catch-up compares the schedule against this.
    #[serde(default)]
    pub last_scheduled: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_run: Option<LastRun>,
    #[serde(default)]
    pub last_success: Option<LastRun>,
    #[serde(default)]
    pub consecutive_failures: u32,
    /// Committed snapshots on the server, as last seen by a run (after retention) or a list.
    #[serde(default)]
    pub snapshots: Option<u64>,
    #[serde(default)]
    pub last_verify: Option<VerifyReport>,
    /// Start of the last verification that proved its snapshots intact.
    #[serde(default)]
    pub last_verify_ok: Option<DateTime<Utc>>,
    /// Each destination's last run and last success, by remote name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub destinations: BTreeMap<String, DestinationState>,
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    Manual,
    Schedule,
    CatchUp,
    Retry,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastRun {
    pub trigger: Trigger,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub outcome: Outcome,
    pub exit_code: i32,
    pub snapshot: Option<String>,
    #[serde(default)]
    pub files: u64,
    pub bytes_read: u64,
    pub bytes_stored: u64,
    pub warnings: usize,
    pub error: Option<String>,
    /// Each destination's part in the run, in config order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destinations: Vec<DestinationResult>,
}

impl LastRun {
    pub fn trigger_str(&self) -> &'static str {
        match self.trigger {
            Trigger::Manual => "manual",
            Trigger::Schedule => "scheduled",
            Trigger::CatchUp => "catch-up",
            Trigger::Retry => "retry",
        }
    }

    pub fn from_report(report: &RunReport, trigger: Trigger) -> LastRun {
        LastRun {
            trigger,
            started_at: report.started_at,
            finished_at: report.finished_at,
            outcome: report.outcome,
            exit_code: report.outcome.exit_code(),
            snapshot: report.snapshot.clone(),
            files: report.files,
            bytes_read: report.bytes_read,
            bytes_stored: report.bytes_stored,
            warnings: report.warnings.len(),
            error: report.error.clone(),
            destinations: report.destinations.clone(),
        }
    }
}

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(STATE_FILE)
}

/// The current state; a missing file is an empty state (nothing has run yet).
pub fn read(state_dir: &Path) -> Result<State, String> {
    let p = path(state_dir);
    match std::fs::read(&p) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            format!(
                "state file {} is not valid: {e}\nhint: move it aside; the next run writes a new one",
                p.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
        Err(e) => Err(format!("cannot read state file {}: {e}", p.display())),
    }
}

/// Read, change with `f`, write back atomically, all under the state lock.
pub fn update(state_dir: &Path, f: impl FnOnce(&mut State)) -> Result<(), String> {
    // fs-err's errors name the path and the operation.
    let io = |e: std::io::Error| format!("{e}\nhint: check that state_dir is writable");
    fs_err::create_dir_all(state_dir).map_err(io)?;
    let lock_path = state_dir.join(format!("{STATE_FILE}.lock"));
    let lock_file = fs_err::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io)?
        .into_file();
    adopt_owner(&lock_path, state_dir);
    let _lock = Flock::lock(lock_file, FlockArg::LockExclusive).map_err(|(_, e)| {
        io(std::io::Error::other(format!(
            "cannot lock {}: {e}",
            lock_path.display()
        )))
    })?;
    // A corrupt file must not stop backups from running: start afresh and say so.
    let mut state = read(state_dir).unwrap_or_else(|e| {
        tracing::warn!("{e}");
        State::default()
    });
    f(&mut state);
    let target = path(state_dir);
    let text = serde_json::to_vec_pretty(&state).map_err(|e| e.to_string())?;
    replace(&target, &text, 0o644, Durable::Yes).map_err(io)
}

/// Records one finished run.
pub fn record_run(state_dir: &Path, report: &RunReport, trigger: Trigger) -> Result<(), String> {
    let run = LastRun::from_report(report, trigger);
    update(state_dir, |s| {
        let j = s.jobs.entry(report.job.clone()).or_default();
        super::destinations::record(&mut j.destinations, report);
        // Success means a new snapshot on every destination: a missing copy counts as failed.
        if !run.outcome.committed() {
            j.consecutive_failures += 1;
        } else {
            j.consecutive_failures = 0;
            j.last_success = Some(run.clone());
        }
        if report.snapshots.is_some() {
            j.snapshots = report.snapshots;
        }
        j.last_run = Some(run);
    })
}

/// Records how many committed snapshots a listing of the server found.
pub fn record_snapshots(state_dir: &Path, job: &str, count: u64) -> Result<(), String> {
    update(state_dir, |s| {
        s.jobs.entry(job.to_string()).or_default().snapshots = Some(count);
    })
}

/// Records one verification's result.
pub fn record_verify(state_dir: &Path, report: &VerifyReport) -> Result<(), String> {
    update(state_dir, |s| {
        let j = s.jobs.entry(report.job.clone()).or_default();
        if report.is_ok() {
            j.last_verify_ok = Some(report.started_at);
        }
        j.last_verify = Some(report.clone());
    })
}

/// Records that the daemon has dealt with the scheduled time `at`.
pub fn record_scheduled(state_dir: &Path, job: &str, at: DateTime<Utc>) -> Result<(), String> {
    update(state_dir, |s| {
        let j = s.jobs.entry(job.to_string()).or_default();
        j.last_scheduled = Some(j.last_scheduled.map_or(at, |old| old.max(at)));
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(outcome: Outcome) -> RunReport {
        let t = Utc::now();
        RunReport {
            job: "db".into(),
            outcome,
            snapshot: (outcome != Outcome::Failed).then(|| "20260101T020000Z".into()),
            started_at: t,
            finished_at: t,
            files: 1,
            bytes_read: 10,
            bytes_stored: 5,
            warnings: Vec::new(),
            skipped_sources: Vec::new(),
            error: (outcome == Outcome::Failed).then(|| "boom".into()),
            verified_by: None,
            snapshots: None,
            destinations: Vec::new(),
            bandwidth: None,
        }
    }

    #[test]
    fn failures_count_until_a_success() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        record_run(d, &report(Outcome::Success), Trigger::Manual).unwrap();
        record_run(d, &report(Outcome::Failed), Trigger::Schedule).unwrap();
        record_run(d, &report(Outcome::Failed), Trigger::Retry).unwrap();
        let s = read(d).unwrap();
        let j = &s.jobs["db"];
        assert_eq!(j.consecutive_failures, 2);
        assert_eq!(j.last_run.as_ref().unwrap().error.as_deref(), Some("boom"));
        assert_eq!(j.last_success.as_ref().unwrap().trigger, Trigger::Manual);
        record_run(d, &report(Outcome::Warnings), Trigger::Schedule).unwrap();
        let j = &read(d).unwrap().jobs["db"];
        assert_eq!(j.consecutive_failures, 0);
        assert_eq!(j.last_success.as_ref().unwrap().exit_code, 3);
    }

    #[test]
    fn scheduled_time_only_moves_forward_and_missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()).unwrap(), State::default());
        let t = Utc::now();
        record_scheduled(dir.path(), "db", t).unwrap();
        record_scheduled(dir.path(), "db", t - chrono::TimeDelta::hours(1)).unwrap();
        let s = read(dir.path()).unwrap();
        assert_eq!(s.jobs["db"].last_scheduled.unwrap(), t);
        assert!(
            !std::fs::read_dir(dir.path())
                .unwrap()
                .flatten()
                .any(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        );
    }
}
