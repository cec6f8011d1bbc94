//! `backup check [--connect]`: the config is valid (it loaded); print a line per job, and with
//! --connect prove each remote: host key, authentication, and a writable base path.

use super::CliError;
use super::out::outln;
use crate::config::Config;
use crate::remote::{self, mkdir_all, write_small};
use crate::schedule::Schedule;

pub async fn check(cfg: &Config, connect: bool) -> Result<i32, CliError> {
    outln!(
        "config {} is valid ({} file(s), {} job(s), {} remote(s))",
        cfg.path.display(),
        cfg.files.len(),
        cfg.jobs.len(),
        cfg.remotes.len()
    )?;
    for j in cfg.jobs.values() {
        let what: Vec<String> = j
            .sources
            .iter()
            .map(|s| s.path.display().to_string())
            .chain(j.commands.iter().map(|c| format!("{}(cmd)", c.name)))
            .collect();
        outln!(
            "job {}: {} -> {} {}/{} schedule={} verify={} [{}]",
            j.name,
            if what.is_empty() {
                "-".to_string()
            } else {
                what.join(", ")
            },
            j.remote.name,
            j.remote.path,
            j.name,
            j.schedule.as_ref().map_or("on demand", Schedule::as_str),
            j.verify.as_str(),
            j.defined_in.display()
        )?;
    }
    if !connect {
        return Ok(0);
    }
    let mut failed = Vec::new();
    for r in cfg.remotes.values() {
        match probe(r).await {
            Ok(()) => outln!(
                "remote {}: ok ({}{}, {} writable)",
                r.name,
                r.display_addr(),
                if r.sftp().is_some() {
                    ", host key trusted, key accepted"
                } else {
                    ""
                },
                r.path
            )?,
            Err(e) => {
                outln!("remote {}: FAILED: {e}", r.name)?;
                failed.push(r.name.clone());
            }
        }
    }
    if failed.is_empty() {
        Ok(0)
    } else {
        Err(CliError::Failed(format!(
            "remote(s) failed the check: {}",
            failed.join(", ")
        )))
    }
}

async fn probe(r: &std::sync::Arc<crate::config::RemoteConfig>) -> Result<(), CliError> {
    let remote = remote::open(r).await?;
    let result = async {
        mkdir_all(remote.as_ref(), &r.path).await?;
        let probe = format!(
            "{}/.backup-agent-probe-{}",
            r.path.trim_end_matches('/'),
            std::process::id()
        );
        write_small(remote.as_ref(), &probe, b"probe\n").await?;
        remote.remove_file(&probe).await
    }
    .await;
    remote.close().await;
    Ok(result?)
}
