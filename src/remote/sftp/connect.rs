//! Opening an SSH connection: TCP with a timeout, algorithms negotiated with a preference for
//! AES-GCM, the server's host key checked (checker.rs) before anything else is sent, then key
//! auth. Keepalives make a silent server fail the connection within about a minute.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client::{self, Handle};
use russh::keys::{HashAlg, PrivateKeyWithHashAlg};
use russh::{Preferred, cipher};
use tokio::sync::watch;

pub(super) use super::checker::{Checker, Seen};
use super::known_hosts;
use crate::config::{HostKeyCheck, SftpConfig};
use crate::remote::{ErrorKind, RemoteError};

const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15);
const KEEPALIVE_MAX: usize = 3;

pub struct Connection {
    pub(super) handle: Handle<Checker>,
    pub(super) cfg: SftpConfig,
    pub(super) lost: watch::Receiver<bool>,
    pub(super) seen: Arc<Mutex<Seen>>,
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
        window_size: super::session::CLIENT_WINDOW,
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
            seen,
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

    /// The server's SSH version string (`SSH-2.0-OpenSSH_9.2p1 …`), once a channel is open.
    pub(super) fn server_version(&self) -> String {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.server_version.clone().unwrap_or_default()
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
