//! DST behaviour: fixed examples of the contract in the module docs.
// Test-only: the parent declares this module under #[cfg(test)].

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use chrono_tz::America::New_York;
use chrono_tz::Australia::{Lord_Howe, Sydney};
use chrono_tz::Europe::Berlin;
use chrono_tz::Tz;

use super::Schedule;
use super::tests::{local, utc};

/// Fires during the local calendar day, via `missed_between` over the day.
fn day_fires(expr: &str, tz: Tz, y: i32, m: u32, d: u32) -> Vec<DateTime<Utc>> {
    let s = Schedule::parse(expr, tz).unwrap();
    let day = NaiveDate::from_ymd_opt(y, m, d).unwrap();
    let start = local(tz, y, m, d, 0, 0);
    let next = day.succ_opt().unwrap();
    let end = local(tz, next.year(), next.month(), next.day(), 0, 0);
    let one = TimeDelta::seconds(1);
    s.missed_between(start - one, end - one)
}

#[test]
fn fixed_time_in_spring_gap_runs_after_the_gap() {
    // Berlin 2026-03-29: 02:00 CET -> 03:00 CEST (01:00 UTC).
    assert_eq!(
        day_fires("0 2 * * *", Berlin, 2026, 3, 29),
        [utc(2026, 3, 29, 1, 0, 0)]
    );
    assert_eq!(
        day_fires("30 2 * * *", Berlin, 2026, 3, 29),
        [utc(2026, 3, 29, 1, 0, 0)]
    );
    // Several gap times collapse onto one run.
    assert_eq!(
        day_fires("0,30 2 * * *", Berlin, 2026, 3, 29),
        [utc(2026, 3, 29, 1, 0, 0)]
    );
    // New York 2026-03-08: 02:00 EST -> 03:00 EDT (07:00 UTC).
    assert_eq!(
        day_fires("0 2 * * *", New_York, 2026, 3, 8),
        [utc(2026, 3, 8, 7, 0, 0)]
    );
    assert_eq!(
        day_fires("30 2 * * *", New_York, 2026, 3, 8),
        [utc(2026, 3, 8, 7, 0, 0)]
    );
    // Lord Howe 2026-10-04: 02:00 -> 02:30 (+11), a 30-minute gap.
    assert_eq!(
        day_fires("0 2 * * *", Lord_Howe, 2026, 10, 4),
        [utc(2026, 10, 3, 15, 30, 0)]
    );
    assert_eq!(
        day_fires("0,45 2 * * *", Lord_Howe, 2026, 10, 4),
        [utc(2026, 10, 3, 15, 30, 0), utc(2026, 10, 3, 15, 45, 0)]
    );
}

#[test]
fn fixed_time_in_fall_overlap_runs_once() {
    // Berlin 2026-10-25: 03:00 CEST -> 02:00 CET; 02:xx happens twice.
    assert_eq!(
        day_fires("0 2 * * *", Berlin, 2026, 10, 25),
        [utc(2026, 10, 25, 0, 0, 0)]
    );
    assert_eq!(
        day_fires("30 2 * * *", Berlin, 2026, 10, 25),
        [utc(2026, 10, 25, 0, 30, 0)]
    );
    // Croner alone would run these twice: not single-valued time fields.
    assert_eq!(
        day_fires("0,30 2 * * *", Berlin, 2026, 10, 25),
        [utc(2026, 10, 25, 0, 0, 0), utc(2026, 10, 25, 0, 30, 0)]
    );
    assert_eq!(
        day_fires("0 2,14 * * *", Berlin, 2026, 10, 25),
        [utc(2026, 10, 25, 0, 0, 0), utc(2026, 10, 25, 13, 0, 0)]
    );
    // New York 2026-11-01: 02:00 EDT -> 01:00 EST; 01:xx happens twice, 02:xx once.
    assert_eq!(
        day_fires("0 1 * * *", New_York, 2026, 11, 1),
        [utc(2026, 11, 1, 5, 0, 0)]
    );
    assert_eq!(
        day_fires("30 1 * * *", New_York, 2026, 11, 1),
        [utc(2026, 11, 1, 5, 30, 0)]
    );
    assert_eq!(
        day_fires("0 2 * * *", New_York, 2026, 11, 1),
        [utc(2026, 11, 1, 7, 0, 0)]
    );
    assert_eq!(
        day_fires("30 2 * * *", New_York, 2026, 11, 1),
        [utc(2026, 11, 1, 7, 30, 0)]
    );
}

