//! Observability against a real sshd and loopback HTTP endpoints: `metrics.prom` after a
//! success, a run with warnings and a failure, parsed by a Prometheus text-format parser; the
//! healthcheck pings and webhook in order; a silent endpoint costs at most its timeout and
//! never changes the exit code; `/metrics` served by the daemon; no secret in any output.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::http::{Recorder, Silent};
use common::{Sshd, backup, describe, toml_str};

const HEADER_TOKEN: &str = "hdr-tok-5f1c9e";
const FILE_TOKEN: &str = "file-tok-8b27aa";
const PASSPHRASE: &str = "pass-phr-3d0e71";
const USERINFO_PW: &str = "userinfo-pw-77c1";
const SECRETS: [&str; 4] = [HEADER_TOKEN, FILE_TOKEN, PASSPHRASE, USERINFO_PW];

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Sources: `ok` (two files), `warn` (one unreadable file), `bad` (missing).
fn sources(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let ok = dir.join("ok");
    fs::create_dir_all(&ok).unwrap();
    fs::write(ok.join("a.txt"), "hello\n").unwrap();
    fs::write(ok.join("b.bin"), vec![7u8; 50_000]).unwrap();
    let warn = dir.join("warn");
    fs::create_dir_all(&warn).unwrap();
    fs::write(warn.join("fine.txt"), "fine\n").unwrap();
    fs::write(warn.join("locked"), "secret\n").unwrap();
    fs::set_permissions(warn.join("locked"), fs::Permissions::from_mode(0o000)).unwrap();
    (ok, warn, dir.join("does-not-exist"))
}

