//! Memory stays bounded whatever the size of the data (DESIGN.md: peak RSS under 100 MiB).
//! Measured with `/usr/bin/time -v` on the real binary backing up a 4 GiB file, encrypted with
//! age on the way (the longest pipeline: tar, zstd, age, SHA-256, upload).

mod common;

use std::fs;
use std::io::Write;

use common::{backup_cmd, describe, peak_rss_kib, toml_str};

/// Mildly compressible, not trivially: zstd has real work and the upload real bytes.
fn write_data(path: &std::path::Path, mib: u64) {
    let mut f = std::io::BufWriter::new(fs::File::create(path).unwrap());
    let mut state: u64 = 88172645463325252;
    let mut block = vec![0u8; 1 << 20];
    for i in 0..mib {
        for (j, b) in block.chunks_mut(8).enumerate() {
            if j % 4 == 0 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
            }
            b.copy_from_slice(&(state ^ i).to_le_bytes()[..b.len()]);
        }
        f.write_all(&block).unwrap();
    }
    f.flush().unwrap();
}

#[test]
fn four_gib_file_streams_in_under_100_mib() {
    let sshd = common::sshd_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    fs::create_dir_all(&src).unwrap();
    write_data(&src.join("huge.bin"), 4096);
    let recipient = age::x25519::Identity::generate().to_public().to_string();
    let cfg = sshd.write_config(&format!(
        "[jobs.t]\nremote = \"test\"\nsources = [{}]\nverify = \"size\"\n[jobs.t.encryption]\nrecipients = [{}]\n",
        toml_str(&src.to_string_lossy()),
        toml_str(&recipient)
    ));
    let (out, kib) = peak_rss_kib(&backup_cmd(&cfg, &["run", "t"]));
    assert!(out.status.success(), "{}", describe(&out));
    eprintln!("peak RSS backing up 4 GiB, encrypted: {} MiB", kib / 1024);
    let snap = common::snap::snapshots(&sshd.remote_dir().join("t"))
        .pop()
        .unwrap();
    assert!(snap.join("files.tar.zst.age").exists());
    assert!(kib < 100 * 1024, "peak RSS {kib} KiB is over 100 MiB");
}

/// A job's streams all run at once, so they share its zstd workers (snapshot/workers.rs):
/// before that, every stream started one worker per core and held a full set of writes in
/// flight, and a job with sources and four dumps took 106-130 MiB over SSH on 2 cores.
#[test]
fn a_tree_and_four_dumps_at_once_stay_under_100_mib() {
    let sshd = common::sshd_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    fs::create_dir_all(&src).unwrap();
    let dump = d.path().join("dump.bin");
    write_data(&dump, 384);
    fs::copy(&dump, src.join("data.bin")).unwrap();
    let mut jobs = format!(
        "[jobs.t]\nremote = \"test\"\nsources = [{}]\nverify = \"size\"\n",
        toml_str(&src.to_string_lossy())
    );
    for n in 1..=4 {
        jobs += &format!(
            "[[jobs.t.commands]]\nname = \"db{n}.bin\"\nrun = [\"cat\", {}]\n",
            toml_str(&dump.to_string_lossy())
        );
    }
    let cfg = sshd.write_config(&jobs);
    let (out, kib) = peak_rss_kib(&backup_cmd(&cfg, &["run", "t"]));
    assert!(out.status.success(), "{}", describe(&out));
    eprintln!(
        "peak RSS backing up a tree and four dumps at once: {} MiB",
        kib / 1024
    );
    let snap = common::snap::snapshots(&sshd.remote_dir().join("t"))
        .pop()
        .unwrap();
    for n in 1..=4 {
        let stored = fs::read(snap.join(format!("db{n}.bin.zst"))).unwrap();
        assert_eq!(
            zstd::decode_all(&stored[..]).unwrap().len(),
            384 << 20,
            "db{n}.bin.zst"
        );
    }
    assert!(kib < 100 * 1024, "peak RSS {kib} KiB is over 100 MiB");
}
