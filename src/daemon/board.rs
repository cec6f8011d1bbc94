//! What the daemon is doing right now (running jobs, next run of each), for the systemd
//! STATUS= line; and the sd_notify calls themselves, which are no-ops outside systemd.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sd_notify::NotifyState;

#[derive(Default)]
pub struct Board {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    running: BTreeSet<String>,
    next: BTreeMap<String, DateTime<Utc>>,
    tz: Option<Tz>,
}

impl Board {
    pub fn set_timezone(&self, tz: Tz) {
        self.with(|i| i.tz = Some(tz));
    }

    pub fn running(&self, job: &str, on: bool) {
        self.with(|i| {
            if on {
                i.running.insert(job.to_string());
            } else {
                i.running.remove(job);
            }
        });
    }

    pub fn next(&self, job: &str, at: Option<DateTime<Utc>>) {
        self.with(|i| match at {
            Some(at) => {
                i.next.insert(job.to_string(), at);
            }
            None => {
                i.next.remove(job);
            }
        });
    }

    fn with(&self, f: impl FnOnce(&mut Inner)) {
        // A panic while holding this lock cannot leave the board inconsistent in a way that
        // matters (it is only a status line), so a poisoned lock is used as is.
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut inner);
        let line = inner.status_line();
        drop(inner);
        let _ = sd_notify::notify(&[NotifyState::Status(&line)]);
    }
}

impl Inner {
    fn status_line(&self) -> String {
        let running = if self.running.is_empty() {
            "idle".to_string()
        } else {
            format!(
                "running: {}",
                self.running.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        };
        match self.next.iter().min_by_key(|(_, at)| **at) {
            Some((job, at)) => {
                let local = match self.tz {
                    Some(tz) => at
                        .with_timezone(&tz)
                        .format("%Y-%m-%d %H:%M:%S %Z")
                        .to_string(),
                    None => at.format("%Y-%m-%d %H:%M:%SZ").to_string(),
                };
                format!("{running}; next: {job} at {local}")
            }
            None => format!("{running}; nothing scheduled"),
        }
    }
}

pub fn ready() {
    let _ = sd_notify::notify(&[NotifyState::Ready]);
}

pub fn stopping() {
    let _ = sd_notify::notify(&[NotifyState::Stopping]);
}

pub fn watchdog() {
    let _ = sd_notify::notify(&[NotifyState::Watchdog]);
}

/// Half the watchdog interval systemd set, as sd_watchdog_enabled(3) recommends.
pub fn watchdog_interval() -> Option<std::time::Duration> {
    sd_notify::watchdog_enabled().map(|d| d / 2)
}