/// A copy of the client key protected by [`PASSPHRASE`], and its passphrase file.
fn encrypted_key(sshd: &Sshd, dir: &Path) -> (PathBuf, PathBuf) {
    let key = dir.join("id_enc");
    fs::copy(sshd.client_key(), &key).unwrap();
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
    let st = Command::new("ssh-keygen")
        .args(["-q", "-p", "-P", "", "-N", PASSPHRASE, "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(st.success(), "ssh-keygen -p failed");
    let pass = dir.join("id_enc.pass");
    fs::write(&pass, format!("{PASSPHRASE}\n")).unwrap();
    fs::set_permissions(&pass, fs::Permissions::from_mode(0o600)).unwrap();
    (key, pass)
}

fn job(name: &str, src: &Path, notify: &str) -> String {
    format!(
        "[jobs.{name}]\nremote = \"test\"\nsources = [{}]\nverify = \"size\"\n{notify}\n",
        toml_str(&src.to_string_lossy())
    )
}

/// `backup ARGS`, as a process without the capabilities that let root read any file.
fn run_unprivileged(cfg: &Path, args: &[&str]) -> Output {
    let mut cmd = if is_root() {
        let mut c = Command::new("setpriv");
        c.args(["--bounding-set=-dac_override,-dac_read_search", "--"])
            .arg(common::bin());
        c
    } else {
        Command::new(common::bin())
    };
    cmd.arg("--config")
        .arg(cfg)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn metrics(path: &Path) -> prometheus_parse::Scrape {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let lines = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    assert_eq!(
        scrape.samples.len(),
        lines.count(),
        "unparsed lines in:\n{text}"
    );
    scrape
}

fn value(s: &prometheus_parse::Scrape, metric: &str, job: &str) -> Option<f64> {
    s.samples
        .iter()
        .find(|x| x.metric == metric && x.labels.get("job") == Some(job))
        .map(|x| match x.value {
            prometheus_parse::Value::Gauge(v) => v,
            ref v => panic!("{metric}: not a gauge: {v:?}"),
        })
}

#[test]
fn metrics_pings_and_webhook_for_success_warnings_and_failure() {
    let sshd = common::sshd_or_skip!();
    let hooks = Recorder::start();
    let dir = tempfile::tempdir().unwrap();
    let (ok, warn, missing) = sources(dir.path());
    let (key, pass) = encrypted_key(&sshd, dir.path());
    let headers_file = dir.path().join("headers");
    fs::write(
        &headers_file,
        format!("Authorization: Bearer {FILE_TOKEN}\n"),
    )
    .unwrap();
    // A token file others could read is refused, like a private key.
    fs::set_permissions(&headers_file, fs::Permissions::from_mode(0o600)).unwrap();
    let hook_url = hooks
        .url("/hook")
        .replace("http://", &format!("http://hooker:{USERINFO_PW}@"));
    let notify = |name: &str| {
        format!(
            "[jobs.{name}.notify]\nhealthcheck_url = {}\nwebhook_url = {}\n\
             webhook_headers = {{ X-Token = \"{HEADER_TOKEN}\" }}\nwebhook_headers_file = {}\n",
            toml_str(&hooks.url(&format!("/hc/{name}"))),
            toml_str(&hook_url),
            toml_str(&headers_file.to_string_lossy())
        )
    };
    let jobs = [
        job("ok", &ok, &notify("ok")),
        job("warn", &warn, &notify("warn")),
        job("bad", &missing, &notify("bad")),
    ]
    .concat();
    let cfg = sshd.write_config_with(
        &format!(
            "identity_passphrase_file = {}",
            toml_str(&pass.to_string_lossy())
        ),
        &jobs,
    );
    let original = fs::read_to_string(&cfg).unwrap();
    let with_key = original.replace(
        &format!(
            "identity_file = {}",
            toml_str(&sshd.client_key().to_string_lossy())
        ),
        &format!("identity_file = {}", toml_str(&key.to_string_lossy())),
    );
    assert_ne!(original, with_key);
    fs::write(&cfg, with_key).unwrap();

    let mut logs = String::new();
    let out = backup(&cfg, &["-vv", "run", "ok"]);
    logs += &text(&out);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let out = run_unprivileged(&cfg, &["--log-format", "json", "-v", "run", "warn"]);
    logs += &text(&out);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let out = backup(&cfg, &["--log-format", "json", "run", "bad"]);
    logs += &text(&out);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    // --log-format json: every stderr line is one JSON object, the summary line included.
    let stderr = String::from_utf8_lossy(&out.stderr);
    for line in stderr.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }
    let summary: serde_json::Value = stderr
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["outcome"] == "failed")
        .unwrap_or_else(|| panic!("no summary line: {stderr}"));
    assert_eq!(summary["job"], "bad");
    assert!(
        summary["error"]
            .as_str()
            .unwrap()
            .contains("does not exist")
    );
    let out = backup(&cfg, &["run", "--dry-run", "ok"]);
    logs += &text(&out);
    assert!(out.status.success(), "{}", describe(&out));

    // Pings and webhooks, in order per job.
    let reqs = hooks.requests();
    let paths: Vec<&str> = reqs.iter().map(|r| r.path.as_str()).collect();
    for (name, result) in [
        ("ok", "/hc/ok"),
        ("warn", "/hc/warn"),
        ("bad", "/hc/bad/fail"),
    ] {
        let start = format!("/hc/{name}/start");
        let i_start = paths
            .iter()
            .position(|p| *p == start)
            .unwrap_or_else(|| panic!("{start} missing: {paths:?}"));
        let i_result = paths
            .iter()
            .position(|p| *p == result)
            .unwrap_or_else(|| panic!("{result} missing: {paths:?}"));
        let i_hook = reqs
            .iter()
            .position(|r| r.path == "/hook" && r.body.contains(&format!("\"job\":\"{name}\"")))
            .unwrap_or_else(|| panic!("webhook for {name} missing: {reqs:#?}"));
        assert!(i_start < i_result && i_start < i_hook, "{paths:?}");
    }
    assert_eq!(paths.len(), 9, "dry run sends nothing: {paths:?}");
    let hook = |name: &str| -> serde_json::Value {
        let r = reqs
            .iter()
            .find(|r| r.path == "/hook" && r.body.contains(&format!("\"job\":\"{name}\"")))
            .unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(r.header("x-token"), Some(HEADER_TOKEN));
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {FILE_TOKEN}").as_str())
        );
        serde_json::from_str(&r.body).unwrap()
    };
    let (h_ok, h_warn, h_bad) = (hook("ok"), hook("warn"), hook("bad"));
    assert_eq!(h_ok["outcome"], "success");
    assert!(
        h_ok["snapshot"].as_str().is_some_and(|s| s.len() == 16),
        "{h_ok}"
    );
    assert_eq!(h_ok["bytes_read"], 50_006);
    assert!(h_ok["duration_seconds"].as_f64().unwrap() >= 0.0);
    assert_eq!(h_ok["error"], serde_json::Value::Null);
    assert_eq!(h_warn["outcome"], "warnings");
    assert_eq!(h_warn["warnings"], 1);
    assert_eq!(h_bad["outcome"], "failed");
    assert!(h_bad["error"].as_str().unwrap().contains("does not exist"));
    let fail_ping = reqs.iter().find(|r| r.path == "/hc/bad/fail").unwrap();
    assert!(
        fail_ping.body.contains("does not exist"),
        "{}",
        fail_ping.body
    );

    // metrics.prom after the three runs.
    let prom = sshd.dir().join("state/metrics.prom");
    let m = metrics(&prom);
    let v = |metric, job| value(&m, metric, job);
    assert_eq!(v("backup_last_run_success", "ok"), Some(1.0));
    assert_eq!(v("backup_last_run_bytes_read", "ok"), Some(50_006.0));
    assert_eq!(v("backup_last_run_files", "ok"), Some(2.0));
    assert!(v("backup_last_run_bytes_stored", "ok").unwrap() > 0.0);
    assert!(v("backup_last_success_timestamp_seconds", "ok").unwrap() > 1.7e9);
    assert_eq!(v("backup_last_run_success", "warn"), Some(1.0));
    assert_eq!(v("backup_last_run_warnings", "warn"), Some(1.0));
    assert_eq!(v("backup_last_run_success", "bad"), Some(0.0));
    assert_eq!(v("backup_last_success_timestamp_seconds", "bad"), Some(0.0));
    assert_eq!(v("backup_consecutive_failures", "bad"), Some(1.0));
    assert_eq!(v("backup_snapshots_total", "ok"), None);
    assert!(m.samples.iter().any(|s| s.metric == "backup_build_info"));
    // `backup list` tells the snapshot count.
    let out = backup(&cfg, &["list", "ok"]);
    logs += &text(&out);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        value(&metrics(&prom), "backup_snapshots_total", "ok"),
        Some(1.0)
    );

    assert_no_secret(&logs);
}

