//! `backup host-key REMOTE`: show what the server presents, trusting nothing, so the operator
//! can check the fingerprints out of band and pin them.

use russh::keys::HashAlg;

use super::CliError;
use super::out::outln;
use crate::config::Config;
use crate::remote::{known_hosts, scan_host_keys};

pub async fn host_key(cfg: &Config, name: &str) -> Result<i32, CliError> {
    let remote = cfg.remotes.get(name).ok_or_else(|| {
        CliError::Usage(format!(
            "unknown remote {name:?}; remotes: {}",
            cfg.remotes.keys().cloned().collect::<Vec<_>>().join(", ")
        ))
    })?;
    let Some(remote) = remote.sftp() else {
        return Err(CliError::Usage(format!(
            "remote {name:?} is a local directory: it has no host key"
        )));
    };
    let keys = scan_host_keys(remote).await?;
    if keys.is_empty() {
        return Err(CliError::Failed(format!(
            "{} offered no host key we could read",
            remote.display_addr()
        )));
    }
    outln!(
        "# host keys of {}:{} (NOT verified: compare the fingerprints with the server's own `ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub`)",
        remote.host,
        remote.port
    )?;
    for k in &keys {
        outln!("# {} {}", k.algorithm(), k.fingerprint(HashAlg::Sha256))?;
        outln!("{}", known_hosts::line_for(&remote.host, remote.port, k))?;
    }
    Ok(0)
}
