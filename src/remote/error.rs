//! What can go wrong on a remote, as kinds that callers decide on (missing, refused, full,
//! passing, unsupported), each error keeping the server's own message and, where an operator
//! has something to do, a hint that `main` prints once on its own line. No SFTP status code
//! leaves this module's parent: `sftp/` maps them here.

use std::path::PathBuf;

use thiserror::Error;

/// What a failed remote operation means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    PermissionDenied,
    /// The server's disk or quota is full.
    NoSpace,
    /// An exclusive create found the file there.
    AlreadyExists,
    /// The connection was lost or stalled: trying again later may help.
    Transient,
    /// The remote cannot do this at all (an extension, exec, a rename of directories).
    Unsupported,
    Other,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not found",
            ErrorKind::PermissionDenied => "permission denied",
            ErrorKind::NoSpace => "no space left",
            ErrorKind::AlreadyExists => "already exists",
            ErrorKind::Transient => "connection problem",
            ErrorKind::Unsupported => "not supported",
            ErrorKind::Other => "failed",
        }
    }
}

#[derive(Debug, Error)]
pub enum RemoteError {
    #[error("cannot connect to {addr}: {message}")]
    Connect {
        addr: String,
        message: String,
        hint: String,
    },
    #[error("{message}")]
    HostKey { message: String, hint: String },
    #[error("authentication as {user} failed: {message}")]
    Auth {
        user: String,
        message: String,
        hint: String,
    },
    #[error("{}: {message}", path.display())]
    Identity {
        path: PathBuf,
        message: String,
        hint: String,
    },
    /// An operation on a connected remote.
    #[error("{op} {path}: {message}")]
    Op {
        kind: ErrorKind,
        op: &'static str,
        path: String,
        message: String,
    },
    /// An error with a hint that only its caller could give (it asked the server more).
    #[error("{error}")]
    Hinted {
        error: Box<RemoteError>,
        hint: String,
    },
}

impl RemoteError {
    pub fn op(kind: ErrorKind, op: &'static str, path: &str, message: impl Into<String>) -> Self {
        RemoteError::Op {
            kind,
            op,
            path: path.to_string(),
            message: message.into(),
        }
    }

    /// This error, with `hint` in place of its own.
    pub fn with_hint(self, hint: String) -> Self {
        RemoteError::Hinted {
            error: Box::new(self),
            hint,
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            RemoteError::Connect { .. } => ErrorKind::Transient,
            RemoteError::HostKey { .. }
            | RemoteError::Auth { .. }
            | RemoteError::Identity { .. } => ErrorKind::PermissionDenied,
            RemoteError::Op { kind, .. } => *kind,
            RemoteError::Hinted { error, .. } => error.kind(),
        }
    }

    /// Errors that may pass by themselves (network, server restarts, timeouts). Host key,
    /// authentication and key problems need an operator and are never retried.
    pub fn is_transient(&self) -> bool {
        self.kind() == ErrorKind::Transient
    }

    pub fn is_not_found(&self) -> bool {
        self.kind() == ErrorKind::NotFound
    }

    /// What the operator can do about it, printed once by `main` as `hint: ...`.
    pub fn hint(&self) -> Option<String> {
        match self {
            RemoteError::Connect { hint, .. }
            | RemoteError::HostKey { hint, .. }
            | RemoteError::Auth { hint, .. }
            | RemoteError::Identity { hint, .. }
            | RemoteError::Hinted { hint, .. } => Some(hint.clone()),
            RemoteError::Op {
                kind: ErrorKind::NoSpace,
                path,
                ..
            } => Some(format!(
                "free space on the server's disk that holds {} (or lower retention), then run the job again",
                parent_of(parent_of(path))
            )),
            RemoteError::Op {
                kind: ErrorKind::PermissionDenied,
                path,
                ..
            } => Some(format!(
                "check that the account may write to {} (and, under a ChrootDirectory, that `path` is as the account sees it)",
                parent_of(path)
            )),
            _ => None,
        }
    }
}

fn parent_of(path: &str) -> &str {
    match path.rsplit_once('/') {
        Some(("", _)) => "/",
        Some((p, _)) => p,
        None => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_decide_retry_and_hints() {
        let e = RemoteError::op(
            ErrorKind::NoSpace,
            "write",
            "/srv/b/db/.x.partial/f",
            "full",
        );
        assert!(!e.is_transient());
        assert!(e.hint().unwrap_or_default().contains("holds /srv/b/db "));
        assert!(RemoteError::op(ErrorKind::Transient, "read", "/a", "lost").is_transient());
        assert!(RemoteError::op(ErrorKind::NotFound, "stat", "/a", "no").is_not_found());
        assert_eq!(
            RemoteError::op(ErrorKind::Other, "rename", "/a/b", "Failure").to_string(),
            "rename /a/b: Failure"
        );
    }
}
