//! The `keep_within*` window: which snapshots count as "within D of the newest".
//!
//! restic computes the cut-off as `latest.AddDate(0, 0, -days).Add(-hours)` in the newest
//! snapshot's zone, so whole days are *calendar* days: across a DST change "2d" spans 47 or 49
//! hours. We follow it so that a policy copied from restic keeps the same snapshots; whole days
//! of the `Duration` are calendar days in the operator's zone and the remainder is exact time.
//! A snapshot is within when it is strictly after the cut-off (restic's `After`).

use std::time::Duration;

use chrono::{DateTime, Days, NaiveDateTime, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

const DAY_SECS: u64 = 24 * 60 * 60;

pub(super) struct Window {
    span: Duration,
    /// `None` when the cut-off lies before anything chrono can represent: everything is within.
    cutoff: Option<DateTime<Utc>>,
}

impl Window {
    pub(super) fn new(newest: DateTime<Utc>, span: Duration, tz: Tz) -> Self {
        Window {
            span,
            cutoff: cutoff(newest, span, tz),
        }
    }

    pub(super) fn contains(&self, t: DateTime<Utc>) -> bool {
        self.cutoff.is_none_or(|c| t > c)
    }

    /// The span as the operator would write it: "10d", "1d12h", "90m" reads as "1h30m".
    pub(super) fn span(&self) -> String {
        human(self.span)
    }
}

fn cutoff(newest: DateTime<Utc>, span: Duration, tz: Tz) -> Option<DateTime<Utc>> {
    let days = span.as_secs() / DAY_SECS;
    let rest = TimeDelta::from_std(span.checked_sub(Duration::from_secs(days * DAY_SECS))?).ok()?;
    let wall = newest
        .with_timezone(&tz)
        .naive_local()
        .checked_sub_days(Days::new(days))?;
    resolve_like_go(wall, tz)?.checked_sub_signed(rest)
}

/// Go's `time.Date` for a wall-clock reading that may fall into a DST gap or overlap: it takes
/// the offset in force at the reading taken as UTC, then the offset in force at the instant that
/// gives. (East of UTC a gap resolves to the pre-transition offset and an overlap to the later
/// instant; west of UTC the other way round.)
fn resolve_like_go(wall: NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
    let offset_at = |t: NaiveDateTime| {
        TimeDelta::seconds(
            tz.offset_from_utc_datetime(&t)
                .fix()
                .local_minus_utc()
                .into(),
        )
    };
    let guess = wall.checked_sub_signed(offset_at(wall))?;
    Some(wall.checked_sub_signed(offset_at(guess))?.and_utc())
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    let parts = [
        (s / DAY_SECS, "d"),
        (s / 3600 % 24, "h"),
        (s / 60 % 60, "m"),
        (s % 60, "s"),
    ];
    let out: String = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    if out.is_empty() {
        format!("{}ms", d.as_millis())
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use chrono_tz::{America::New_York, Europe::Berlin};

    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn human_spans() {
        let h = |s| human(Duration::from_secs(s));
        assert_eq!(h(10 * DAY_SECS), "10d");
        assert_eq!(h(DAY_SECS + 12 * 3600), "1d12h");
        assert_eq!(h(5400), "1h30m");
        assert_eq!(h(59), "59s");
        assert_eq!(human(Duration::from_millis(1500)), "1s");
    }

    #[test]
    fn days_are_calendar_days_across_dst() {
        // 2026-03-30 12:30 CEST minus two calendar days is 2026-03-28 12:30 CET: 47 hours.
        let w = Window::new(
            utc("2026-03-30T10:30:00Z"),
            Duration::from_secs(2 * DAY_SECS),
            Berlin,
        );
        assert_eq!(w.cutoff, Some(utc("2026-03-28T11:30:00Z")));
        // 2d1h before 2026-11-02 10:30 EST: two calendar days (to 10:30 EDT, 49 hours), then
        // one exact hour.
        let w = Window::new(
            utc("2026-11-02T15:30:00Z"),
            Duration::from_secs(2 * DAY_SECS + 3600),
            New_York,
        );
        assert_eq!(w.cutoff, Some(utc("2026-10-31T13:30:00Z")));
    }

    #[test]
    fn gap_and_overlap_resolve_like_go() {
        let naive = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        // Berlin's 02:30 on 2026-03-29 does not exist: Go lands on 03:30 CEST.
        assert_eq!(
            resolve_like_go(naive("2026-03-29 02:30"), Berlin),
            Some(utc("2026-03-29T01:30:00Z"))
        );
        // Berlin's 02:30 on 2026-10-25 happens twice: Go picks the second (CET).
        assert_eq!(
            resolve_like_go(naive("2026-10-25 02:30"), Berlin),
            Some(utc("2026-10-25T01:30:00Z"))
        );
        // New York's 02:30 on 2026-03-08 does not exist: Go lands on 01:30 EST.
        assert_eq!(
            resolve_like_go(naive("2026-03-08 02:30"), New_York),
            Some(utc("2026-03-08T06:30:00Z"))
        );
        // New York's 01:30 on 2026-11-01 happens twice: Go picks the first (EDT).
        assert_eq!(
            resolve_like_go(naive("2026-11-01 01:30"), New_York),
            Some(utc("2026-11-01T05:30:00Z"))
        );
    }

    #[test]
    fn huge_spans_cover_everything() {
        let w = Window::new(utc("2026-03-30T10:30:00Z"), Duration::MAX, Berlin);
        assert!(w.contains(utc("1970-01-01T00:00:00Z")));
    }
}
