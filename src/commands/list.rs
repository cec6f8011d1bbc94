//! `backup list JOB [--json]`: committed snapshots only (a directory named by an id that holds
//! a readable manifest), oldest first.

use serde::Serialize;

use super::{CliError, job};
use crate::config::Config;
use crate::layout::{self, JobDir, Manifest};
use crate::remote::{Connection, Sftp};

/// One line of `list --json`; its fields are documented in the README and kept stable.
#[derive(Debug, Serialize)]
pub struct Listed {
    pub id: String,
    pub time: String,
    pub size: u64,
    pub files: Vec<ListedFile>,
}

#[derive(Debug, Serialize)]
pub struct ListedFile {
    pub name: String,
    pub size: u64,
    pub sha256: String,
}

pub async fn list(cfg: &Config, name: &str, json: bool) -> Result<i32, CliError> {
    let j = job(cfg, name)?;
    let conn = Connection::open(&j.remote).await?;
    let sftp = conn.sftp().await?;
    let dir = JobDir::new(&j.remote.path, &j.name);
    let snaps = committed(&sftp, &dir).await?;
    conn.close().await;
    crate::report::snapshots_seen(cfg, &j.name, snaps.len() as u64);
    let listed: Vec<Listed> = snaps
        .iter()
        .map(|m| Listed {
            id: m.snapshot.clone(),
            time: layout::SnapshotId::parse(&m.snapshot)
                .map(|i| i.time().to_rfc3339())
                .unwrap_or_default(),
            size: m.files.iter().map(|f| f.size).sum(),
            files: m
                .files
                .iter()
                .map(|f| ListedFile {
                    name: f.name.clone(),
                    size: f.size,
                    sha256: f.sha256.clone(),
                })
                .collect(),
        })
        .collect();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&listed).map_err(|e| CliError::Failed(e.to_string()))?
        );
        return Ok(0);
    }
    if listed.is_empty() {
        println!("no snapshots of job {name} on {}", dir.path());
    }
    for l in &listed {
        println!(
            "{}  {}  {:>10}",
            l.id,
            l.time,
            crate::job::report_bytes(l.size)
        );
        for f in &l.files {
            println!(
                "    {:<24} {:>10}  sha256:{}",
                f.name,
                crate::job::report_bytes(f.size),
                f.sha256
            );
        }
    }
    Ok(0)
}

/// Manifests of the committed snapshots under `dir`, oldest first (see `job::snapshots`).
pub async fn committed(sftp: &Sftp, dir: &JobDir) -> Result<Vec<Manifest>, CliError> {
    Ok(crate::job::snapshots::committed(sftp, dir).await?)
}
