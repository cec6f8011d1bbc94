//! The daemon's main loop: start a timer per job (with catch-up), then wait on the control
//! channel (reload, shutdown), the watchdog and the heartbeat side by side; on shutdown, let running jobs
//! finish up to `shutdown_timeout`, then cancel them.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use super::board::{self, Board};
use super::catchup;
use super::clock::Clock;
use super::context::Shared;
use super::heartbeat;
use super::metrics_http;
use super::runner::Runner;
use super::timer;
use super::verify;
use crate::config::{Config, ConfigError};
use crate::report::state;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// SIGHUP: load the config again.
    Reload,
    /// SIGTERM/SIGINT: stop; a second one cancels running jobs at once.
    Shutdown,
}

/// How long cancelled runs get to record their result before their tasks are dropped.
const CANCEL_GRACE: Duration = Duration::from_secs(10);

pub async fn serve<R: Runner, C: Clock>(
    config: Config,
    load: impl Fn() -> Result<Config, ConfigError>,
    runner: R,
    clock: C,
    mut control: mpsc::Receiver<Control>,
) {
    let (stop_tx, stopping) = watch::channel(false);
    let (cancel_tx, cancel) = watch::channel(false);
    let mut max_jobs = config.agent.max_concurrent_jobs.max(1);
    let sh = Arc::new(Shared {
        runner,
        clock,
        slots: Arc::new(Semaphore::new(max_jobs)),
        turns: Default::default(),
        state_dir: config.agent.state_dir.clone(),
        board: Board::default(),
        stopping,
        cancel,
    });
    sh.board.set_timezone(config.agent.timezone);
    let plans = start_plans(&sh, &config).await;
    let listen = config.agent.metrics_listen;
    let config = Arc::new(config);
    heartbeat::refresh_metrics(config.clone(), sh.state_dir.clone());
    let (config_tx, config_rx) = watch::channel(config);
    let metrics_server = match listen {
        Some(addr) => metrics_http::spawn(addr, config_rx.clone(), sh.state_dir.clone()).await,
        None => None,
    };
    let mut timers = JoinSet::new();
    let mut live = BTreeSet::new();
    for (name, catch_up) in plans {
        live.insert(name.clone());
        timers.spawn(job_task(sh.clone(), name, config_rx.clone(), catch_up));
    }
    tracing::info!("daemon started with {} job(s)", live.len());
    board::ready();
    let mut watchdog = board::watchdog_interval().map(tokio::time::interval);
    let mut pulse = heartbeat::interval();
    loop {
        tokio::select! {
            msg = control.recv() => match msg {
                Some(Control::Reload) => {
                    let Some(new) = reload(&load, &config_tx.borrow()) else { continue };
                    resize(&sh.slots, &mut max_jobs, new.agent.max_concurrent_jobs.max(1));
                    sh.board.set_timezone(new.agent.timezone);
                    for name in new.jobs.keys().filter(|n| !live.contains(*n)).cloned().collect::<Vec<_>>() {
                        live.insert(name.clone());
                        timers.spawn(job_task(sh.clone(), name, config_rx.clone(), None));
                    }
                    let new = Arc::new(new);
                    heartbeat::refresh_metrics(new.clone(), sh.state_dir.clone());
                    let _ = config_tx.send(new);
                }
                Some(Control::Shutdown) | None => break,
            },
            Some(done) = timers.join_next() => {
                if let Err(e) = done {
                    tracing::error!("a job timer ended abnormally: {e}");
                }
                live = config_tx.borrow().jobs.keys().filter(|n| live.contains(*n)).cloned().collect();
            }
            _ = tick(&mut watchdog) => board::watchdog(),
            _ = pulse.tick() => heartbeat::beat(&sh, config_tx.borrow().clone()),
        }
    }
    board::stopping();
    let timeout = config_tx.borrow().agent.shutdown_timeout;
    tracing::info!(
        "stopping: no new runs; running jobs get up to {} to finish",
        humantime::format_duration(timeout)
    );
    let _ = stop_tx.send(true);
    let beat = || heartbeat::beat(&sh, config_tx.borrow().clone());
    let drained = tokio::select! {
        r = tokio::time::timeout(timeout, drain(&mut timers, &mut watchdog, &mut pulse, &beat)) => r.is_ok(),
        _ = control.recv() => {
            tracing::warn!("second stop signal: cancelling running jobs now");
            false
        }
    };
    if !drained {
        tracing::warn!("cancelling the jobs still running");
        let _ = cancel_tx.send(true);
        if tokio::time::timeout(
            CANCEL_GRACE,
            drain(&mut timers, &mut watchdog, &mut pulse, &beat),
        )
        .await
        .is_err()
        {
            timers.abort_all();
        }
    }
    if let Some(server) = metrics_server {
        server.abort();
    }
    tracing::info!("daemon stopped");
}

