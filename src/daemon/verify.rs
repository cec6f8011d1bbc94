//! One job's `verify_schedule`: sleep until the next verification time, verify (as
//! `backup verify JOB [--all]` would), record the result in the state file and the metrics,
//! and notify on failure. A verification takes the job's turn (it never overlaps a run of the
//! same job: whichever comes second waits) and a concurrency slot, like a run. Times missed
//! while the daemon was down are not caught up: the next one comes.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::clock::{self, Clock};
use super::context::Shared;
use super::runner::Runner;
use crate::config::Config;
use crate::report::notify::Notifier;
use crate::report::state;

pub async fn run<R: Runner, C: Clock>(
    sh: Arc<Shared<R, C>>,
    name: String,
    mut config: watch::Receiver<Arc<Config>>,
) {
    let mut after = sh.clock.now();
    loop {
        if sh.is_stopping() {
            return;
        }
        let cfg = config.borrow_and_update().clone();
        let Some(job) = cfg.job(&name) else { return };
        let next: Option<DateTime<Utc>> = job
            .verify_schedule
            .as_ref()
            .and_then(|s| s.next_after(after));
        tokio::select! {
            () = sleep_until(&sh.clock, next) => {}
            r = config.changed() => {
                if r.is_err() { return }
                after = after.max(sh.clock.now());
                continue;
            }
            () = sh.stopped() => return,
        }
        verify_once(&sh, cfg, &name).await;
        // A verification that outlasted the next time(s) skips them rather than firing again.
        after = next.unwrap_or(after).max(sh.clock.now());
    }
}

async fn sleep_until(clock: &dyn Clock, at: Option<DateTime<Utc>>) {
    match at {
        Some(at) => clock::sleep_until(clock, at).await,
        None => std::future::pending().await,
    }
}

async fn verify_once<R: Runner, C: Clock>(sh: &Shared<R, C>, config: Arc<Config>, name: &str) {
    let Some(job) = config.job(name) else { return };
    let _turn = tokio::select! {
        t = sh.gate(name).lock_owned() => t,
        () = sh.stopped() => return,
    };
    let _slot = tokio::select! {
        p = sh.slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
        () = sh.stopped() => return,
    };
    if sh.is_stopping() {
        return;
    }
    tracing::info!(
        job = name,
        "verifying {} (verify_schedule)",
        if job.verify_all {
            "every snapshot"
        } else {
            "the latest snapshot"
        }
    );
    let report = tokio::select! {
        r = sh.runner.verify(config.clone(), name.to_string()) => r,
        () = sh.cancelled() => {
            tracing::warn!(job = name, "verification cancelled: the daemon is stopping; nothing recorded");
            return;
        }
    };
    let done = report.clone();
    sh.record(Some(config.clone()), move |d| {
        state::record_verify(d, &done)
    })
    .await;
    if report.is_ok() {
        tracing::info!(job = name, "{}", report.summary());
        return;
    }
    tracing::error!(job = name, "{}", report.summary());
    if let Some(n) = Notifier::new(job.notify.as_ref()) {
        n.verify_failed(&report).await;
    }
}
