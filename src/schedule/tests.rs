//! Parsing, error messages, aliases and field semantics.
// Test-only: the parent declares this module under #[cfg(test)].

use chrono::{DateTime, Datelike, TimeDelta, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use chrono_tz::{Europe::Berlin, UTC};

use super::Schedule;

pub(super) fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

/// The earlier instant of a local wall time (panics inside a gap).
pub(super) fn local(tz: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    tz.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

pub(super) fn err(expr: &str) -> String {
    Schedule::parse(expr, UTC).unwrap_err().to_string()
}

fn next_n(s: &Schedule, from: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
    std::iter::successors(s.next_after(from), |t| s.next_after(*t))
        .take(n)
        .collect()
}

#[test]
fn accessors_keep_original_text_and_zone() {
    let s = Schedule::parse("  0 2 * * MON-FRI ", Berlin).unwrap();
    assert_eq!(s.as_str(), "0 2 * * MON-FRI");
    assert_eq!(s.tz(), Berlin);
    assert_eq!(s.to_string(), "0 2 * * MON-FRI (Europe/Berlin)");
}

#[test]
fn six_fields_have_leading_seconds() {
    let s = Schedule::parse("*/2 * * * * *", UTC).unwrap();
    let start = utc(2026, 5, 1, 12, 0, 0);
    let fires = next_n(&s, start, 10);
    for (i, fire) in fires.iter().enumerate() {
        assert_eq!(*fire, start + TimeDelta::seconds(2 * (i as i64 + 1)));
    }
    // Sub-second start: still the next even second strictly after.
    let odd = start + TimeDelta::milliseconds(1500);
    assert_eq!(s.next_after(odd), Some(start + TimeDelta::seconds(2)));
    let s = Schedule::parse("30 0 2 * * *", UTC).unwrap();
    assert_eq!(s.next_after(start), Some(utc(2026, 5, 2, 2, 0, 30)));
}

#[test]
fn aliases() {
    let start = utc(2026, 5, 6, 13, 20, 0); // a Wednesday
    let case = |expr: &str| Schedule::parse(expr, UTC).unwrap().next_after(start);
    assert_eq!(case("@hourly"), Some(utc(2026, 5, 6, 14, 0, 0)));
    assert_eq!(case("@daily"), Some(utc(2026, 5, 7, 0, 0, 0)));
    assert_eq!(case("@DAILY"), Some(utc(2026, 5, 7, 0, 0, 0)));
    assert_eq!(case("@midnight"), Some(utc(2026, 5, 7, 0, 0, 0)));
    assert_eq!(case("@weekly"), Some(utc(2026, 5, 10, 0, 0, 0)));
    assert_eq!(utc(2026, 5, 10, 0, 0, 0).weekday(), Weekday::Sun);
    assert_eq!(case("@monthly"), Some(utc(2026, 6, 1, 0, 0, 0)));
    assert_eq!(case("@yearly"), Some(utc(2027, 1, 1, 0, 0, 0)));
    assert_eq!(case("@annually"), Some(utc(2027, 1, 1, 0, 0, 0)));
    // Aliases are read in the schedule's zone.
    let berlin = Schedule::parse("@daily", Berlin).unwrap();
    assert_eq!(berlin.next_after(start), Some(utc(2026, 5, 6, 22, 0, 0)));
}

#[test]
fn weekday_numbering() {
    let start = utc(2026, 5, 6, 0, 0, 0);
    let weekdays = |expr: &str| -> Vec<Weekday> {
        let s = Schedule::parse(expr, UTC).unwrap();
        next_n(&s, start, 7).iter().map(|t| t.weekday()).collect()
    };
    assert!(weekdays("0 2 * * 0").iter().all(|d| *d == Weekday::Sun));
    assert!(weekdays("0 2 * * 7").iter().all(|d| *d == Weekday::Sun));
    assert!(weekdays("0 2 * * SUN").iter().all(|d| *d == Weekday::Sun));
    assert!(weekdays("0 2 * * 1").iter().all(|d| *d == Weekday::Mon));
    let monday = Schedule::parse("0 2 * * 1", UTC)
        .unwrap()
        .next_after(start)
        .unwrap();
    assert_eq!(monday, utc(2026, 5, 11, 2, 0, 0));
    assert_eq!(monday.weekday(), Weekday::Mon);
    use Weekday::*;
    assert_eq!(
        weekdays("0 2 * * MON-FRI"),
        [Wed, Thu, Fri, Mon, Tue, Wed, Thu]
    );
    assert_eq!(
        weekdays("0 2 * * mon-fri"),
        [Wed, Thu, Fri, Mon, Tue, Wed, Thu]
    );
    assert_eq!(weekdays("0 2 * * 1-5"), [Wed, Thu, Fri, Mon, Tue, Wed, Thu]);
    assert_eq!(
        weekdays("0 2 * * FRI-SUN"),
        [Fri, Sat, Sun, Fri, Sat, Sun, Fri]
    );
    assert_eq!(weekdays("0 2 * * 5-7"), [Fri, Sat, Sun, Fri, Sat, Sun, Fri]);
    assert_eq!(
        weekdays("0 2 * * SAT,SUN"),
        [Sat, Sun, Sat, Sun, Sat, Sun, Sat]
    );
}

#[test]
fn day_of_month_or_day_of_week_like_vixie() {
    // Both restricted: either matching fires (1st of the month, or any Monday).
    let s = Schedule::parse("0 0 1 * 1", UTC).unwrap();
    let fires = next_n(&s, utc(2026, 5, 26, 0, 0, 0), 3);
    assert_eq!(
        fires,
        [
            utc(2026, 6, 1, 0, 0, 0),
            utc(2026, 6, 8, 0, 0, 0),
            utc(2026, 6, 15, 0, 0, 0)
        ]
    );
}

#[test]
fn missed_between_is_half_open() {
    let s = Schedule::parse("0 * * * *", UTC).unwrap();
    let a = utc(2026, 5, 6, 1, 0, 0);
    let b = utc(2026, 5, 6, 4, 0, 0);
    assert_eq!(
        s.missed_between(a, b),
        [utc(2026, 5, 6, 2, 0, 0), utc(2026, 5, 6, 3, 0, 0), b]
    );
    assert!(s.missed_between(b, a).is_empty());
    assert!(s.missed_between(a, a).is_empty());
}

#[test]
fn missed_between_is_capped() {
    let s = Schedule::parse("* * * * * *", UTC).unwrap();
    let a = utc(2026, 5, 6, 0, 0, 0);
    let fires = s.missed_between(a, a + TimeDelta::days(2));
    assert_eq!(fires.len(), super::MAX_MISSED);
    assert_eq!(
        fires.last(),
        Some(&(a + TimeDelta::seconds(super::MAX_MISSED as i64)))
    );
}

#[test]
fn last_at_or_before_is_inclusive() {
    let s = Schedule::parse("30 2 * * *", UTC).unwrap();
    let fire = utc(2026, 5, 6, 2, 30, 0);
    assert_eq!(s.last_at_or_before(fire), Some(fire));
    assert_eq!(
        s.last_at_or_before(fire - TimeDelta::seconds(1)),
        Some(fire - TimeDelta::days(1))
    );
    assert_eq!(
        s.last_at_or_before(fire + TimeDelta::milliseconds(999)),
        Some(fire)
    );
    let leap = Schedule::parse("0 0 29 2 *", UTC).unwrap();
    assert_eq!(
        leap.last_at_or_before(utc(2026, 5, 6, 0, 0, 0)),
        Some(utc(2024, 2, 29, 0, 0, 0))
    );
}

#[test]
fn extreme_instants_do_not_panic() {
    for tz in [
        UTC,
        Berlin,
        chrono_tz::Pacific::Kiritimati,
        chrono_tz::Pacific::Niue,
    ] {
        for expr in ["0 2 * * *", "* * * * *", "@yearly"] {
            let s = Schedule::parse(expr, tz).unwrap();
            for t in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
                let _ = s.next_after(t);
                let _ = s.last_at_or_before(t);
                let _ = s.missed_between(t, t);
            }
        }
    }
    // Croner searches years 1-5000; beyond that there is no answer.
    let s = Schedule::parse("@daily", UTC).unwrap();
    assert_eq!(s.next_after(utc(6000, 1, 1, 0, 0, 0)), None);
    assert_eq!(
        s.last_at_or_before(utc(1, 1, 1, 0, 0, 0)),
        Some(utc(1, 1, 1, 0, 0, 0))
    );
}
