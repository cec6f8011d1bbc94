//! Several destinations per job (`remotes = [...]`): one read of the sources and one run of
//! each dump, the same snapshot (id and SHA256SUMS) committed on two real sshd servers and a
//! local remote; a server killed mid-run leaves the others committed and the run's outcome,
//! status, metrics and webhook naming the one that failed; `--remote` and the first answering
//! destination for list, restore and cat.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::hosts::ids as snapshots;
use common::snap::sha256sum_c;
use common::{backup, backup_cmd, describe, http::Recorder, toml_str};

struct Fleet {
    a: common::Sshd,
    b: common::Sshd,
    _dir: tempfile::TempDir,
    local: PathBuf,
    src: PathBuf,
    counter: PathBuf,
    cfg: PathBuf,
}

/// Two sshd servers and a local directory, a tree and a counting dump, and a job writing to
/// all three (`extra` goes into the job's table).
fn fleet(extra: &str, notify: &str) -> Option<Fleet> {
    let a = common::Sshd::start()?;
    let b = common::Sshd::start()?;
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("nas");
    let src = dir.path().join("src");
    fs::create_dir_all(src.join("etc")).unwrap();
    fs::write(src.join("etc/app.conf"), "port = 80\n").unwrap();
    fs::write(src.join("big.bin"), random(4 << 20)).unwrap();
    let counter = dir.path().join("dumps");
    let dump = dir.path().join("dump.sh");
    fs::write(
        &dump,
        format!(
            "#!/bin/sh\necho run >> {}\nhead -c 2000000 /dev/zero | tr '\\0' x\nsleep ${{DUMP_SLEEP:-0}}\n",
            counter.display()
        ),
    )
    .unwrap();
    common::run_ok("chmod", &["755", &dump.to_string_lossy()]);
    let cfg = dir.path().join("config.toml");
    let q = |p: &Path| toml_str(&p.to_string_lossy());
    fs::write(
        &cfg,
        format!(
            "[agent]\nstate_dir = {}\nmetrics_file = {}\n{}{}[remotes.nas]\ntype = \"local\"\npath = {}\n\
             [jobs.t]\nremotes = [\"offsite\", \"second\", \"nas\"]\nsources = [{}]\nverify = \"auto\"\n{extra}\n\
             [[jobs.t.commands]]\nname = \"db\"\nrun = [{}]\n{notify}",
            q(&dir.path().join("state")),
            q(&dir.path().join("metrics.prom")),
            a.remote_table("offsite", &a.remote_dir()),
            b.remote_table("second", &b.remote_dir()),
            q(&local),
            q(&src),
            q(&dump),
        ),
    )
    .unwrap();
    Some(Fleet {
        a,
        b,
        _dir: dir,
        local,
        src,
        counter,
        cfg,
    })
}

