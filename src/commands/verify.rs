//! `backup verify JOB [SNAPSHOT | --all] [--read]`: one report line per file, a verdict per
//! snapshot, exit 1 naming every file that does not match and every damaged snapshot. A reader
//! that goes away (`| head -1`) ends the report, not the verification: the exit code is still
//! the verdict. A verification of the latest (or of all) snapshots is recorded in the state
//! file, as the daemon's `verify_schedule` records it.

use chrono::Utc;

use super::out::print_line;
use super::{CliError, job};
use crate::config::Config;
use crate::encryption::IdentitySource;
use crate::job::verify as job_verify;
use crate::outcome::human_bytes as report_bytes;
use crate::report::state;
use crate::repository::{Found, Opener, SnapshotCheck, Which};
use crate::restore::Decrypting;

/// What `backup verify` was asked.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    pub snapshot: Option<String>,
    pub all: bool,
    /// Read every byte back (and open encrypted snapshots when `identity` is given).
    pub read: bool,
    pub identity: Option<IdentitySource>,
}

pub async fn verify(cfg: &Config, name: &str, opts: &VerifyOptions) -> Result<i32, CliError> {
    let j = job(cfg, name)?;
    let (all, read) = (opts.all, opts.read);
    let which = match (all, opts.snapshot.as_deref()) {
        (true, _) => Which::All,
        (false, Some(id)) if id != "latest" => Which::One(id),
        _ => Which::Latest,
    };
    let started = Utc::now();
    let mut report = Report {
        job: name.to_string(),
        ..Report::default()
    };
    let opener = opts.identity.clone().map(Decrypting::new);
    let opener = opener.as_ref().map(|o| o as &dyn Opener);
    let result = job_verify::audit(j, which, read, opener, &mut |f| report.found(f)).await;
    if !matches!(which, Which::One(_)) {
        let record = job_verify::report(name, false, all, started, &result);
        crate::report::record(cfg, move |d| state::record_verify(d, &record)).await;
    }
    if let Some(e) = report.error {
        return Err(e);
    }
    let bad = result?.problems;
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

/// The report on stdout, until its reader goes away.
#[derive(Default)]
struct Report {
    job: String,
    gone: bool,
    /// stdout failed for another reason than its reader leaving: the command fails with it.
    error: Option<CliError>,
}

impl Report {
    fn found(&mut self, f: Found<'_>) {
        let text = match f {
            Found::Nothing(remote) => format!("no snapshots of job {} on {remote}", self.job),
            Found::Damaged(d) => format!("snapshot {}\n  FAIL  {}\n  DAMAGED", d.id, d.problem),
            Found::Checked(c) => check_lines(c),
        };
        self.line(&text);
    }

    fn line(&mut self, text: &str) {
        if self.gone {
            return;
        }
        match print_line(text) {
            Ok(()) => {}
            Err(CliError::Silent(_)) => self.gone = true,
            Err(e) => {
                self.gone = true;
                self.error = Some(e);
            }
        }
    }
}

fn check_lines(c: &SnapshotCheck) -> String {
    let mut lines = vec![format!("snapshot {}", c.id)];
    lines.extend(c.problems.iter().map(|p| format!("  FAIL  {p}")));
    lines.extend(c.files.iter().map(|f| match &f.problem {
        None => format!("  ok    {:<24} {:>10}", f.name, report_bytes(f.size)),
        Some(p) => format!("  FAIL  {p}"),
    }));
    lines.push(format!(
        "  {} ({} file(s), hashed by {})",
        if c.is_ok() { "intact" } else { "DAMAGED" },
        c.files.len(),
        c.method
    ));
    if c.encrypted && c.method == "readback" {
        lines.push(
            "  encrypted: checksums match; not decrypted (give --identity to prove the key opens it)"
                .into(),
        );
    }
    lines.join("\n")
}
