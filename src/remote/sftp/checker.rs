//! The SSH client's handler: checks the server's host key against known_hosts or a pinned
//! fingerprint before anything is sent, tells transfers at once when the session ends, and
//! keeps the server's version string (what `write_order` detection reads).

use std::sync::{Arc, Mutex};

use russh::ChannelId;
use russh::client::{self, Session};
use russh::keys::{HashAlg, PublicKey, PublicKeyOrCertificate};
use tokio::sync::watch;

use super::known_hosts::{self, Verdict};
use crate::config::HostKeyCheck;

/// What the handler saw of the server's key, for a precise error after the handshake fails.
#[derive(Default)]
pub(super) struct Seen {
    pub(super) key: Option<PublicKey>,
    pub(super) problem: Option<String>,
    /// The server's SSH identification line, without its CR LF.
    pub(super) server_version: Option<String>,
}

pub(super) struct Checker {
    pub(super) check: Option<(HostKeyCheck, String)>,
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) seen: Arc<Mutex<Seen>>,
    /// Set when the session ends, so transfers waiting on answers fail at once instead of
    /// waiting for their request timeouts (russh-sftp keeps pending requests open).
    pub(super) lost: watch::Sender<bool>,
}

impl client::Handler for Checker {
    type Error = russh::Error;

    async fn disconnected(
        &mut self,
        reason: client::DisconnectReason<Self::Error>,
    ) -> Result<(), Self::Error> {
        let _ = self.lost.send(true);
        match reason {
            client::DisconnectReason::ReceivedDisconnect(_) => Ok(()),
            client::DisconnectReason::Error(e) => Err(e),
        }
    }

    /// Every SFTP or exec channel passes here first, after key exchange: the earliest point
    /// where russh shows the server's version string.
    async fn channel_open_confirmation(
        &mut self,
        _id: ChannelId,
        _max_packet_size: u32,
        _window_size: u32,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.server_version.is_none() {
            let id = String::from_utf8_lossy(session.remote_sshid());
            seen.server_version = Some(id.trim_end().to_string());
        }
        Ok(())
    }

    async fn check_server_key(
        &mut self,
        presented: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let PublicKeyOrCertificate::PublicKey { key, .. } = presented else {
            seen.problem = Some(
                "the server presented a host certificate; only plain host keys are supported"
                    .into(),
            );
            return Ok(false);
        };
        seen.key = Some(key.clone());
        let Some((check, text)) = &self.check else {
            return Ok(false); // scanning: trust nothing
        };
        let fp = key.fingerprint(HashAlg::Sha256);
        let name = known_hosts::host_name(&self.host, self.port);
        let alg = key.algorithm();
        let problem = match check {
            HostKeyCheck::Fingerprint(want) => {
                if fp.to_string() == *want {
                    return Ok(true);
                }
                format!(
                    "host key for {name} does not match the pinned host_key_fingerprint {want}; the server presented {alg} {fp}"
                )
            }
            HostKeyCheck::KnownHosts(path) => {
                match known_hosts::check(text, &self.host, self.port, key) {
                    Verdict::Trusted { .. } => return Ok(true),
                    Verdict::Revoked { line } => format!(
                        "host key for {name} is marked @revoked in {} line {line}; the server presented {alg} {fp}",
                        path.display()
                    ),
                    Verdict::Changed { lines } => format!(
                        "host key for {name} does not match {} line {}; the server presented {alg} {fp}. If the server was reinstalled, check the new key out of band, run `backup host-key REMOTE` and update the file; otherwise someone may be intercepting the connection",
                        path.display(),
                        join(&lines)
                    ),
                    Verdict::OtherTypes { lines, types } => format!(
                        "{name} is listed in {} (line {}) only with {} keys, but the server presented {alg} {fp}",
                        path.display(),
                        join(&lines),
                        types.join(", ")
                    ),
                    Verdict::Unknown => format!(
                        "host {name} is not in {}; the server presented {alg} {fp}",
                        path.display()
                    ),
                }
            }
        };
        seen.problem = Some(problem);
        Ok(false)
    }
}

fn join(lines: &[usize]) -> String {
    lines
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
