//! Start-up decisions: which jobs missed a scheduled run while the daemon was down.
//! Pure, so the rules are tested without a clock.

use chrono::{DateTime, Utc};

use crate::schedule::Schedule;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartPlan {
    /// Run once now (after jitter), standing in for this missed scheduled time.
    pub catch_up: Option<DateTime<Utc>>,
    /// How many scheduled times passed while the daemon was down (capped, for the log).
    pub missed: usize,
    /// What to store as the job's last scheduled time before the timer starts.
    pub mark: Option<DateTime<Utc>>,
}

/// `last_scheduled` is what the state file remembers; `None` means the job was never seen,
/// and a job never seen starts from now rather than catching up on its whole history.
pub fn plan(
    schedule: &Schedule,
    last_scheduled: Option<DateTime<Utc>>,
    catch_up: bool,
    now: DateTime<Utc>,
) -> StartPlan {
    let latest = schedule.last_at_or_before(now);
    let Some(last) = last_scheduled else {
        return StartPlan {
            catch_up: None,
            missed: 0,
            mark: latest,
        };
    };
    // Only the count is needed, and a per-second schedule over a long outage is a lot of
    // instants: missed_between caps it.
    let missed = match schedule.next_after(last) {
        Some(first) if first <= now => schedule.missed_between(last, now).len(),
        _ => 0,
    };
    StartPlan {
        catch_up: (catch_up && missed > 0).then_some(latest).flatten(),
        missed,
        mark: if missed > 0 { latest } else { None },
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn utc(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, d, h, m, 0).unwrap()
    }

    #[test]
    fn three_missed_nights_catch_up_once() {
        let s = Schedule::parse("0 2 * * *", chrono_tz::UTC).unwrap();
        let p = plan(&s, Some(utc(1, 2, 0)), true, utc(4, 12, 0));
        assert_eq!(p.catch_up, Some(utc(4, 2, 0)));
        assert_eq!(p.missed, 3);
        assert_eq!(p.mark, Some(utc(4, 2, 0)));
        let p = plan(&s, Some(utc(1, 2, 0)), false, utc(4, 12, 0));
        assert_eq!((p.catch_up, p.missed), (None, 3));
    }

    #[test]
    fn nothing_missed_or_never_seen_does_not_catch_up() {
        let s = Schedule::parse("0 2 * * *", chrono_tz::UTC).unwrap();
        let p = plan(&s, Some(utc(4, 2, 0)), true, utc(4, 12, 0));
        assert_eq!(
            p,
            StartPlan {
                catch_up: None,
                missed: 0,
                mark: None
            }
        );
        let p = plan(&s, None, true, utc(4, 12, 0));
        assert_eq!(p.catch_up, None);
        assert_eq!(p.mark, Some(utc(4, 2, 0)));
    }
}
