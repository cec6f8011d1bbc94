//! `backup run` end to end against a real sshd: the round trip, the remote layout, and what an
//! operator sees in the exit code and the manifest.

mod common;

use std::fs;

use common::sample::make_tree;
use common::snap::{assert_standard_tools_restore, snapshots};
use common::{backup, describe};

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
    assert_standard_tools_restore(snap, &root);

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
