//! Commands on the server over an SSH exec channel: used to hash uploads with `sha256sum`
//! where the account has a shell. SFTP-only accounts refuse exec; callers fall back.

use russh::ChannelMsg;

use super::{Connection, RemoteError};

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
        let err = |message: String| RemoteError::Exec {
            command: command.to_string(),
            message,
        };
        let mut ch = self
            .handle
            .channel_open_session()
            .await
            .map_err(|e| err(format!("cannot open a channel: {e}")))?;
        ch.exec(true, command)
            .await
            .map_err(|e| err(format!("exec refused: {e}")))?;
        let mut out = ExecOutput {
            status: None,
            stdout: Vec::new(),
            stderr: Vec::new(),
        };
        while let Some(msg) = ch.wait().await {
            match msg {
                ChannelMsg::Data { data } => out.stdout.extend_from_slice(&data),
                ChannelMsg::ExtendedData { data, .. } if out.stderr.len() < 64 * 1024 => {
                    out.stderr.extend_from_slice(&data);
                }
                ChannelMsg::ExitStatus { exit_status } => out.status = Some(exit_status),
                ChannelMsg::Failure => {
                    return Err(err(
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
        if out.status != Some(0) {
            return Err(RemoteError::Exec {
                command: cmd,
                message: format!(
                    "exit status {:?}: {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            });
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let sums: Vec<String> = text
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .map(|h| h.trim_start_matches('\\').to_ascii_lowercase())
            .collect();
        if sums.len() != paths.len() || sums.iter().any(|h| h.len() != 64) {
            return Err(RemoteError::Exec {
                command: cmd,
                message: format!("unexpected output: {}", text.trim()),
            });
        }
        Ok(sums)
    }
}
