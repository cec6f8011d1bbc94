//! DST behaviour: fixed examples for the contract, and property tests that
//! compare the search against a brute-force oracle.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, LocalResult, NaiveDate, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::America::New_York;
use chrono_tz::Australia::{Lord_Howe, Sydney};
use chrono_tz::Europe::Berlin;
use chrono_tz::{Tz, UTC};
use proptest::prelude::*;
use proptest::test_runner::Config;

/// No regression files: this module must not write into the source tree.
fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

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

/// Independent model of the contract: every matching wall time in a window,
/// resolved by chrono-tz with a linear gap search, deduplicated and sorted.
fn oracle(expr: &str, tz: Tz, around: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let s = Schedule::parse(expr, tz).unwrap();
    let wildcard_hour = expr
        .split_whitespace()
        .nth(1)
        .unwrap()
        .contains(['*', '-', '/']);
    let start = around.with_timezone(&tz).naive_local() - TimeDelta::days(2);
    let start = start.with_second(0).unwrap();
    let mut fires = std::collections::BTreeSet::new();
    let mut wall = start;
    while wall < start + TimeDelta::days(4) {
        if s.cron.is_time_matching(&wall).unwrap() {
            match tz.from_local_datetime(&wall) {
                LocalResult::Single(a) => {
                    fires.insert(a.with_timezone(&Utc));
                }
                LocalResult::Ambiguous(a, b) => {
                    fires.insert(a.with_timezone(&Utc));
                    if wildcard_hour {
                        fires.insert(b.with_timezone(&Utc));
                    }
                }
                LocalResult::None if !wildcard_hour => {
                    let mut probe = wall;
                    let end = loop {
                        probe += TimeDelta::seconds(1);
                        if let Some(a) = tz.from_local_datetime(&probe).earliest() {
                            break a;
                        }
                    };
                    fires.insert(end.with_timezone(&Utc));
                }
                LocalResult::None => {}
            }
        }
        wall += TimeDelta::minutes(1);
    }
    fires.into_iter().collect()
}

const EXPRS: &[&str] = &[
    "0 * * * *",
    "*/15 * * * *",
    "30 2 * * *",
    "0 2 * * *",
    "0,30 1-3 * * *",
    "0,30 1,2 * * *",
    "15 */2 * * *",
    "45 1 * * *",
    "*/20 2 * * *",
];

/// A zone and an instant near one of its 2026 clock changes, where the bugs
/// live: mostly within three hours, sometimes anywhere in 2000-2040.
fn zone_and_instant() -> impl Strategy<Value = (Tz, DateTime<Utc>)> {
    let changes = vec![
        (Berlin, utc(2026, 3, 29, 1, 0, 0)),
        (Berlin, utc(2026, 10, 25, 1, 0, 0)),
        (New_York, utc(2026, 3, 8, 7, 0, 0)),
        (New_York, utc(2026, 11, 1, 6, 0, 0)),
        (Sydney, utc(2026, 4, 4, 16, 0, 0)),
        (Sydney, utc(2026, 10, 3, 16, 0, 0)),
        (Lord_Howe, utc(2026, 4, 4, 15, 0, 0)),
        (Lord_Howe, utc(2026, 10, 3, 15, 30, 0)),
        (UTC, utc(2026, 1, 1, 0, 0, 0)),
    ];
    let near = (
        prop::sample::select(changes.clone()),
        -3 * 3_600i64..3 * 3_600,
    );
    let day = (prop::sample::select(changes), -86_400i64..86_400);
    let anywhere = (
        prop::sample::select(vec![Berlin, New_York, Sydney, Lord_Howe, UTC]),
        946_684_800i64..2_208_988_800,
    )
        .prop_map(|(tz, secs)| (tz, DateTime::from_timestamp(secs, 0).unwrap()));
    prop_oneof![
        3 => near.prop_map(|((tz, at), secs)| (tz, at + TimeDelta::seconds(secs))),
        1 => day.prop_map(|((tz, at), secs)| (tz, at + TimeDelta::seconds(secs))),
        1 => anywhere,
    ]
}

proptest! {
    #![proptest_config(config(400))]

    #[test]
    fn next_and_last_agree_with_oracle(
        expr in prop::sample::select(EXPRS.to_vec()), (tz, t) in zone_and_instant()
    ) {
        let s = Schedule::parse(expr, tz).unwrap();
        let fires = oracle(expr, tz, t);
        let want_next = fires.iter().copied().find(|f| *f > t);
        let want_last = fires.iter().copied().rev().find(|f| *f <= t);
        prop_assert_eq!(s.next_after(t), want_next);
        prop_assert_eq!(s.last_at_or_before(t), want_last);
    }

    #[test]
    fn next_after_strictly_increases(
        expr in prop::sample::select(EXPRS.to_vec()), (tz, t) in zone_and_instant()
    ) {
        let s = Schedule::parse(expr, tz).unwrap();
        let mut prev = t;
        for _ in 0..60 {
            let next = s.next_after(prev).unwrap();
            prop_assert!(next > prev, "{} {} after {}", expr, next, prev);
            prev = next;
        }
    }

    #[test]
    fn missed_between_equals_iterating_next_after(
        expr in prop::sample::select(EXPRS.to_vec()), (tz, a) in zone_and_instant(),
        span in 0i64..3 * 86_400
    ) {
        let s = Schedule::parse(expr, tz).unwrap();
        let b = a + TimeDelta::seconds(span);
        let iterated: Vec<_> = std::iter::successors(s.next_after(a), |t| s.next_after(*t))
            .take_while(|t| *t <= b)
            .collect();
        prop_assert_eq!(s.missed_between(a, b), iterated);
    }
}

proptest! {
    #![proptest_config(config(24))]

    #[test]
    fn fixed_daily_job_fires_once_every_local_day(
        minute in 0u32..60, hour in 0u32..24,
        tz in prop::sample::select(vec![Berlin, New_York, Sydney, UTC]),
    ) {
        let expr = format!("{minute} {hour} * * *");
        let s = Schedule::parse(&expr, tz).unwrap();
        let one = TimeDelta::seconds(1);
        let fires = s.missed_between(local(tz, 2026, 1, 1, 0, 0) - one, local(tz, 2027, 1, 1, 0, 0) - one);
        let mut per_day: BTreeMap<NaiveDate, usize> = BTreeMap::new();
        for fire in &fires {
            *per_day.entry(fire.with_timezone(&tz).date_naive()).or_default() += 1;
        }
        prop_assert_eq!(per_day.len(), 365, "{} {}", expr, tz);
        prop_assert!(per_day.values().all(|n| *n == 1), "{} {}", expr, tz);
    }
}
