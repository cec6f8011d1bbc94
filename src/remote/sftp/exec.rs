//! Commands on the server over an SSH exec channel: used to hash uploads with `openssl dgst`
//! or `sha256sum` where the account has a shell. SFTP-only accounts refuse exec; callers fall
//! back.

use std::sync::atomic::{AtomicU8, Ordering};

use russh::ChannelMsg;

use super::Connection;
use crate::remote::{ErrorKind, RemoteError};

/// More output than this is not a hash tool answering for a snapshot's few files.
const MAX_OUTPUT: usize = 1024 * 1024;

pub struct ExecOutput {
    pub status: Option<u32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// A program that hashes files on the server. Both print `<hex> <mark><path>` lines, one per
/// file. OpenSSL comes first: it uses the CPU's SHA instructions where there are some (1.4 GB/s
/// on the benchmark machine, where coreutils 9.1's `sha256sum` does 0.32 GB/s), and that hash
/// is on the critical path of every run with `verify = "auto"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashTool {
    Openssl,
    Sha256sum,
}

impl HashTool {
    /// In the order a new connection tries them.
    pub const ALL: [HashTool; 2] = [HashTool::Openssl, HashTool::Sha256sum];

    pub fn name(self) -> &'static str {
        match self {
            HashTool::Openssl => "openssl dgst -sha256",
            HashTool::Sha256sum => "sha256sum",
        }
    }

    fn command(self, quoted: &str) -> String {
        match self {
            HashTool::Openssl => format!("openssl dgst -sha256 -r -- {quoted}"),
            HashTool::Sha256sum => format!("sha256sum -- {quoted}"),
        }
    }
}

/// Which hash tool a connection's account runs, once known, so later checks ask only that one.
#[derive(Debug, Default)]
pub struct Chosen(AtomicU8);

const UNKNOWN: u8 = 0;
const OPENSSL: u8 = 1;
const SHA256SUM: u8 = 2;
const REFUSED: u8 = 3;

impl Chosen {
    /// The tools still worth asking, in order.
    pub fn to_ask(&self) -> &'static [HashTool] {
        match self.0.load(Ordering::Relaxed) {
            UNKNOWN => &HashTool::ALL,
            OPENSSL => &[HashTool::Openssl],
            SHA256SUM => &[HashTool::Sha256sum],
            _ => &[],
        }
    }

    /// The account can run none of them.
    pub fn refused(&self) -> bool {
        self.0.load(Ordering::Relaxed) == REFUSED
    }

    /// `None`: every tool was refused.
    pub fn remember(&self, tool: Option<HashTool>) {
        let n = match tool {
            Some(HashTool::Openssl) => OPENSSL,
            Some(HashTool::Sha256sum) => SHA256SUM,
            None => REFUSED,
        };
        self.0.store(n, Ordering::Relaxed);
    }
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

    /// SHA-256 of each of `paths` computed on the server by `tool`, in order. `Err` with
    /// [`ErrorKind::Unsupported`] when the account cannot run it.
    pub async fn remote_sha256(
        &self,
        tool: HashTool,
        paths: &[String],
    ) -> Result<Vec<String>, RemoteError> {
        let args: Vec<String> = paths.iter().map(|p| shell_quote(p)).collect();
        let cmd = tool.command(&args.join(" "));
        let out = self.exec(&cmd).await?;
        // The caller checked that every path is a regular file: a failure here means the
        // account cannot run `tool` (absent: 127; an SFTP-only account answers exit 1).
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
            // A tool that answers in another shape (an old or odd build) is one this account
            // cannot use: the next one is tried.
            return Err(RemoteError::op(
                ErrorKind::Unsupported,
                "exec",
                &cmd,
                format!("unexpected output: {}", crate::layout::escape(text.trim())),
            ));
        }
        Ok(sums)
    }
}
