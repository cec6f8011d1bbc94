//! The pure rules that decide whether a sealed, intact snapshot may be counted by retention:
//! its id (which the client chose) must agree with the time the server saw its manifest (which
//! the client cannot forge), and no burst of snapshots may push the real history out of the
//! retention buckets. A mark is never lifted: a marked snapshot is kept and never counted, so a
//! wrong mark costs disk space, never a backup.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::layout::SnapshotId;

/// How far in the future an id may be (clock skew between client and server).
pub const FUTURE_SLACK: Duration = Duration::from_secs(5 * 60);

/// `None`: the id is believable. `Some(reason)`: suspicious. `trusted` is the server's time
/// for the snapshot (min of its manifest's ctime and the vault's first sight).
pub fn judge_id(
    id: SnapshotId,
    trusted: DateTime<Utc>,
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Option<String> {
    let t = id.time();
    if t > now + chrono::Duration::from_std(FUTURE_SLACK).unwrap_or_default() {
        return Some("id is in the future".into());
    }
    let tol = chrono::Duration::from_std(tolerance).unwrap_or(chrono::Duration::MAX);
    if trusted
        .checked_sub_signed(tol)
        .is_some_and(|lower| t < lower)
    {
        let before = (trusted - t).to_std().unwrap_or_default();
        let before = Duration::from_secs(before.as_secs());
        return Some(format!(
            "id is {} before the server recorded its manifest",
            humantime::format_duration(before)
        ));
    }
    None
}

/// Among `ids` (any order), those in some window of length `window` holding more than
/// `limit` of them, each with its reason. Windows are closed on both ends: `[t, t + window]`.
pub fn flood(ids: &[SnapshotId], limit: u32, window: Duration) -> Vec<(SnapshotId, String)> {
    let mut sorted: Vec<SnapshotId> = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let w = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
    let mut marked = vec![None::<usize>; sorted.len()];
    let mut end = 0;
    for start in 0..sorted.len() {
        if end < start {
            end = start;
        }
        while end + 1 < sorted.len()
            && sorted[start]
                .time()
                .checked_add_signed(w)
                .is_none_or(|lim| sorted[end + 1].time() <= lim)
        {
            end += 1;
        }
        let n = end - start + 1;
        if n > limit as usize {
            for m in &mut marked[start..=end] {
                *m = Some(m.map_or(n, |old: usize| old.max(n)));
            }
        }
    }
    let span = humantime::format_duration(window);
    sorted
        .into_iter()
        .zip(marked)
        .filter_map(|(id, n)| n.map(|n| (id, format!("flood: {n} snapshots within {span}"))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retention::{self, Policy};
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn id(secs: i64) -> SnapshotId {
        SnapshotId::from_time(Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap())
    }

    #[test]
    fn ids_against_the_servers_time() {
        let now = id(100_000).time();
        let h2 = Duration::from_secs(7200);
        assert_eq!(judge_id(id(99_000), id(99_500).time(), now, h2), None);
        assert_eq!(
            judge_id(id(100_000 + 301), now, now, h2).as_deref(),
            Some("id is in the future")
        );
        assert_eq!(judge_id(id(100_000 + 299), now, now, h2), None);
        let r = judge_id(id(0), id(86_400).time(), now, h2).unwrap();
        assert_eq!(r, "id is 1day before the server recorded its manifest");
        // Exactly at the tolerance is fine.
        assert_eq!(judge_id(id(0), id(7200).time(), now, h2), None);
    }

    #[test]
    fn a_burst_is_marked_whole() {
        let h = Duration::from_secs(3600);
        let ids: Vec<_> = (0..13).map(|i| id(i * 60)).chain([id(100_000)]).collect();
        let m = flood(&ids, 12, h);
        assert_eq!(m.len(), 13);
        assert!(m[0].1.contains("13 snapshots within 1h"), "{}", m[0].1);
        assert!(flood(&ids[..12], 12, h).is_empty());
        // Hourly snapshots never flood.
        let hourly: Vec<_> = (0..100).map(|i| id(i * 3601)).collect();
        assert!(flood(&hourly, 1, h).is_empty());
    }

    fn counted_after_marks(all: &[SnapshotId], marked: &[SnapshotId]) -> Vec<SnapshotId> {
        all.iter()
            .filter(|i| !marked.contains(i))
            .copied()
            .collect()
    }

    fn removed(ids: &[SnapshotId], policy: &Policy) -> Vec<SnapshotId> {
        let names: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
        retention::apply(&names, policy, chrono_tz::Tz::UTC)
            .into_iter()
            .filter(|d| !d.keep)
            .map(|d| d.id)
            .collect()
    }

    proptest! {
        /// A snapshot the flood rule marks is never handed to retention, so never removed; and
        /// whatever is removed was counted (good and unmarked).
        #[test]
        fn marked_snapshots_are_never_removed(
            offs in proptest::collection::vec(0i64..200_000, 0..60),
            limit in 1u32..6,
            window in 60u64..20_000,
            keep_last in 0u32..5,
            keep_hourly in 0u32..5,
        ) {
            let ids: Vec<_> = offs.iter().map(|&o| id(o)).collect();
            let marks: Vec<SnapshotId> = flood(&ids, limit, Duration::from_secs(window))
                .into_iter().map(|(i, _)| i).collect();
            let counted = counted_after_marks(&ids, &marks);
            let policy = Policy { keep_last, keep_hourly, ..Policy::default() };
            for r in removed(&counted, &policy) {
                prop_assert!(!marks.contains(&r));
                prop_assert!(counted.contains(&r));
            }
        }

        /// Marks only grow: adding snapshots (a client's fakes) never unmarks one, so the
        /// fakes can never make a marked snapshot removable. And in every window the
        /// unmarked snapshots number at most `limit`.
        #[test]
        fn adding_snapshots_only_adds_marks(
            offs in proptest::collection::vec(0i64..50_000, 0..40),
            fakes in proptest::collection::vec(0i64..50_000, 0..40),
            limit in 1u32..6,
            window in 60u64..20_000,
        ) {
            let w = Duration::from_secs(window);
            let ids: Vec<_> = offs.iter().map(|&o| id(o)).collect();
            let mut more = ids.clone();
            more.extend(fakes.iter().map(|&o| id(o)));
            let before: Vec<_> = flood(&ids, limit, w).into_iter().map(|(i, _)| i).collect();
            let after: Vec<_> = flood(&more, limit, w).into_iter().map(|(i, _)| i).collect();
            for m in &before {
                prop_assert!(after.contains(m));
            }
            // A directory holds each id once.
            more.sort_unstable();
            more.dedup();
            let unmarked = counted_after_marks(&more, &after);
            for a in &unmarked {
                let inside = unmarked.iter().filter(|b| {
                    **b >= *a && (b.time() - a.time()).num_seconds() as u64 <= window
                }).count();
                prop_assert!(inside <= limit as usize);
            }
        }
    }
}
