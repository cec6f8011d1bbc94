//! Why a run failed, and whether the daemon should try again.

use std::time::Duration;

use thiserror::Error;

use crate::remote::RemoteError;

#[derive(Debug, Error)]
pub enum JobError {
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error("{0}")]
    Source(String),
    #[error("verification failed: {0}")]
    Verify(String),
    #[error("{0}")]
    Command(String),
    #[error("{0}")]
    Hook(String),
    #[error("{0}")]
    Locked(String),
    #[error("the run did not finish within {} (the job's timeout); nothing was committed", humantime::format_duration(*.0))]
    Timeout(Duration),
    #[error("{0}")]
    Local(String),
    /// The snapshot asked for does not exist (or is not committed).
    #[error("{0}")]
    Snapshot(String),
}

impl JobError {
    /// Failures that may pass by themselves: the network, the server, a timeout.
    pub fn is_transient(&self) -> bool {
        match self {
            JobError::Remote(e) => e.is_transient(),
            JobError::Timeout(_) => true,
            _ => false,
        }
    }
}
