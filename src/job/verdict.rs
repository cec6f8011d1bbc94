//! What a run with several destinations amounts to: committed everywhere, committed with a
//! copy missing (exit 1, the operator must hear it), or committed nowhere.

use super::JobError;
use super::destination::Target;
use crate::outcome::RunReport;

/// `Err` when some destination has no new snapshot although another one committed it. Not
/// transient: the others hold the snapshot, and a retry would read and dump everything again.
pub(super) fn partial(report: &RunReport) -> Result<(), JobError> {
    let missing = report.missing_copies();
    if missing.is_empty() {
        return Ok(());
    }
    Err(JobError::Destinations {
        message: format!("no new snapshot on {}", missing.join("; ")),
        transient: false,
    })
}

/// The run's error when no destination committed: the one destination's own error, or all of
/// them by name.
pub(super) fn every_failure(targets: &mut [Target]) -> JobError {
    if let [one] = targets
        && let Some(e) = one.failed.take()
    {
        return e;
    }
    let all: Vec<String> = targets
        .iter()
        .map(|t| {
            format!(
                "{}: {}",
                t.name(),
                t.result.error.as_deref().unwrap_or("not committed")
            )
        })
        .collect();
    let transient = targets
        .iter()
        .all(|t| t.failed.as_ref().is_some_and(JobError::is_transient));
    JobError::Destinations {
        message: format!("no destination committed the snapshot ({})", all.join("; ")),
        transient,
    }
}

/// A failure of the run itself (a source, a command, the guards), as every destination's.
pub(super) fn shared(e: &JobError) -> JobError {
    match e {
        JobError::Guard(t) => JobError::Guard(t.clone()),
        e => JobError::Local(e.to_string()),
    }
}
