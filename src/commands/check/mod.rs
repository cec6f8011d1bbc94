//! `backup check [--connect]`: the config is valid (it loaded); a line per job; everything on
//! this machine a run needs (local.rs); with --connect, each remote proven (connect.rs).

mod connect;
mod local;
mod program;

use crate::commands::CliError;
use crate::commands::out::outln;
use crate::config::Config;
use crate::schedule::Schedule;

pub async fn check(cfg: &Config, connect: bool, config_only: bool) -> Result<i32, CliError> {
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
            "job {}: {} -> {} schedule={} verify={} [{}]",
            j.name,
            if what.is_empty() {
                "-".to_string()
            } else {
                what.join(", ")
            },
            j.destinations
                .iter()
                .map(|d| format!("{} {}/{}", d.remote.name, d.remote.path, j.name))
                .collect::<Vec<_>>()
                .join(", "),
            j.schedule.as_ref().map_or("on demand", Schedule::as_str),
            j.verify.as_str(),
            j.defined_in.display()
        )?;
        if j.encryption.is_on() {
            let to: Vec<String> = j
                .encryption
                .recipients
                .iter()
                .map(|r| r.info().to_string())
                .collect();
            outln!("  encrypted (age) to {}", to.join(", "))?;
        }
    }
    if config_only {
        return Ok(0);
    }
    let found = local::check(cfg);
    for n in &found.notes {
        outln!("note: {}: {}", n.at, n.message)?;
    }
    for p in &found.problems {
        outln!("problem: {}: {}: {}", p.at, p.key, p.message)?;
        outln!("  fix: {}", p.fix)?;
    }
    let failed = if connect {
        connect::check(cfg).await?
    } else {
        Vec::new()
    };
    let mut why = Vec::new();
    if !found.problems.is_empty() {
        why.push(format!(
            "{} problem(s) on this machine would make runs fail (listed above)",
            found.problems.len()
        ));
    }
    if !failed.is_empty() {
        why.push(format!("remote(s) failed the check: {}", failed.join(", ")));
    }
    if why.is_empty() {
        Ok(0)
    } else {
        Err(CliError::Failed(why.join("; ")))
    }
}
