//! Why a run failed, whether the daemon should try again, and what the operator can do (the
//! hint, printed once by `main` on its own line).

use std::time::Duration;

use thiserror::Error;

use crate::remote::RemoteError;
use crate::repository::RepoError;

#[derive(Debug, Error)]
pub enum JobError {
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error(transparent)]
    Repository(#[from] RepoError),
    #[error("{0}")]
    Source(String),
    #[error("verification failed: {0}")]
    Verify(String),
    #[error("{0}")]
    Command(String),
    /// A command's output is too small, or shrank too much: nothing was committed.
    #[error(transparent)]
    Guard(#[from] super::guards::Trip),
    /// The `before` hook failed: nothing was uploaded.
    #[error("the run was aborted before anything was uploaded: {0}")]
    Hook(String),
    /// This job runs already, from this state directory.
    #[error("{0}")]
    Locked(String),
    #[error("the run did not finish within {} (the job's timeout); nothing was committed", humantime::format_duration(*.0))]
    Timeout(Duration),
    #[error("{0}")]
    Local(String),
    /// Every destination left the run mid-stream; their own errors are what the run reports.
    #[error("no destination is left in the run")]
    NoneLeft,
    /// Some or all of a job's destinations have no new snapshot; each named with its error.
    #[error("{message}")]
    Destinations { message: String, transient: bool },
    /// `verify = "remote-hash"` on an account that cannot hash: found before the upload.
    #[error("{message}")]
    CannotHash { message: String, hint: String },
}

impl JobError {
    /// Failures that may pass by themselves: the network, the server, a timeout, another
    /// agent's lock on the server.
    pub fn is_transient(&self) -> bool {
        match self {
            JobError::Remote(e) => e.is_transient(),
            JobError::Repository(e) => e.is_transient(),
            JobError::Timeout(_) => true,
            JobError::Destinations { transient, .. } => *transient,
            _ => false,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            JobError::Remote(e) => e.hint(),
            JobError::Repository(e) => e.hint(),
            JobError::Hook(_) => Some("fix the hook or what it checks, then run the job again".into()),
            JobError::Guard(t) => Some(t.hint.clone()),
            JobError::Locked(_) => Some("wait for it to finish, or use --wait".into()),
            JobError::CannotHash { hint, .. } => Some(hint.clone()),
            JobError::Verify(_) => Some(
                "what landed on the server is not what was sent: check the server's disk, then run the job again".into(),
            ),
            _ => None,
        }
    }
}
