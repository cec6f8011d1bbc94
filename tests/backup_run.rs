//! `backup run` end to end against a real sshd: the round trip, the remote layout, and what an
//! operator sees in the exit code and the manifest.

mod common;

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{backup, describe};

/// The tree the acceptance criteria name: nested dirs, an empty dir, a symlink, a hard link,
/// a 0-byte file, a large file, modes 0600/0755 and a non-UTF-8 name.
fn make_tree(root: &Path, big_mib: usize) {
    fs::create_dir_all(root.join("a/b/c")).unwrap();
    fs::create_dir_all(root.join("empty")).unwrap();
    fs::write(root.join("a/b/c/deep.txt"), "deep\n").unwrap();
    fs::write(root.join("zero"), "").unwrap();
    fs::write(root.join("secret"), "s3cret\n").unwrap();
    fs::set_permissions(root.join("secret"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::write(root.join("tool.sh"), "#!/bin/sh\necho hi\n").unwrap();
    fs::set_permissions(root.join("tool.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    symlink("a/b/c/deep.txt", root.join("link")).unwrap();
    fs::write(root.join("orig"), "linked\n").unwrap();
    fs::hard_link(root.join("orig"), root.join("hard")).unwrap();
    let odd = std::ffi::OsStr::from_bytes(b"caf\xe9-latin1");
    fs::write(root.join(odd), "non-utf8 name\n").unwrap();
    let long = "n".repeat(120);
    fs::create_dir_all(root.join(&long).join(&long)).unwrap();
    fs::write(root.join(&long).join(&long).join("f"), "long path\n").unwrap();
    // Incompressible data, so the stored size is real.
    let mut big = fs::File::create(root.join("big.bin")).unwrap();
    let mut state: u64 = 0x9e3779b97f4a7c15;
    let mut buf = vec![0u8; 1 << 20];
    for _ in 0..big_mib {
        for b in buf.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            b.copy_from_slice(&state.to_le_bytes()[..b.len()]);
        }
        std::io::Write::write_all(&mut big, &buf).unwrap();
    }
}

fn snapshots(job_dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(job_dir)
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| {
        p.file_name()
            .is_some_and(|n| !n.as_bytes().starts_with(b"."))
    });
    v.sort();
    v
}

#[test]
fn round_trip_restores_identically_with_standard_tools() {
    let sshd = common::sshd_or_skip!();
    let src = tempfile::tempdir().unwrap();
    let root = src.path().join("data");
    make_tree(&root, 65);
    let cfg = sshd.write_config(&format!(
        "[jobs.t]\nremote = \"test\"\nsources = [{}]\nverify = \"auto\"\n",
        common::toml_str(&root.to_string_lossy())
    ));
    let out = backup(&cfg, &["run", "t"]);
    assert!(out.status.success(), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("committed"),
        "summary line missing: {stderr}"
    );
    assert!(stderr.contains("verified by remote-hash"), "{stderr}");

    let snaps = snapshots(&sshd.remote_dir().join("t"));
    assert_eq!(snaps.len(), 1, "{snaps:?}");
    let snap = &snaps[0];
    let mut names: Vec<String> = fs::read_dir(snap)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["SHA256SUMS", "files.tar.zst", "manifest.json"]);
    let check = Command::new("sha256sum")
        .arg("-c")
        .arg("SHA256SUMS")
        .current_dir(snap)
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", describe(&check));

    let restored = tempfile::tempdir().unwrap();
    let st = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "zstd -dc {}/files.tar.zst | tar -x --numeric-owner -p -C {}",
            snap.display(),
            restored.path().display()
        ))
        .status()
        .unwrap();
    assert!(st.success());
    let back = restored.path().join(root.strip_prefix("/").unwrap());
    common::assert_trees_eq(&root, &back);

    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(snap.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["job"], "t");
    assert_eq!(manifest["format_version"], 1);
    assert_eq!(manifest["files"][0]["name"], "files.tar.zst");
    assert_eq!(manifest["verified_by"], "remote-hash");
    assert!(manifest["stats"]["files"].as_u64().unwrap() >= 9);

    // list --json shows exactly the committed snapshot.
    let out = backup(&cfg, &["list", "t", "--json"]);
    assert!(out.status.success(), "{}", describe(&out));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(
        listed[0]["id"],
        snap.file_name().unwrap().to_string_lossy().as_ref()
    );
}
