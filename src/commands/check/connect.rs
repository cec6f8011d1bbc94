//! `backup check --connect`: each remote proven as a run will use it (host key, key, a
//! writable base path), whether it can hash on the server, and so which verify method each of
//! its jobs gets; in which order an SFTP remote gets each file's writes.

use std::sync::Arc;

use crate::commands::CliError;
use crate::commands::out::outln;
use crate::config::{Config, RemoteConfig, VerifyMode};
use crate::remote::{self, Capabilities, mkdir_all};
use crate::repository::{AppendProbe, HashSupport, probe_append_only, probe_hash};

/// Probes every remote; the names of those that failed (or that a job's verify mode cannot use).
pub async fn check(cfg: &Config) -> Result<Vec<String>, CliError> {
    let mut failed = Vec::new();
    for r in cfg.remotes.values() {
        let (support, caps, append) = match probe(r).await {
            Ok(s) => s,
            Err(e) => {
                outln!("remote {}: FAILED: {e}", r.name)?;
                if let Some(hint) = e.hint() {
                    outln!("  hint: {hint}")?;
                }
                failed.push(r.name.clone());
                continue;
            }
        };
        outln!(
            "remote {}: ok ({}{}, {} writable)",
            r.name,
            r.display_addr(),
            if r.sftp().is_some() {
                ", host key trusted, key accepted"
            } else {
                ""
            },
            r.path
        )?;
        if let Some(p) = &append {
            if p.enforced() {
                outln!(
                    "remote {}: append-only: enforced (this key may not remove, rename or rmdir; the scratch directory {} stays for the vault to remove)",
                    r.name,
                    p.scratch
                )?;
            } else {
                outln!(
                    "remote {}: append-only: NOT enforced: the server let this key {} in {}; an intruder with this key could delete the history",
                    r.name,
                    p.allowed.join(", "),
                    r.path
                )?;
                outln!(
                    "  hint: give this key the README's append-only account (\"Append-only backups\": ForceCommand internal-sftp -P ...), or set append_only = false"
                )?;
                failed.push(r.name.clone());
            }
        }
        match &support {
            HashSupport::Works => outln!("remote {}: server-side hashing works", r.name)?,
            HashSupport::Unsupported(why) => outln!(
                "remote {}: server-side hashing is not available for this account ({why})",
                r.name
            )?,
        }
        if r.sftp().is_some() {
            let order = if caps.sequential_writes {
                "in offset order on one channel (write_order = \"sequential\")"
            } else {
                "spread over its channels (write_order = \"any\")"
            };
            outln!("remote {}: each file's writes go {order}", r.name)?;
        }
        let mut unusable = false;
        for j in cfg
            .jobs
            .values()
            .filter(|j| j.destination_names().contains(&r.name.as_str()))
        {
            let hashes = support == HashSupport::Works;
            let line = match (j.verify, hashes) {
                (VerifyMode::Auto, true) => "verify = \"auto\" uses remote-hash".to_string(),
                (VerifyMode::Auto, false) => {
                    "verify = \"auto\" uses readback (reads every byte back after the upload)"
                        .to_string()
                }
                (VerifyMode::RemoteHash, false) => {
                    unusable = true;
                    format!(
                        "FAILED: verify = \"remote-hash\" cannot work on this account; set verify = \"auto\" or \"readback\" in {}, or allow openssl or sha256sum for this account on the server",
                        j.defined_in.display()
                    )
                }
                (mode, _) => format!("verify = \"{}\"", mode.as_str()),
            };
            outln!("job {}: {line}", j.name)?;
        }
        if unusable {
            failed.push(r.name.clone());
        }
    }
    Ok(failed)
}

type Probed = (HashSupport, Capabilities, Option<AppendProbe>);

/// On an append-only remote the hash probe is not run: it removes its file, which such a
/// server must refuse (and a run there never asks for server-side hashing).
async fn probe(r: &Arc<RemoteConfig>) -> Result<Probed, remote::RemoteError> {
    let remote = remote::open(r).await?;
    let result = async {
        mkdir_all(remote.as_ref(), &r.path).await?;
        if r.append_only {
            let append = probe_append_only(remote.as_ref(), &r.path).await?;
            let hash = HashSupport::Unsupported("not asked on an append-only remote".into());
            return Ok((hash, remote.capabilities(), Some(append)));
        }
        let hash = probe_hash(remote.as_ref(), &r.path).await?;
        Ok((hash, remote.capabilities(), None))
    }
    .await;
    remote.close().await;
    result
}
