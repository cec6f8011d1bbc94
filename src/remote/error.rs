//! What can go wrong on the server side, each with what the operator should do about it, and
//! whether trying again later can help (the daemon retries only those).

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum RemoteError {
    #[error("cannot connect to {addr}: {message}\n  hint: {hint}")]
    Connect {
        addr: String,
        message: String,
        hint: String,
    },
    #[error("{message}\n  hint: {hint}")]
    HostKey { message: String, hint: String },
    #[error("authentication as {user} failed: {message}\n  hint: {hint}")]
    Auth {
        user: String,
        message: String,
        hint: String,
    },
    #[error("{}: {message}\n  hint: {hint}", path.display())]
    Identity {
        path: PathBuf,
        message: String,
        hint: String,
    },
    #[error("SSH connection to {addr} failed: {message}")]
    Ssh { addr: String, message: String },
    #[error("SFTP {op} {path}: {message}")]
    Sftp {
        op: &'static str,
        path: String,
        message: String,
        code: Option<u32>,
    },
    #[error(
        "the server's disk is full: {message}\n  hint: free space under {path} on the server (or lower retention), then run the job again"
    )]
    DiskFull { path: String, message: String },
    #[error("remote command `{command}` failed: {message}")]
    Exec { command: String, message: String },
}

impl RemoteError {
    /// Errors that may pass by themselves (network, server restarts, timeouts). Host key,
    /// authentication and key problems need an operator and are never retried.
    pub fn is_transient(&self) -> bool {
        matches!(self, RemoteError::Connect { .. } | RemoteError::Ssh { .. })
            || matches!(self, RemoteError::Sftp { code, .. } if code.is_none())
    }

    pub(crate) fn sftp(op: &'static str, path: &str, e: russh_sftp::client::error::Error) -> Self {
        use russh_sftp::client::error::Error as E;
        let (message, code) = match e {
            E::Status(s) => {
                let code = s.status_code as u32;
                let msg = if s.error_message.is_empty() {
                    s.status_code.to_string()
                } else {
                    s.error_message
                };
                (msg, Some(code))
            }
            E::Timeout => (
                "no answer from the server within the request timeout (connection stalled?)"
                    .to_string(),
                None,
            ),
            E::IO(m) => (format!("connection lost ({m})"), None),
            E::UnexpectedBehavior(m)
                if m.contains("session closed")
                    || m.contains("sender dropped")
                    || m.contains("SendError")
                    || m.contains("RecvError") =>
            {
                (format!("connection lost ({m})"), None)
            }
            other => (other.to_string(), None),
        };
        RemoteError::Sftp {
            op,
            path: path.to_string(),
            message,
            code,
        }
    }

    /// True when the server said the file does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, RemoteError::Sftp { code: Some(2), .. })
    }
}
