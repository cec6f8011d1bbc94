//! `backup host-key`: what the server presents, trusting nothing.

use std::sync::{Arc, Mutex};

use russh::keys::{HashAlg, PublicKey};
use tokio::sync::watch;

use super::connect::{Checker, Seen, handshake, ssh_config};
use crate::config::SftpConfig;
use crate::remote::RemoteError;

/// Connects without trusting anything and returns every host key the server offers, one
/// handshake per key type, as ssh-keyscan does.
pub async fn scan_host_keys(remote: &SftpConfig) -> Result<Vec<PublicKey>, RemoteError> {
    use russh::keys::{Algorithm, EcdsaCurve};
    let mut keys: Vec<PublicKey> = Vec::new();
    let algs = [
        Algorithm::Ed25519,
        Algorithm::Ecdsa {
            curve: EcdsaCurve::NistP256,
        },
        Algorithm::Ecdsa {
            curve: EcdsaCurve::NistP384,
        },
        Algorithm::Ecdsa {
            curve: EcdsaCurve::NistP521,
        },
        Algorithm::Rsa {
            hash: Some(HashAlg::Sha512),
        },
    ];
    let mut last_err = None;
    for alg in algs {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let checker = Checker {
            check: None,
            host: remote.host.clone(),
            port: remote.port,
            seen: seen.clone(),
            lost: watch::channel(false).0,
        };
        let r = handshake(remote, ssh_config(vec![alg]), checker, &seen).await;
        if let Err(e @ RemoteError::Connect { .. }) = r {
            last_err = Some(e);
            break;
        }
        let key = seen.lock().unwrap_or_else(|p| p.into_inner()).key.take();
        if let Some(k) = key
            && !keys.iter().any(|x| x.key_data() == k.key_data())
        {
            keys.push(k);
        }
    }
    match (keys.is_empty(), last_err) {
        (true, Some(e)) => Err(e),
        _ => Ok(keys),
    }
}