fn random(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e3779b97f4a7c15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

impl Fleet {
    fn job_dirs(&self) -> [PathBuf; 3] {
        [
            self.a.remote_dir().join("t"),
            self.b.remote_dir().join("t"),
            self.local.join("t"),
        ]
    }

    fn dumps(&self) -> usize {
        fs::read_to_string(&self.counter).map_or(0, |s| s.lines().count())
    }
}

#[test]
fn one_run_commits_the_same_snapshot_everywhere_and_dumps_once() {
    let Some(f) = fleet("", "") else { return };
    let out = backup(&f.cfg, &["run", "t"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(f.dumps(), 1, "the dump ran once for three destinations");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("committed on offsite, second, nas"),
        "{stderr}"
    );
    let ids: Vec<Vec<String>> = f.job_dirs().iter().map(|d| snapshots(d)).collect();
    assert_eq!(ids[0].len(), 1, "{ids:?}");
    assert!(
        ids.iter().all(|i| *i == ids[0]),
        "one id everywhere: {ids:?}"
    );
    let sums: Vec<Vec<u8>> = f
        .job_dirs()
        .iter()
        .map(|d| fs::read(d.join(&ids[0][0]).join("SHA256SUMS")).unwrap())
        .collect();
    assert!(
        sums.iter().all(|s| *s == sums[0]),
        "the same bytes everywhere"
    );
    for d in f.job_dirs() {
        sha256sum_c(&d.join(&ids[0][0]));
    }
    // Each destination restores on its own, chosen by name.
    for remote in ["offsite", "second", "nas"] {
        let target = f._dir.path().join(format!("restore-{remote}"));
        let out = backup(
            &f.cfg,
            &[
                "restore",
                "t",
                "--remote",
                remote,
                "--target",
                &target.to_string_lossy(),
            ],
        );
        assert!(out.status.success(), "{remote}: {}", describe(&out));
        let inner = target.join(f.src.strip_prefix("/").unwrap());
        assert_eq!(fs::read(inner.join("big.bin")).unwrap(), random(4 << 20));
    }
    let out = backup(&f.cfg, &["list", "t", "--remote", "nowhere"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("offsite, second, nas"));
}

#[test]
fn a_server_killed_mid_run_leaves_the_others_committed_and_is_named() {
    let hook = Recorder::start();
    let told = tempfile::tempdir().unwrap();
    let said = told.path().join("on_failure");
    let notify = format!(
        "[jobs.t.notify]\nwebhook_url = {}\n[jobs.t.hooks]\non_failure = [\"sh\", \"-c\", \"echo $BACKUP_STATUS $BACKUP_SNAPSHOT > {}\"]\n",
        toml_str(&hook.url("/hook")),
        said.display()
    );
    let Some(mut f) = fleet("", &notify) else {
        return;
    };
    let mut child = backup_cmd(&f.cfg, &["run", "t"])
        .env("DUMP_SLEEP", "3")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The dump is still open (it sleeps): kill the second server while the run is uploading.
    let partial = |d: &Path| {
        fs::read_dir(d).ok().is_some_and(|r| {
            r.flatten()
                .any(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !partial(&f.b.remote_dir().join("t")) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    f.b.kill_now();
    let started = Instant::now();
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(1), "a missing copy is exit 1:\n{err}");
    assert!(started.elapsed() < Duration::from_secs(90));
    assert!(err.contains("committed on offsite, nas"), "{err}");
    assert!(err.contains("FAILED on second"), "{err}");
    assert_eq!(f.dumps(), 1);
    let [a, b, nas] = f.job_dirs();
    assert_eq!(snapshots(&a).len(), 1);
    assert_eq!(snapshots(&a), snapshots(&nas));
    let hook_saw = fs::read_to_string(&said).unwrap();
    assert_eq!(hook_saw.trim(), format!("partial {}", snapshots(&a)[0]));
    assert!(snapshots(&b).is_empty(), "{:?}", snapshots(&b));

    let status = backup(&f.cfg, &["status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let text = v.to_string();
    assert!(text.contains("\"partial\""), "{text}");
    assert!(text.contains("\"second\""), "{text}");
    let plain = String::from_utf8_lossy(&backup(&f.cfg, &["status"]).stdout).into_owned();
    assert!(
        plain.contains("on second: FAILED 1 time(s) in a row"),
        "{plain}"
    );
    assert!(plain.contains("on offsite: committed"), "{plain}");
    let metrics = fs::read_to_string(f._dir.path().join("metrics.prom")).unwrap();
    assert!(
        metrics.contains("backup_destination_last_run_success{job=\"t\",remote=\"second\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("backup_destination_last_run_success{job=\"t\",remote=\"offsite\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("backup_last_run_success{job=\"t\"} 0"),
        "{metrics}"
    );
    let sent = hook.requests();
    let body: serde_json::Value = serde_json::from_str(&sent[0].body).unwrap();
    assert_eq!(body["outcome"], "partial", "{body}");
    let failed: Vec<&serde_json::Value> = body["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["committed"] == false)
        .collect();
    assert_eq!(failed.len(), 1, "{body}");
    assert_eq!(failed[0]["remote"], "second");

    // Reading works while the server is down: the first destination that answers.
    let out = backup(&f.cfg, &["list", "t"]);
    assert!(out.status.success(), "{}", describe(&out));

    f.b.restart();
    let out = backup(&f.cfg, &["run", "t"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(snapshots(&a).len(), 2);
    assert_eq!(snapshots(&b).len(), 1, "the next run commits there too");
    let hidden: Vec<String> = fs::read_dir(&b)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
}

#[test]
fn each_destination_keeps_its_own_retention() {
    let Some(f) = fleet(
        "[jobs.t.retention]\nkeep_last = 1\n[jobs.t.retention.nas]\nkeep_last = 3\n",
        "",
    ) else {
        return;
    };
    for _ in 0..3 {
        let out = backup(&f.cfg, &["run", "t"]);
        assert!(out.status.success(), "{}", describe(&out));
    }
    let [a, b, nas] = f.job_dirs();
    assert_eq!(
        (
            snapshots(&a).len(),
            snapshots(&b).len(),
            snapshots(&nas).len()
        ),
        (1, 1, 3)
    );
    let out = backup(&f.cfg, &["prune", "t", "--dry-run"]);
    assert!(out.status.success(), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("job t at nas: 3 snapshot(s), keep 3"),
        "{text}"
    );
    assert!(
        text.contains("job t at offsite: 1 snapshot(s), keep 1"),
        "{text}"
    );
}

/// A destination that stops taking data (its connection stalled by a loopback proxy) paces
/// the others instead of making the agent buffer: while it is stalled the local destination
/// gets at most the fan-out's buffer ahead of it, peak RSS grows by a bounded amount only, and
/// when it resumes every destination commits.
#[test]
fn a_stalled_destination_paces_the_others_within_the_buffer() {
    let Some(sshd) = common::Sshd::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("big.bin"), random(64 << 20)).unwrap();
    let proxy = common::proxy::Proxy::start(sshd.port());
    sshd.trust_port(proxy.port());
    let local = dir.path().join("nas");
    let q = |p: &Path| toml_str(&p.to_string_lossy());
    let cfg = dir.path().join("config.toml");
    fs::write(
        &cfg,
        format!(
            "[agent]\nstate_dir = {}\n{}[remotes.nas]\ntype = \"local\"\npath = {}\n\
             [jobs.t]\nremotes = [\"offsite\", \"nas\"]\nsources = [{}]\nverify = \"size\"\n\
             [jobs.one]\nremote = \"offsite\"\nsources = [{src}]\nverify = \"size\"\n",
            q(&dir.path().join("state")),
            sshd.remote_table("offsite", &sshd.remote_dir()).replace(
                &format!("port = {}", sshd.port()),
                &format!("port = {}", proxy.port())
            ),
            q(&local),
            q(&src),
            src = q(&src),
        ),
    )
    .unwrap();
    // The same data to one destination, undisturbed: what the pipeline itself holds.
    let (one, alone_kib) = common::peak_rss_kib(&backup_cmd(&cfg, &["run", "one"]));
    assert!(one.status.success(), "{}", describe(&one));
    let uploaded = |job_dir: PathBuf| {
        move || -> u64 {
            fs::read_dir(&job_dir)
                .ok()
                .and_then(|r| {
                    r.flatten()
                        .find(|e| e.file_name().to_string_lossy().ends_with(".partial"))
                })
                .and_then(|e| fs::metadata(e.path().join("files.tar.zst")).ok())
                .map_or(0, |m| m.len())
        }
    };
    let (slow, fast) = (
        uploaded(sshd.remote_dir().join("t")),
        uploaded(local.join("t")),
    );
    let watcher = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        while slow() < (8 << 20) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        proxy.stall();
        std::thread::sleep(Duration::from_secs(2));
        let (held_slow, held_fast) = (slow(), fast());
        std::thread::sleep(Duration::from_secs(1));
        let later_fast = fast();
        proxy.resume();
        (held_slow, held_fast, later_fast, proxy)
    });
    let (out, rss_kib) = common::peak_rss_kib(&backup_cmd(&cfg, &["run", "t"]));
    let (held_slow, held_fast, later_fast, _proxy) = watcher.join().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let ahead = held_fast.saturating_sub(held_slow);
    eprintln!(
        "stalled: offsite at {held_slow} B, nas at {held_fast} B ({ahead} B ahead), {later_fast} B a second later; peak RSS {rss_kib} KiB (one destination, undisturbed: {alone_kib} KiB)"
    );
    assert_eq!(
        held_fast, later_fast,
        "the local copy waits for the stalled one"
    );
    // The fan-out's 8 chunks, plus what the stalled connection had taken in flight (3 channels
    // x 16 requests x 255 KiB) and the producer's own channel.
    assert!(ahead < (32 << 20), "{ahead} bytes ahead");
    assert!(
        held_fast < (64 << 20),
        "the local copy did not run to the end alone"
    );
    // The stall may hold the connection's writes in flight (requests_in_flight x channels
    // x write size, once as requests and once in the SSH send buffer) and the fan-out's
    // chunks: bounded, whatever the stall's length.
    assert!(
        rss_kib < alone_kib + 40 * 1024,
        "peak RSS {rss_kib} KiB, {alone_kib} KiB for one destination"
    );
    for d in [sshd.remote_dir().join("t"), local.join("t")] {
        let s = snapshots(&d);
        assert_eq!(s.len(), 1, "{s:?}");
        sha256sum_c(&d.join(&s[0]));
    }
}
