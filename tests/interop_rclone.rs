//! The product against `rclone serve sftp` with its default VFS options: a Go SFTP server
//! (pkg/sftp) that streams each file to its backend and so refuses a write that is not at the
//! end of the file ("Illegal seek"). The agent tells it from its SSH version string
//! (`SSH-2.0-rclone/…`) and writes each file in offset order on one handle; rclone has no
//! `sha256sum`, so `verify = "auto"` reads every byte back.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::sample::{job_toml, make_tree};
use common::snap::{
    assert_pruned_to_newest, command, restore_latest_matches, sha256sum_c, snapshots,
};
use common::{Rclone, backup, backup_cmd, describe};
use tempfile::TempDir;

/// `backup --config CFG ARGS...`, which must succeed; its stdout and stderr.
fn backup_ok(server: &Rclone, cfg: &Path, args: &[&str]) -> (String, String) {
    let out = backup_cmd(cfg, args).output().unwrap();
    assert!(out.status.success(), "{}\n{}", describe(&out), server.log());
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (text(&out.stdout), text(&out.stderr))
}

/// A started server and a source tree `data/` (3 MiB file); `None` when rclone is absent.
fn started() -> Option<(Rclone, TempDir, PathBuf)> {
    let server = Rclone::start()?;
    let src = tempfile::tempdir().unwrap();
    let root = src.path().join("data");
    make_tree(&root, 3);
    Some((server, src, root))
}

#[test]
fn run_list_verify_restore_and_prune_work_against_rclone_serve_sftp() {
    let Some((server, _src, root)) = started() else {
        return;
    };
    let dump = ["sh", "-c", "seq 1 100000"];
    let jobs = format!(
        "{}{}",
        job_toml("t", &root, "verify = \"auto\"\n"),
        command("app.sql", &dump, "")
    );
    let cfg = server.write_config_with("", &jobs);

    let (checked, _) = backup_ok(&server, &cfg, &["check", "--connect"]);
    assert!(
        checked.contains("go in offset order on one channel"),
        "{checked}"
    );
    let (_, err) = backup_ok(&server, &cfg, &["-v", "run", "t"]);
    assert!(err.contains("writes in sequential order"), "{err}");
    assert!(err.contains("rclone serve sftp"), "{err}");
    assert!(err.contains("verified by readback"), "{err}");
    let job_dir = server.remote_dir().join("t");
    let snaps = snapshots(&job_dir);
    assert_eq!(snaps.len(), 1, "{snaps:?} ({})", server.version());
    sha256sum_c(&snaps[0]);

    let (listed, _) = backup_ok(&server, &cfg, &["list", "t", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(v.as_array().map(Vec::len), Some(1), "{listed}");

    let (verified, _) = backup_ok(&server, &cfg, &["verify", "t", "--all"]);
    assert!(verified.contains("intact"), "{verified}");
    let (verified, _) = backup_ok(&server, &cfg, &["verify", "t", "--all", "--read"]);
    assert!(verified.contains("intact"), "{verified}");

    let (_dest, target) = restore_latest_matches(&cfg, &root);
    let want: String = (1..=100_000).map(|i| format!("{i}\n")).collect();
    assert_eq!(fs::read_to_string(target.join("app.sql")).unwrap(), want);

    backup_ok(&server, &cfg, &["run", "t"]);
    let before = snapshots(&job_dir);
    assert_eq!(before.len(), 2, "{before:?}");
    let keep_one =
        server.write_config_with("", &format!("{jobs}[jobs.t.retention]\nkeep_last = 1\n"));
    backup_ok(&server, &keep_one, &["prune", "t"]);
    assert_pruned_to_newest(&job_dir, &before);
}

/// Forced to spread writes over channels, the upload fails; the run commits nothing and
/// its hint names the setting that fixes it.
#[test]
fn out_of_order_writes_fail_with_a_hint_and_commit_nothing() {
    let Some((server, _src, root)) = started() else {
        return;
    };
    let cfg = server.write_config_with("write_order = \"any\"", &job_toml("t", &root, ""));
    let out = backup(&cfg, &["run", "t"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("write_order = \"sequential\""), "{err}");
    assert!(snapshots(&server.remote_dir().join("t")).is_empty());
}
