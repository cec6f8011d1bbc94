//! Why a repository operation could not be done, with what the operator can do about it.

use thiserror::Error;

use super::Owner;
use crate::remote::RemoteError;

#[derive(Debug, Error)]
pub enum RepoError {
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// The snapshot asked for does not exist or is not committed (a usage error: exit 2).
    #[error("{message}")]
    NoSnapshot { message: String, hint: String },
    /// Another machine writes this history; this one may only read it.
    #[error(
        "{dir} belongs to host {} (machine id {}), not to this host {} (machine id {}); nothing was written or deleted",
        owner.host, owner.short_machine_id(), me.host, me.short_machine_id()
    )]
    NotOwner {
        dir: String,
        owner: Box<Owner>,
        me: Box<Owner>,
        job: String,
    },
    /// Another agent changes this history right now.
    #[error("{dir} is locked by {holder}; nothing was written or deleted")]
    Locked { dir: String, holder: String },
    /// The server holds something this program must not touch where it expected its own.
    #[error("{0}")]
    Refused(String),
    /// What the history needs cannot be done on an append-only remote (the key may not
    /// replace or remove anything there).
    #[error("{message}")]
    AppendOnly { message: String, hint: String },
    /// No identity, or one that cannot open an encrypted snapshot (a usage error: exit 2).
    #[error("{message}")]
    Key { message: String, hint: String },
}

impl RepoError {
    pub fn is_transient(&self) -> bool {
        match self {
            RepoError::Remote(e) => e.is_transient(),
            // The other agent's run ends; a retry later may find the lock free.
            RepoError::Locked { .. } => true,
            _ => false,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            RepoError::Remote(e) => e.hint(),
            RepoError::NoSnapshot { hint, .. }
            | RepoError::Key { hint, .. }
            | RepoError::AppendOnly { hint, .. } => {
                Some(hint.clone())
            }
            RepoError::NotOwner { job, .. } => Some(format!(
                "give each host its own history with `{{host}}` in the remote's path (e.g. path = \"/srv/backups/{{host}}\"); if this machine replaces the owner, take the history over once with `backup run {job} --take-over`"
            )),
            RepoError::Locked { .. } => Some(
                "wait for the other run or prune to finish; a lock whose holder died expires by itself (see README, \"Remote lock\")".into(),
            ),
            RepoError::Refused(_) => Some(
                "someone changed the backup directory on the server; inspect it before the next run".into(),
            ),
        }
    }
}
