//! `backup daemon` as a fleet runs it: one daemon per state_dir (a second one is refused and
//! named, a SIGKILLed one never blocks the next), `backup status` saying whether one runs, the
//! heartbeat metric, and `verify_schedule` catching a snapshot damaged on the server's disk
//! (state file, metrics, webhook). The shipped Grafana dashboard queries only metrics that
//! this daemon exports.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::time::Duration;

use common::daemon::{Daemon, wait_for};
use common::{backup, describe};

fn config(sshd: &common::Sshd, src: &Path, agent: &str, job_extra: &str) -> std::path::PathBuf {
    fs::write(src.join("a.txt"), "x".repeat(50_000)).unwrap();
    let job = format!(
        "[jobs.t]\nremote = \"test\"\nsources = [{}]\nschedule = \"0 3 * * *\"\nverify = \"size\"\n{job_extra}",
        common::toml_str(&src.to_string_lossy())
    );
    let cfg = sshd.write_config(&job);
    let text = fs::read_to_string(&cfg).unwrap();
    fs::write(
        &cfg,
        text.replacen("[agent]\n", &format!("[agent]\n{agent}\n"), 1),
    )
    .unwrap();
    cfg
}

fn status_json(cfg: &Path) -> serde_json::Value {
    let out = backup(cfg, &["status", "--json"]);
    assert!(out.status.success(), "{}", describe(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn status_text(cfg: &Path) -> String {
    let out = backup(cfg, &["status"]);
    assert!(out.status.success(), "{}", describe(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn started(d: &Daemon) -> bool {
    wait_for(Duration::from_secs(15), || {
        d.log().contains("daemon started")
    })
}

#[test]
fn one_daemon_per_state_dir_a_killed_one_never_blocks_and_status_says_which_runs() {
    let sshd = common::sshd_or_skip!();
    let src = tempfile::tempdir().unwrap();
    let cfg = config(&sshd, src.path(), "", "");

    let text = status_text(&cfg);
    assert!(text.contains("daemon: not running"), "{text}");
    assert!(
        text.contains("next run:      - (no daemon running)"),
        "{text}"
    );
    let s = status_json(&cfg);
    assert!(
        s[0]["daemon"].is_null() && s[0]["next_run"].is_null(),
        "{s}"
    );

    let mut first = Daemon::start(&cfg, sshd.dir().join("first.log"));
    assert!(started(&first), "{}", first.log());
    let pid = first.child.id();
    let s = status_json(&cfg);
    assert_eq!(s[0]["daemon"]["pid"], pid, "{s}");
    assert!(s[0]["daemon"]["since"].is_string(), "{s}");
    assert!(s[0]["next_run"].is_string(), "{s}");
    let text = status_text(&cfg);
    assert!(
        text.contains(&format!("daemon: running (pid {pid}, since ")),
        "{text}"
    );

    let second = common::bounded::backup_within(&cfg, &["daemon"]);
    assert_eq!(second.status.code(), Some(1), "{}", describe(&second));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains("another backup daemon already runs")
            && err.contains(&format!("pid {pid}"))
            && err.contains("hint:"),
        "{err}"
    );
    assert!(
        first.alive(),
        "the first daemon is untouched\n{}",
        first.log()
    );

    first.signal(libc::SIGKILL);
    let _ = first.wait(Duration::from_secs(10));
    assert!(!first.alive());
    let mut next = Daemon::start(&cfg, sshd.dir().join("next.log"));
    assert!(
        started(&next),
        "a SIGKILLed daemon blocks the next\n{}",
        next.log()
    );
    assert_eq!(status_json(&cfg)[0]["daemon"]["pid"], next.child.id());
    next.signal(libc::SIGTERM);
    assert_eq!(
        next.wait(Duration::from_secs(20)),
        Some(0),
        "{}",
        next.log()
    );
    assert!(status_text(&cfg).contains("daemon: not running"));
}

/// Series names in a metrics text.
fn exported(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_string)
        .collect()
}

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

/// Every `backup_*` name in the dashboard's queries.
fn dashboard_metrics() -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/grafana/backup-agent.json");
    let dash: serde_json::Value = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    let mut exprs = Vec::new();
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    match (k.as_str(), v) {
                        ("expr" | "definition", serde_json::Value::String(s)) => {
                            out.push(s.clone())
                        }
                        _ => walk(v, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    walk(&dash, &mut exprs);
    assert!(exprs.len() >= 7, "{exprs:?}");
    exprs
        .iter()
        .flat_map(|e| {
            e.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("backup_"))
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn scheduled_verify_catches_a_damaged_snapshot_and_the_dashboard_uses_only_exported_metrics() {
    let sshd = common::sshd_or_skip!();
    let hook = common::http::Recorder::start();
    let port = common::free_port();
    let src = tempfile::tempdir().unwrap();
    let cfg = config(
        &sshd,
        src.path(),
        &format!("metrics_listen = \"127.0.0.1:{port}\""),
        &format!(
            "verify_schedule = \"*/2 * * * * *\"\n[jobs.t.notify]\nwebhook_url = \"{}\"\n",
            hook.url("/hook")
        ),
    );
    for args in [&["run", "t"][..], &["list", "t"]] {
        let out = backup(&cfg, args);
        assert!(out.status.success(), "{}", describe(&out));
    }
    hook.clear();
    // Same size, other bytes: only a hash can tell.
    let snap = common::snap::snapshots(&sshd.remote_dir().join("t")).remove(0);
    let tar = snap.join("files.tar.zst");
    let mut bytes = fs::read(&tar).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    fs::write(&tar, bytes).unwrap();

    let d = Daemon::start(&cfg, sshd.dir().join("daemon.log"));
    assert!(
        wait_for(Duration::from_secs(20), || {
            !status_json(&cfg)[0]["last_verify"].is_null()
        }),
        "{}",
        d.log()
    );
    let s = status_json(&cfg);
    let v = &s[0]["last_verify"];
    assert_eq!(v["scheduled"], true, "{s}");
    assert!(
        v["problems"][0]
            .as_str()
            .is_some_and(|p| p.contains("files.tar")),
        "{s}"
    );
    assert!(
        status_text(&cfg).contains("verify FAILED"),
        "{}",
        status_text(&cfg)
    );

    let file = fs::read_to_string(sshd.dir().join("state/metrics.prom")).unwrap();
    assert_eq!(
        value(&file, "backup_last_verify_success{job=\"t\"}"),
        Some(0.0),
        "{file}"
    );
    assert!(
        value(&file, "backup_last_verify_timestamp_seconds{job=\"t\"}").is_some_and(|t| t > 1.7e9)
    );
    let now = chrono::Utc::now().timestamp() as f64;
    let beat = value(&file, "backup_daemon_heartbeat_timestamp_seconds").unwrap();
    assert!((now - beat).abs() < 70.0, "{beat} vs {now}");
    let (_, scraped) = common::http::get(port, "/metrics").unwrap();
    assert!(
        value(&scraped, "backup_daemon_heartbeat_timestamp_seconds").is_some(),
        "{scraped}"
    );

    assert!(
        wait_for(Duration::from_secs(10), || !hook.requests().is_empty()),
        "{}",
        d.log()
    );
    let sent: serde_json::Value = serde_json::from_str(&hook.requests()[0].body).unwrap();
    assert_eq!(sent["outcome"], "verify_failed", "{sent}");
    assert_eq!(sent["job"], "t", "{sent}");
    assert!(
        sent["error"]
            .as_str()
            .is_some_and(|e| e.contains("files.tar")),
        "{sent}"
    );

    let missing: Vec<_> = dashboard_metrics()
        .difference(&exported(&scraped))
        .cloned()
        .collect();
    assert!(
        missing.is_empty(),
        "dashboard queries metrics nobody exports: {missing:?}\n{scraped}"
    );
}
