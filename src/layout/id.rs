//! Snapshot ids: the UTC start time of a run, `YYYYMMDDTHHMMSSZ`, which is also the name of the
//! committed snapshot directory. A snapshot's time *is* its id, so listing, sorting and retention
//! need nothing but directory names.

use std::fmt;

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};

const FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// A validated snapshot id. Ordering is chronological.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SnapshotId(DateTime<Utc>);

impl SnapshotId {
    /// The id for a run starting at `t` (sub-second precision is dropped).
    pub fn from_time(t: DateTime<Utc>) -> Self {
        SnapshotId(t.trunc_subsecs(0))
    }

    /// Parses a directory name; anything that is not exactly an id (`.partial`, `.deleting`,
    /// stray files, other tools' directories) is `None`, so callers never touch it.
    pub fn parse(name: &str) -> Option<Self> {
        if name.len() != 16 || !name.is_ascii() {
            return None;
        }
        let t = NaiveDateTime::parse_from_str(name, FORMAT).ok()?;
        let id = SnapshotId(t.and_utc());
        // Reject forms chrono accepts but we never write (e.g. missing zero padding).
        (id.to_string() == name).then_some(id)
    }

    pub fn time(&self) -> DateTime<Utc> {
        self.0
    }

    /// The id one second later: used when a run starts in the same second as an existing one.
    pub fn next(&self) -> Self {
        SnapshotId(self.0 + chrono::Duration::seconds(1))
    }
}

impl fmt::Display for SnapshotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format(FORMAT))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn round_trips() {
        let t = Utc.with_ymd_and_hms(2026, 11, 27, 2, 0, 5).unwrap();
        let id = SnapshotId::from_time(t);
        assert_eq!(id.to_string(), "20261127T020005Z");
        assert_eq!(SnapshotId::parse("20261127T020005Z"), Some(id));
        assert_eq!(id.time(), t);
    }

    #[test]
    fn rejects_non_ids() {
        for name in [
            ".20261127T020005Z.partial",
            ".20261127T020005Z.deleting",
            "20261127T020005",
            "20261127T020005Z ",
            "20261327T020005Z",
            "20261127T250005Z",
            "lost+found",
            "",
        ] {
            assert_eq!(SnapshotId::parse(name), None, "{name:?}");
        }
    }

    #[test]
    fn orders_chronologically() {
        let a = SnapshotId::parse("20251231T235959Z").unwrap();
        let b = SnapshotId::parse("20260101T000000Z").unwrap();
        assert!(a < b);
        assert_eq!(a.next(), b);
    }
}
