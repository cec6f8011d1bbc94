//! `--remote NAME` of `list`, `verify`, `restore` and `cat`: which of a job's destinations to
//! read. Without it a job with several destinations is read from the first one that answers,
//! so a restore works while the offsite server is down; the choice is said on stderr.

use super::{CliError, job};
use crate::config::Config;
use crate::remote;

/// `cfg` with job `name` narrowed to one destination.
pub async fn narrow(mut cfg: Config, name: &str, chosen: Option<&str>) -> Result<Config, CliError> {
    let j = job(&cfg, name)?;
    let view = match chosen {
        Some(r) => j.at_remote(r).ok_or_else(|| {
            CliError::Usage(format!(
                "job {name} has no destination {r:?}; its destinations: {}",
                j.destination_names().join(", ")
            ))
        })?,
        None if j.destinations.len() == 1 => return Ok(cfg),
        None => first_answering(j).await?,
    };
    cfg.jobs.insert(name.to_string(), view);
    Ok(cfg)
}

async fn first_answering(
    j: &crate::config::JobConfig,
) -> Result<crate::config::JobConfig, CliError> {
    let mut silent = Vec::new();
    for d in &j.destinations {
        match remote::open(&d.remote).await {
            Ok(r) => {
                r.close().await;
                let skipped = if silent.is_empty() {
                    String::new()
                } else {
                    format!(" ({} did not answer)", silent.join("; "))
                };
                super::out::eprint_line(&format!(
                    "job {}: reading from remote {}{skipped}; choose with --remote NAME",
                    j.name, d.remote.name
                ));
                return Ok(j.at(d));
            }
            Err(e) => {
                tracing::warn!(job = %j.name, "remote {} did not answer: {e}", d.remote.name);
                silent.push(format!("{}: {e}", d.remote.name));
            }
        }
    }
    Err(CliError::failed(
        format!(
            "no destination of job {} answered: {}",
            j.name,
            silent.join("; ")
        ),
        Some("check the servers and the network, or name one with --remote NAME".into()),
    ))
}
