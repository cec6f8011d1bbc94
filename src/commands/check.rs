//! `backup check [--connect]`: the config is valid (it loaded); print a line per job, and with
//! --connect prove each remote: host key, authentication, and a writable base path.

use super::CliError;
use crate::config::Config;
use crate::layout::JobDir;
use crate::remote::Connection;
use crate::schedule::Schedule;

pub async fn check(cfg: &Config, connect: bool) -> Result<i32, CliError> {
    println!(
        "config {} is valid ({} file(s), {} job(s), {} remote(s))",
        cfg.path.display(),
        cfg.files.len(),
        cfg.jobs.len(),
        cfg.remotes.len()
    );
    for j in cfg.jobs.values() {
        let what: Vec<String> = j
            .sources
            .iter()
            .map(|s| s.path.display().to_string())
            .chain(j.commands.iter().map(|c| format!("{}(cmd)", c.name)))
            .collect();
        println!(
            "job {}: {} -> {}:{}/{} schedule={} verify={} [{}]",
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
        );
    }
    if !connect {
        return Ok(0);
    }
    let mut failed = Vec::new();
    for r in cfg.remotes.values() {
        match probe(r).await {
            Ok(()) => println!(
                "remote {}: ok ({}, host key trusted, key accepted, {} writable)",
                r.name,
                r.display_addr(),
                r.path
            ),
            Err(e) => {
                println!("remote {}: FAILED: {e}", r.name);
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
    let conn = Connection::open(r).await?;
    let sftp = conn.sftp().await?;
    sftp.mkdir_all(&r.path).await?;
    let probe = JobDir::new(
        &r.path,
        &format!(".backup-agent-probe-{}", std::process::id()),
    );
    sftp.write_small(probe.path(), b"probe\n").await?;
    sftp.remove_file(probe.path()).await?;
    conn.close().await;
    Ok(())
}
