//! One job's timer: sleep until its next scheduled time, run it, repeat. A reloaded config
//! takes effect at the next computation of the next time; a run in progress keeps the config
//! it started with. The timer ends when the job leaves the config or the daemon stops.
//!
//! Runs happen inside the timer, so a job never overlaps itself here; scheduled times that
//! pass while a run (or its retries) is still going, or that a forward clock step jumped
//! over, are skipped, and the log says which of the two it was.

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
    // When the timer last woke for a scheduled time: what the skipped times are blamed on.
    let mut woke = None;
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
                "skipped {} scheduled run(s) from {next} to {}: {}",
                skipped.len(),
                skipped.last().unwrap_or(&next),
                skip_reason(next, woke)
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
        woke = Some(sh.clock.now());
        let job = name.clone();
        sh.record(None, move |d| state::record_scheduled(d, &job, next))
            .await;
        after = next;
        fire(&sh, cfg, &name, Trigger::Schedule, next).await;
    }
}

/// Why scheduled times from `first` on were skipped. A time that was already past when the
/// timer woke for the previous one passed while the daemon waited, not while it ran: the wall
/// clock jumped forward (an NTP step) or the machine was suspended.
fn skip_reason(first: DateTime<Utc>, woke: Option<DateTime<Utc>>) -> &'static str {
    if woke.is_some_and(|w| first < w) {
        "the wall clock jumped forward (or the machine was suspended) before the previous run"
    } else {
        "the previous run was still going"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// Found by the soak (daemon clock jump forward): the log blamed a jump on a 0.1 s run.
    #[test]
    fn a_forward_jump_is_not_blamed_on_the_previous_run() {
        let t = |h, m| Utc.with_ymd_and_hms(2026, 12, 2, h, m, 0).unwrap();
        // Woke for 02:00 at 05:00 (the clock jumped 3 h): 02:05 .. 05:00 passed before the run.
        assert!(skip_reason(t(2, 5), Some(t(5, 0))).contains("jumped forward"));
        // Woke for 02:00 on time; the run took until 02:12, so 02:05 and 02:10 passed during it.
        assert_eq!(
            skip_reason(t(2, 5), Some(t(2, 0))),
            "the previous run was still going"
        );
        assert_eq!(
            skip_reason(t(2, 5), None),
            "the previous run was still going"
        );
    }
}
