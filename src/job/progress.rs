//! Progress while a run streams: a bar on a terminal, a log line a minute otherwise, each with
//! the remote's bandwidth limit in force.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::config::JobConfig;
use crate::outcome::human_bytes;
use crate::remote::Counted;
use crate::remote::bandwidth::{self, Limit, describe};
use crate::snapshot::Progress;

pub struct Display {
    task: tokio::task::JoinHandle<()>,
    bar: Option<ProgressBar>,
    limit: Limit,
    limit_at_start: Option<u64>,
}

impl Display {
    pub fn start(
        job: &JobConfig,
        progress: Arc<Progress>,
        counted: Arc<Counted>,
        allow_bar: bool,
    ) -> Display {
        let limit = Limit::of(&job.remote);
        let limit_at_start = limit.rate_now();
        if limit_at_start.is_some() {
            tracing::info!(job = %job.name, "transfers to remote {} {}", job.remote.name, describe(limit_at_start));
        }
        let job = &job.name;
        let bar = (allow_bar && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::new_spinner();
            b.set_style(
                ProgressStyle::with_template("{spinner} {prefix}: {msg} [{elapsed_precise}]")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b.set_prefix(job.to_string());
            b
        });
        let b = bar.clone();
        let job = job.to_string();
        let shown = limit.clone();
        let task = tokio::spawn(async move {
            let start = std::time::Instant::now();
            let tick = if b.is_some() {
                Duration::from_millis(200)
            } else {
                Duration::from_secs(60)
            };
            loop {
                tokio::time::sleep(tick).await;
                let read = progress.read.load(Ordering::Relaxed);
                let sent = counted.written.load(Ordering::Relaxed);
                let rate = sent as f64 / start.elapsed().as_secs_f64().max(0.001);
                let mut msg = format!(
                    "{} read, {} sent, {}/s",
                    human_bytes(read),
                    human_bytes(sent),
                    human_bytes(rate as u64)
                );
                if let Some(r) = shown.rate_now() {
                    msg = format!("{msg} ({})", describe(Some(r)));
                }
                match &b {
                    Some(b) => {
                        b.set_message(msg);
                        b.tick();
                    }
                    None => tracing::info!(job = %job, "progress: {msg}"),
                }
            }
        });
        Display {
            task,
            bar,
            limit,
            limit_at_start,
        }
    }

    /// Clears the bar; returns the bandwidth limit the transfers ran under, for the summary.
    pub fn finish(self) -> Option<String> {
        self.task.abort();
        if let Some(b) = self.bar {
            b.finish_and_clear();
        }
        bandwidth::during(self.limit_at_start, self.limit.rate_now())
    }
}
