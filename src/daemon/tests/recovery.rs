//! Failures and interruptions: retries, a held lock, catch-up after downtime, shutdown,
//! reload.
// Test-only: the parent declares this module under #[cfg(test)].

use std::time::Duration;

use super::{JOB, start, utc, write_config};
use crate::daemon::supervisor::Control;
use crate::job::JobError;
use crate::report::state;

#[tokio::test(start_paused = true)]
async fn retry_backs_off_for_transient_errors() {
    let transient = || Some(JobError::Timeout(Duration::from_secs(1)));
    let w = start(
        utc(1, 1, 59, 0),
        "",
        &format!("{JOB}schedule = \"0 2 * * *\"\nretry_attempts = 3\nretry_delay = \"1m\"\n"),
        Duration::ZERO,
        vec![transient(), transient(), transient(), transient()],
        |_| {},
    );
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(
        w.starts(),
        [
            utc(1, 2, 0, 0),
            utc(1, 2, 1, 0),
            utc(1, 2, 3, 0),
            utc(1, 2, 7, 0)
        ]
    );
    let s = state::read(&w.config.agent.state_dir).unwrap();
    assert_eq!(s.jobs["db"].consecutive_failures, 4);
    assert_eq!(
        s.jobs["db"].last_run.as_ref().unwrap().trigger,
        state::Trigger::Retry
    );
    let _ = w.stop().await;
}

#[tokio::test(start_paused = true)]
async fn no_retry_for_errors_that_do_not_pass() {
    let w = start(
        utc(1, 1, 59, 0),
        "",
        &format!("{JOB}schedule = \"0 2 * * *\"\nretry_attempts = 3\nretry_delay = \"1m\"\n"),
        Duration::ZERO,
        vec![Some(JobError::Source("source /x does not exist".into()))],
        |_| {},
    );
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(w.starts(), [utc(1, 2, 0, 0)]);
    let _ = w.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_held_lock_skips_the_tick_without_recording_a_failure() {
    let w = start(
        utc(1, 1, 59, 0),
        "",
        &format!("{JOB}schedule = \"0 2 * * *\"\n"),
        Duration::ZERO,
        vec![Some(JobError::Locked(
            "job db is already running (pid=1)".into(),
        ))],
        |_| {},
    );
    tokio::time::sleep(Duration::from_secs(25 * 3600)).await;
    assert_eq!(w.starts(), [utc(1, 2, 0, 0), utc(2, 2, 0, 0)]);
    let s = state::read(&w.config.agent.state_dir).unwrap();
    assert_eq!(s.jobs["db"].consecutive_failures, 0);
    let _ = w.stop().await;
}

fn three_days_down(state_dir: &std::path::Path) {
    state::record_scheduled(state_dir, "db", utc(1, 2, 0, 0)).unwrap();
}

#[tokio::test(start_paused = true)]
async fn catch_up_runs_once_after_three_days_down() {
    let w = start(
        utc(4, 12, 0, 0),
        "",
        &format!("{JOB}schedule = \"0 2 * * *\"\njitter = \"5m\"\n"),
        Duration::from_secs(10),
        vec![],
        three_days_down,
    );
    tokio::time::sleep(Duration::from_secs(3600)).await;
    let starts = w.starts();
    assert_eq!(starts.len(), 1, "{starts:?}");
    assert!(starts[0] <= utc(4, 12, 5, 0), "{starts:?}");
    let s = state::read(&w.config.agent.state_dir).unwrap();
    assert_eq!(
        s.jobs["db"].last_run.as_ref().unwrap().trigger,
        state::Trigger::CatchUp
    );
    tokio::time::sleep(Duration::from_secs(24 * 3600)).await;
    assert_eq!(w.starts().len(), 2);
    assert!(w.starts()[1] >= utc(5, 2, 0, 0) && w.starts()[1] <= utc(5, 2, 5, 0));
    let _ = w.stop().await;
}

#[tokio::test(start_paused = true)]
async fn no_catch_up_when_disabled_or_never_seen() {
    let w = start(
        utc(4, 12, 0, 0),
        "",
        &format!(
            "{JOB}schedule = \"0 2 * * *\"\ncatch_up = false\n\
             [jobs.new]\nremote = \"r\"\nsources = [\"/etc\"]\nschedule = \"0 2 * * *\"\n"
        ),
        Duration::ZERO,
        vec![],
        three_days_down,
    );
    tokio::time::sleep(Duration::from_secs(15 * 3600)).await;
    let calls = w.calls.lock().unwrap().clone();
    // Both are due at 02:00 and start together, in either order.
    let mut names: Vec<_> = calls.iter().map(|c| (c.0.as_str(), c.1)).collect();
    names.sort();
    assert_eq!(names, [("db", utc(5, 2, 0, 0)), ("new", utc(5, 2, 0, 0))]);
    let _ = w.stop().await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_lets_a_run_finish_then_cancels_at_the_timeout() {
    // A run that ends within shutdown_timeout finishes and is recorded as a success.
    let w = start(
        utc(1, 1, 59, 59),
        "shutdown_timeout = \"1m\"",
        &format!("{JOB}schedule = \"0 2 * * *\"\n"),
        Duration::from_secs(30),
        vec![],
        |_| {},
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    let dir = w.config.agent.state_dir.clone();
    let _keep = w.stop().await;
    let s = state::read(&dir).unwrap();
    assert_eq!(s.jobs["db"].consecutive_failures, 0);
    assert!(s.jobs["db"].last_success.is_some());

    // One that would take longer is cancelled and recorded as failed.
    let w = start(
        utc(1, 1, 59, 59),
        "shutdown_timeout = \"1m\"",
        &format!("{JOB}schedule = \"0 2 * * *\"\n"),
        Duration::from_secs(3600),
        vec![],
        |_| {},
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    let dir = w.config.agent.state_dir.clone();
    let t0 = tokio::time::Instant::now();
    let _keep = w.stop().await;
    assert!(t0.elapsed() <= Duration::from_secs(61));
    let s = state::read(&dir).unwrap();
    let last = s.jobs["db"].last_run.clone().unwrap();
    assert!(last.error.unwrap().contains("cancelled"));
}

#[tokio::test(start_paused = true)]
async fn reload_changes_the_schedule_and_a_bad_config_keeps_the_old_one() {
    let w = start(
        utc(1, 0, 0, 30),
        "",
        &format!("{JOB}schedule = \"0 * * * *\"\n"),
        Duration::ZERO,
        vec![],
        |_| {},
    );
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(w.starts(), [utc(1, 1, 0, 0)]);
    let path = w._dir.path().join("config.toml");
    std::fs::write(&path, "this is not toml").unwrap();
    w.control.send(Control::Reload).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(w.starts().len(), 2, "old schedule keeps running");
    write_config(
        w._dir.path(),
        "",
        &format!("{JOB}schedule = \"30 * * * *\"\n"),
    );
    w.control.send(Control::Reload).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(
        w.starts(),
        [utc(1, 1, 0, 0), utc(1, 2, 0, 0), utc(1, 2, 30, 0)]
    );
    let _ = w.stop().await;
}
