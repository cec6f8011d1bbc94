//! Properties that must hold for any input, whatever restic does: the guarantees operators rely
//! on when they trust retention to delete things unattended.
// Test-only: the parent declares this module under #[cfg(test)].

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;

use super::*;

const ZONES: [Tz; 6] = [
    chrono_tz::UTC,
    chrono_tz::Europe::Berlin,
    chrono_tz::America::New_York,
    chrono_tz::Asia::Kolkata,
    // Half-hour DST shift and a +12:45/+13:45 offset: odd zones catch "hours are whole" bugs.
    chrono_tz::Australia::Lord_Howe,
    chrono_tz::Pacific::Chatham,
];

fn base() -> i64 {
    // 2025-10-01: the generated spans cross DST changes on both hemispheres and a year end.
    1_759_276_800
}

/// Snapshot names clustered like real schedules (bursts, nightly, gaps) plus junk and repeats.
fn names() -> impl Strategy<Value = Vec<String>> {
    let gap = prop_oneof![
        1i64..120,
        3000i64..4000,
        80_000i64..90_000,
        500_000i64..3_000_000
    ];
    (
        prop::collection::vec(gap, 0..60),
        prop::collection::vec(0usize..6, 0..4),
    )
        .prop_map(|(gaps, junk)| {
            let mut t = base();
            let mut out: Vec<String> = gaps
                .iter()
                .map(|g| {
                    t += g;
                    SnapshotId::from_time(Utc.timestamp_opt(t, 0).unwrap()).to_string()
                })
                .collect();
            for j in junk {
                out.push(match (j, out.first().cloned()) {
                    (0, Some(first)) => first, // duplicate
                    (1, Some(first)) => format!(".{first}.partial"),
                    (2, Some(first)) => format!(".{first}.deleting"),
                    (3, _) => "lost+found".to_owned(),
                    (4, _) => "20261124T120000".to_owned(),
                    _ => String::new(),
                });
            }
            out
        })
}

fn span() -> impl Strategy<Value = Option<Duration>> {
    prop_oneof![
        3 => Just(None),
        1 => Just(Some(Duration::ZERO)),
        2 => (1u64..40).prop_map(|d| Some(Duration::from_secs(d * 86400))),
        2 => (1u64..5_000_000).prop_map(|s| Some(Duration::from_secs(s))),
    ]
}

fn policy() -> impl Strategy<Value = Policy> {
    let count = || prop_oneof![2 => Just(0u32), 1 => 1u32..12];
    (
        (count(), count(), count(), count(), count(), count()),
        (span(), span(), span(), span(), span(), span()),
    )
        .prop_map(
            |((last, h, d, w, m, y), (within, wh, wd, ww, wm, wy))| Policy {
                keep_last: last,
                keep_hourly: h,
                keep_daily: d,
                keep_weekly: w,
                keep_monthly: m,
                keep_yearly: y,
                keep_within: within,
                keep_within_hourly: wh,
                keep_within_daily: wd,
                keep_within_weekly: ww,
                keep_within_monthly: wm,
                keep_within_yearly: wy,
            },
        )
}

/// Bucket keys computed independently of the module (chrono's own formatting).
fn key(fmt: &str, t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format(fmt).to_string()
}

fn kept(decisions: &[Decision]) -> Vec<String> {
    decisions
        .iter()
        .filter(|d| d.keep)
        .map(|d| d.id.to_string())
        .collect()
}

proptest! {
    #[test]
    fn guarantees(names in names(), pol in policy(), zone in 0..ZONES.len()) {
        let tz = ZONES[zone];
        let got = apply(&names, &pol, tz);
        let ids: BTreeSet<SnapshotId> = names.iter().filter_map(|n| SnapshotId::parse(n)).collect();

        // Exactly the ids, newest first, each once; junk never appears.
        let want: Vec<SnapshotId> = ids.iter().rev().copied().collect();
        prop_assert_eq!(got.iter().map(|d| d.id).collect::<Vec<_>>(), want);
        for d in &got {
            prop_assert!(names.contains(&d.id.to_string()));
            prop_assert_eq!(d.keep, !d.reasons.is_empty());
        }
        if let Some(first) = got.first() {
            prop_assert!(first.keep, "newest removed");
        }
        if pol.is_empty() {
            prop_assert!(got.iter().all(|d| d.keep));
        }

        // Never fewer than asked: keep_last, and the newest of each of the N newest buckets.
        let n_last = (pol.keep_last as usize).min(got.len());
        prop_assert!(got[..n_last].iter().all(|d| d.keep));
        for (n, fmt) in [
            (pol.keep_hourly, "%Y-%m-%d %H"),
            (pol.keep_daily, "%Y-%m-%d"),
            (pol.keep_weekly, "%G-W%V"),
            (pol.keep_monthly, "%Y-%m"),
            (pol.keep_yearly, "%Y"),
        ] {
            let mut seen = Vec::new();
            for d in &got {
                let k = key(fmt, d.id.time(), tz);
                if seen.len() < n as usize && !seen.contains(&k) {
                    prop_assert!(d.keep, "{} newest of bucket {} removed", d.id, k);
                    seen.push(k);
                }
            }
        }
        // keep_within: calendar days may be an hour (or 30 minutes) shorter across DST, so
        // everything comfortably inside the span must be kept.
        if let (Some(span), Some(first)) = (pol.keep_within, got.first()) {
            let slack = chrono::TimeDelta::hours(2);
            for d in &got {
                let age = (first.id.time() - d.id.time()).to_std().unwrap_or_default();
                if age + slack.to_std().unwrap_or_default() < span {
                    prop_assert!(d.keep, "{} within {:?} removed", d.id, span);
                }
            }
        }

        // Idempotent: what was kept survives a second pass untouched.
        let again = apply(&kept(&got), &pol, tz);
        prop_assert!(again.iter().all(|d| d.keep), "second pass removes something");
        prop_assert_eq!(kept(&again), kept(&got));
    }

    #[test]
    fn order_independent(names in names(), pol in policy(), zone in 0..ZONES.len(), seed in any::<u64>()) {
        let tz = ZONES[zone];
        let mut shuffled = names.clone();
        // A cheap deterministic shuffle; proptest shrinks `seed` like any other input.
        let mut x = seed | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(apply(&names, &pol, tz), apply(&shuffled, &pol, tz));
    }
}
