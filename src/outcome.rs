//! What one run (and one verification) did: the leaf types that `job` fills in and that `report` (state file, metrics,
//! notifications), `daemon` and `commands` (summary line, exit code) read. It owns the outcome,
//! its exit code and the summary line's wording, and imports nothing from those modules, so any
//! of them can depend on it without depending on each other.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Success,
    /// Committed, but some files were skipped or changed while read (exit 3).
    Warnings,
    Failed,
    /// Committed on some of the job's destinations, not on all (exit 1: a copy is missing).
    Partial,
}

impl Outcome {
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::Success => 0,
            Outcome::Warnings => 3,
            Outcome::Failed | Outcome::Partial => 1,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Warnings => "warnings",
            Outcome::Failed => "failed",
            Outcome::Partial => "partial",
        }
    }

    /// A snapshot was committed on every destination (exit 0 or 3).
    pub fn committed(self) -> bool {
        matches!(self, Outcome::Success | Outcome::Warnings)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    pub job: String,
    pub outcome: Outcome,
    pub snapshot: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub files: u64,
    pub bytes_read: u64,
    pub bytes_stored: u64,
    pub warnings: Vec<String>,
    /// Optional sources that did not exist (not a warning: the run still exits 0).
    #[serde(default)]
    pub skipped_sources: Vec<String>,
    pub error: Option<String>,
    pub verified_by: Option<String>,
    /// Snapshots on the server after this run (after retention), when known.
    pub snapshots: Option<u64>,
    /// The remote's bandwidth limit while the run sent its data ("limited to 8.0 MiB/s"),
    /// when it has one.
    #[serde(default)]
    pub bandwidth: Option<String>,
    /// What happened at each destination, in config order (one entry for a one-remote job).
    #[serde(default)]
    pub destinations: Vec<DestinationResult>,
}

/// One destination of a run: whether it committed the run's snapshot, or why not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DestinationResult {
    pub remote: String,
    pub committed: bool,
    pub error: Option<String>,
    pub verified_by: Option<String>,
    /// Snapshots there after this run's retention, when known.
    pub snapshots: Option<u64>,
}

impl RunReport {
    /// A run of `job` that began at `started` and has done nothing yet (reported as failed
    /// until it commits).
    pub fn started(job: &str, started: DateTime<Utc>) -> RunReport {
        RunReport {
            job: job.to_string(),
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
            destinations: Vec::new(),
            bandwidth: None,
        }
    }

    /// The destinations that did not commit this run's snapshot, with why: `remote: error`.
    pub fn missing_copies(&self) -> Vec<String> {
        self.destinations
            .iter()
            .filter(|d| !d.committed)
            .map(|d| {
                format!(
                    "{}: {}",
                    d.remote,
                    d.error.as_deref().unwrap_or("not committed")
                )
            })
            .collect()
    }

    pub fn duration_secs(&self) -> f64 {
        (self.finished_at - self.started_at).num_milliseconds() as f64 / 1000.0
    }

    /// The one summary line at the end of a run.
    pub fn summary(&self) -> String {
        let mut line = self.summary_of_outcome();
        if self.destinations.len() > 1 {
            let (ok, failed): (Vec<_>, Vec<_>) =
                self.destinations.iter().partition(|d| d.committed);
            let names = |v: &[&DestinationResult]| {
                v.iter()
                    .map(|d| d.remote.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            if !ok.is_empty() {
                line.push_str(&format!("; committed on {}", names(&ok)));
            }
            for d in failed {
                line.push_str(&format!(
                    "; FAILED on {}: {}",
                    d.remote,
                    d.error.as_deref().unwrap_or("unknown error")
                ));
            }
        }
        line
    }

    fn summary_of_outcome(&self) -> String {
        match self.outcome {
            Outcome::Failed => format!(
                "{}: FAILED after {:.1}s: {}",
                self.job,
                self.duration_secs(),
                self.error.as_deref().unwrap_or("unknown error")
            ),
            _ => {
                let ratio = if self.bytes_stored > 0 {
                    self.bytes_read as f64 / self.bytes_stored as f64
                } else {
                    0.0
                };
                format!(
                    "{}: snapshot {} committed: {} files, {} read, {} stored (ratio {:.2}), {:.1}s{}, verified by {}{}{}",
                    self.job,
                    self.snapshot.as_deref().unwrap_or("-"),
                    self.files,
                    human_bytes(self.bytes_read),
                    human_bytes(self.bytes_stored),
                    ratio,
                    self.duration_secs(),
                    self.bandwidth
                        .as_deref()
                        .map(|b| format!(" ({b})"))
                        .unwrap_or_default(),
                    self.verified_by.as_deref().unwrap_or("-"),
                    if self.warnings.is_empty() {
                        String::new()
                    } else {
                        format!(", {} warning(s)", self.warnings.len())
                    },
                    if self.skipped_sources.is_empty() {
                        String::new()
                    } else {
                        format!(
                            ", optional source(s) absent: {}",
                            self.skipped_sources.join(", ")
                        )
                    }
                )
            }
        }
    }
}

/// What one verification of stored snapshots found (`backup verify`, or the daemon's
/// `verify_schedule`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifyReport {
    pub job: String,
    /// true: run by the daemon's `verify_schedule`; false: `backup verify` by hand.
    pub scheduled: bool,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Every snapshot (`verify_all`, `--all`) rather than the latest.
    pub all: bool,
    /// The snapshots checked.
    pub snapshots: Vec<String>,
    /// Each problem found, prefixed with its snapshot.
    pub problems: Vec<String>,
    /// Why nothing could be checked (the server unreachable, no snapshot at all).
    pub error: Option<String>,
}

impl VerifyReport {
    /// Proven readable: something was checked and nothing was wrong.
    pub fn is_ok(&self) -> bool {
        self.error.is_none() && self.problems.is_empty() && !self.snapshots.is_empty()
    }

    pub fn summary(&self) -> String {
        if self.is_ok() {
            return format!(
                "{}: verify passed: {} snapshot(s) intact ({})",
                self.job,
                self.snapshots.len(),
                self.snapshots.join(", ")
            );
        }
        let why = match &self.error {
            Some(e) => e.clone(),
            None => format!(
                "{} problem(s): {}",
                self.problems.len(),
                self.problems.join("; ")
            ),
        };
        format!("{}: verify FAILED: {why}", self.job)
    }
}

/// Sizes as the summary line and other operator-facing messages print them (`1.5 MiB`).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
