//! Retention: decides which snapshots a policy keeps, with the semantics of restic's `forget`,
//! as a pure function of the snapshot directory names, the policy and the operator's time zone.
//!
//! This module owns *deciding* only: listing the server and deleting (the `.deleting` rename
//! dance) belong to the callers. Every rule looks at all snapshots independently, newest first,
//! and a snapshot is kept if any rule keeps it:
//!
//! * `keep_last N`: the N newest snapshots.
//! * `keep_{hourly,daily,weekly,monthly,yearly} N`: the newest snapshot of each of the N newest
//!   hours/days/ISO weeks/months/years that have a snapshot, in the operator's local time.
//! * `keep_within D`: every snapshot less than D older than the *newest snapshot* (not than now,
//!   so a backup outage never lets retention eat the last good snapshots).
//! * `keep_within_{hourly,..,yearly} D`: the newest snapshot of every bucket within D of the
//!   newest snapshot, however many buckets that is.
//!
//! Two guards go beyond restic: an empty policy keeps everything, and the newest snapshot is
//! always kept. Names that are not snapshot ids (`.partial`, `.deleting`, strangers' files) never
//! appear in the result, so nothing built on it can remove them.

mod buckets;
mod window;

#[cfg(test)]
mod golden;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::time::Duration;

use chrono_tz::Tz;
use serde::Deserialize;

use self::buckets::Period;
use self::window::Window;
use crate::layout::id::SnapshotId;

/// What to keep, as written in `[jobs.X.retention]`. All-zero / all-`None` (the default) means
/// "no rule": keep everything. An absent key, a zero count and a zero duration are all the same
/// absent rule, as in restic. Unknown keys are refused, so a typo cannot silently become
/// "keep everything".
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    pub keep_last: u32,
    pub keep_hourly: u32,
    pub keep_daily: u32,
    pub keep_weekly: u32,
    pub keep_monthly: u32,
    pub keep_yearly: u32,
    #[serde(deserialize_with = "crate::duration::optional")]
    pub keep_within: Option<Duration>,
    #[serde(deserialize_with = "crate::duration::optional")]
    pub keep_within_hourly: Option<Duration>,
    #[serde(deserialize_with = "crate::duration::optional")]
    pub keep_within_daily: Option<Duration>,
    #[serde(deserialize_with = "crate::duration::optional")]
    pub keep_within_weekly: Option<Duration>,
    #[serde(deserialize_with = "crate::duration::optional")]
    pub keep_within_monthly: Option<Duration>,
    #[serde(deserialize_with = "crate::duration::optional")]
    pub keep_within_yearly: Option<Duration>,
}

impl Policy {
    /// True when no rule is set, in which case [`apply`] keeps every snapshot.
    pub fn is_empty(&self) -> bool {
        self.counted().iter().all(|(_, n)| *n == 0)
            && self.keep_within.is_none_or(|d| d.is_zero())
            && self
                .within_buckets()
                .iter()
                .all(|(_, d)| d.is_none_or(|d| d.is_zero()))
    }

    /// Counted rules in restic's evaluation order; `None` is `keep_last`.
    fn counted(&self) -> [(Option<Period>, u32); 6] {
        [
            (None, self.keep_last),
            (Some(Period::Hour), self.keep_hourly),
            (Some(Period::Day), self.keep_daily),
            (Some(Period::Week), self.keep_weekly),
            (Some(Period::Month), self.keep_monthly),
            (Some(Period::Year), self.keep_yearly),
        ]
    }

    fn within_buckets(&self) -> [(Period, Option<Duration>); 5] {
        [
            (Period::Hour, self.keep_within_hourly),
            (Period::Day, self.keep_within_daily),
            (Period::Week, self.keep_within_weekly),
            (Period::Month, self.keep_within_monthly),
            (Period::Year, self.keep_within_yearly),
        ]
    }
}

