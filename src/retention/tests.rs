//! Hand-checked cases: local days across DST, reason strings and the safety guards.
// Test-only: the parent declares this module under #[cfg(test)].

use std::time::Duration;

use chrono::{NaiveDate, TimeZone, Utc};
use chrono_tz::{America::New_York, Europe::Berlin, Tz};

use super::*;

fn name(t: chrono::DateTime<Tz>) -> String {
    SnapshotId::from_time(t.with_timezone(&Utc)).to_string()
}

fn ids(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// Snapshots at `h:m` local time on `days` consecutive days from `first`, oldest first.
fn local_nightly(tz: Tz, first: NaiveDate, days: u64, (h, m): (u32, u32)) -> Vec<String> {
    (0..days)
        .map(|i| {
            let day = first + chrono::Days::new(i);
            name(
                tz.from_local_datetime(&day.and_hms_opt(h, m, 0).unwrap())
                    .single()
                    .unwrap(),
            )
        })
        .collect()
}

#[test]
fn daily_buckets_are_local_days_across_dst() {
    let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    for (tz, transition) in [
        (Berlin, date(2026, 3, 29)),
        (Berlin, date(2026, 10, 25)),
        (New_York, date(2026, 3, 8)),
        (New_York, date(2026, 11, 1)),
    ] {
        let first = transition - chrono::Days::new(3);
        // Late evening and just past midnight: in UTC these straddle days differently on
        // either side of the transition, locally each is on its own day.
        for hm in [(23, 30), (0, 30)] {
            let names = local_nightly(tz, first, 7, hm);
            let pol = Policy {
                keep_daily: 7,
                ..Policy::default()
            };
            let got = apply(&names, &pol, tz);
            assert_eq!(got.len(), 7);
            for (i, d) in got.iter().enumerate() {
                let day = first + chrono::Days::new(6 - i as u64);
                assert!(d.keep, "{tz} {hm:?}: {} not kept", d.id);
                assert_eq!(d.reasons, [format!("daily {day}")], "{tz} {hm:?}");
            }
            // With one slot fewer exactly the oldest local day goes.
            let pol = Policy {
                keep_daily: 6,
                ..Policy::default()
            };
            let kept: Vec<bool> = apply(&names, &pol, tz).iter().map(|d| d.keep).collect();
            assert_eq!(
                kept,
                [true, true, true, true, true, true, false],
                "{tz} {hm:?}"
            );
        }
    }
}

#[test]
fn repeated_fall_back_hour_is_one_hourly_bucket() {
    // 02:30 CEST and 02:30 CET on 2026-10-25 are both local hour 02, as in restic.
    let names = ids(&["20261025T003000Z", "20261025T013000Z", "20261025T023000Z"]);
    let got = apply(
        &names,
        &Policy {
            keep_hourly: 10,
            ..Policy::default()
        },
        Berlin,
    );
    let verdicts: Vec<_> = got.iter().map(|d| (d.keep, d.reasons.clone())).collect();
    assert_eq!(
        verdicts,
        [
            (true, vec!["hourly 2026-10-25 03h".to_owned()]),
            (true, vec!["hourly 2026-10-25 02h".to_owned()]),
            (false, vec![]),
        ]
    );
}

#[test]
fn reasons_name_every_rule() {
    let names = ids(&[
        "20261124T120000Z",
        "20261124T110000Z",
        "20261123T120000Z",
        "20261101T120000Z",
    ]);
    let pol = Policy {
        keep_last: 1,
        keep_daily: 2,
        keep_weekly: 1,
        keep_monthly: 1,
        keep_yearly: 1,
        keep_hourly: 1,
        keep_within: Some(Duration::from_secs(7 * 86400)),
        keep_within_daily: Some(Duration::from_secs(7 * 86400)),
        ..Policy::default()
    };
    let got = apply(&names, &pol, chrono_tz::UTC);
    let reasons: Vec<Vec<String>> = got.iter().map(|d| d.reasons.clone()).collect();
    let newest = [
        "within 7d",
        "last (1/1)",
        "hourly 2026-11-24 12h",
        "daily 2026-11-24",
        "weekly 2026-W48",
        "monthly 2026-11",
        "yearly 2026",
        "within-daily 2026-11-24",
    ];
    assert_eq!(reasons[0], newest);
    assert_eq!(reasons[1], ["within 7d"]);
    assert_eq!(
        reasons[2],
        ["within 7d", "daily 2026-11-23", "within-daily 2026-11-23"]
    );
    assert!(reasons[3].is_empty() && !got[3].keep);
}

#[test]
fn last_counts_up() {
    let names = ids(&[
        "20261124T120000Z",
        "20261124T110000Z",
        "20261124T100000Z",
        "20261124T090000Z",
    ]);
    let got = apply(
        &names,
        &Policy {
            keep_last: 3,
            ..Policy::default()
        },
        chrono_tz::UTC,
    );
    let reasons: Vec<Vec<String>> = got.iter().map(|d| d.reasons.clone()).collect();
    assert_eq!(
        reasons,
        [
            vec!["last (1/3)"],
            vec!["last (2/3)"],
            vec!["last (3/3)"],
            vec![]
        ]
    );
}

#[test]
fn empty_policy_keeps_everything() {
    let names = ids(&["20261124T120000Z", "20200101T000000Z"]);
    for pol in [
        Policy::default(),
        Policy {
            keep_within: Some(Duration::ZERO),
            keep_within_daily: Some(Duration::ZERO),
            ..Policy::default()
        },
    ] {
        assert!(pol.is_empty());
        for d in apply(&names, &pol, Berlin) {
            assert!(d.keep);
            assert_eq!(d.reasons, ["no retention policy"]);
        }
    }
    assert!(
        !Policy {
            keep_yearly: 1,
            ..Policy::default()
        }
        .is_empty()
    );
    assert!(
        !Policy {
            keep_within_yearly: Some(Duration::from_secs(1)),
            ..Policy::default()
        }
        .is_empty()
    );
}

#[test]
fn newest_always_kept_and_duplicates_collapse() {
    // A one-second window: the snapshot exactly one second older is outside (restic's strict
    // `After`), the newest is inside.
    let names = ids(&[
        "20261124T120000Z",
        "20261124T120000Z",
        "20261124T115959Z",
        "20261124T120000Z",
    ]);
    let pol = Policy {
        keep_within: Some(Duration::from_secs(1)),
        ..Policy::default()
    };
    let got = apply(&names, &pol, Berlin);
    assert_eq!(got.len(), 2);
    assert!(got[0].keep && !got[1].keep);
}

#[test]
fn junk_is_never_in_the_output() {
    let names = ids(&[
        ".20261124T120000Z.partial",
        ".20261124T120000Z.deleting",
        "lost+found",
        "20261124T120000",
        "",
        "20261123T120000Z",
    ]);
    let got = apply(
        &names,
        &Policy {
            keep_last: 1,
            ..Policy::default()
        },
        Berlin,
    );
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].id.to_string(), "20261123T120000Z");
    assert!(apply(&ids(&["lost+found"]), &Policy::default(), Berlin).is_empty());
}

