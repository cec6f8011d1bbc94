//! `backup list JOB [--json]`: committed snapshots (a directory named by an id that holds a
//! manifest describing that very directory), oldest first, each with the host that made it;
//! damaged ones are listed too, flagged, so that nothing on the server is silently skipped.

use serde::Serialize;

use super::{CliError, job};
use crate::config::Config;
use crate::encryption::RecipientInfo;
use crate::outcome::human_bytes;
use crate::remote::{self, Remote, RetryReads};
use crate::repository::{Listing, Repository};

/// One entry of `list --json`; its fields are documented in the README and kept stable.
#[derive(Debug, Serialize)]
pub struct Listed {
    pub id: String,
    pub time: String,
    /// The host whose agent made it (from its manifest).
    pub host: String,
    pub size: u64,
    pub files: Vec<ListedFile>,
    /// The recipients (kind and fingerprint) an encrypted snapshot is encrypted to; absent
    /// for one stored in clear.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encrypted_to: Option<Vec<RecipientInfo>>,
    /// Set when the snapshot cannot be trusted: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub damaged: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ListedFile {
    pub name: String,
    pub size: u64,
    pub sha256: String,
}

pub async fn list(cfg: &Config, name: &str, json: bool) -> Result<i32, CliError> {
    let j = job(cfg, name)?;
    let remote: std::sync::Arc<dyn Remote> =
        std::sync::Arc::new(RetryReads(remote::open(&j.remote).await?));
    let repo = Repository::new(remote.clone(), &j.remote.path, &j.name);
    let listing = repo.listing().await;
    remote.close().await;
    let Listing { snapshots, damaged } = listing?;
    crate::report::snapshots_seen(cfg, &j.name, snapshots.len() as u64).await;
    let mut listed: Vec<Listed> = snapshots
        .iter()
        .map(|s| Listed {
            id: s.id.to_string(),
            time: s.id.time().to_rfc3339(),
            host: s.manifest.host.clone(),
            size: s.manifest.files.iter().map(|f| f.size).sum(),
            files: s
                .manifest
                .files
                .iter()
                .map(|f| ListedFile {
                    name: f.name.clone(),
                    size: f.size,
                    sha256: f.sha256.clone(),
                })
                .collect(),
            encrypted_to: s.manifest.encryption.as_ref().map(|e| e.recipients.clone()),
            damaged: None,
        })
        .chain(damaged.iter().map(|d| Listed {
            id: d.id.to_string(),
            time: d.id.time().to_rfc3339(),
            host: String::new(),
            size: 0,
            files: Vec::new(),
            encrypted_to: None,
            damaged: Some(d.problem.clone()),
        }))
        .collect();
    listed.sort_by(|a, b| a.id.cmp(&b.id));
    if json {
        let text =
            serde_json::to_string_pretty(&listed).map_err(|e| CliError::Failed(e.to_string()))?;
        super::out::print_line(&text)?;
        return Ok(0);
    }
    if listed.is_empty() {
        super::out::print_line(&format!(
            "no snapshots of job {name} on {}",
            repo.describe()
        ))?;
    }
    for l in &listed {
        if let Some(why) = &l.damaged {
            super::out::print_line(&format!("{}  {}  DAMAGED: {why}", l.id, l.time))?;
            continue;
        }
        super::out::print_line(&format!(
            "{}  {}  {:>10}  host {}{}",
            l.id,
            l.time,
            human_bytes(l.size),
            l.host,
            match &l.encrypted_to {
                Some(to) => format!(
                    "  encrypted to {}",
                    to.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                None => String::new(),
            }
        ))?;
        for f in &l.files {
            super::out::print_line(&format!(
                "    {:<24} {:>10}  sha256:{}",
                f.name,
                human_bytes(f.size),
                f.sha256
            ))?;
        }
    }
    Ok(0)
}
