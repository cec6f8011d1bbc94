//! `[remotes.X] bandwidth` against a real sshd: the limit holds for one stream, for two
//! commands streaming at once over several channels (the total, not each stream), for a
//! download, and a timetable that lifts it mid-run speeds the transfer up at once.
//!
//! The data is random (zstd cannot shrink it), so the bytes sent are the bytes read. What is
//! timed is the transfer itself, as the server's disk sees it: the files of the snapshot are
//! watched every 50 ms, from the first byte that lands to the last (so neither the run's
//! connect and commit nor the server's fsync count), and that must take the bytes moved over
//! the rate within 10%.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Timelike, Utc};
use common::snap::command;
use common::{backup_cmd, describe};

const MIB: u64 = 1 << 20;

/// Commands that each print `bytes` of random data, verified by size only (a readback would
/// be limited too, and a remote hash would add the server's time).
fn random_job(names: &[&str], bytes: u64) -> String {
    let mut job = "[jobs.t]\nremote = \"test\"\nverify = \"size\"\n".to_string();
    for n in names {
        let count = bytes.to_string();
        job += &command(n, &["head", "-c", &count, "/dev/urandom"], "");
    }
    job
}

/// Bytes of the files `names` (`<name>.zst`) in the job's partial or committed snapshot on
/// the server's disk.
fn on_server(job_dir: &Path, names: &[&str]) -> u64 {
    let Ok(dirs) = fs::read_dir(job_dir) else {
        return 0;
    };
    let dirs: Vec<_> = dirs.flatten().map(|d| d.path()).collect();
    names
        .iter()
        .map(|n| {
            dirs.iter()
                .filter_map(|d| fs::metadata(d.join(format!("{n}.zst"))).ok())
                .map(|m| m.len())
                .max()
                .unwrap_or(0)
        })
        .sum()
}

