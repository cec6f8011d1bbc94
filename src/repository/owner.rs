//! Which machine writes a history. The first run into `<path>/<job>/` records its host name
//! and machine id in `.owner`; a run or prune from any other machine is refused before it
//! writes or deletes anything, so two hosts configured with the same path and job never rotate
//! each other's snapshots away. Reading (`list`, `verify`, `restore`, `cat`) works from
//! anywhere: restoring onto a new machine is the disaster this product exists for.
//! `--take-over` records a new owner deliberately (a replaced server keeps its predecessor's
//! history).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{RepoError, Repository, escape};
use crate::layout;
use crate::remote::{read_small, write_small};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub host: String,
    /// `/etc/machine-id`; empty where the machine has none.
    #[serde(default)]
    pub machine_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// The owner this one took the history over from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub took_over_from: Option<String>,
}

impl Owner {
    /// This machine, under the host name the config resolved (`agent.host_name`).
    pub fn this_machine(host: &str) -> Owner {
        let machine_id = ["/etc/machine-id", "/var/lib/dbus/machine-id"]
            .iter()
            .find_map(|p| std::fs::read_to_string(p).ok())
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        Owner {
            host: host.to_string(),
            machine_id,
            since: None,
            took_over_from: None,
        }
    }

    /// The same machine: the same host name, and the same machine id where both are known (a
    /// clone or a reinstall under the same name is another machine).
    pub fn is(&self, other: &Owner) -> bool {
        self.host == other.host
            && (self.machine_id.is_empty()
                || other.machine_id.is_empty()
                || self.machine_id == other.machine_id)
    }

    pub fn short_machine_id(&self) -> String {
        if self.machine_id.is_empty() {
            "unknown".into()
        } else {
            escape(&self.machine_id.chars().take(12).collect::<String>())
        }
    }
}

/// Where `.owner` is written before its rename into place.
pub(super) const OWNER_TMP: &str = ".owner.tmp";

/// What `.owner` says.
pub(super) enum Recorded {
    Nobody,
    Owner(Owner),
    /// Unreadable or not JSON: someone else wrote it.
    Garbage(String),
}

impl Repository {
    pub(super) fn owner_path(&self) -> String {
        self.dir.child(layout::OWNER_FILE)
    }

    pub(super) async fn recorded_owner(&self) -> Result<Recorded, RepoError> {
        match read_small(self.remote.as_ref(), &self.owner_path(), 64 * 1024).await {
            Ok(bytes) => Ok(match serde_json::from_slice::<Owner>(&bytes) {
                Ok(o) => Recorded::Owner(o),
                Err(e) => Recorded::Garbage(e.to_string()),
            }),
            Err(e) if e.is_not_found() => Ok(Recorded::Nobody),
            Err(e) if e.is_transient() => Err(e.into()),
            Err(e) => Ok(Recorded::Garbage(e.to_string())),
        }
    }

    /// Refuses when another machine owns the history (or `.owner` is not ours to read),
    /// unless `take_over`.
    pub(super) async fn check_owner(&self, me: &Owner, take_over: bool) -> Result<(), RepoError> {
        self.judge(self.recorded_owner().await?, me, take_over)
            .map(|_| ())
    }

    /// What a write by `me` may do with what `.owner` says: `Ok(None)` it owns the history
    /// already, `Ok(Some(previous))` it may record itself (`previous`: the owner it replaces).
    pub(super) fn judge(
        &self,
        recorded: Recorded,
        me: &Owner,
        take_over: bool,
    ) -> Result<Option<Option<String>>, RepoError> {
        match recorded {
            Recorded::Owner(o) if o.is(me) => Ok(None),
            Recorded::Nobody => Ok(Some(None)),
            Recorded::Owner(o) if take_over => Ok(Some(Some(format!(
                "{} (machine id {})",
                o.host,
                o.short_machine_id()
            )))),
            Recorded::Owner(o) => Err(RepoError::NotOwner {
                dir: self.describe(),
                owner: Box::new(o),
                me: Box::new(me.clone()),
                job: self.job.clone(),
            }),
            Recorded::Garbage(why) if take_over => Ok(Some(Some(format!(
                "an unreadable .owner ({})",
                escape(&why)
            )))),
            Recorded::Garbage(why) => Err(RepoError::Refused(format!(
                "{} cannot be read ({}), so who owns this history is unknown; nothing was written or deleted (`backup run {} --take-over` records this host)",
                self.owner_path(),
                escape(&why),
                self.job
            ))),
        }
    }

    /// Records `me` as the owner if nobody is, or (with `take_over`) in place of another.
    /// The caller holds the history's lock.
    pub(super) async fn claim(&self, me: &Owner, take_over: bool) -> Result<(), RepoError> {
        let Some(previous) = self.judge(self.recorded_owner().await?, me, take_over)? else {
            return Ok(());
        };
        match &previous {
            None => tracing::info!(
                "recording host {} as the owner of {}",
                me.host,
                self.describe()
            ),
            Some(p) => tracing::warn!(
                "taking over {} from {p}: from now on only host {} writes and rotates it",
                self.describe(),
                me.host
            ),
        }
        let record = Owner {
            since: Some(Utc::now()),
            took_over_from: previous,
            ..me.clone()
        };
        let json = serde_json::to_string_pretty(&record).unwrap_or_default() + "\n";
        let tmp = self.dir.child(OWNER_TMP);
        write_small(self.remote.as_ref(), &tmp, json.as_bytes()).await?;
        self.remote.rename(&tmp, &self.owner_path()).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(host: &str, id: &str) -> Owner {
        Owner {
            host: host.into(),
            machine_id: id.into(),
            since: None,
            took_over_from: None,
        }
    }

    #[test]
    fn the_same_machine_has_the_same_name_and_id() {
        assert!(owner("db01", "abc").is(&owner("db01", "abc")));
        assert!(owner("db01", "").is(&owner("db01", "abc")));
        assert!(!owner("db01", "abc").is(&owner("db02", "abc")));
        // A clone or a reinstall under the same name.
        assert!(!owner("db01", "abc").is(&owner("db01", "def")));
    }
}
