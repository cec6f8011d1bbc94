//! Dump guards: a command that exits 0 with almost nothing on stdout (an empty database, a
//! corrupt sqlite file, a dump tool that printed only its error) or with far less than last
//! time is not a backup. Checked once the command's stream has ended and before the commit,
//! so a guard that trips leaves nothing that looks like a snapshot.

use std::path::Path;

use thiserror::Error;

use super::JobError;
use super::destination::Target;
use crate::config::{CommandConfig, JobConfig};
use crate::layout::SnapshotId;
use crate::layout::manifest::CommandEntry;
use crate::repository::Snapshot;

/// A guard that tripped: both sizes in the message, what to do in the hint.
#[derive(Debug, Clone, Error)]
#[error("{message}")]
pub struct Trip {
    pub message: String,
    pub hint: String,
}

/// The same command's output in the newest intact snapshot of the job.
#[derive(Debug, Clone, Copy)]
pub struct Previous {
    pub snapshot: SnapshotId,
    pub bytes: u64,
}

pub fn check(
    cmd: &CommandConfig,
    bytes: u64,
    previous: Option<Previous>,
    defined_in: &Path,
) -> Result<(), Trip> {
    let file = defined_in.display();
    if bytes < cmd.min_bytes {
        return Err(Trip {
            message: format!(
                "command {:?} wrote {bytes} bytes, less than its min_bytes of {} bytes: an empty or \
                 error-only dump is not a backup; nothing was committed",
                cmd.name, cmd.min_bytes
            ),
            hint: format!(
                "check the source (run {:?} by hand and look at its output); if this size is right, \
                 lower min_bytes for {:?} in {file} (min_bytes = 0 turns the floor off)",
                cmd.run.join(" "),
                cmd.name
            ),
        });
    }
    let (Some(limit), Some(prev)) = (cmd.max_shrink, previous) else {
        return Ok(());
    };
    // bytes < prev * (100 - limit) / 100, without rounding or overflow.
    if (bytes as u128) * 100 < (prev.bytes as u128) * (100 - limit.0 as u128) {
        let shrunk = (prev.bytes - bytes) as u128 * 100 / prev.bytes as u128;
        return Err(Trip {
            message: format!(
                "command {:?} wrote {bytes} bytes, {shrunk}% less than the {} bytes in snapshot {}; \
                 its max_shrink is {limit}; nothing was committed",
                cmd.name, prev.bytes, prev.snapshot
            ),
            hint: format!(
                "check the source (a wrong database, a dropped table?); if the data really shrank, \
                 raise max_shrink for {:?} in {file} or remove it for one run",
                cmd.name
            ),
        });
    }
    Ok(())
}

/// From the first destination still in the run: the shrink guard compares with what is there.
pub(super) async fn previous_outputs(
    job: &JobConfig,
    targets: &[Target],
) -> Result<Option<Snapshot>, JobError> {
    if job.commands.iter().all(|c| c.max_shrink.is_none()) {
        return Ok(None);
    }
    let Some((repo, _)) = targets.iter().find_map(Target::writing) else {
        return Ok(None);
    };
    Ok(repo.committed().await?.pop())
}

/// Every command's output against its guards, once all streams have ended.
pub(super) fn check_all(
    job: &JobConfig,
    commands: &[CommandEntry],
    previous: &Option<Snapshot>,
) -> Result<(), JobError> {
    for (cmd, out) in job.commands.iter().zip(commands) {
        let prev = previous.as_ref().and_then(|s| {
            let c = s.manifest.commands.iter().find(|c| c.name == cmd.name)?;
            Some(Previous {
                snapshot: s.id,
                bytes: c.bytes,
            })
        });
        check(cmd, out.bytes, prev, &job.defined_in)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::size::Percent;

    fn cmd(min_bytes: u64, max_shrink: Option<u8>) -> CommandConfig {
        CommandConfig {
            name: "app.sql".into(),
            run: vec!["pg_dump".into(), "app".into()],
            user: None,
            env: Default::default(),
            cwd: None,
            timeout: None,
            min_bytes,
            max_shrink: max_shrink.map(Percent),
            at: crate::config::Place {
                file: "config.toml".into(),
                line: None,
            },
        }
    }

    fn prev(bytes: u64) -> Option<Previous> {
        Some(Previous {
            snapshot: SnapshotId::parse("20260101T020000Z").unwrap(),
            bytes,
        })
    }

    #[test]
    fn a_dump_below_min_bytes_trips_naming_both_sizes() {
        let f = Path::new("/etc/backup-agent/jobs.d/db.toml");
        let t = check(&cmd(512, None), 119, None, f).unwrap_err();
        assert!(t.message.contains("119 bytes"), "{}", t.message);
        assert!(t.message.contains("512 bytes"), "{}", t.message);
        assert!(t.hint.contains("min_bytes") && t.hint.contains("db.toml"));
        assert!(check(&cmd(512, None), 512, None, f).is_ok());
        assert!(check(&cmd(0, None), 0, None, f).is_ok());
    }

    #[test]
    fn shrinking_past_max_shrink_trips_only_when_set_and_a_previous_exists() {
        let f = Path::new("c.toml");
        assert!(check(&cmd(0, None), 10, prev(1_000_000), f).is_ok());
        assert!(check(&cmd(0, Some(50)), 10, None, f).is_ok());
        // Exactly half is allowed by 50%; one byte less is not.
        assert!(check(&cmd(0, Some(50)), 5000, prev(10_000), f).is_ok());
        let t = check(&cmd(0, Some(50)), 4999, prev(10_000), f).unwrap_err();
        assert!(t.message.contains("4999 bytes") && t.message.contains("10000 bytes"));
        assert!(t.message.contains("50%") && t.message.contains("20260101T020000Z"));
        assert!(t.hint.contains("max_shrink"));
        // Growth never trips; 100% allows anything; 0% allows no shrink at all.
        assert!(check(&cmd(0, Some(0)), 20_000, prev(10_000), f).is_ok());
        assert!(check(&cmd(0, Some(100)), 0, prev(10_000), f).is_ok());
        assert!(check(&cmd(0, Some(0)), 9_999, prev(10_000), f).is_err());
        assert!(check(&cmd(0, Some(50)), u64::MAX, prev(u64::MAX), f).is_ok());
    }
}
