//! The end of a run at each destination: write the sealed details, verify what landed,
//! commit, and apply that destination's retention. Every destination commits the same
//! streams under the same id; a failure leaves only that destination out.

use chrono::Utc;

use super::JobError;
use super::destination::Target;
use super::streams::Streamed;
use crate::config::{Config, JobConfig};
use crate::layout::manifest::Stats;
use crate::outcome::RunReport;
use crate::repository::{Owner, Pending, Repository, verify::check_files};

/// What every destination verifies and commits: the same streams, stats and sealed details.
pub(super) struct Finish<'a> {
    pub config: &'a Config,
    pub me: &'a Owner,
    pub started: chrono::DateTime<Utc>,
    pub streamed: &'a Streamed,
    pub stats: &'a Stats,
    pub sealed: Option<&'a [u8]>,
}

impl Finish<'_> {
    /// Verifies, commits and prunes at one destination; a failure leaves it in `t.failed`.
    pub async fn commit(&self, t: &mut Target) {
        let Some((repo, pending)) = t.writing() else {
            return;
        };
        let (job, id) = (&t.job, pending.id);
        let mut found = RunReport::started(&job.name, self.started);
        let done = match self.verify_and_commit(job, repo, pending).await {
            Ok(used) => {
                tracing::info!(job = %job.name, remote = %job.remote.name, snapshot = %id, "committed {}", repo.dir().snapshot(id));
                let tz = self.config.agent.timezone;
                super::prune::after_run(repo, job, tz, id, &mut found).await;
                Ok(Some(used))
            }
            Err(e)
                if e.is_transient()
                    && super::lost_reply::found_committed(job, repo, id, &e, &mut found).await =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        };
        match done {
            Ok(used) => {
                t.result.committed = true;
                t.result.verified_by = used;
                t.result.snapshots = found.snapshots;
                t.warnings.extend(found.warnings);
            }
            Err(e) => t.fail(e),
        }
    }

    async fn verify_and_commit(
        &self,
        job: &JobConfig,
        repo: &Repository,
        pending: &Pending,
    ) -> Result<String, JobError> {
        let remote = repo.remote().as_ref();
        if let Some(bytes) = self.sealed {
            super::record::write_details(remote, pending, bytes).await?;
        }
        let checked = check_files(remote, &pending.path, &self.streamed.files, job.verify).await?;
        let problems: Vec<String> = checked.problems().cloned().collect();
        if !problems.is_empty() {
            return Err(JobError::Verify(problems.join("; ")));
        }
        let used = checked.method.as_str();
        let manifest = super::record::manifest(
            job,
            pending.id,
            &self.me.host,
            self.started,
            self.streamed.clone(),
            self.stats.clone(),
            used,
        );
        repo.commit(pending, &manifest).await?;
        Ok(used.to_string())
    }
}
