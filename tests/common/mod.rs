//! Shared integration-test harness for `backup`.
//!
//! Include with `mod common;`. Pieces:
//! - [`Sshd`] (sshd.rs): a real OpenSSH server on 127.0.0.1 with fresh keys in a temp dir,
//!   plus its config, `known_hosts` and the product config;
//! - [`Proftpd`] (proftpd.rs): the same with ProFTPD's mod_sftp, an SFTP-only server;
//! - [`Rclone`] (rclone.rs): `rclone serve sftp`, a gateway that takes writes only in order;
//! - [`server::SshServer`] (server.rs, server_files.rs): what both deref to (temp dir, keys,
//!   `known_hosts`, `write_config`, process control);
//! - [`hosts`] (hosts.rs): configs for several agents (host name, state dir) on one server,
//!   local (`type = "local"`) or SFTP, and running the binary under a deadline;
//! - [`Proxy`] (proxy.rs): a loopback TCP forwarder that can cut or stall connections;
//! - [`SmallFs`] (fs.rs): a size-limited tmpfs for disk-full tests (root only);
//! - [`postgres::Postgres`] (postgres.rs): a real PostgreSQL server for dump tests (root only);
//! - http.rs: loopback HTTP endpoints that record or ignore notifications;
//! - [`tree_digest`] (tree.rs): a comparable description of a directory tree;
//! - daemon.rs: `backup daemon` as a child process (log file, signals, deadline);
//! - bounded.rs: running `backup` under a deadline (killed by PID, the test fails);
//! - [`sentinel::Sentinels`] (sentinel.rs): paths outside a command's reach, proved untouched;
//! - surgery.rs: editing a snapshot on the server's disk as a hostile server would;
//! - here: running the `backup` binary, peak-RSS measurement, process-tree helpers.
//!
//! Tests skip (return early) when sshd (or proftpd) cannot run, unless
//! `BACKUP_TEST_REQUIRE_SSHD=1` (CI), which turns every "cannot run here" into a panic:
//! `let Some(sshd) = common::sshd() else { return };`
#![allow(dead_code)]

pub mod bounded;
pub mod daemon;
pub mod fs;
pub mod hosts;
pub mod http;
pub mod postgres;
pub mod proftpd;
pub mod proxy;
pub mod rclone;
pub mod recipe;
pub mod sample;
pub mod sentinel;
pub mod server;
pub mod server_files;
pub mod snap;
pub mod sshd;
pub mod surgery;
pub mod tree;

use std::ffi::OsStr;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

// Re-exports and the macro are for tests; any one test binary uses only some of them.
#[allow(unused_imports)]
pub use self::fs::SmallFs;
#[allow(unused_imports)]
pub use self::proftpd::Proftpd;
#[allow(unused_imports)]
pub use self::proxy::Proxy;
#[allow(unused_imports)]
pub use self::rclone::Rclone;
#[allow(unused_imports)]
pub use self::server::SshServer;
#[allow(unused_imports)]
pub use self::server_files::{HostKeyType, toml_str};
#[allow(unused_imports)]
pub use self::sshd::{Sshd, SshdBuilder};
#[allow(unused_imports)]
pub use self::tree::{Entry, Kind, assert_trees_eq, diff_digests, tree_digest};

/// `BACKUP_TEST_REQUIRE_SSHD=1`: environment problems must fail tests instead of skipping them.
pub fn require_sshd() -> bool {
    std::env::var_os("BACKUP_TEST_REQUIRE_SSHD").is_some_and(|v| v == "1")
}

/// Default sshd, or `None` (test should return) when it cannot run here.
pub fn sshd() -> Option<Sshd> {
    Sshd::start()
}

/// SFTP-only sshd (`ForceCommand internal-sftp`), or `None` when it cannot run here.
pub fn sshd_sftp_only() -> Option<Sshd> {
    Sshd::builder().sftp_only(true).start()
}

/// `let sshd = common::sshd_or_skip!();` returns from the test if sshd is unavailable.
#[allow(unused_macros)]
macro_rules! sshd_or_skip {
    () => {
        match $crate::common::Sshd::start() {
            Some(sshd) => sshd,
            None => return,
        }
    };
}
#[allow(unused_imports)]
pub(crate) use sshd_or_skip;

/// Path of the `backup` binary: Cargo's `CARGO_BIN_EXE_backup` in this crate's integration
/// tests, else `$BACKUP_BIN`, else `backup` from `PATH`.
pub fn bin() -> PathBuf {
    if let Some(p) = option_env!("CARGO_BIN_EXE_backup") {
        return PathBuf::from(p);
    }
    std::env::var_os("BACKUP_BIN").map_or_else(|| PathBuf::from("backup"), PathBuf::from)
}

