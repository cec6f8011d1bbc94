//! Per destination of a job (`remote = ...` or each of `remotes = [...]`): the state file's
//! record of each one's last run and last success, and the metrics families with a `remote`
//! label, so an alert can name the one destination that keeps failing while the others commit.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::metrics::{JobInput, escape};
use crate::outcome::RunReport;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DestinationState {
    /// Start of the last run that committed its snapshot here.
    #[serde(default)]
    pub last_success: Option<DateTime<Utc>>,
    /// Start of the last run that tried.
    #[serde(default)]
    pub last_run: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_run_committed: bool,
    #[serde(default)]
    pub consecutive_failures: u32,
    #[serde(default)]
    pub last_error: Option<String>,
    /// Committed snapshots there after the last run's retention, when known.
    #[serde(default)]
    pub snapshots: Option<u64>,
}

/// Records what `report` says of each destination into `all` (keyed by remote name).
pub fn record(all: &mut BTreeMap<String, DestinationState>, report: &RunReport) {
    for d in &report.destinations {
        let s = all.entry(d.remote.clone()).or_default();
        s.last_run = Some(report.started_at);
        s.last_run_committed = d.committed;
        if d.committed {
            s.last_success = Some(report.started_at);
            s.consecutive_failures = 0;
            s.last_error = None;
            if d.snapshots.is_some() {
                s.snapshots = d.snapshots;
            }
        } else {
            s.consecutive_failures += 1;
            s.last_error = d.error.clone();
        }
    }
}

type Value = fn(Option<&DestinationState>) -> Option<f64>;

/// How many families [`render`] writes.
pub const FAMILY_COUNT: usize = FAMILIES.len();

const FAMILIES: &[(&str, &str, Value)] = &[
    (
        "backup_destination_last_success_timestamp_seconds",
        "Start of the last run that committed its snapshot on this destination (Unix time); 0 if none ever did.",
        |d| Some(d.and_then(|d| d.last_success).map_or(0.0, ts)),
    ),
    (
        "backup_destination_last_run_success",
        "1 if the last run committed its snapshot on this destination, 0 if not.",
        |d| {
            d.filter(|d| d.last_run.is_some())
                .map(|d| f64::from(u8::from(d.last_run_committed)))
        },
    ),
    (
        "backup_destination_consecutive_failures",
        "Runs since the last one that committed on this destination.",
        |d| Some(f64::from(d.map_or(0, |d| d.consecutive_failures))),
    ),
    (
        "backup_destination_snapshots_total",
        "Committed snapshots on this destination, as last seen by a run.",
        |d| d.and_then(|d| d.snapshots).map(|n| n as f64),
    ),
];

fn ts(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

/// The families, one sample per configured destination of each job.
pub fn render(jobs: &[JobInput], out: &mut String) {
    for (name, help, value) in FAMILIES {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        for j in jobs {
            for r in &j.remotes {
                if let Some(v) = value(j.state.destinations.get(r)) {
                    let _ = writeln!(
                        out,
                        "{name}{{job=\"{}\",remote=\"{}\"}} {v}",
                        escape(&j.job),
                        escape(r)
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::DestinationResult;

    fn dest(remote: &str, committed: bool) -> DestinationResult {
        DestinationResult {
            remote: remote.into(),
            committed,
            error: (!committed).then(|| "connection lost".into()),
            verified_by: None,
            snapshots: committed.then_some(4),
        }
    }

    #[test]
    fn a_destination_that_keeps_failing_shows_while_the_other_commits() {
        let mut all = BTreeMap::new();
        let t0 = Utc::now();
        for i in 0..3 {
            let mut r = RunReport::started("db", t0 + chrono::TimeDelta::hours(i));
            r.destinations = vec![dest("nas", true), dest("offsite", i == 0)];
            record(&mut all, &r);
        }
        assert_eq!(all["nas"].consecutive_failures, 0);
        assert_eq!(
            all["nas"].last_success,
            Some(t0 + chrono::TimeDelta::hours(2))
        );
        assert_eq!(all["offsite"].consecutive_failures, 2);
        assert_eq!(all["offsite"].last_success, Some(t0));
        assert_eq!(
            all["offsite"].last_error.as_deref(),
            Some("connection lost")
        );
        let input = JobInput {
            job: "db".into(),
            remotes: vec!["nas".into(), "offsite".into(), "usb".into()],
            state: crate::report::state::JobState {
                destinations: all,
                ..Default::default()
            },
            ..Default::default()
        };
        let mut text = String::new();
        render(&[input], &mut text);
        assert!(
            text.contains("backup_destination_last_run_success{job=\"db\",remote=\"offsite\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("backup_destination_last_run_success{job=\"db\",remote=\"nas\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "backup_destination_consecutive_failures{job=\"db\",remote=\"offsite\"} 2"
            ),
            "{text}"
        );
        // Never tried yet: 0, so a "no success for 26 h" alert covers it from the start.
        assert!(
            text.contains(
                "backup_destination_last_success_timestamp_seconds{job=\"db\",remote=\"usb\"} 0"
            ),
            "{text}"
        );
    }
}
