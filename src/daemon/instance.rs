//! One daemon per `state_dir`: `state_dir/daemon.lock`, an flock held for the daemon's whole
//! life, naming its pid and start time. Two daemons on one state would each run every job
//! and apply whichever retention they loaded; the second is refused at start instead. The
//! kernel drops the flock when its process dies, so a daemon killed with SIGKILL never blocks
//! the next one. `backup status` reads the same file to say whether a daemon runs.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::job::lock::{self, HeldFile, LockError};

pub const LOCK_FILE: &str = "daemon.lock";

/// Held while the daemon runs; dropping it releases the state directory.
pub struct Instance {
    _held: HeldFile,
}

/// The daemon that holds a state directory, as its lock file says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holder {
    pub pid: Option<u32>,
    /// RFC 3339, as written by the holder.
    pub since: Option<String>,
}

impl Holder {
    fn parse(text: &str) -> Holder {
        Holder {
            pid: lock::holder_field(text, "pid").and_then(|p| p.parse().ok()),
            since: lock::holder_field(text, "since").map(str::to_string),
        }
    }

    pub fn describe(&self) -> String {
        let pid = self.pid.map_or("unknown".into(), |p| p.to_string());
        let since = self.since.as_deref().unwrap_or("an unknown time");
        format!("pid {pid}, since {since}")
    }
}

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(LOCK_FILE)
}

/// The daemon running on `state_dir` now, if any.
pub fn holder(state_dir: &Path) -> Option<Holder> {
    lock::holder_of(&path(state_dir)).map(|t| Holder::parse(&t))
}

#[derive(Debug)]
pub struct Refused {
    pub message: String,
    pub hint: String,
}

/// Claims `state_dir` for this daemon, or says who has it.
pub fn claim(state_dir: &Path) -> Result<Instance, Refused> {
    let p = path(state_dir);
    match lock::lock_file(&p, state_dir, false) {
        Ok(held) => Ok(Instance { _held: held }),
        Err(LockError::Held(who)) => Err(Refused {
            message: format!(
                "another backup daemon already runs on state_dir {} ({}); lock file {}",
                state_dir.display(),
                Holder::parse(&who).describe(),
                p.display()
            ),
            hint: "one daemon per state_dir: stop the other one first (systemctl stop \
                   backup-agent), or give this one its own agent.state_dir"
                .into(),
        }),
        Err(LockError::Io(e)) => Err(Refused {
            message: format!("cannot take the daemon lock: {e}"),
            hint: "check that agent.state_dir exists and is writable by this user".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_claim_names_the_first_and_a_released_one_is_free() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(holder(dir.path()), None);
        let first = claim(dir.path()).unwrap();
        let h = holder(dir.path()).unwrap();
        assert_eq!(h.pid, Some(std::process::id()));
        assert!(h.since.is_some());
        let refused = claim(dir.path()).err().unwrap();
        assert!(
            refused
                .message
                .contains(&format!("pid {}", std::process::id())),
            "{refused:?}"
        );
        drop(first);
        assert_eq!(holder(dir.path()), None);
        assert!(claim(dir.path()).is_ok());
    }
}
