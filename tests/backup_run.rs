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

#[test]
fn a_missing_optional_source_is_recorded_and_the_run_exits_0() {
    let sshd = common::sshd_or_skip!();
    let src = tempfile::tempdir().unwrap();
    let root = src.path().join("data");
    make_tree(&root, 0);
    let absent = src.path().join("only-on-some-hosts");
    let cfg = sshd.write_config(&format!(
        "[jobs.t]\nremote = \"test\"\nsources = [{}]\noptional_sources = [{}]\n",
        common::toml_str(&root.to_string_lossy()),
        common::toml_str(&absent.to_string_lossy())
    ));
    let out = backup(&cfg, &["run", "t"]);
    // Not a warning: an exit 3 on every run of every host without it teaches people to
    // ignore exit 3.
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let absent = absent.display().to_string();
    assert!(
        err.lines().any(|l| l.contains(" INFO ")
            && l.contains(&format!("optional source {absent} does not exist"))),
        "{err}"
    );
    assert!(!err.contains(" WARN "), "{err}");
    assert!(
        err.contains(&format!("optional source(s) absent: {absent}")),
        "{err}"
    );
    let snap = &snapshots(&sshd.remote_dir().join("t"))[0];
    let m: serde_json::Value =
        serde_json::from_slice(&fs::read(snap.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["skipped_sources"], serde_json::json!([absent]), "{m:#}");
    assert_eq!(m["warnings"], serde_json::json!([]), "{m:#}");
}
