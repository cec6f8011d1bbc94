//! Golden tests: `apply` must keep exactly what the real restic `forget` kept for the same
//! snapshots, zone and policy. The files are made by tests/retention/make-golden.sh and embedded
//! with `include_str!`, so the tests need no file access at run time.
// Test-only: the parent declares this module under #[cfg(test)].

use std::time::Duration;

use chrono_tz::Tz;

use super::*;

/// Parses restic-style durations as written in the golden headers ("10d", "36h", "1d12h").
fn duration(s: &str) -> Duration {
    let (mut secs, mut n) = (0, 0);
    for c in s.chars() {
        match c {
            '0'..='9' => n = n * 10 + u64::from(c.to_digit(10).unwrap()),
            'd' => (secs, n) = (secs + n * 86400, 0),
            'h' => (secs, n) = (secs + n * 3600, 0),
            _ => panic!("unsupported duration {s:?}"),
        }
    }
    assert_eq!(n, 0, "trailing number in {s:?}");
    Duration::from_secs(secs)
}

fn policy(spec: &str) -> Policy {
    let mut p = Policy::default();
    for kv in spec.split_whitespace() {
        let (k, v) = kv.split_once('=').unwrap();
        let n = || v.parse::<u32>().unwrap();
        match k {
            "keep_last" => p.keep_last = n(),
            "keep_hourly" => p.keep_hourly = n(),
            "keep_daily" => p.keep_daily = n(),
            "keep_weekly" => p.keep_weekly = n(),
            "keep_monthly" => p.keep_monthly = n(),
            "keep_yearly" => p.keep_yearly = n(),
            "keep_within" => p.keep_within = Some(duration(v)),
            "keep_within_hourly" => p.keep_within_hourly = Some(duration(v)),
            "keep_within_daily" => p.keep_within_daily = Some(duration(v)),
            "keep_within_weekly" => p.keep_within_weekly = Some(duration(v)),
            "keep_within_monthly" => p.keep_within_monthly = Some(duration(v)),
            "keep_within_yearly" => p.keep_within_yearly = Some(duration(v)),
            _ => panic!("unknown policy key {k}"),
        }
    }
    assert!(!p.is_empty(), "golden policy {spec:?} is empty");
    p
}

fn check_golden(golden: &str) {
    let (mut tz, mut pol, mut want) = (None, None, Vec::new());
    for line in golden.lines() {
        if let Some(v) = line.strip_prefix("# tz: ") {
            tz = Some(v.parse::<Tz>().unwrap());
        } else if let Some(v) = line.strip_prefix("# policy: ") {
            pol = Some(policy(v));
        } else if !line.starts_with('#') && !line.is_empty() {
            let mut f = line.splitn(3, ' ');
            let (id, verdict) = (f.next().unwrap(), f.next().unwrap());
            let restic_reasons = f.next().unwrap_or("").to_owned();
            want.push((id.to_owned(), verdict == "keep", restic_reasons));
        }
    }
    let (tz, pol) = (tz.expect("no tz header"), pol.expect("no policy header"));
    assert!(want.len() > 10, "golden file too small");

    // Oldest first plus junk: the input order and non-ids must not matter.
    let mut names: Vec<String> = want.iter().rev().map(|(id, ..)| id.clone()).collect();
    names.push(format!(".{}.partial", want[0].0));
    names.push("lost+found".to_owned());
    let got = apply(&names, &pol, tz);

    let got_ids: Vec<String> = got.iter().map(|d| d.id.to_string()).collect();
    let want_ids: Vec<String> = want.iter().map(|(id, ..)| id.clone()).collect();
    assert_eq!(got_ids, want_ids, "output must be every id, newest first");
    let mismatches: Vec<String> = got
        .iter()
        .zip(&want)
        .filter(|(g, w)| g.keep != w.1)
        .map(|(g, w)| {
            format!(
                "{}: restic keep={} [{}], we keep={} {:?}",
                w.0, w.1, w.2, g.keep, g.reasons
            )
        })
        .collect();
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

macro_rules! golden {
    ($($test:ident => $file:literal,)*) => {$(
        #[test]
        fn $test() {
            check_golden(include_str!(concat!("../../tests/retention/golden/", $file, ".txt")));
        }
    )*};
}

golden! {
    golden_nightly_gaps => "nightly-gaps",
    golden_hourly_bursts => "hourly-bursts",
    golden_year_boundary_2026 => "year-boundary-2026",
    golden_year_boundary_2021 => "year-boundary-2021",
    golden_within => "within",
    golden_within_buckets => "within-buckets",
    golden_dst_berlin_spring => "dst-berlin-spring",
    golden_dst_berlin_fall => "dst-berlin-fall",
    golden_dst_newyork_spring => "dst-newyork-spring",
    golden_dst_newyork_fall => "dst-newyork-fall",
    golden_within_dst_berlin_spring => "within-dst-berlin-spring",
    golden_within_gap_berlin => "within-gap-berlin",
    golden_within_overlap_newyork => "within-overlap-newyork",
    golden_within_dst_newyork_fall => "within-dst-newyork-fall",
    golden_within_overlap_berlin => "within-overlap-berlin",
    golden_within_gap_newyork => "within-gap-newyork",
}
