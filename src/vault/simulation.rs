//! Months of nightly runs in simulated time through the vault's decisions (plan.rs), with an
//! attacker adding snapshots on some nights: ids far in the past and in the future, floods of
//! fifty within a minute, garbage, and crashed uploads. Whatever it adds, the sealed history
//! the vault keeps is exactly what restic's rules keep when applied every night to the real
//! history alone, nothing the attacker added is ever removed, and a leftover goes exactly
//! when the grace period has passed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use proptest::prelude::*;

use super::plan::{self, Rules};
use super::state::{RepoState, Status};
use crate::layout::SnapshotId;
use crate::retention::{self, Policy};

fn rules(policy: Policy) -> Rules {
    Rules {
        policy,
        tz: chrono_tz::UTC,
        grace: Duration::from_secs(86_400),
        id_tolerance: Duration::from_secs(2 * 3600),
        flood_limit: 12,
        flood_window: Duration::from_secs(3600),
    }
}

/// A fixed instant; the literals below are valid, so the default never shows.
fn at(rfc3339: &str) -> DateTime<Utc> {
    rfc3339.parse().unwrap_or_default()
}

fn secs(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n)
}

/// One vault pass at `now` after the given snapshots were committed (id, manifest ctime).
fn pass(
    state: &mut RepoState,
    rules: &Rules,
    now: DateTime<Utc>,
    committed: &[(SnapshotId, DateTime<Utc>, Option<&str>)],
) {
    for (id, ctime, problem) in committed {
        let trusted = (*ctime).min(now);
        plan::record(state, *id, trusted, now, problem.map(String::from), rules);
    }
    plan::mark_floods(state, rules);
    for id in plan::rotate(state, rules) {
        state.snapshots.remove(&id.to_string());
    }
}

/// `attacks` bit per night: 1 past id, 2 future id, 4 flood, 8 garbage.
fn simulate(policy: Policy, nights: usize, attacks: &[u8]) {
    let rules = rules(policy.clone());
    let mut state = RepoState::default();
    let mut real: Vec<String> = Vec::new();
    let mut fakes: BTreeSet<String> = BTreeSet::new();
    let start = at("2026-01-01T02:00:00Z");
    for night in 0..nights {
        // The nightly run, started a few minutes late on some nights, 40 s long.
        let t = start + chrono::Duration::days(night as i64) + secs((night as i64 * 7) % 600);
        let id = SnapshotId::from_time(t);
        pass(
            &mut state,
            &rules,
            t + secs(60),
            &[(id, t + secs(40), None)],
        );
        real.push(id.to_string());
        let keep: BTreeSet<SnapshotId> = retention::apply(&real, &policy, rules.tz)
            .into_iter()
            .filter(|d| d.keep)
            .map(|d| d.id)
            .collect();
        real.retain(|n| SnapshotId::parse(n).is_some_and(|i| keep.contains(&i)));

        // The attacker, at midday, with the client's key.
        let a = attacks.get(night).copied().unwrap_or(0);
        let noon = t + secs(10 * 3600);
        let mut added = Vec::new();
        if a & 1 != 0 {
            added.push((
                SnapshotId::from_time(noon - chrono::Duration::days(400)),
                noon,
                None,
            ));
        }
        if a & 2 != 0 {
            added.push((
                SnapshotId::from_time(noon + chrono::Duration::days(3650)),
                noon,
                None,
            ));
        }
        if a & 4 != 0 {
            for i in 0..50 {
                added.push((
                    SnapshotId::from_time(noon - secs(1800) + secs(i)),
                    noon,
                    None,
                ));
            }
        }
        if a & 8 != 0 {
            added.push((SnapshotId::from_time(noon - secs(7)), noon, Some("garbage")));
        }
        fakes.extend(added.iter().map(|(id, _, _)| id.to_string()));
        pass(&mut state, &rules, noon + secs(30), &added);

        let sealed: Vec<&String> = state
            .snapshots
            .iter()
            .filter(|(_, s)| s.status == Status::Sealed)
            .map(|(id, _)| id)
            .collect();
        assert_eq!(sealed, real.iter().collect::<Vec<_>>(), "night {night}");
        for f in &fakes {
            let s = state.snapshots.get(f);
            assert!(
                s.is_some_and(|s| matches!(s.status, Status::Suspicious | Status::Damaged)),
                "night {night}: fake {f} is {s:?}"
            );
        }
    }
}

#[test]
fn a_season_of_nights_keeps_what_restic_keeps_of_the_real_history() {
    let policy = Policy {
        keep_last: 3,
        keep_daily: 7,
        keep_weekly: 4,
        keep_monthly: 6,
        ..Policy::default()
    };
    let attacks: Vec<u8> = (0..200).map(|n| [0, 1, 2, 4, 8, 15, 0, 5][n % 8]).collect();
    simulate(policy, 200, &attacks);
}

#[test]
fn a_leftover_goes_when_the_grace_period_has_passed_and_not_before() {
    let mut seen = BTreeMap::new();
    let t = at("2026-03-01T02:00:00Z");
    let grace = Duration::from_secs(86_400);
    let left = vec![
        "20260301T020000Z".to_string(),
        ".backup-agent-probe-1-2".into(),
    ];
    assert!(plan::expired(&mut seen, &left, t, grace).is_empty());
    assert!(plan::expired(&mut seen, &left, t + secs(86_399), grace).is_empty());
    // One of them vanished meanwhile (the run came back and committed it): forgotten.
    let rest = vec![left[1].clone()];
    assert_eq!(
        plan::expired(&mut seen, &rest, t + secs(86_400), grace),
        rest
    );
    assert_eq!(seen.len(), 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn any_policy_and_any_attacks_leave_the_real_history_as_retention_keeps_it(
        keep_last in 0u32..5,
        keep_daily in 0u32..10,
        keep_weekly in 0u32..5,
        keep_monthly in 0u32..4,
        attacks in proptest::collection::vec(any::<u8>(), 60),
    ) {
        let policy = Policy { keep_last, keep_daily, keep_weekly, keep_monthly, ..Policy::default() };
        simulate(policy, 60, &attacks);
    }
}
