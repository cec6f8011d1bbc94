//! The one gate for what the server says: directory names, manifests and checksum lists are
//! parsed against the layout's grammar here before anything uses them, and what fails is
//! described (escaped) and never becomes a path.

use crate::layout::manifest::FORMAT_VERSION;
use crate::layout::{Manifest, SnapshotId, StoredFile};

pub use crate::layout::escape;

/// Checks a manifest read from `<id>/manifest.json` of job `job`: it must describe that very
/// snapshot, and every file it lists must be a name this program writes, once.
pub(super) fn check_manifest(m: &Manifest, job: &str, id: SnapshotId) -> Result<(), String> {
    if m.format_version > FORMAT_VERSION {
        return Err(format!(
            "manifest format {} is newer than this program reads ({FORMAT_VERSION}); upgrade backup-agent",
            m.format_version
        ));
    }
    if m.snapshot != id.to_string() {
        return Err(format!(
            "its manifest names snapshot \"{}\", not its directory {id}",
            escape(&m.snapshot)
        ));
    }
    if m.job != job {
        return Err(format!(
            "its manifest names job \"{}\", not {job}",
            escape(&m.job)
        ));
    }
    let mut seen = Vec::with_capacity(m.files.len());
    for f in &m.files {
        let Some(stored) = StoredFile::parse(&f.name) else {
            return Err(format!(
                "its manifest lists a file named \"{}\", which this program never writes",
                escape(&f.name)
            ));
        };
        // Decryption is chosen by the file name, so the name and the record must agree.
        if stored.is_encrypted() != m.is_encrypted() {
            return Err(format!(
                "its manifest lists {} but says the snapshot is {}",
                f.name,
                if m.is_encrypted() {
                    "encrypted"
                } else {
                    "not encrypted"
                }
            ));
        }
        if seen.contains(&f.name.as_str()) {
            return Err(format!("its manifest lists {} twice", f.name));
        }
        if f.sha256.len() != 64 || !f.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "its manifest gives {} the hash \"{}\", which is not SHA-256 hex",
                f.name,
                escape(&f.sha256)
            ));
        }
        seen.push(&f.name);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::manifest::{FileEntry, Stats};

    fn manifest(job: &str, snapshot: &str, files: &[&str]) -> Manifest {
        Manifest {
            format_version: FORMAT_VERSION,
            program: "backup-agent".into(),
            program_version: "0".into(),
            job: job.into(),
            snapshot: snapshot.into(),
            host: "h".into(),
            started_at: chrono::DateTime::UNIX_EPOCH,
            finished_at: chrono::DateTime::UNIX_EPOCH,
            files: files
                .iter()
                .map(|n| FileEntry {
                    name: n.to_string(),
                    size: 1,
                    sha256: "a".repeat(64),
                    raw_size: 1,
                })
                .collect(),
            sources: Some(vec![]),
            exclude: Some(vec![]),
            commands: vec![],
            stats: Some(Stats::default()),
            warnings: Some(vec![]),
            skipped_sources: vec![],
            verified_by: "size".into(),
            encryption: None,
        }
    }

    #[test]
    fn a_manifest_must_describe_its_own_directory() {
        let id = SnapshotId::parse("20261127T020000Z").unwrap();
        let ok = manifest("db", "20261127T020000Z", &["files.tar.zst", "app.sql.zst"]);
        assert_eq!(check_manifest(&ok, "db", id), Ok(()));
        let other_id = manifest("db", "20261126T020000Z", &[]);
        assert!(
            check_manifest(&other_id, "db", id)
                .unwrap_err()
                .contains("20261126T020000Z")
        );
        let other_job = manifest("www", "20261127T020000Z", &[]);
        assert!(check_manifest(&other_job, "db", id).is_err());
        for bad in [
            "../../etc/passwd.zst",
            "/abs.zst",
            "a/b.zst",
            "x\u{1b}[2J.zst",
            "manifest.json",
        ] {
            let m = manifest("db", "20261127T020000Z", &[bad]);
            let e = check_manifest(&m, "db", id).unwrap_err();
            assert!(!e.contains('\u{1b}'), "escaped: {e}");
        }
        let twice = manifest("db", "20261127T020000Z", &["a.zst", "a.zst"]);
        assert!(check_manifest(&twice, "db", id).is_err());
    }

    #[test]
    fn file_names_and_the_encryption_record_agree() {
        let id = SnapshotId::parse("20261127T020000Z").unwrap();
        let names = ["files.tar.zst.age", "app.sql.zst.age", "details.json.age"];
        let mut sealed = manifest("db", "20261127T020000Z", &names);
        sealed.encryption = Some(crate::layout::manifest::EncryptionInfo {
            format: "age-v1".into(),
            recipients: vec![],
        });
        assert_eq!(check_manifest(&sealed, "db", id), Ok(()));
        // A server that drops the record (so that a reader would skip decryption) or adds a
        // clear file beside encrypted ones is caught.
        let mut unsealed = sealed.clone();
        unsealed.encryption = None;
        assert!(
            check_manifest(&unsealed, "db", id)
                .unwrap_err()
                .contains("not encrypted")
        );
        sealed.files[1].name = "app.sql.zst".into();
        assert!(check_manifest(&sealed, "db", id).is_err());
    }
}
