//! `backup verify JOB [SNAPSHOT | --all] [--read]`: one report line per file, a verdict per
//! snapshot, exit 1 naming every file that does not match.

use super::{CliError, job};
use crate::config::Config;
use crate::job::check::{SnapshotCheck, check_snapshot};
use crate::job::report_bytes;
use crate::job::snapshots::{committed, resolve};
use crate::layout::JobDir;
use crate::remote::Connection;

pub async fn verify(
    cfg: &Config,
    name: &str,
    snapshot: Option<&str>,
    all: bool,
    read: bool,
) -> Result<i32, CliError> {
    let j = job(cfg, name)?;
    let conn = Connection::open(&j.remote).await?;
    let sftp = conn.sftp().await?;
    let dir = JobDir::new(&j.remote.path, &j.name);
    let manifests = if all {
        committed(&sftp, &dir).await?
    } else {
        vec![resolve(&sftp, &dir, name, snapshot.unwrap_or("latest")).await?]
    };
    if manifests.is_empty() {
        println!("no snapshots of job {name} on {}", dir.path());
    }
    let mut bad = Vec::new();
    for m in &manifests {
        let check = check_snapshot(&conn, &sftp, &dir, m, read).await?;
        print_check(&check);
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
    conn.close().await;
    if bad.is_empty() {
        return Ok(0);
    }
    Err(CliError::Failed(format!(
        "verify of job {name} found {} problem(s):\n  {}\nhint: restore from an intact snapshot; a damaged one cannot be repaired",
        bad.len(),
        bad.join("\n  ")
    )))
}

fn print_check(c: &SnapshotCheck) {
    println!("snapshot {}", c.id);
    for p in &c.problems {
        println!("  FAIL  {p}");
    }
    for f in &c.files {
        match &f.problem {
            None => println!("  ok    {:<24} {:>10}", f.name, report_bytes(f.size)),
            Some(p) => println!("  FAIL  {p}"),
        }
    }
    println!(
        "  {} ({} file(s), hashed by {})",
        if c.is_ok() { "intact" } else { "DAMAGED" },
        c.files.len(),
        c.method
    );
}