/// A job's schedule and its verify_schedule; ends when the job leaves the config.
async fn job_task<R: Runner, C: Clock>(
    sh: Arc<Shared<R, C>>,
    name: String,
    config: watch::Receiver<Arc<Config>>,
    catch_up: Option<chrono::DateTime<chrono::Utc>>,
) {
    tokio::join!(
        timer::run(sh.clone(), name.clone(), config.clone(), catch_up),
        verify::run(sh, name, config),
    );
}

/// Catch-up decisions for every job, and the state file updated to match.
async fn start_plans<R: Runner, C: Clock>(
    sh: &Shared<R, C>,
    config: &Config,
) -> Vec<(String, Option<chrono::DateTime<chrono::Utc>>)> {
    let saved = state::read(&sh.state_dir).unwrap_or_else(|e| {
        tracing::warn!("{e}; starting without history (no catch-up)");
        state::State::default()
    });
    let now = sh.clock.now();
    let mut plans = Vec::new();
    for (name, job) in &config.jobs {
        let Some(schedule) = &job.schedule else {
            plans.push((name.clone(), None));
            continue;
        };
        let last = saved.jobs.get(name).and_then(|j| j.last_scheduled);
        let plan = catchup::plan(schedule, last, job.catch_up, now);
        if plan.missed > 0 && plan.catch_up.is_none() {
            tracing::info!(
                job = %name,
                "{} scheduled run(s) passed while the daemon was down; catch_up = false, so waiting for the next one",
                plan.missed
            );
        } else if plan.missed > 1 {
            tracing::info!(job = %name, "{} scheduled runs were missed; catching up once", plan.missed);
        }
        if let Some(mark) = plan.mark {
            let job = name.clone();
            sh.record(None, move |d| state::record_scheduled(d, &job, mark))
                .await;
        }
        plans.push((name.clone(), plan.catch_up));
    }
    plans
}

fn reload(load: &impl Fn() -> Result<Config, ConfigError>, old: &Config) -> Option<Config> {
    match load() {
        Ok(new) => {
            if new.agent.state_dir != old.agent.state_dir {
                tracing::warn!(
                    "agent.state_dir changed to {}; the daemon keeps using {} until it is restarted",
                    new.agent.state_dir.display(),
                    old.agent.state_dir.display()
                );
            }
            tracing::info!("config reloaded: {} job(s)", new.jobs.len());
            Some(new)
        }
        Err(e) => {
            tracing::error!("config reload failed, keeping the running config:\n{e}");
            None
        }
    }
}

/// Grows the slot count at once; shrinks it as running jobs hand their slots back.
fn resize(slots: &Arc<Semaphore>, current: &mut usize, wanted: usize) {
    if wanted > *current {
        slots.add_permits(wanted - *current);
    } else if wanted < *current {
        let (slots, n) = (slots.clone(), (*current - wanted) as u32);
        tokio::spawn(async move {
            if let Ok(p) = slots.acquire_many_owned(n).await {
                p.forget();
            }
        });
    }
    *current = wanted;
}

/// Waits for every timer to end, still answering the watchdog and beating: a long shutdown is
/// not a dead daemon.
async fn drain(
    timers: &mut JoinSet<()>,
    watchdog: &mut Option<tokio::time::Interval>,
    pulse: &mut tokio::time::Interval,
    beat: &impl Fn(),
) {
    loop {
        tokio::select! {
            r = timers.join_next() => if r.is_none() { return },
            _ = tick(watchdog) => board::watchdog(),
            _ = pulse.tick() => beat(),
        }
    }
}

async fn tick(watchdog: &mut Option<tokio::time::Interval>) {
    match watchdog {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}
