//! `backup daemon` as a real process against a real sshd: it runs a job on its schedule,
//! `backup status` shows it, SIGHUP with a broken config keeps the old one, SIGTERM stops it
//! with exit 0; and the job lock keeps `backup run` and the daemon from overlapping.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::daemon::{Daemon, wait_for};
use common::{backup, describe};

/// Committed snapshots and `.partial` directories in the job's remote directory.
fn remote_entries(job_dir: &Path) -> (usize, Vec<String>) {
    let names: Vec<String> = fs::read_dir(job_dir)
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let partial = names.iter().filter(|n| n.ends_with(".partial")).cloned();
    let committed = names.iter().filter(|n| !n.starts_with('.')).count();
    (committed, partial.collect())
}

fn source_tree() -> tempfile::TempDir {
    let src = tempfile::tempdir().unwrap();
    fs::create_dir_all(src.path().join("d")).unwrap();
    fs::write(src.path().join("d/a.txt"), "hello\n").unwrap();
    fs::write(src.path().join("b.txt"), "x".repeat(10_000)).unwrap();
    src
}

fn job_toml(src: &Path, schedule: &str) -> String {
    format!(
        "[jobs.t]\nremote = \"test\"\nsources = [{}]\nschedule = \"{schedule}\"\nverify = \"size\"\n",
        common::toml_str(&src.to_string_lossy())
    )
}

/// The config with extra `[agent]` keys.
fn with_agent(cfg: &Path, keys: &str) {
    let text = fs::read_to_string(cfg).unwrap();
    fs::write(
        cfg,
        text.replacen("[agent]\n", &format!("[agent]\n{keys}\n"), 1),
    )
    .unwrap();
}

#[test]
fn daemon_runs_the_schedule_survives_a_bad_reload_and_stops_on_sigterm() {
    let sshd = common::sshd_or_skip!();
    let src = source_tree();
    let cfg = sshd.write_config(&job_toml(src.path(), "*/2 * * * * *"));
    let good = fs::read_to_string(&cfg).unwrap();
    let job_dir = sshd.remote_dir().join("t");
    let mut d = Daemon::start(&cfg, sshd.dir().join("daemon.log"));

    std::thread::sleep(Duration::from_secs(4));
    let out = backup(&cfg, &["status", "--json"]);
    assert!(out.status.success(), "{}", describe(&out));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let t = &status[0];
    assert_eq!(t["job"], "t", "{status}");
    assert!(t["next_run"].is_string(), "{status}");
    assert!(t["next_run_local"].is_string(), "{status}");
    assert_eq!(
        t["last_run"]["trigger"],
        "schedule",
        "{status}\n{}",
        d.log()
    );
    assert_eq!(t["last_run"]["outcome"], "success", "{status}\n{}", d.log());
    assert!(t["last_success"]["snapshot"].is_string(), "{status}");

    std::thread::sleep(Duration::from_secs(3));
    let (before_reload, _) = remote_entries(&job_dir);
    assert!(
        before_reload >= 2,
        "~7 s of */2 s: {before_reload}\n{}",
        d.log()
    );

    fs::write(&cfg, "[agent\nthis is not toml").unwrap();
    d.signal(libc::SIGHUP);
    assert!(
        wait_for(Duration::from_secs(10), || remote_entries(&job_dir).0
            >= before_reload + 2),
        "no snapshots after a bad reload\n{}",
        d.log()
    );
    assert!(d.alive(), "{}", d.log());
    assert!(d.log().contains("config reload failed"), "{}", d.log());
    fs::write(&cfg, good).unwrap();

    d.signal(libc::SIGTERM);
    assert_eq!(d.wait(Duration::from_secs(30)), Some(0), "{}", d.log());
    assert!(d.log().contains("daemon stopped"), "{}", d.log());

    // Whatever a run cut short left behind, the next run removes it.
    let out = backup(&cfg, &["run", "t"]);
    assert!(out.status.success(), "{}", describe(&out));
    let (_, partial) = remote_entries(&job_dir);
    assert!(partial.is_empty(), "{partial:?}");
    let out = backup(&cfg, &["status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status[0]["last_run"]["trigger"], "manual", "{status}");
    assert_eq!(status[0]["running"], serde_json::Value::Null, "{status}");
}

/// A daemon whose run of job `t` holds the job's lock and hangs in an SSH handshake that a
/// stalled proxy never answers. Returns (source, config, daemon, "pid=<daemon pid>").
fn daemon_holding_a_hung_run(
    sshd: &common::Sshd,
    proxy: &common::Proxy,
    shutdown_timeout: &str,
) -> (tempfile::TempDir, PathBuf, Daemon, String) {
    proxy.stall();
    let src = source_tree();
    let cfg = sshd.write_config_port(proxy.port(), "", &job_toml(src.path(), "*/2 * * * * *"));
    with_agent(&cfg, &format!("shutdown_timeout = \"{shutdown_timeout}\""));
    let lock = sshd.dir().join("state/locks/t.lock");
    let d = Daemon::start(&cfg, sshd.dir().join("daemon.log"));
    let pid = format!("pid={}", d.child.id());
    assert!(
        wait_for(Duration::from_secs(15), || fs::read_to_string(&lock)
            .is_ok_and(|s| s.contains(&pid))),
        "{}",
        d.log()
    );
    (src, cfg, d, pid)
}

#[test]
fn manual_run_is_refused_while_the_daemon_runs_the_job_and_a_killed_holder_is_taken_over() {
    let sshd = common::sshd_or_skip!();
    let proxy = common::Proxy::start(sshd.port());
    let (_src, cfg, mut d, pid) = daemon_holding_a_hung_run(&sshd, &proxy, "2s");
    let lock = sshd.dir().join("state/locks/t.lock");

    let out = backup(&cfg, &["run", "t"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("already running") && stderr.contains(&pid),
        "{stderr}"
    );
    let out = backup(&cfg, &["status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        status[0]["running"]
            .as_str()
            .is_some_and(|s| s.contains(&pid)),
        "{status}"
    );

    // A holder killed without a chance to clean up: flock is released by the kernel, the
    // pid stays in the file, and the next run takes over with a warning.
    d.signal(libc::SIGKILL);
    let _ = d.wait(Duration::from_secs(10));
    assert!(fs::read_to_string(&lock).unwrap().contains(&pid));
    proxy.resume();
    let out = backup(&cfg, &["run", "t"]);
    assert!(out.status.success(), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "taking over the lock left by pid {}",
            d.child.id()
        )),
        "{stderr}"
    );
}

#[test]
fn sigterm_cancels_a_hung_run_after_shutdown_timeout_and_records_it() {
    let sshd = common::sshd_or_skip!();
    let proxy = common::Proxy::start(sshd.port());
    let (_src, cfg, mut d, _) = daemon_holding_a_hung_run(&sshd, &proxy, "1s");
    d.signal(libc::SIGTERM);
    assert_eq!(d.wait(Duration::from_secs(20)), Some(0), "{}", d.log());
    let out = backup(&cfg, &["status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status[0]["last_run"]["outcome"], "failed", "{status}");
    assert!(
        status[0]["last_run"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("cancelled")),
        "{status}"
    );
    assert_eq!(status[0]["running"], serde_json::Value::Null, "{status}");
}
