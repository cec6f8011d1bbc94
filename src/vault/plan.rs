//! The vault's decisions on a repository's state, as pure functions of it and the time: what
//! a newly checked snapshot counts as, which snapshots a flood marks, which sealed snapshots
//! retention removes, and which leftovers have outlived the grace period. pass.rs does what
//! they decide; the simulation tests run them over months of nights and attacks.

use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::judge::{flood, judge_id};
use super::state::{RepoState, Seen, Status};
use crate::layout::SnapshotId;
use crate::retention::{self, Policy};

/// The rules a pass applies, from vault.toml.
#[derive(Debug, Clone)]
pub struct Rules {
    pub policy: Policy,
    pub tz: Tz,
    pub grace: Duration,
    pub id_tolerance: Duration,
    pub flood_limit: u32,
    pub flood_window: Duration,
}

/// Records a snapshot the pass just checked: `problem` is what its check found, if anything.
/// An intact one is `Sealed` when its id agrees with `trusted`, else `Suspicious`.
pub fn record(
    state: &mut RepoState,
    id: SnapshotId,
    trusted: DateTime<Utc>,
    now: DateTime<Utc>,
    problem: Option<String>,
    rules: &Rules,
) -> Status {
    let (status, reason) = match problem {
        Some(p) => (Status::Damaged, Some(p)),
        None => match judge_id(id, trusted, now, rules.id_tolerance) {
            Some(why) => (Status::Suspicious, Some(why)),
            None => (Status::Sealed, None),
        },
    };
    let seen = state.snapshots.entry(id.to_string()).or_insert(Seen {
        status,
        first_seen: now,
        trusted,
        reason: None,
    });
    seen.status = status;
    seen.reason = reason;
    state.totals.sealed += 1;
    status
}

/// Notes a snapshot that is sealed but still open for writing somewhere: checked next pass,
/// with the times of its first sight kept.
pub fn wait(state: &mut RepoState, id: SnapshotId, trusted: DateTime<Utc>, now: DateTime<Utc>) {
    state.snapshots.entry(id.to_string()).or_insert(Seen {
        status: Status::Waiting,
        first_seen: now,
        trusted,
        reason: None,
    });
}

/// Marks every intact snapshot in a window holding more than the flood limit; returns the ids
/// it marked now. Suspicious ones count too: a flood of far-future ids is still a flood.
pub fn mark_floods(state: &mut RepoState, rules: &Rules) -> Vec<SnapshotId> {
    let ids: Vec<SnapshotId> = state
        .snapshots
        .iter()
        .filter(|(_, s)| matches!(s.status, Status::Sealed | Status::Suspicious))
        .filter_map(|(id, _)| SnapshotId::parse(id))
        .collect();
    let mut marked = Vec::new();
    for (id, why) in flood(&ids, rules.flood_limit, rules.flood_window) {
        if let Some(s) = state.snapshots.get_mut(&id.to_string())
            && s.status == Status::Sealed
        {
            s.status = Status::Suspicious;
            s.reason = Some(why);
            marked.push(id);
        }
    }
    marked
}

/// The sealed, counted snapshots the policy does not keep, oldest first. Nothing else is
/// ever a candidate: waiting, damaged and suspicious snapshots are neither counted nor removed.
pub fn rotate(state: &RepoState, rules: &Rules) -> Vec<SnapshotId> {
    let names: Vec<String> = state
        .snapshots
        .iter()
        .filter(|(_, s)| s.status == Status::Sealed)
        .map(|(id, _)| id.clone())
        .collect();
    let mut gone: Vec<SnapshotId> = retention::apply(&names, &rules.policy, rules.tz)
        .into_iter()
        .filter(|d| !d.keep)
        .map(|d| d.id)
        .collect();
    gone.sort();
    gone
}

/// Notes every leftover present now (first sight is now for a new one), forgets those gone,
/// and returns those first seen at least the grace period ago.
pub fn expired(
    seen: &mut std::collections::BTreeMap<String, DateTime<Utc>>,
    present: &[String],
    now: DateTime<Utc>,
    grace: Duration,
) -> Vec<String> {
    seen.retain(|name, _| present.contains(name));
    let grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX);
    let mut out = Vec::new();
    for name in present {
        let first = *seen.entry(name.clone()).or_insert(now);
        if first
            .checked_add_signed(grace)
            .is_some_and(|due| due <= now)
        {
            out.push(name.clone());
        }
    }
    out
}
