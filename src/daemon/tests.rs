//! The scheduler on tokio's paused clock, with a fake runner: no real waiting, no network.
//! Here: the harness and when runs fire; `recovery.rs`: retries, locks, catch-up, shutdown,
//! reload; `verify.rs`: verify_schedule and the heartbeat.
// Test-only: the parent declares this module under #[cfg(test)].

mod recovery;
mod verify;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use tokio::sync::mpsc;

use super::clock::{Clock, TokioClock};
use super::runner::{self, Runner};
use super::supervisor::{Control, serve};
use crate::config::{self, Config};
use crate::job::JobError;
use crate::outcome::{Outcome, RunReport, VerifyReport};
use crate::report::state;

/// (job, start, end) of every run.
type Calls = Arc<Mutex<Vec<(String, DateTime<Utc>, DateTime<Utc>)>>>;

/// How long each fake verification takes.
pub(super) const VERIFY_FOR: Duration = Duration::from_secs(180);

/// Records every call; each run lasts `run_for` and fails with `errors[i]` on call i; each
/// verification lasts [`VERIFY_FOR`] and finds a problem while `verify_fails` is set.
struct Fake {
    clock: TokioClock,
    run_for: Duration,
    calls: Calls,
    errors: Mutex<Vec<Option<JobError>>>,
    verifies: Calls,
    verify_fails: Arc<AtomicBool>,
}

impl Runner for Fake {
    async fn run(&self, _config: Arc<Config>, name: String) -> (RunReport, Option<JobError>) {
        let start = self.clock.now();
        tokio::time::sleep(self.run_for).await;
        let end = self.clock.now();
        self.calls.lock().unwrap().push((name.clone(), start, end));
        let err = {
            let mut e = self.errors.lock().unwrap();
            if e.is_empty() { None } else { e.remove(0) }
        };
        match err {
            Some(e) => runner::failed(&name, e),
            None => {
                let (mut r, _) = runner::failed(&name, JobError::Local(String::new()));
                r.outcome = Outcome::Success;
                r.error = None;
                (r, None)
            }
        }
    }

    async fn verify(&self, _config: Arc<Config>, name: String) -> VerifyReport {
        let start = self.clock.now();
        tokio::time::sleep(VERIFY_FOR).await;
        let end = self.clock.now();
        self.verifies
            .lock()
            .unwrap()
            .push((name.clone(), start, end));
        let fails = self.verify_fails.load(Ordering::SeqCst);
        VerifyReport {
            job: name,
            scheduled: true,
            started_at: start,
            finished_at: end,
            all: false,
            snapshots: vec!["20260301T000000Z".into()],
            problems: if fails {
                vec!["20260301T000000Z/files.tar: 3 bytes on the server, 9 recorded".into()]
            } else {
                Vec::new()
            },
            error: None,
        }
    }
}

pub(super) struct World {
    pub(super) _dir: tempfile::TempDir,
    pub(super) config: Config,
    pub(super) calls: Calls,
    pub(super) verifies: Calls,
    pub(super) verify_fails: Arc<AtomicBool>,
    pub(super) control: mpsc::Sender<Control>,
    task: tokio::task::JoinHandle<()>,
}

pub(super) fn utc(d: u32, h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, d, h, m, s).unwrap()
}

pub(super) fn write_config(dir: &std::path::Path, agent: &str, jobs: &str) -> Config {
    let text = format!(
        "[agent]\nstate_dir = {:?}\ntimezone = \"UTC\"\n{agent}\n\
         [remotes.r]\nhost = \"127.0.0.1\"\nuser = \"u\"\nidentity_file = \"/k\"\n\
         known_hosts = \"/kh\"\npath = \"/b\"\n{jobs}",
        dir.join("state").to_string_lossy()
    );
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    config::load(&path).unwrap()
}

/// Starts the daemon at wall time `start` with `state` (if any) pre-loaded.
pub(super) fn start(
    start: DateTime<Utc>,
    agent: &str,
    jobs: &str,
    run_for: Duration,
    errors: Vec<Option<JobError>>,
    prepare: impl FnOnce(&std::path::Path),
) -> World {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), agent, jobs);
    prepare(&config.agent.state_dir);
    let calls = Arc::new(Mutex::new(Vec::new()));
    let verifies = Arc::new(Mutex::new(Vec::new()));
    let verify_fails = Arc::new(AtomicBool::new(false));
    let fake = Fake {
        clock: TokioClock::starting_at(start),
        run_for,
        calls: calls.clone(),
        errors: Mutex::new(errors),
        verifies: verifies.clone(),
        verify_fails: verify_fails.clone(),
    };
    let (tx, rx) = mpsc::channel(4);
    let path = dir.path().join("config.toml");
    let task = tokio::spawn(serve(
        config.clone(),
        move || config::load(&path),
        fake,
        TokioClock::starting_at(start),
        rx,
    ));
    World {
        _dir: dir,
        config,
        calls,
        verifies,
        verify_fails,
        control: tx,
        task,
    }
}

