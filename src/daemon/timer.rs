//! One job's timer: sleep until its next scheduled time, run it, repeat. A reloaded config
//! takes effect at the next computation of the next time; a run in progress keeps the config
//! it started with. The timer ends when the job leaves the config or the daemon stops.
//!
//! Runs happen inside the timer, so a job never overlaps itself here; scheduled times that
//! pass while a run (or its retries) is still going are skipped, and the log says so.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::clock::{self, Clock};
use super::context::Shared;
use super::fire::fire;
use super::runner::Runner;
use crate::config::Config;
use crate::report::state::{self, Trigger};

pub async fn run<R: Runner, C: Clock>(
    sh: Arc<Shared<R, C>>,
    name: String,
    mut config: watch::Receiver<Arc<Config>>,
    catch_up: Option<DateTime<Utc>>,
) {
    if let Some(missed) = catch_up {
        let cfg = config.borrow_and_update().clone();
        tracing::info!(job = %name, "catching up on the run scheduled for {missed}, missed while the daemon was down");
        fire(&sh, cfg, &name, Trigger::CatchUp, missed).await;
    }
    let mut after = sh.clock.now();
    loop {
        if sh.is_stopping() {
            return;
        }
        let cfg = config.borrow_and_update().clone();
        let Some(job) = cfg.job(&name) else {
            tracing::info!(job = %name, "job removed from the config; its timer stops");
            sh.board.next(&name, None);
            return;
        };
        let next = job
            .schedule
            .as_ref()
            .and_then(|s| Some((s.next_after(after)?, s)));
        sh.board.next(&name, next.as_ref().map(|(at, _)| *at));
        let Some((next, schedule)) = next else {
            // On demand only: wait for a reload that gives it a schedule.
            tokio::select! {
                r = config.changed() => if r.is_err() { return },
                () = sh.stopped() => return,
            }
            after = after.max(sh.clock.now());
            continue;
        };
        let now = sh.clock.now();
        if next < now {
            let skipped = schedule.missed_between(after, now);
            tracing::warn!(
                job = %name,
                "skipped {} scheduled run(s) from {next} to {}: the previous run was still going",
                skipped.len(),
                skipped.last().unwrap_or(&next)
            );
            let mark = *skipped.last().unwrap_or(&next);
            let job = name.clone();
            sh.record(None, move |d| state::record_scheduled(d, &job, mark))
                .await;
            after = now;
            continue;
        }
        tracing::debug!(job = %name, "next run at {next}");
        tokio::select! {
            () = clock::sleep_until(&sh.clock, next) => {}
            r = config.changed() => {
                if r.is_err() { return }
                after = after.max(sh.clock.now());
                continue;
            }
            () = sh.stopped() => return,
        }
        let job = name.clone();
        sh.record(None, move |d| state::record_scheduled(d, &job, next))
            .await;
        after = next;
        fire(&sh, cfg, &name, Trigger::Schedule, next).await;
    }
}