/// `backup run t` (which must succeed), with what reached the server's disk over time.
fn run_watching(cfg: &Path, job_dir: &Path, names: &[&str]) -> (Output, Vec<(Instant, u64)>) {
    let mut child = backup_cmd(cfg, &["run", "t"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut samples = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        samples.push((Instant::now(), on_server(job_dir, names)));
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    samples.push((Instant::now(), on_server(job_dir, names)));
    (out, samples)
}

/// From the first sample with data to the first with all of it: the bytes moved at `rate`
/// take their time, within 10%.
fn assert_transfer_limited(samples: &[(Instant, u64)], rate: u64) {
    let total = samples.last().unwrap().1;
    let first = samples.iter().find(|s| s.1 > 0).unwrap();
    let last = samples.iter().find(|s| s.1 == total).unwrap();
    let moved = total - first.1;
    let took = (last.0 - first.0).as_secs_f64();
    let expected = moved as f64 / rate as f64;
    eprintln!("{moved} bytes at {rate}/s: {took:.2}s, expected {expected:.2}s");
    assert!(
        (took - expected).abs() <= expected * 0.1,
        "{moved} bytes at {rate} bytes/s took {took:.2}s, expected {expected:.2}s"
    );
}

#[test]
fn a_64_mib_upload_at_8_mib_a_second_takes_8_seconds() {
    let sshd = common::sshd_or_skip!();
    let cfg = sshd.write_config_with("bandwidth = \"8MiB\"", &random_job(&["random"], 64 * MIB));
    let (out, samples) = run_watching(&cfg, &sshd.remote_dir().join("t"), &["random"]);
    let (start, end) = (samples[0], samples[samples.len() - 1]);
    assert!(end.1 >= 64 * MIB);
    assert_transfer_limited(&samples, 8 * MIB);
    // And the whole run, connect to commit, from the outside.
    let run = (end.0 - start.0).as_secs_f64();
    assert!(run >= 8.0 * 0.9, "the run took {run:.2}s");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("(limited to 8.0 MiB/s), verified by size"),
        "the summary names the limit: {stderr}"
    );
}

#[test]
fn two_commands_and_two_channels_share_one_limit_and_downloads_keep_it() {
    let sshd = common::sshd_or_skip!();
    let names = ["a", "b"];
    let cfg = sshd.write_config_with(
        "bandwidth = \"8MiB\"\nchannels = 2",
        &random_job(&names, 16 * MIB),
    );
    let (_, samples) = run_watching(&cfg, &sshd.remote_dir().join("t"), &names);
    // Each stream alone at 8 MiB/s would be done in half the time.
    assert_transfer_limited(&samples, 8 * MIB);

    let t = Instant::now();
    let out = backup_cmd(&cfg, &["cat", "t", "latest", "a"])
        .stdout(Stdio::null())
        .output()
        .unwrap();
    let took = t.elapsed().as_secs_f64();
    assert!(out.status.success(), "{}", describe(&out));
    // The whole command, connect included: a lower bound only.
    assert!(
        took >= 2.0 * 0.9,
        "16 MiB read back at 8 MiB/s in {took:.2}s"
    );
}

/// A zone where it is between 01:00 and 22:00 now, so that a timetable of today's times
/// around now needs no wrap past midnight; never UTC, so that times read in the wrong zone
/// would show (Tokyo and New York are never both near midnight).
fn zone_away_from_midnight() -> chrono_tz::Tz {
    let zones = [chrono_tz::Asia::Tokyo, chrono_tz::America::New_York];
    let now = Utc::now();
    zones
        .into_iter()
        .find(|z| (1..22).contains(&now.with_timezone(z).hour()))
        .unwrap()
}

#[test]
fn a_timetable_switch_from_4_mib_to_off_speeds_a_run_up_within_a_second() {
    let sshd = common::sshd_or_skip!();
    let zone = zone_away_from_midnight();
    let now = Utc::now();
    let t0 = Instant::now();
    let switch = (now + TimeDelta::seconds(5)).with_nanosecond(0).unwrap();
    let switch_at = t0 + (switch - now).to_std().unwrap();
    let local = |t: chrono::DateTime<Utc>| t.with_timezone(&zone).format("%H:%M:%S").to_string();
    let table = format!(
        "bandwidth = [\"{} 4MiB\", \"{} off\"]",
        local(switch - TimeDelta::hours(1)),
        local(switch)
    );
    let cfg = sshd.write_config_with(&table, &random_job(&["random"], 48 * MIB));
    let text = fs::read_to_string(&cfg).unwrap().replacen(
        "[agent]\n",
        &format!("[agent]\ntimezone = \"{}\"\n", zone.name()),
        1,
    );
    fs::write(&cfg, text).unwrap();

    let (out, samples) = run_watching(&cfg, &sshd.remote_dir().join("t"), &["random"]);
    let total = samples.last().unwrap().1;
    let at = |t: Instant| {
        samples
            .iter()
            .find(|(when, _)| *when >= t)
            .map_or(total, |s| s.1)
    };

    // Before the switch: 4 MiB/s (8 MiB over two seconds, give or take the burst and a write).
    let (a, b) = (
        switch_at - Duration::from_millis(2300),
        switch_at - Duration::from_millis(300),
    );
    assert!(
        at(a) > 0,
        "the upload had not started 2.3 s before the switch"
    );
    let before = at(b) - at(a);
    assert!(
        (7 * MIB..=9 * MIB).contains(&before),
        "{before} bytes in the 2 s before the switch"
    );
    // After it: within one second, at least three times what 4 MiB/s would have allowed
    // (or everything, if the rest took less).
    let after = at(switch_at + Duration::from_secs(1)) - at(switch_at);
    eprintln!("{before} bytes in the 2 s before the switch, {after} in the second after");
    assert!(
        after >= 12 * MIB || at(switch_at + Duration::from_secs(1)) == total,
        "only {after} bytes in the second after the switch"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("off\" is in force now"), "{stderr}");
    assert!(
        stderr.contains("limited to 4.0 MiB/s, then unlimited"),
        "{stderr}"
    );
}
