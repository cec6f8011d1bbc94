//! Commands on the server over an SSH exec channel: used to hash uploads with `sha256sum`
//! where the account has a shell. SFTP-only accounts refuse exec; callers fall back.

use russh::ChannelMsg;

use super::Connection;
use crate::remote::{ErrorKind, RemoteError};

/// More output than this is not `sha256sum` answering for a snapshot's few files.
const MAX_OUTPUT: usize = 1024 * 1024;

pub struct ExecOutput {
    pub status: Option<u32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Quotes one argument for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

impl Connection {
    pub async fn exec(&self, command: &str) -> Result<ExecOutput, RemoteError> {
        let err =
            |kind: ErrorKind, message: String| RemoteError::op(kind, "exec", command, message);
        let mut ch = self
            .handle
            .channel_open_session()
            .await
            .map_err(|e| err(ErrorKind::Transient, format!("cannot open a channel: {e}")))?;
        ch.exec(true, command)
            .await
            .map_err(|e| err(ErrorKind::Unsupported, format!("exec refused: {e}")))?;
        let mut out = ExecOutput {
            status: None,
            stdout: Vec::new(),
            stderr: Vec::new(),
        };
        while let Some(msg) = ch.wait().await {
            match msg {
                ChannelMsg::Data { data } => {
                    if out.stdout.len() + data.len() > MAX_OUTPUT {
                        return Err(err(
                            ErrorKind::Other,
                            format!("more than {MAX_OUTPUT} bytes of output"),
                        ));
                    }
                    out.stdout.extend_from_slice(&data);
                }
                ChannelMsg::ExtendedData { data, .. } if out.stderr.len() < 64 * 1024 => {
                    out.stderr.extend_from_slice(&data);
                }
                ChannelMsg::ExitStatus { exit_status } => out.status = Some(exit_status),
                ChannelMsg::Failure => {
                    return Err(err(
                        ErrorKind::Unsupported,
                        "the server refused to run commands (SFTP-only account?)".into(),
                    ));
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// SHA-256 of each of `paths` computed on the server, in order. `Err` when the account
    /// cannot run `sha256sum`; callers then read the files back instead.
    pub async fn remote_sha256(&self, paths: &[String]) -> Result<Vec<String>, RemoteError> {
        let args: Vec<String> = paths.iter().map(|p| shell_quote(p)).collect();
        let cmd = format!("sha256sum -- {}", args.join(" "));
        let out = self.exec(&cmd).await?;
        // The caller checked that every path is a regular file: a failure here means the
        // account cannot run `sha256sum` (an SFTP-only account answers exit 1).
        if out.status != Some(0) {
            return Err(RemoteError::op(
                ErrorKind::Unsupported,
                "exec",
                &cmd,
                format!(
                    "exit status {}: {}",
                    out.status.map_or("unknown".to_string(), |s| s.to_string()),
                    crate::layout::escape(&String::from_utf8_lossy(
                        &out.stderr[..out.stderr.len().min(4096)]
                    ))
                ),
            ));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let sums: Vec<String> = text
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .map(|h| h.trim_start_matches('\\').to_ascii_lowercase())
            .collect();
        if sums.len() != paths.len() || sums.iter().any(|h| h.len() != 64) {
            return Err(RemoteError::op(
                ErrorKind::Other,
                "exec",
                &cmd,
                format!("unexpected output: {}", crate::layout::escape(text.trim())),
            ));
        }
        Ok(sums)
    }
}
