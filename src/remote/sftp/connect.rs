//! Opening an SSH connection: TCP with a timeout, algorithms negotiated with a preference for
//! AES-GCM, the server's host key checked before anything else is sent, then key auth.
//! Keepalives make a silent server fail the connection within about a minute.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client::{self, Handle};
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use russh::{Preferred, cipher};
use tokio::sync::watch;

use super::known_hosts::{self, Verdict};
use crate::config::{HostKeyCheck, SftpConfig};
use crate::remote::{ErrorKind, RemoteError};

const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15);
const KEEPALIVE_MAX: usize = 3;

/// What the handler saw of the server's key, for a precise error after the handshake fails.
#[derive(Default)]
pub(super) struct Seen {
    pub(super) key: Option<PublicKey>,
    pub(super) problem: Option<String>,
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

pub struct Connection {
    pub(super) handle: Handle<Checker>,
    pub(super) cfg: SftpConfig,
    pub(super) lost: watch::Receiver<bool>,
}

pub(super) fn ssh_config(host_key_algs: Vec<russh::keys::Algorithm>) -> client::Config {
    let mut preferred = Preferred::DEFAULT.clone();
    // AES-GCM is hardware-accelerated on servers and measured faster than chacha20 here.
    preferred.cipher = vec![
        cipher::AES_128_GCM,
        cipher::AES_256_GCM,
        cipher::CHACHA20_POLY1305,
        cipher::AES_256_CTR,
        cipher::AES_128_CTR,
    ]
    .into();
    if !host_key_algs.is_empty() {
        preferred.key = host_key_algs.into();
    }
    client::Config {
        preferred,
        keepalive_interval: Some(KEEPALIVE_INTERVAL),
        keepalive_max: KEEPALIVE_MAX,
        // Our receive window: large enough that reading back over a WAN is not window-bound.
        window_size: 16 * 1024 * 1024,
        nodelay: true,
        ..Default::default()
    }
}

impl Connection {
    pub async fn open(remote: &SftpConfig) -> Result<Connection, RemoteError> {
        let key = super::identity::load(remote)?;
        let (check_text, algs) = match &remote.host_key {
            HostKeyCheck::KnownHosts(path) => {
                let text = fs_err::read_to_string(path).map_err(|e| RemoteError::HostKey {
                    message: format!("cannot read the known_hosts file: {e}"),
                    hint: format!(
                        "create it with the server's key: `backup host-key {}` prints lines to check and add",
                        remote.name
                    ),
                })?;
                let algs = known_hosts::known_algorithms(&text, &remote.host, remote.port);
                (text, algs)
            }
            HostKeyCheck::Fingerprint(_) => (String::new(), Vec::new()),
        };
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (lost_tx, lost) = watch::channel(false);
        let checker = Checker {
            check: Some((remote.host_key.clone(), check_text)),
            host: remote.host.clone(),
            port: remote.port,
            seen: seen.clone(),
            lost: lost_tx,
        };
        let handle = handshake(remote, ssh_config(algs), checker, &seen).await?;
        let mut conn = Connection {
            handle,
            cfg: remote.clone(),
            lost,
        };
        tokio::time::timeout(remote.connect_timeout, conn.authenticate(key))
            .await
            .map_err(|_| {
                RemoteError::op(
                    ErrorKind::Transient,
                    "authenticate",
                    &remote.display_addr(),
                    format!(
                        "authentication did not finish within {:?}",
                        remote.connect_timeout
                    ),
                )
            })??;
        Ok(conn)
    }

    async fn authenticate(&mut self, key: russh::keys::PrivateKey) -> Result<(), RemoteError> {
        let hash = if key.algorithm().is_rsa() {
            match self.handle.best_supported_rsa_hash().await {
                Ok(Some(h)) => h,
                _ => Some(HashAlg::Sha256),
            }
        } else {
            None
        };
        let r = &self.cfg;
        let result = self
            .handle
            .authenticate_publickey(
                r.user.clone(),
                PrivateKeyWithHashAlg::new(Arc::new(key), hash),
            )
            .await
            .map_err(|e| {
                RemoteError::op(
                    ErrorKind::Transient,
                    "authenticate",
                    &r.display_addr(),
                    format!("during authentication: {e}"),
                )
            })?;
        match result {
            client::AuthResult::Success => Ok(()),
            client::AuthResult::Failure { .. } => Err(RemoteError::Auth {
                user: r.user.clone(),
                message: format!(
                    "the server did not accept the key {}",
                    r.identity_file.display()
                ),
                hint: format!(
                    "add the public key (`ssh-keygen -y -f {}`) to ~{}/.ssh/authorized_keys on {}",
                    r.identity_file.display(),
                    r.user,
                    r.host
                ),
            }),
        }
    }

    pub async fn close(&self) {
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }
}

pub(super) async fn handshake(
    remote: &SftpConfig,
    config: client::Config,
    checker: Checker,
    seen: &Arc<Mutex<Seen>>,
) -> Result<Handle<Checker>, RemoteError> {
    let addr = format!("{}:{}", remote.host, remote.port);
    let connect = client::connect(Arc::new(config), addr.clone(), checker);
    let result = tokio::time::timeout(remote.connect_timeout, connect).await;
    let seen = seen.lock().unwrap_or_else(|p| p.into_inner());
    match result {
        Ok(Ok(h)) => Ok(h),
        Err(_) => Err(RemoteError::Connect {
            addr,
            message: format!("no SSH handshake within {:?}", remote.connect_timeout),
            hint: "check that the host and port are right and that a firewall lets you through"
                .into(),
        }),
        Ok(Err(e)) => {
            if let Some(problem) = &seen.problem {
                return Err(RemoteError::HostKey {
                    message: problem.clone(),
                    hint: "nothing was sent to the server; the host key must be trusted before a backup can run".into(),
                });
            }
            let message = e.to_string();
            if matches!(e, russh::Error::IO(_)) || message.contains("onnection") {
                return Err(RemoteError::Connect {
                    addr,
                    message,
                    hint: "check that the SSH server runs and that host and port are right".into(),
                });
            }
            Err(RemoteError::op(
                ErrorKind::Transient,
                "connect",
                &addr,
                message,
            ))
        }
    }
}
