//! Remote path names: `<path>/<job>/<id>/`, `.<id>.partial/` while a run uploads, and
//! `.<id>.deleting/` while prune removes a snapshot. Only a bare id is a snapshot.

use super::SnapshotId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobDir {
    dir: String,
}

/// What a directory entry under `<path>/<job>/` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Snapshot(SnapshotId),
    Partial(SnapshotId),
    Deleting(SnapshotId),
    /// Anything else: never touched.
    Other,
}

impl JobDir {
    pub fn new(base: &str, job: &str) -> Self {
        let base = base.trim_end_matches('/');
        JobDir {
            dir: format!("{base}/{job}"),
        }
    }

    /// A job directory already found at `dir` (the vault's pinned `/proc/self/fd/N`).
    pub fn at(dir: &str) -> Self {
        JobDir {
            dir: dir.trim_end_matches('/').to_string(),
        }
    }

    pub fn path(&self) -> &str {
        &self.dir
    }

    pub fn snapshot(&self, id: SnapshotId) -> String {
        format!("{}/{id}", self.dir)
    }

    pub fn partial(&self, id: SnapshotId) -> String {
        format!("{}/.{id}.partial", self.dir)
    }

    pub fn deleting(&self, id: SnapshotId) -> String {
        format!("{}/.{id}.deleting", self.dir)
    }

    pub fn child(&self, name: &str) -> String {
        format!("{}/{name}", self.dir)
    }
}

impl Entry {
    pub fn classify(name: &str) -> Entry {
        if let Some(id) = SnapshotId::parse(name) {
            return Entry::Snapshot(id);
        }
        let inner = |suffix: &str| {
            name.strip_prefix('.')
                .and_then(|n| n.strip_suffix(suffix))
                .and_then(SnapshotId::parse)
        };
        if let Some(id) = inner(".partial") {
            Entry::Partial(id)
        } else if let Some(id) = inner(".deleting") {
            Entry::Deleting(id)
        } else {
            Entry::Other
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let d = JobDir::new("/srv/backups/", "db");
        let id = SnapshotId::parse("20261127T020000Z").unwrap();
        assert_eq!(d.snapshot(id), "/srv/backups/db/20261127T020000Z");
        assert_eq!(d.partial(id), "/srv/backups/db/.20261127T020000Z.partial");
        assert_eq!(d.deleting(id), "/srv/backups/db/.20261127T020000Z.deleting");
        assert_eq!(Entry::classify("20261127T020000Z"), Entry::Snapshot(id));
        assert_eq!(
            Entry::classify(".20261127T020000Z.partial"),
            Entry::Partial(id)
        );
        assert_eq!(
            Entry::classify(".20261127T020000Z.deleting"),
            Entry::Deleting(id)
        );
        assert_eq!(Entry::classify("20261127T020000Z.partial"), Entry::Other);
        assert_eq!(Entry::classify(".tmp"), Entry::Other);
    }
}
