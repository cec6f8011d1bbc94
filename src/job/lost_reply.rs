//! A commit whose answer was lost. When the connection fails (cut, stalled, the server killed)
//! while the commit's rename is on its way, the rename may have happened on the server: the run
//! then looks again, over a new connection, before it reports failure. A directory named by the
//! run's id that holds `manifest.json` can only be this run's (it holds the history's lock and
//! chose the id), and by the layout's rule it is a complete snapshot: the run is committed.

use std::time::Duration;

use super::JobError;
use crate::config::JobConfig;
use crate::layout::{self, SnapshotId};
use crate::outcome::RunReport;
use crate::remote;
use crate::repository::Repository;

/// Long enough for a login and one stat; a server still gone after that is reported as failed,
/// and the next run lists what is there.
const LOOK_AGAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// After the run's upload or commit failed with `err` (a lost or stalled connection): whether
/// snapshot `id` is committed all the same. If so, the report says so with a warning (exit 3).
/// No prune runs then, over a connection that just failed: the next run's prune catches up.
pub(super) async fn found_committed(
    job: &JobConfig,
    repo: &Repository,
    id: SnapshotId,
    err: &JobError,
    report: &mut RunReport,
) -> bool {
    let snapshot = repo.dir().snapshot(id);
    if !committed_after_all(job, &snapshot).await {
        return false;
    }
    tracing::warn!(job = %job.name, snapshot = %id, "the connection failed during the commit ({err}), but a new connection finds {snapshot} committed");
    report.snapshot = Some(id.to_string());
    report.warnings.push(format!(
        "the server's answer to the commit was lost ({err}); snapshot {id} is committed, and retention runs with the next run"
    ));
    true
}

/// Whether the snapshot directory `snapshot` holds its manifest, as a fresh connection to the
/// job's remote sees it; `false` when that cannot be told.
async fn committed_after_all(job: &JobConfig, snapshot: &str) -> bool {
    let look = async {
        let remote = remote::open(&job.remote).await.ok()?;
        let manifest = format!("{snapshot}/{}", layout::MANIFEST_FILE);
        let found = remote.stat(&manifest).await;
        remote.close().await;
        Some(found.ok()?.is_some())
    };
    matches!(
        tokio::time::timeout(LOOK_AGAIN_TIMEOUT, look).await,
        Ok(Some(true))
    )
}
