//! `backup run --dry-run`: what would be read and where it would go. Nothing is written, and
//! nothing but directory metadata is read.

use super::JobError;
use crate::config::JobConfig;
use crate::layout::{self, JobDir, SnapshotId};
use crate::outcome::RunReport;
use chrono::Utc;

/// `println!` that cannot panic: a dry run whose reader went away has nobody to tell.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

pub(super) fn dry_run(job: &JobConfig, report: &mut RunReport) -> Result<(), JobError> {
    let id = SnapshotId::from_time(Utc::now());
    say!(
        "dry run of job {}: nothing is read in full or written",
        job.name
    );
    for d in &job.destinations {
        let dir = JobDir::new(&d.remote.path, &job.name);
        say!(
            "  destination {}: {}:{}",
            d.remote.name,
            d.remote.display_addr(),
            dir.snapshot(id)
        );
    }
    for s in &job.sources {
        let (mut files, mut bytes) = (0u64, 0u64);
        for e in walkdir::WalkDir::new(&s.path)
            .follow_links(false)
            .same_file_system(job.one_file_system)
            .into_iter()
            .filter_entry(|e| !job.exclude.is_excluded(e.path()))
            .flatten()
        {
            if let Ok(m) = e.metadata()
                && m.is_file()
            {
                files += 1;
                bytes += m.len();
            }
        }
        say!(
            "  source {}{}: {files} files, {}",
            s.path.display(),
            match (s.optional, s.path.symlink_metadata().is_ok()) {
                (false, _) => "",
                (true, true) => " (optional)",
                (true, false) => " (optional, absent: skipped)",
            },
            crate::outcome::human_bytes(bytes)
        );
        report.files += files;
        report.bytes_read += bytes;
    }
    for p in &job.exclude.patterns {
        say!("  exclude {p}");
    }
    for c in &job.commands {
        say!(
            "  command {} -> {}: {}",
            c.name,
            layout::command_file(&c.name, job.encryption.is_on()),
            c.run.join(" ")
        );
    }
    let h = &job.hooks;
    for (name, argv) in [
        ("before", &h.before),
        ("after", &h.after),
        ("on_failure", &h.on_failure),
        ("finally", &h.finally),
    ] {
        if let Some(argv) = argv {
            say!("  hook {name} (not run in a dry run): {}", argv.join(" "));
        }
    }
    say!("  verify: {}", job.verify.as_str());
    if job.encryption.is_on() {
        let to: Vec<String> = job
            .encryption
            .recipients
            .iter()
            .map(|r| r.info().to_string())
            .collect();
        say!("  encryption: age, to {}", to.join(", "));
    }
    Ok(())
}
