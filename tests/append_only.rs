//! `[remotes.NAME] append_only = true` (issue 14, the client's half) on a local remote: a run
//! commits `<id>/` in place with its manifest last and leaves no lock, no `.partial` and no
//! temporary name behind; a failed run leaves its manifest-less `<id>/` (for the server's
//! vault), which is not a snapshot, and the next run commits beside it; retention there is a
//! config error, and `prune` leaves the history alone.

mod common;

use std::fs;
use std::path::Path;

use common::{backup, describe, names, toml_str};

fn config(d: &Path, extra: &str) -> std::path::PathBuf {
    let src = d.join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a.txt"), "hello\n").unwrap();
    let text = format!(
        "[agent]\nstate_dir = {}\n[remotes.v]\ntype = \"local\"\npath = {}\nappend_only = true\n[jobs.t]\nremote = \"v\"\nsources = [{}]\n{extra}",
        toml_str(&d.join("state").to_string_lossy()),
        toml_str(&d.join("repo").to_string_lossy()),
        toml_str(&src.to_string_lossy()),
    );
    let cfg = d.join("config.toml");
    fs::write(&cfg, text).unwrap();
    cfg
}

#[test]
fn a_run_commits_in_place_and_a_failed_one_leaves_only_what_the_vault_cleans() {
    let d = tempfile::tempdir().unwrap();
    let cfg = config(
        d.path(),
        "[[jobs.t.commands]]\nname = \"dump.sql\"\nrun = [\"sh\", \"-c\", \"test -e $0 || exit 7\", \"/nonexistent-marker\"]\n",
    );
    let job = d.path().join("repo/t");

    // The dump fails: nothing committed, and `<id>/` without a manifest stays.
    let out = backup(&cfg, &["run", "t"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let left: Vec<String> = names(&job).into_iter().filter(|n| n != ".owner").collect();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(!job.join(&left[0]).join("manifest.json").exists());
    let listed = backup(&cfg, &["list", "t", "--json"]);
    let snaps: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(
        snaps.as_array().map(Vec::len),
        Some(0),
        "{}",
        describe(&listed)
    );

    // Without the command, the next run commits beside it, in place.
    let cfg = config(d.path(), "");
    let out = backup(&cfg, &["run", "t"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let all = names(&job);
    assert!(
        !all.iter()
            .any(|n| n.starts_with(".lock") || n.contains(".partial")),
        "{all:?}"
    );
    let committed: Vec<&String> = all
        .iter()
        .filter(|n| job.join(n).join("manifest.json").exists())
        .collect();
    assert_eq!(committed.len(), 1, "{all:?}");
    let snap = job.join(committed[0]);
    assert_eq!(
        names(&snap),
        vec!["SHA256SUMS", "files.tar.zst", "manifest.json"]
    );
    let check = std::process::Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(&snap)
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", describe(&check));

    // prune leaves it alone and says why.
    let out = backup(&cfg, &["prune", "t"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("append_only"));
    assert_eq!(names(&job), all);
}

#[test]
fn retention_on_an_append_only_remote_is_a_config_error_naming_the_vault() {
    let d = tempfile::tempdir().unwrap();
    let cfg = config(d.path(), "[jobs.t.retention]\nkeep_last = 2\n");
    let out = backup(&cfg, &["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("append_only") && err.contains("vault"),
        "{err}"
    );
    // An empty per-destination policy is the way to keep one for the other destinations.
    let cfg = config(
        d.path(),
        "[jobs.t.retention]\nkeep_last = 2\n[jobs.t.retention.v]\n",
    );
    let out = backup(&cfg, &["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}