/// `backup --config CONFIG ARGS...` ready to spawn (stdin null).
pub fn backup_cmd(config: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::null());
    cmd
}

/// The names in `dir`, sorted.
pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("list {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Run `backup --config CONFIG ARGS...` to completion.
pub fn backup(config: &Path, args: &[&str]) -> Output {
    backup_cmd(config, args)
        .output()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", bin().display()))
}

/// Status, stdout and stderr of a finished command, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Run `cmd` under `/usr/bin/time -v` and return its output and peak RSS in KiB.
/// The report goes to a separate file, so the command's own stderr is untouched.
pub fn peak_rss_kib(cmd: &Command) -> (Output, u64) {
    let report = tempfile::NamedTempFile::new().expect("temp file");
    let mut timed = Command::new("/usr/bin/time");
    timed
        .arg("-v")
        .arg("-o")
        .arg(report.path())
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => timed.env(key, v),
            None => timed.env_remove(key),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        timed.current_dir(dir);
    }
    let out = timed
        .stdin(Stdio::null())
        .output()
        .expect("spawn /usr/bin/time");
    let text = std::fs::read_to_string(report.path()).unwrap_or_default();
    let kib = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "no RSS in /usr/bin/time report:\n{text}\n{}",
                describe(&out)
            )
        });
    (out, kib)
}

/// A 127.0.0.1 port that was free a moment ago (bind to :0, read, drop).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().unwrap().port()
}

/// `root` and all its descendants as `(pid, start time)`, found via `/proc/*/stat`.
pub fn process_tree(root: u32) -> Vec<(u32, u64)> {
    process_levels(root).into_iter().flatten().collect()
}

/// [`process_tree`] grouped by depth: `[[root], [children], [grandchildren], ...]`.
pub fn process_levels(root: u32) -> Vec<Vec<(u32, u64)>> {
    let mut all = Vec::new(); // (pid, ppid, starttime)
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some((ppid, start)) = stat_of(pid) {
            all.push((pid, ppid, start));
        }
    }
    let mut levels: Vec<Vec<(u32, u64)>> = vec![
        all.iter()
            .filter(|p| p.0 == root)
            .map(|p| (p.0, p.2))
            .collect(),
    ];
    while let Some(last) = levels.last().filter(|l| !l.is_empty()) {
        let next: Vec<_> = all
            .iter()
            .filter(|p| p.0 != root && last.iter().any(|q| q.0 == p.1))
            .map(|p| (p.0, p.2))
            .collect();
        levels.push(next);
    }
    levels.pop(); // the empty one
    levels
}

/// Signal `root`'s whole tree, deepest processes first, giving each parent up to 200 ms to
/// reap its children before it is signalled itself (orphaned zombies are never reaped where
/// PID 1 is not an init, e.g. some sandboxes and `docker run` without `--init`).
/// Returns the snapshot, for a follow-up [`signal_tree`].
pub fn kill_tree(root: u32, sig: i32) -> Vec<(u32, u64)> {
    let levels = process_levels(root);
    for level in levels.iter().rev() {
        signal_tree(level, sig);
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(200);
        while level
            .iter()
            .any(|&(pid, start)| stat_of(pid).is_some_and(|(_, s)| s == start) && pid != root)
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
    levels.into_iter().flatten().collect()
}

/// Signal every process of a [`process_tree`] snapshot that still exists with the same start
/// time (so a recycled PID is never hit).
pub fn signal_tree(tree: &[(u32, u64)], sig: i32) {
    for &(pid, start) in tree {
        if stat_of(pid).is_some_and(|(_, s)| s == start) {
            // SAFETY: plain kill(2) on a PID we verified belongs to our process tree.
            unsafe { libc::kill(pid as libc::pid_t, sig) };
        }
    }
}

/// `(ppid, starttime)` from `/proc/PID/stat`.
fn stat_of(pid: u32) -> Option<(u32, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    Some((fields.get(1)?.parse().ok()?, fields.get(19)?.parse().ok()?))
}

/// Run a program, panicking with its output unless it succeeds.
pub fn run_ok<S: AsRef<OsStr>>(program: &str, args: &[S]) -> Output {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output();
    let out = out.unwrap_or_else(|e| panic!("spawn {program}: {e}"));
    assert!(out.status.success(), "{program} failed\n{}", describe(&out));
    out
}

/// Output of `cmd`, whose program is a copy of the binary just written (for a user who cannot
/// reach the checkout, e.g. a clone under a 0700 /root). Another test thread that forks while
/// the copy is still open for writing hands its child that descriptor until the child execs,
/// and meanwhile exec of the copy fails with "text file busy": try again briefly.
pub fn output_of_copied(cmd: &mut Command) -> Output {
    for _ in 0..100 {
        match cmd.output() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other.unwrap(),
        }
    }
    cmd.output().unwrap()
}