/// No secret, nor any 7-character piece of one (a hex dump splits lines every 16 bytes).
fn assert_no_secret(logs: &str) {
    for secret in SECRETS {
        let chars: Vec<char> = secret.chars().collect();
        for piece in chars.windows(7) {
            let piece: String = piece.iter().collect();
            assert!(
                !logs.contains(&piece),
                "{piece:?} of {secret} leaked into the output:\n{logs}"
            );
        }
    }
}

#[test]
fn a_silent_endpoint_costs_at_most_its_timeout_and_changes_no_exit_code() {
    let sshd = common::sshd_or_skip!();
    let silent = Silent::start();
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, missing) = sources(dir.path());
    let notify = format!(
        "[jobs.{{}}.notify]\nhealthcheck_url = {}\nwebhook_url = {}\ntimeout = \"2s\"\n",
        toml_str(&silent.url("/hc")),
        toml_str(&silent.url("/hook"))
    );
    let cfg = sshd.write_config(
        &[
            job("plain", &ok, ""),
            job("ok", &ok, &notify.replace("{}", "ok")),
            job("bad", &missing, &notify.replace("{}", "bad")),
        ]
        .concat(),
    );
    let timed = |name: &str| {
        let t = Instant::now();
        let out = backup(&cfg, &["run", name]);
        (out, t.elapsed())
    };
    let (out, baseline) = timed("plain");
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let (out, took) = timed("ok");
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    // Start ping, result ping and webhook all hang: sent one after another, or retried past
    // the deadline, they would cost 6 s or more.
    assert!(
        took < baseline + Duration::from_millis(3500),
        "took {took:?} against {baseline:?} without notifications"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("the backup itself is not affected"));
    let (out, took) = timed("bad");
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(took < Duration::from_millis(3500), "took {took:?}");
}

#[test]
fn daemon_serves_metrics_on_metrics_listen() {
    let sshd = common::sshd_or_skip!();
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, _) = sources(dir.path());
    let port = common::free_port();
    let cfg = sshd.write_config(&format!("{}schedule = \"0 0 1 1 *\"\n", job("ok", &ok, "")));
    let text = fs::read_to_string(&cfg).unwrap();
    fs::write(
        &cfg,
        text.replacen(
            "[agent]\n",
            &format!("[agent]\nmetrics_listen = \"127.0.0.1:{port}\"\n"),
            1,
        ),
    )
    .unwrap();
    let log = dir.path().join("daemon.log");
    let mut child = common::backup_cmd(&cfg, &["daemon"])
        .stdout(Stdio::null())
        .stderr(fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let got = loop {
        if let Some(r) = common::http::get(port, "/metrics") {
            break Some(r);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (status, body) = got.unwrap_or_else(|| {
        panic!(
            "no /metrics on port {port}:\n{}",
            fs::read_to_string(&log).unwrap_or_default()
        )
    });
    assert_eq!(status, "HTTP/1.1 200 OK");
    let m = prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).unwrap();
    assert!(
        value(&m, "backup_next_run_timestamp_seconds", "ok").unwrap() > 1.7e9,
        "{body}"
    );
    assert!(
        m.samples.iter().any(|s| s.metric == "backup_build_info"),
        "{body}"
    );
    // The file is written at start-up too, with the same series.
    let file = metrics(&sshd.dir().join("state/metrics.prom"));
    assert!(value(&file, "backup_next_run_timestamp_seconds", "ok").is_some());
    let curl = Command::new("curl")
        .args(["-sf", &format!("http://127.0.0.1:{port}/metrics")])
        .output();
    if let Ok(out) = curl {
        assert!(out.status.success(), "{}", describe(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains("backup_build_info"));
    }
    // SAFETY: SIGTERM to the child this test spawned and has not reaped.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "{}",
        fs::read_to_string(&log).unwrap_or_default()
    );
}
