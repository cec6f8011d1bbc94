//! Property tests: the search against a brute-force oracle, ordering, and a
//! year of daily runs per zone.
// Test-only: the parent declares this module under #[cfg(test)].

use std::collections::BTreeMap;

use chrono::{DateTime, LocalResult, NaiveDate, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::America::New_York;
use chrono_tz::Australia::{Lord_Howe, Sydney};
use chrono_tz::Europe::Berlin;
use chrono_tz::{Tz, UTC};
use proptest::prelude::*;
use proptest::test_runner::Config;

use super::Schedule;
use super::tests::{local, utc};

/// No regression files: this module must not write into the source tree.
fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
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
