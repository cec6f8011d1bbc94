//! Bandwidth limits (`[remotes.NAME] bandwidth`): one [`Limiter`] per remote per process,
//! shared by every channel and every stream of that remote, uploads and downloads alike, so
//! two jobs or two dumps at once still share the one line the operator protects.
//!
//! The SFTP code asks it for each write or read request before sending it ([`Limit::take`]);
//! the limiter reads the rate in force from the timetable on every look and never sleeps
//! longer than [`MAX_NAP`], so a switch (`"19:00 off"`) takes effect while a run is under way.
//! The wall clock is injected, so tests can move through a timetable on tokio's paused clock.

mod bucket;
pub mod timetable;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::{RemoteConfig, SftpConfig};
use crate::outcome::human_bytes;
use bucket::Bucket;
pub use timetable::{Bandwidth, Entry, Timetable};

/// Longest a waiting transfer sleeps before it looks at the timetable again.
pub const MAX_NAP: Duration = Duration::from_millis(200);

/// Shortest nap: a wait that rounds to nothing must still yield, not spin.
const MIN_NAP: Duration = Duration::from_millis(1);

/// The wall clock the timetable is read by.
pub type WallClock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

pub struct Limiter {
    remote: String,
    setting: Mutex<Bandwidth>,
    clock: WallClock,
    start: tokio::time::Instant,
    bucket: Mutex<Bucket>,
    /// The entry in force at the last look, to log a switch once.
    seen: Mutex<Option<Entry>>,
}

/// A poisoned lock only means another transfer panicked; the bucket's numbers stay usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Limiter {
    pub fn new(remote: &str, setting: Bandwidth, clock: WallClock) -> Limiter {
        Limiter {
            remote: remote.to_string(),
            setting: Mutex::new(setting),
            clock,
            start: tokio::time::Instant::now(),
            bucket: Mutex::new(Bucket::new(0.0)),
            seen: Mutex::new(None),
        }
    }

    /// Bytes per second in force now (`None`: no limit); logs a switch of the timetable.
    pub fn rate_now(&self) -> Option<u64> {
        let (_, entry) = lock(&self.setting).in_force((self.clock)());
        let mut seen = lock(&self.seen);
        if let Some(before) = *seen
            && before != entry
        {
            tracing::info!(
                remote = %self.remote,
                "bandwidth timetable: \"{entry}\" is in force now ({}; was {})",
                describe(entry.rate),
                describe(before.rate)
            );
        }
        *seen = Some(entry);
        entry.rate
    }

    fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Waits until `n` more bytes fit the rate, in naps of at most [`MAX_NAP`].
    pub async fn take(&self, n: usize) {
        if n == 0 {
            return;
        }
        let rate = self.rate_now();
        let Some(ticket) = lock(&self.bucket).reserve(n as u64, self.now(), rate) else {
            return;
        };
        loop {
            let rate = self.rate_now();
            let Some(left) = lock(&self.bucket).wait(ticket, self.now(), rate) else {
                return;
            };
            let nap = Duration::try_from_secs_f64(left)
                .unwrap_or(MAX_NAP)
                .clamp(MIN_NAP, MAX_NAP);
            tokio::time::sleep(nap).await;
        }
    }

    /// A reloaded config may change the setting; transfers under way follow it.
    fn set(&self, setting: &Bandwidth) {
        let mut s = lock(&self.setting);
        if *s != *setting {
            *s = setting.clone();
        }
    }
}

/// A remote's limiter, or none: what the SFTP code and the progress display hold.
#[derive(Clone, Default)]
pub struct Limit(Option<Arc<Limiter>>);

impl Limit {
    /// The process's limiter for this remote (made on first use), or none if it has no
    /// `bandwidth` setting.
    pub fn of(remote: &RemoteConfig) -> Limit {
        remote.sftp().map(Limit::of_sftp).unwrap_or_default()
    }

    pub fn of_sftp(cfg: &SftpConfig) -> Limit {
        Limit(cfg.bandwidth.as_ref().map(|b| shared(&cfg.name, b)))
    }

    pub async fn take(&self, n: usize) {
        if let Some(l) = &self.0 {
            l.take(n).await;
        }
    }

