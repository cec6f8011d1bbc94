//! `backup verify JOB [SNAPSHOT | --all] [--read]`: one report line per file, a verdict per
//! snapshot, exit 1 naming every file that does not match and every damaged snapshot. A reader
//! that goes away (`| head -1`) ends the report, not the verification: the exit code is still
//! the verdict.

use super::out::print_line;
use super::{CliError, job};
use crate::config::Config;
use crate::config::VerifyMode;
use crate::encryption::IdentitySource;
use crate::outcome::human_bytes as report_bytes;
use crate::remote::{self, Remote, RetryReads};
use crate::repository::{Repository, SnapshotCheck};
use crate::restore::keys::identities_for;
use crate::restore::prove_decrypts;

/// What `backup verify` was asked.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    pub snapshot: Option<String>,
    pub all: bool,
    /// Read every byte back (and decrypt encrypted snapshots when `identity` is given).
    pub read: bool,
    pub identity: Option<IdentitySource>,
}

pub async fn verify(cfg: &Config, name: &str, opts: &VerifyOptions) -> Result<i32, CliError> {
    let j = job(cfg, name)?;
    let remote: std::sync::Arc<dyn Remote> =
        std::sync::Arc::new(RetryReads(remote::open(&j.remote).await?));
    let repo = Repository::new(remote.clone(), &j.remote.path, &j.name);
    let result = check(&repo, opts, &mut Report::default()).await;
    remote.close().await;
    let bad = result?;
    if bad.is_empty() {
        return Ok(0);
    }
    Err(CliError::failed(
        format!(
            "verify of job {name} found {} problem(s):\n  {}",
            bad.len(),
            bad.join("\n  ")
        ),
        Some("restore from an intact snapshot; a damaged one cannot be repaired".into()),
    ))
}

/// Every problem found, each prefixed with its snapshot.
async fn check(
    repo: &Repository,
    opts: &VerifyOptions,
    out: &mut Report,
) -> Result<Vec<String>, CliError> {
    let mut bad = Vec::new();
    let snapshots = match (opts.all, opts.snapshot.as_deref()) {
        (true, _) => {
            let listing = repo.listing().await?;
            out.damaged(&listing.damaged, &mut bad)?;
            listing.snapshots
        }
        (false, Some(id)) if id != "latest" => vec![repo.resolve(id).await?],
        // The newest snapshot is what `latest` would restore: if it is damaged, that is the
        // finding, whatever an older one says.
        (false, _) => {
            let newest = repo.resolve("latest").await?;
            let listing = repo.listing().await?;
            let newer: Vec<_> = listing
                .damaged
                .into_iter()
                .filter(|d| d.id > newest.id)
                .collect();
            out.damaged(&newer, &mut bad)?;
            vec![newest]
        }
    };
    if snapshots.is_empty() && bad.is_empty() {
        out.line(&format!(
            "no snapshots of job {} on {}",
            repo.job(),
            repo.describe()
        ))?;
    }
    let mut ids = None;
    for s in &snapshots {
        let check = if opts.read && s.manifest.is_encrypted() && opts.identity.is_some() {
            if ids.is_none() {
                ids = identities_for(&s.manifest, opts.identity.as_ref(), repo.job()).await?;
            }
            let mut check = repo.check_by(s, VerifyMode::Size).await?;
            if let Some(ids) = &ids {
                let dir = repo.dir().snapshot(s.id);
                prove_decrypts(
                    repo.remote().as_ref(),
                    &dir,
                    &s.manifest,
                    ids.clone(),
                    &mut check,
                )
                .await?;
            }
            check
        } else {
            repo.check(s, opts.read).await?
        };
        out.check(&check)?;
        if opts.read && s.manifest.is_encrypted() && opts.identity.is_none() {
            out.line("  encrypted: checksums match; not decrypted (give --identity to prove the key opens it)")?;
        }
        if !check.is_ok() {
            bad.extend(
                check
                    .problems
                    .iter()
                    .chain(check.files.iter().filter_map(|f| f.problem.as_ref()))
                    .map(|p| format!("{}/{p}", check.id)),
            );
        }
    }
    Ok(bad)
}

/// The report on stdout, until its reader goes away.
#[derive(Default)]
struct Report {
    gone: bool,
}

impl Report {
    fn line(&mut self, text: &str) -> Result<(), CliError> {
        if self.gone {
            return Ok(());
        }
        match print_line(text) {
            Err(CliError::Silent(_)) => {
                self.gone = true;
                Ok(())
            }
            other => other,
        }
    }

    fn damaged(
        &mut self,
        damaged: &[crate::repository::Damaged],
        bad: &mut Vec<String>,
    ) -> Result<(), CliError> {
        for d in damaged {
            self.line(&format!(
                "snapshot {}\n  FAIL  {}\n  DAMAGED",
                d.id, d.problem
            ))?;
            bad.push(format!("{}: {}", d.id, d.problem));
        }
        Ok(())
    }

    fn check(&mut self, c: &SnapshotCheck) -> Result<(), CliError> {
        self.line(&format!("snapshot {}", c.id))?;
        for p in &c.problems {
            self.line(&format!("  FAIL  {p}"))?;
        }
        for f in &c.files {
            match &f.problem {
                None => self.line(&format!(
                    "  ok    {:<24} {:>10}",
                    f.name,
                    report_bytes(f.size)
                ))?,
                Some(p) => self.line(&format!("  FAIL  {p}"))?,
            }
        }
        self.line(&format!(
            "  {} ({} file(s), hashed by {})",
            if c.is_ok() { "intact" } else { "DAMAGED" },
            c.files.len(),
            c.method
        ))
    }
}
