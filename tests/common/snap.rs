//! Looking at what a run left on the (local) server: committed snapshots, leftovers, and
//! `sha256sum -c`, `zstd | tar` in a snapshot directory; writing `[[jobs.t.commands]]` entries.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Sshd, backup, describe, toml_str};

/// Committed snapshots (id-named directories) of a job, oldest first.
pub fn snapshots(job_dir: &Path) -> Vec<PathBuf> {
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

/// Everything in the job directory, hidden entries included.
/// What a job directory holds besides its owner record (`.owner`, written by the first run):
/// snapshots, and whatever a run or prune left behind.
pub fn job_entries(job_dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(job_dir)
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != ".owner")
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

pub fn sha256sum_c(dir: &Path) {
    let out = Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(dir)
        .output();
    let out = out.unwrap();
    assert!(out.status.success(), "{}", describe(&out));
}

/// `backup restore t latest --target DIR/restored` into a fresh `DIR`, which must succeed and
/// give back the tree `root`; `DIR` (kept until dropped) and the restored directory.
pub fn restore_latest_matches(cfg: &Path, root: &Path) -> (tempfile::TempDir, PathBuf) {
    let dest = tempfile::tempdir().unwrap();
    let target = dest.path().join("restored");
    let t = target.to_str().unwrap();
    let out = backup(cfg, &["restore", "t", "latest", "--target", t]);
    assert!(out.status.success(), "{}", describe(&out));
    super::assert_trees_eq(root, &target.join(root.strip_prefix("/").unwrap()));
    (dest, target)
}

/// After a prune with `keep_last = 1` of the snapshots `before` (oldest first): only the
/// newest is left, intact, with no `.deleting`, `.partial` or `.lock` beside it.
pub fn assert_pruned_to_newest(job_dir: &Path, before: &[PathBuf]) {
    let newest = &before[before.len() - 1..];
    assert_eq!(snapshots(job_dir), newest, "the newest is kept");
    let entries = job_entries(job_dir);
    assert_eq!(
        entries.len(),
        1,
        "nothing but the snapshot left: {entries:?}"
    );
    sha256sum_c(&newest[0]);
}

/// Standard tools alone restore snapshot `snap`: `sha256sum -c SHA256SUMS` passes and
/// `zstd -dc files.tar.zst | tar -x` gives back the tree `root` (stored without its leading `/`).
pub fn assert_standard_tools_restore(snap: &Path, root: &Path) {
    sha256sum_c(snap);
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
    super::assert_trees_eq(root, &back);
}

/// `[[jobs.t.commands]]` with `run` as a TOML array and extra lines. Tests of other behaviour
/// dump a few bytes, so the dump guard's floor is off (`min_bytes = 0`) unless `extra` sets it.
pub fn command(name: &str, argv: &[&str], extra: &str) -> String {
    let run: Vec<String> = argv.iter().map(|a| toml_str(a)).collect();
    let floor = if extra.contains("min_bytes") {
        ""
    } else {
        "min_bytes = 0\n"
    };
    format!(
        "[[jobs.t.commands]]\nname = {}\nrun = [{}]\n{floor}{extra}\n",
        toml_str(name),
        run.join(", ")
    )
}

/// A good snapshot first, then the failing job: the result must be "exit 1, nothing new".
pub fn assert_failure_commits_nothing(sshd: &Sshd, failing: &str, expect: &[&str]) {
    let good = sshd.write_config(&format!(
        "[jobs.t]\nremote = \"test\"\n{}",
        command("a.txt", &["echo", "good"], "")
    ));
    let out = backup(&good, &["run", "t"]);
    assert!(out.status.success(), "{}", describe(&out));
    let job_dir = sshd.remote_dir().join("t");
    let before = snapshots(&job_dir);
    let cfg = sshd.write_config(&format!("[jobs.t]\nremote = \"test\"\n{failing}"));
    let out = backup(&cfg, &["run", "t"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for e in expect {
        assert!(stderr.contains(e), "missing {e:?} in:\n{stderr}");
    }
    assert_eq!(snapshots(&job_dir), before);
    assert_eq!(
        job_entries(&job_dir).len(),
        before.len(),
        "leftovers: {:?}",
        job_entries(&job_dir)
    );
    for s in &before {
        sha256sum_c(s);
    }
}
