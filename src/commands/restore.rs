//! `backup restore` and `backup cat`: thin wrappers over the `restore` module that print the
//! outcome and map it to an exit code.

use super::{CliError, job};
use crate::config::Config;
use crate::restore::{self, CatOptions, RestoreError, RestoreOptions};

impl From<RestoreError> for CliError {
    fn from(e: RestoreError) -> Self {
        match e {
            RestoreError::Usage(m) => CliError::Usage(m),
            // A missing or wrong identity is a usage error: the snapshot is fine.
            RestoreError::Key { message, hint } => CliError::Hinted {
                code: 2,
                message,
                hint,
            },
            RestoreError::Repository(r) => r.into(),
            e => CliError::failed(e.to_string(), e.hint()),
        }
    }
}

pub async fn restore(cfg: &Config, name: &str, opts: &RestoreOptions) -> Result<i32, CliError> {
    let j = job(cfg, name)?;
    let done = restore::restore(j, opts).await?;
    for w in &done.warnings {
        super::out::eprint_line(&format!("warning: {w}"));
    }
    let outputs = if done.outputs.is_empty() {
        String::new()
    } else {
        format!(" and {}", done.outputs.join(", "))
    };
    super::out::eprint_line(&format!(
        "restored snapshot {} of job {name} into {}: {} archive entries{outputs}, {} downloaded, checksums match",
        done.snapshot,
        opts.target.display(),
        done.entries,
        crate::outcome::human_bytes(done.bytes)
    ));
    Ok(if done.warnings.is_empty() { 0 } else { 3 })
}

pub async fn cat(cfg: &Config, name: &str, opts: &CatOptions) -> Result<i32, CliError> {
    let j = job(cfg, name)?;
    restore::cat(j, opts).await?;
    Ok(0)
}
