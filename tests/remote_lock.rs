//! The lock on the server (`<path>/<job>/.lock`, repository/lock.rs): a fresh one held by
//! another host refuses `run` and `prune` and changes nothing; one not refreshed for an hour is
//! taken over with a warning; one left by a SIGKILLed run on this machine does not block the
//! next run. Against a local directory and a real sshd.

mod common;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::hosts::{assert_exit, for_each_server, host, ids, server_state, stderr};
use common::sample::{job_toml, make_tree};
use common::snap::job_entries;

/// A lock as another agent writes it (the fields of repository/lock.rs), last refreshed at
/// `refreshed`.
fn foreign_lock(job_dir: &Path, refreshed: DateTime<Utc>) {
    let lock = serde_json::json!({
        "host": "gamma",
        "machine_id": "0123456789abcdef0123456789abcdef",
        "pid": 4242,
        "started_at": refreshed,
        "refreshed_at": refreshed,
    });
    fs::write(job_dir.join(".lock"), lock.to_string()).unwrap();
}

fn small_tree(root: &Path) {
    fs::create_dir_all(root).unwrap();
    fs::write(root.join("f.txt"), "hello\n").unwrap();
}

#[test]
fn a_fresh_lock_refuses_run_and_prune_and_a_stale_one_is_taken_over() {
    for_each_server(|server, dir, base| {
        let label = server.label();
        let root = dir.join("data");
        small_tree(&root);
        let path = base.to_str().unwrap();
        let plain = host(dir, "alpha", server, path, &job_toml("t", &root, ""));
        plain.ok(&["run", "t"]);
        plain.ok(&["run", "t"]);
        let job_dir = base.join("t");
        let made = ids(&job_dir);

        foreign_lock(&job_dir, Utc::now());
        let before = server_state(base);
        let out = plain.backup(&["run", "t"]);
        assert_exit(&out, 1, &format!("{label}: run under a fresh lock"));
        let err = stderr(&out);
        assert!(
            err.contains("is locked by host gamma pid 4242") && err.contains("nothing was written"),
            "{label}: says it is locked and by whom\n{err}"
        );
        assert_eq!(
            server_state(base),
            before,
            "{label}: the run changed nothing"
        );

        let pruning = host(
            dir,
            "alpha",
            server,
            path,
            &job_toml("t", &root, "[jobs.t.retention]\nkeep_last = 1"),
        );
        let out = pruning.backup(&["prune", "t"]);
        assert_exit(&out, 1, &format!("{label}: prune under a fresh lock"));
        assert!(
            stderr(&out).contains("is locked by host gamma pid 4242"),
            "{label}\n{}",
            stderr(&out)
        );
        assert_eq!(
            server_state(base),
            before,
            "{label}: the prune removed nothing"
        );

        // The same lock, last refreshed an hour ago: its holder is gone.
        foreign_lock(&job_dir, Utc::now() - chrono::TimeDelta::hours(1));
        let plain = host(dir, "alpha", server, path, &job_toml("t", &root, ""));
        let out = plain.ok(&["run", "t"]);
        let err = stderr(&out);
        assert!(
            err.contains("taking over the stale lock") && err.contains("not refreshed"),
            "{label}: warns\n{err}"
        );
        let now = ids(&job_dir);
        assert_eq!(now.len(), 3, "{label}: the run committed");
        assert_eq!(now[..2], made[..], "{label}");
        assert_eq!(job_entries(&job_dir), now, "{label}: the lock is released");
    });
}

/// Waits until the run holds the server's lock and has uploaded more than 256 KiB into its
/// `.partial`.
fn wait_mid_upload(job_dir: &Path, child: &mut std::process::Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let uploading = || {
        job_dir.join(".lock").is_file()
            && fs::read_dir(job_dir).unwrap().flatten().any(|e| {
                e.file_name().to_string_lossy().ends_with(".partial")
                    && fs::metadata(e.path().join("files.tar.zst"))
                        .is_ok_and(|m| m.len() > 256 << 10)
            })
    };
    while !job_dir.exists() || !uploading() {
        assert!(Instant::now() < deadline, "the upload never started");
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_lock_left_by_a_killed_run_does_not_block_the_next_run() {
    let src = tempfile::tempdir().unwrap();
    let big = src.path().join("big");
    make_tree(&big, 24);
    let small = src.path().join("small");
    small_tree(&small);
    for_each_server(|server, dir, base| {
        let label = server.label();
        let path = base.to_str().unwrap();
        // zstd at level 19 is slow on incompressible data: there is time to kill it mid-way.
        let slow = job_toml("t", &big, "[jobs.t.compression]\nlevel = 19");
        let h = host(dir, "alpha", server, path, &slow);
        let job_dir = base.join("t");
        let mut child = common::backup_cmd(&h.config, &["run", "t"])
            .spawn()
            .unwrap();
        wait_mid_upload(&job_dir, &mut child);
        // SIGKILL, to this one process by its PID.
        child.kill().unwrap();
        child.wait().unwrap();
        let lock: serde_json::Value =
            serde_json::from_slice(&fs::read(job_dir.join(".lock")).unwrap()).unwrap();
        assert_eq!(
            lock["pid"],
            child.id(),
            "{label}: the killed run's lock is left"
        );
        assert_eq!(lock["host"], "alpha", "{label}");
        let left = job_entries(&job_dir);
        assert!(
            left.iter().any(|n| n.ends_with(".partial")),
            "{label}: {left:?}"
        );

        let h = host(dir, "alpha", server, path, &job_toml("t", &small, ""));
        let out = h.ok(&["run", "t"]);
        let err = stderr(&out);
        assert!(
            err.contains("taking over the stale lock")
                && err.contains(&format!(
                    "its process {} on this machine is gone",
                    child.id()
                )),
            "{label}: warns\n{err}"
        );
        let snaps = ids(&job_dir);
        assert_eq!(snaps.len(), 1, "{label}");
        assert_eq!(
            job_entries(&job_dir),
            snaps,
            "{label}: the lock and the killed run's .partial are gone"
        );
    });
}