    /// Bytes per second in force now; `None` without a limit.
    pub fn rate_now(&self) -> Option<u64> {
        self.0.as_ref().and_then(|l| l.rate_now())
    }
}

fn shared(name: &str, setting: &Bandwidth) -> Arc<Limiter> {
    static SHARED: OnceLock<Mutex<HashMap<String, Arc<Limiter>>>> = OnceLock::new();
    let mut all = lock(SHARED.get_or_init(Default::default));
    if let Some(l) = all.get(name) {
        l.set(setting);
        return l.clone();
    }
    let l = Arc::new(Limiter::new(name, setting.clone(), Arc::new(Utc::now)));
    all.insert(name.to_string(), l.clone());
    l
}

/// "limited to 8.0 MiB/s" or "unlimited".
pub fn describe(rate: Option<u64>) -> String {
    match rate {
        Some(r) => format!("limited to {}/s", human_bytes(r)),
        None => "unlimited".to_string(),
    }
}

/// For a run's summary: the limit at the start and at the end of its transfers, or `None`
/// when there was none.
pub fn during(start: Option<u64>, end: Option<u64>) -> Option<String> {
    match (start, end) {
        (None, None) => None,
        (a, b) if a == b => Some(describe(a)),
        (a, b) => Some(format!("{}, then {}", describe(a), describe(b))),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, TimeZone};

    use super::*;

    /// Wall time that follows tokio's (paused) clock from `start`.
    fn clock_from(start: DateTime<Utc>) -> WallClock {
        let t0 = tokio::time::Instant::now();
        Arc::new(move || start + TimeDelta::from_std(t0.elapsed()).unwrap_or_default())
    }

    fn limiter(entries: &[&str], start: DateTime<Utc>) -> Arc<Limiter> {
        let entries = entries
            .iter()
            .map(|e| timetable::parse_entry(e).unwrap())
            .collect();
        let setting = Bandwidth {
            timetable: Timetable::new(entries).unwrap(),
            timezone: chrono_tz::Europe::Berlin,
        };
        Arc::new(Limiter::new("r", setting, clock_from(start)))
    }

    async fn send(l: Arc<Limiter>, bytes: usize) {
        for _ in 0..bytes / (64 << 10) {
            l.take(64 << 10).await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn two_streams_share_one_rate() {
        // 10:00 UTC is 12:00 in Berlin (summer): the 2 MiB entry.
        let start = Utc.with_ymd_and_hms(2026, 6, 1, 10, 0, 0).unwrap();
        let l = limiter(&["06:00 2MiB", "22:00 off"], start);
        let t0 = tokio::time::Instant::now();
        tokio::join!(send(l.clone(), 4 << 20), send(l.clone(), 4 << 20));
        let took = t0.elapsed().as_secs_f64();
        assert!((took - 4.0).abs() < 0.05, "8 MiB at 2 MiB/s took {took}s");
    }

    #[tokio::test(start_paused = true)]
    async fn a_switch_to_off_speeds_up_a_transfer_under_way() {
        // 19:59:58 in Berlin: two seconds at 1 MiB/s, then no limit.
        let start = Utc.with_ymd_and_hms(2026, 6, 1, 17, 59, 58).unwrap();
        let l = limiter(&["08:00 1MiB", "20:00 off"], start);
        assert_eq!(l.rate_now(), Some(1 << 20));
        let t0 = tokio::time::Instant::now();
        send(l.clone(), 100 << 20).await;
        let took = t0.elapsed();
        assert!(
            took >= Duration::from_secs(2) && took <= Duration::from_secs(2) + MAX_NAP,
            "{took:?}"
        );
        assert_eq!(l.rate_now(), None);
    }

    #[test]
    fn summaries_name_the_limit() {
        assert_eq!(during(None, None), None);
        assert_eq!(
            during(Some(8 << 20), Some(8 << 20)).as_deref(),
            Some("limited to 8.0 MiB/s")
        );
        assert_eq!(
            during(Some(4 << 20), None).as_deref(),
            Some("limited to 4.0 MiB/s, then unlimited")
        );
    }
}
