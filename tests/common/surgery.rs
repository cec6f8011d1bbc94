//! Changing a snapshot on the server's disk as a hostile server (or an intruder on it) would:
//! rewriting its manifest, resealing it (sizes, hashes and `SHA256SUMS` recomputed from what
//! is on disk, so every checksum passes again), copying it under other ids, and planting a
//! snapshot made from a hand-built tar.

use std::fs;
use std::path::{Path, PathBuf};

use backup_agent::layout::SnapshotId;
use backup_agent::layout::manifest::{FileEntry, Manifest, Stats};
use sha2::{Digest, Sha256};

/// The id of a snapshot directory (its name).
pub fn id_of(snap: &Path) -> String {
    snap.file_name().unwrap().to_string_lossy().into_owned()
}

/// The id `secs` seconds after `id` (before it, when negative).
pub fn shifted(id: &str, secs: i64) -> String {
    let t = SnapshotId::parse(id).expect("a snapshot id").time();
    SnapshotId::from_time(t + chrono::Duration::seconds(secs)).to_string()
}

pub fn read_manifest(snap: &Path) -> Manifest {
    let bytes = fs::read(snap.join("manifest.json")).unwrap();
    Manifest::from_json(&bytes).unwrap()
}

pub fn write_manifest(snap: &Path, m: &Manifest) {
    fs::write(snap.join("manifest.json"), m.to_json()).unwrap();
}

/// Rewrites the manifest of `snap` through `edit`.
pub fn edit_manifest(snap: &Path, edit: impl FnOnce(&mut Manifest)) {
    let mut m = read_manifest(snap);
    edit(&mut m);
    write_manifest(snap, &m);
}

/// SHA-256 (hex) of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Makes the manifest's sizes and hashes, and `SHA256SUMS`, agree with the regular files on
/// disk again, so that every checksum passes (what a careful attacker does after editing).
pub fn reseal(snap: &Path) {
    let mut m = read_manifest(snap);
    for f in &mut m.files {
        let data = fs::read(snap.join(&f.name)).unwrap();
        f.size = data.len() as u64;
        f.sha256 = sha256_hex(&data);
    }
    write_manifest(snap, &m);
    write_sums(snap, &m);
}

/// Writes `SHA256SUMS` of `snap` as the manifest `m` has it, names and all.
pub fn write_sums(snap: &Path, m: &Manifest) {
    let sums: String = m
        .files
        .iter()
        .map(|f| format!("{}  {}\n", f.sha256, f.name))
        .collect();
    fs::write(snap.join("SHA256SUMS"), sums).unwrap();
}

/// Copies the (flat) snapshot directory `src` to the sibling `id`, its manifest naming `id`:
/// another intact snapshot of the same job, to be damaged by the test.
pub fn clone_snapshot(src: &Path, id: &str) -> PathBuf {
    let dst = src.with_file_name(id);
    fs::create_dir(&dst).unwrap();
    for e in fs::read_dir(src).unwrap().flatten() {
        fs::copy(e.path(), dst.join(e.file_name())).unwrap();
    }
    edit_manifest(&dst, |m| m.snapshot = id.to_string());
    dst
}

/// A GNU tar header of `kind` and `size`: mode 0644, owner 0:0, a fixed mtime.
pub fn header(kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_mtime(1_700_000_000);
    h.set_uid(0);
    h.set_gid(0);
    h.set_size(size);
    h
}

/// A tar entry whose name and link name are written raw, so the `tar` crate's own checks do
/// not stop a hostile one; a regular file holds `pwned\n`.
pub fn raw_entry(tar: &mut tar::Builder<Vec<u8>>, name: &str, kind: tar::EntryType, link: &str) {
    let data: &[u8] = if kind == tar::EntryType::Regular {
        b"pwned\n"
    } else {
        &[]
    };
    let mut h = header(kind, data.len() as u64);
    let gnu = h.as_gnu_mut().unwrap();
    gnu.name[..name.len()].copy_from_slice(name.as_bytes());
    gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
    h.set_cksum();
    tar.append(&h, data).unwrap();
}

/// A regular file entry with `data` and a name of any length (GNU long-name records, as GNU
/// tar writes them).
pub fn long_entry(tar: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
    let mut h = header(tar::EntryType::Regular, data.len() as u64);
    tar.append_data(&mut h, name, data).unwrap();
}

/// A device node entry of `kind` (`Char` or `Block`), 1:5 as `/dev/zero` is.
pub fn device_entry(tar: &mut tar::Builder<Vec<u8>>, name: &str, kind: tar::EntryType) {
    let mut h = header(kind, 0);
    h.set_mode(0o666);
    h.set_device_major(1).unwrap();
    h.set_device_minor(5).unwrap();
    tar.append_data(&mut h, name, &[][..]).unwrap();
}

/// Puts `tar_bytes` on the server as committed snapshot `id` of job `t` under `remote`, with
/// a manifest and `SHA256SUMS` that match it, so every checksum passes.
pub fn plant_snapshot(remote: &Path, id: &str, tar_bytes: &[u8]) -> PathBuf {
    let zst = zstd::encode_all(tar_bytes, 3).unwrap();
    let sha = sha256_hex(&zst);
    let dir = remote.join("t").join(id);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("files.tar.zst"), &zst).unwrap();
    fs::write(dir.join("SHA256SUMS"), format!("{sha}  files.tar.zst\n")).unwrap();
    let now = chrono::Utc::now();
    let m = Manifest {
        format_version: 1,
        program: "backup-agent".into(),
        program_version: "test".into(),
        job: "t".into(),
        snapshot: id.into(),
        host: "test".into(),
        started_at: now,
        finished_at: now,
        files: vec![FileEntry {
            name: "files.tar.zst".into(),
            size: zst.len() as u64,
            sha256: sha,
            raw_size: tar_bytes.len() as u64,
        }],
        sources: Some(vec![]),
        exclude: Some(vec![]),
        commands: vec![],
        stats: Some(Stats::default()),
        warnings: Some(vec![]),
        encryption: None,
        skipped_sources: vec![],
        verified_by: "size".into(),
    };
    write_manifest(&dir, &m);
    dir
}