#[test]
fn wildcard_hour_keeps_real_interval() {
    for (tz, spring, fall) in [
        (Berlin, (2026, 3, 29), (2026, 10, 25)),
        (New_York, (2026, 3, 8), (2026, 11, 1)),
        (Sydney, (2026, 10, 4), (2026, 4, 5)),
    ] {
        for (expr, step, spring_count, fall_count) in [
            ("0 * * * *", 60, 23, 25),
            ("*/1 * * * *", 1, 23 * 60, 25 * 60),
            ("*/15 * * * *", 15, 23 * 4, 25 * 4),
            ("0 */1 * * *", 60, 23, 25),
        ] {
            for ((y, m, d), count) in [(spring, spring_count), (fall, fall_count)] {
                let fires = day_fires(expr, tz, y, m, d);
                assert_eq!(fires.len(), count, "{expr} {tz} {y}-{m}-{d}");
                for pair in fires.windows(2) {
                    assert_eq!(pair[1] - pair[0], TimeDelta::minutes(step), "{expr} {tz}");
                }
            }
        }
    }
}

#[test]
fn wildcard_hour_with_fixed_minute_skips_gap_and_repeats_overlap() {
    // 02:30 does not exist in Berlin on 2026-03-29: an hourly job just skips it.
    let spring = day_fires("30 * * * *", Berlin, 2026, 3, 29);
    assert_eq!(spring.len(), 23);
    assert!(spring.contains(&utc(2026, 3, 29, 0, 30, 0))); // 01:30 CET
    assert!(spring.contains(&utc(2026, 3, 29, 1, 30, 0))); // 03:30 CEST
    let fall = day_fires("30 * * * *", Berlin, 2026, 10, 25);
    assert_eq!(fall.len(), 25);
    assert!(fall.contains(&utc(2026, 10, 25, 0, 30, 0))); // 02:30 CEST
    assert!(fall.contains(&utc(2026, 10, 25, 1, 30, 0))); // 02:30 CET
    // A range over the repeated hour also runs in both passes.
    assert_eq!(
        day_fires("0 1-3 * * *", Berlin, 2026, 10, 25),
        [
            utc(2026, 10, 24, 23, 0, 0),
            utc(2026, 10, 25, 0, 0, 0),
            utc(2026, 10, 25, 1, 0, 0),
            utc(2026, 10, 25, 2, 0, 0),
        ]
    );
}

#[test]
fn next_after_from_inside_the_overlap() {
    let hourly = Schedule::parse("0 * * * *", Berlin).unwrap();
    // 02:50 CEST (first pass): next is 02:00 CET, an earlier wall time.
    assert_eq!(
        hourly.next_after(utc(2026, 10, 25, 0, 50, 0)),
        Some(utc(2026, 10, 25, 1, 0, 0))
    );
    let fixed = Schedule::parse("30 2 * * *", Berlin).unwrap();
    // 02:10 CET (second pass): 02:30 already ran at CEST; next is tomorrow.
    assert_eq!(
        fixed.next_after(utc(2026, 10, 25, 1, 10, 0)),
        Some(utc(2026, 10, 26, 1, 30, 0))
    );
    assert_eq!(
        fixed.last_at_or_before(utc(2026, 10, 25, 1, 10, 0)),
        Some(utc(2026, 10, 25, 0, 30, 0))
    );
    assert_eq!(
        hourly.last_at_or_before(utc(2026, 10, 25, 1, 30, 0)),
        Some(utc(2026, 10, 25, 1, 0, 0))
    );
    assert_eq!(
        hourly.last_at_or_before(utc(2026, 10, 25, 0, 30, 0)),
        Some(utc(2026, 10, 25, 0, 0, 0))
    );
    // Spring gap: last run before 03:10 CEST was the shifted 02:30.
    let spring = Schedule::parse("30 2 * * *", Berlin).unwrap();
    assert_eq!(
        spring.last_at_or_before(utc(2026, 3, 29, 1, 10, 0)),
        Some(utc(2026, 3, 29, 1, 0, 0))
    );
}
