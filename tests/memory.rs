//! Memory stays bounded whatever the size of the data (DESIGN.md: peak RSS under 100 MiB).
//! Measured with `/usr/bin/time -v` on the real binary backing up a 4 GiB file, encrypted with
//! age on the way (the longest pipeline: tar, zstd, age, SHA-256, upload).

mod common;

use std::fs;
use std::io::Write;

use common::{backup_cmd, describe, peak_rss_kib, toml_str};

#[test]
fn four_gib_file_streams_in_under_100_mib() {
    let sshd = common::sshd_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    fs::create_dir_all(&src).unwrap();
    // Mildly compressible, not trivially: zstd has real work and the upload real bytes.
    let mut f = std::io::BufWriter::new(fs::File::create(src.join("huge.bin")).unwrap());
    let mut state: u64 = 88172645463325252;
    let mut block = vec![0u8; 1 << 20];
    for i in 0..4096u64 {
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
    drop(f);
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