#[test]
fn within_is_relative_to_newest_not_now() {
    // Two years of silence must not make keep_within drop the last snapshots.
    let names = ids(&["20200110T000000Z", "20200105T000000Z", "20191201T000000Z"]);
    let pol = Policy {
        keep_within: Some(Duration::from_secs(10 * 86400)),
        ..Policy::default()
    };
    let kept: Vec<bool> = apply(&names, &pol, Berlin).iter().map(|d| d.keep).collect();
    assert_eq!(kept, [true, true, false]);
}

#[test]
fn readme_worked_example() {
    // Pinned because tests/retention/README-section.md quotes it.
    let names = local_nightly(
        Berlin,
        NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
        55,
        (4, 0),
    );
    let pol = Policy {
        keep_daily: 7,
        keep_weekly: 4,
        ..Policy::default()
    };
    let kept: Vec<String> = apply(&names, &pol, Berlin)
        .into_iter()
        .filter(|d| d.keep)
        .map(|d| {
            d.id.time()
                .with_timezone(&Berlin)
                .format("%m-%d")
                .to_string()
        })
        .collect();
    let want = [
        "11-24", "11-23", "11-22", "11-21", "11-20", "11-19", "11-18", "11-15", "11-08",
    ];
    assert_eq!(kept, want);
    let borg_port = Policy {
        keep_weekly: 6,
        ..pol
    };
    assert_eq!(
        apply(&names, &borg_port, Berlin)
            .iter()
            .filter(|d| d.keep)
            .count(),
        11
    );
}
