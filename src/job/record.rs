//! What a run records of itself: the manifest, and for an encrypted job the details the server
//! must not read (sources, excludes, command lines, warnings, counts), sealed to the job's
//! recipients as `details.json.age` beside the streams. Everything `list`, `verify` and
//! `prune` need stays in the clear manifest, so they work without a key.

use std::io::Write;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::JobError;
use super::streams::Streamed;
use crate::config::JobConfig;
use crate::encryption::{self, Sealed};
use crate::layout::manifest::{
    CommandLine, Details, EncryptionInfo, FORMAT_VERSION, FileEntry, Manifest,
    PLAIN_FORMAT_VERSION, Stats,
};
use crate::layout::{self, SnapshotId};
use crate::remote::{Remote, write_small};
use crate::repository::Pending;

/// The details, encrypted once for every destination (age output is random, and the copies
/// must be the same bytes): the file's entry, and its bytes.
pub(super) fn seal_details(
    job: &JobConfig,
    streamed: &Streamed,
) -> Result<(FileEntry, Vec<u8>), JobError> {
    let mut stats = streamed.stats.clone();
    stats.bytes_stored = streamed.files.iter().map(|f| f.size).sum();
    let details = Details {
        sources: sources(job),
        exclude: job.exclude.patterns.clone(),
        commands: job
            .commands
            .iter()
            .map(|c| CommandLine {
                name: c.name.clone(),
                run: c.run.clone(),
            })
            .collect(),
        stats,
        warnings: streamed.warnings.clone(),
        skipped_sources: streamed.skipped_sources.clone(),
    };
    let json = details.to_json();
    let sealed = (|| {
        let mut w = Sealed::new(Vec::new(), &job.encryption.recipients)?;
        w.write_all(json.as_bytes())?;
        w.finish()
    })()
    .map_err(|e| JobError::Local(format!("encrypting {}: {e}", layout::DETAILS_FILE)))?;
    let entry = FileEntry {
        name: layout::DETAILS_FILE.to_string(),
        size: sealed.len() as u64,
        sha256: hex::encode(Sha256::digest(&sealed)),
        raw_size: json.len() as u64,
    };
    Ok((entry, sealed))
}

/// Writes the sealed details into one destination's pending snapshot; the entry joins the
/// files there, to be verified and listed in `SHA256SUMS` like any other.
pub(super) async fn write_details(
    remote: &dyn Remote,
    pending: &Pending,
    sealed: &[u8],
) -> Result<(), JobError> {
    write_small(remote, &pending.file(layout::DETAILS_FILE), sealed).await?;
    Ok(())
}

/// The manifest of a verified snapshot. For an encrypted job, the fields that
/// [`seal_details`] stored are left out.
pub(super) fn manifest(
    job: &JobConfig,
    id: SnapshotId,
    host: &str,
    started_at: DateTime<Utc>,
    streamed: Streamed,
    stats: Stats,
    verified_by: &str,
) -> Manifest {
    let encrypted = job.encryption.is_on();
    let Streamed {
        files,
        mut commands,
        warnings,
        skipped_sources,
        ..
    } = streamed;
    if encrypted {
        for c in &mut commands {
            c.run = None;
        }
    }
    let clear = |v| (!encrypted).then_some(v);
    Manifest {
        format_version: if encrypted {
            FORMAT_VERSION
        } else {
            PLAIN_FORMAT_VERSION
        },
        program: "backup-agent".into(),
        program_version: env!("CARGO_PKG_VERSION").into(),
        job: job.name.clone(),
        snapshot: id.to_string(),
        host: host.to_string(),
        started_at,
        finished_at: Utc::now(),
        files,
        sources: clear(sources(job)),
        exclude: clear(job.exclude.patterns.clone()),
        commands,
        stats: (!encrypted).then_some(stats),
        warnings: clear(warnings),
        skipped_sources: if encrypted {
            Vec::new()
        } else {
            skipped_sources
        },
        verified_by: verified_by.to_string(),
        encryption: encrypted.then(|| EncryptionInfo {
            format: encryption::FORMAT.to_string(),
            recipients: job
                .encryption
                .recipients
                .iter()
                .map(|r| r.info().clone())
                .collect(),
        }),
    }
}

fn sources(job: &JobConfig) -> Vec<String> {
    job.sources
        .iter()
        .map(|s| s.path.display().to_string())
        .collect()
}
