//! verify_schedule and the heartbeat on the paused clock: verifications fire at their times,
//! are recorded in the state file and the metrics, never overlap a run of the same job; the
//! heartbeat moves every minute.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{JOB, VERIFY_FOR, start, utc};
use crate::report::state;

fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test(start_paused = true)]
async fn heartbeat_is_written_every_minute_to_state_and_metrics() {
    let w = start(utc(1, 0, 0, 30), "", JOB, Duration::ZERO, vec![], |_| {});
    tokio::time::sleep(Duration::from_secs(150)).await;
    let beat = |w: &super::World| {
        let file = std::fs::read_to_string(&w.config.agent.metrics_file).unwrap();
        (
            crate::report::heartbeat::read(&w.config.agent.state_dir),
            sample(&file, "backup_daemon_heartbeat_timestamp_seconds"),
        )
    };
    let first = utc(1, 0, 2, 30);
    assert_eq!(beat(&w), (Some(first), Some(first.timestamp() as f64)));
    tokio::time::sleep(Duration::from_secs(60)).await;
    let next = utc(1, 0, 3, 30);
    assert_eq!(beat(&w), (Some(next), Some(next.timestamp() as f64)));
    let _ = w.stop().await;
}

#[tokio::test(start_paused = true)]
async fn verify_schedule_fires_and_records_success_then_failure() {
    let w = start(
        utc(1, 4, 0, 0),
        "",
        &format!("{JOB}verify_schedule = \"30 4 * * *\"\n"),
        Duration::ZERO,
        vec![],
        |_| {},
    );
    let metrics = |w: &super::World| std::fs::read_to_string(&w.config.agent.metrics_file).unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let m = metrics(&w);
    assert_eq!(
        sample(
            &m,
            "backup_last_verify_success_timestamp_seconds{job=\"db\"}"
        ),
        Some(0.0),
        "a job with verify_schedule reports 0 before its first verification:\n{m}"
    );
    tokio::time::sleep(Duration::from_secs(3600)).await;
    let starts: Vec<_> = w.verifies.lock().unwrap().iter().map(|c| c.1).collect();
    assert_eq!(starts, [utc(1, 4, 30, 0)]);
    assert!(
        w.calls.lock().unwrap().is_empty(),
        "a verification is not a run"
    );
    let s = state::read(&w.config.agent.state_dir).unwrap();
    let v = s.jobs["db"].last_verify.clone().unwrap();
    assert!(v.is_ok() && v.scheduled, "{v:?}");
    assert_eq!(s.jobs["db"].last_verify_ok, Some(utc(1, 4, 30, 0)));
    let m = metrics(&w);
    assert_eq!(
        sample(&m, "backup_last_verify_success{job=\"db\"}"),
        Some(1.0),
        "{m}"
    );
    let at = utc(1, 4, 30, 0).timestamp() as f64;
    assert_eq!(
        sample(&m, "backup_last_verify_timestamp_seconds{job=\"db\"}"),
        Some(at)
    );

    w.verify_fails.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(24 * 3600)).await;
    let s = state::read(&w.config.agent.state_dir).unwrap();
    let v = s.jobs["db"].last_verify.clone().unwrap();
    assert!(!v.is_ok() && v.summary().contains("verify FAILED"), "{v:?}");
    assert_eq!(s.jobs["db"].last_verify_ok, Some(utc(1, 4, 30, 0)));
    let m = metrics(&w);
    assert_eq!(
        sample(&m, "backup_last_verify_success{job=\"db\"}"),
        Some(0.0),
        "{m}"
    );
    assert_eq!(
        sample(
            &m,
            "backup_last_verify_success_timestamp_seconds{job=\"db\"}"
        ),
        Some(at),
        "{m}"
    );
    let _ = w.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_run_due_during_a_verification_of_its_job_waits_for_it_and_is_not_skipped() {
    let w = start(
        utc(1, 4, 0, 0),
        "",
        &format!("{JOB}schedule = \"0 5 * * *\"\nverify_schedule = \"59 4 * * *\"\n"),
        Duration::from_secs(60),
        vec![],
        |_| {},
    );
    tokio::time::sleep(Duration::from_secs(3600 + 600)).await;
    let verify = w.verifies.lock().unwrap()[0].clone();
    let runs = w.calls.lock().unwrap().clone();
    assert_eq!(verify.1, utc(1, 4, 59, 0));
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert!(runs[0].1 >= verify.2, "{runs:?} overlaps {verify:?}");
    assert_eq!(
        runs[0].1,
        utc(1, 4, 59, 0) + chrono::TimeDelta::from_std(VERIFY_FOR).unwrap()
    );
    let _ = w.stop().await;
}