impl World {
    pub(super) fn starts(&self) -> Vec<DateTime<Utc>> {
        self.calls.lock().unwrap().iter().map(|c| c.1).collect()
    }
    /// Stops the daemon; the returned directory keeps the state file alive for inspection.
    pub(super) async fn stop(self) -> tempfile::TempDir {
        self.control.send(Control::Shutdown).await.unwrap();
        self.task.await.unwrap();
        self._dir
    }
}

pub(super) const JOB: &str = "[jobs.db]\nremote = \"r\"\nsources = [\"/etc\"]\n";

#[tokio::test(start_paused = true)]
async fn fires_at_the_scheduled_instants() {
    let w = start(
        utc(1, 1, 59, 0),
        "",
        &format!("{JOB}schedule = \"*/30 2 * * *\"\n"),
        Duration::from_secs(5),
        vec![],
        |_| {},
    );
    tokio::time::sleep(Duration::from_secs(25 * 3600)).await;
    assert_eq!(
        w.starts(),
        [
            utc(1, 2, 0, 0),
            utc(1, 2, 30, 0),
            utc(2, 2, 0, 0),
            utc(2, 2, 30, 0)
        ]
    );
    let s = state::read(&w.config.agent.state_dir).unwrap();
    assert_eq!(s.jobs["db"].last_scheduled, Some(utc(2, 2, 30, 0)));
    assert!(s.jobs["db"].last_success.is_some());
    let _ = w.stop().await;
}

#[tokio::test(start_paused = true)]
async fn concurrency_limit_holds() {
    let jobs: String = (0..4)
        .map(|i| {
            format!("[jobs.j{i}]\nremote = \"r\"\nsources = [\"/etc\"]\nschedule = \"0 * * * *\"\n")
        })
        .collect();
    let w = start(
        utc(1, 0, 30, 0),
        "max_concurrent_jobs = 2",
        &jobs,
        Duration::from_secs(60),
        vec![],
        |_| {},
    );
    tokio::time::sleep(Duration::from_secs(3600)).await;
    let calls = w.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 4);
    for (_, s, _) in &calls {
        let overlapping = calls.iter().filter(|(_, s2, e2)| s2 <= s && s < e2).count();
        assert!(overlapping <= 2, "{calls:?}");
    }
    let mut starts: Vec<_> = calls.iter().map(|c| c.1).collect();
    starts.sort();
    assert_eq!(
        starts,
        [
            utc(1, 1, 0, 0),
            utc(1, 1, 0, 0),
            utc(1, 1, 1, 0),
            utc(1, 1, 1, 0)
        ]
    );
    let _ = w.stop().await;
}

#[tokio::test(start_paused = true)]
async fn jitter_stays_within_bounds() {
    let w = start(
        utc(1, 0, 0, 30),
        "",
        &format!("{JOB}schedule = \"0 * * * *\"\njitter = \"10m\"\n"),
        Duration::from_secs(1),
        vec![],
        |_| {},
    );
    tokio::time::sleep(Duration::from_secs(48 * 3600 + 15 * 60)).await;
    let starts = w.starts();
    assert_eq!(starts.len(), 48);
    let mut distinct = std::collections::BTreeSet::new();
    for s in &starts {
        let delay = *s - s.duration_trunc_hour();
        assert!(delay <= TimeDelta::minutes(10), "{s}");
        distinct.insert(delay);
    }
    assert!(distinct.len() > 10, "jitter is drawn per run: {distinct:?}");
    let _ = w.stop().await;
}

trait TruncHour {
    fn duration_trunc_hour(&self) -> DateTime<Utc>;
}
impl TruncHour for DateTime<Utc> {
    fn duration_trunc_hour(&self) -> DateTime<Utc> {
        chrono::DurationRound::duration_trunc(*self, TimeDelta::hours(1)).unwrap()
    }
}