/// The verdict on one snapshot. `reasons` names every rule that keeps it (empty when removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub id: SnapshotId,
    pub keep: bool,
    pub reasons: Vec<String>,
}

/// `names`: the directory names found under <path>/<job>/ on the server (any order, any junk).
/// Returns one Decision per name that parses as a SnapshotId, newest first. Names that are not ids
/// (".<id>.partial", ".<id>.deleting", "lost+found", ...) are never in the output, so never removed.
pub fn apply(names: &[String], policy: &Policy, tz: Tz) -> Vec<Decision> {
    let mut ids: Vec<SnapshotId> = names.iter().filter_map(|n| SnapshotId::parse(n)).collect();
    ids.sort_unstable_by(|a, b| b.cmp(a));
    ids.dedup();
    let mut decisions: Vec<Decision> = ids
        .iter()
        .map(|&id| Decision {
            id,
            keep: false,
            reasons: Vec::new(),
        })
        .collect();
    let Some(newest) = ids.first() else {
        return decisions;
    };

    if policy.is_empty() {
        // A missing or mistyped policy must never be read as "keep nothing".
        for d in &mut decisions {
            keep(d, "no retention policy".to_owned());
        }
        return decisions;
    }

    let newest = newest.time();
    let within = active(policy.keep_within).map(|d| Window::new(newest, d, tz));
    let mut counted: Vec<Counted> = policy
        .counted()
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(period, total)| Counted {
            period,
            total,
            left: total,
            last: None,
        })
        .collect();
    let mut within_buckets: Vec<WithinBucket> = policy
        .within_buckets()
        .into_iter()
        .filter_map(|(period, d)| {
            let window = Window::new(newest, active(d)?, tz);
            Some(WithinBucket {
                period,
                window,
                last: None,
            })
        })
        .collect();

    // Snapshot-major, like restic: a bucket rule remembers the bucket of the last snapshot *it*
    // kept, so it keeps the newest snapshot of each bucket and spends one slot per bucket.
    for d in &mut decisions {
        let local = d.id.time().with_timezone(&tz);
        if let Some(w) = &within
            && w.contains(d.id.time())
        {
            keep(d, format!("within {}", w.span()));
        }
        for rule in &mut counted {
            if rule.left == 0 {
                continue;
            }
            let bucket = rule.period.map(|p| p.bucket(&local));
            if bucket.is_some() && bucket == rule.last {
                continue;
            }
            rule.left -= 1;
            let reason = match (&rule.period, &bucket) {
                (Some(p), Some(b)) => format!("{} {b}", p.adjective()),
                _ => format!("last ({}/{})", rule.total - rule.left, rule.total),
            };
            rule.last = bucket;
            keep(d, reason);
        }
        for rule in &mut within_buckets {
            if !rule.window.contains(d.id.time()) {
                continue;
            }
            let bucket = rule.period.bucket(&local);
            if rule.last.as_ref() == Some(&bucket) {
                continue;
            }
            keep(d, format!("within-{} {bucket}", rule.period.adjective()));
            rule.last = Some(bucket);
        }
    }

    // restic keeps the newest under every non-empty policy too; this makes it a guarantee
    // rather than a consequence, so a future rule cannot silently break it.
    if let Some(first) = decisions.first_mut()
        && !first.keep
    {
        keep(first, "newest".to_owned());
    }
    decisions
}

fn keep(d: &mut Decision, reason: String) {
    d.keep = true;
    d.reasons.push(reason);
}

/// restic ignores zero durations (`Duration.Zero()`), so a `0d` in a config is "no rule".
fn active(d: Option<Duration>) -> Option<Duration> {
    d.filter(|d| !d.is_zero())
}

struct Counted {
    /// `None` for `keep_last`, where every snapshot is its own bucket.
    period: Option<Period>,
    total: u32,
    left: u32,
    last: Option<String>,
}

struct WithinBucket {
    period: Period,
    window: Window,
    last: Option<String>,
}
