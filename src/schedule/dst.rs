//! Resolving wall clock times against a zone's clock changes.
//!
//! chrono-tz answers "which instants have this wall time" but exposes no
//! transition list, so the edges of gaps and repeated ranges are found here by
//! bisection on the zone's offsets.

use chrono::{DateTime, LocalResult, NaiveDateTime, Offset, TimeDelta, TimeZone, Utc};

use super::Schedule;

/// Longest clock jump forward we search across (Samoa skipped a whole day in
/// 2011, so a day plus slack).
const MAX_GAP_MINUTES: i64 = 48 * 60;

/// Which occurrence of a repeated wall time an instant is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Pass {
    First,
    Second,
}

/// A fall-back range of repeated wall times around an instant.
pub(super) struct Fold {
    pub(super) pass: Pass,
    /// First wall time of the second pass (the clock's value right after it went back).
    pub(super) second_pass_start: NaiveDateTime,
    /// Last wall time of the first pass (just before the clock went back).
    pub(super) first_pass_end: NaiveDateTime,
}

impl Schedule {
    /// The repeated range `ts`'s wall time belongs to, if it is repeated.
    pub(super) fn fold_at(&self, ts: DateTime<Utc>) -> Option<Fold> {
        let LocalResult::Ambiguous(first, second) = self.tz.from_local_datetime(&self.wall(ts)?)
        else {
            return None;
        };
        let (first, second) = (first.with_timezone(&Utc), second.with_timezone(&Utc));
        let offset = |at: DateTime<Utc>| self.tz.offset_from_utc_datetime(&at.naive_utc()).fix();
        // chrono-tz does not expose transitions; bisect for the instant the
        // offset changes, which lies in (first, second].
        let after = offset(second);
        let (mut lo, mut hi) = (first, second);
        while hi - lo > TimeDelta::seconds(1) {
            let mid = lo + (hi - lo) / 2;
            if offset(mid) == after {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Some(Fold {
            pass: if ts == first {
                Pass::First
            } else {
                Pass::Second
            },
            second_pass_start: self.wall(hi)?,
            first_pass_end: self.wall(lo)?,
        })
    }

    /// First instant after the spring-forward gap containing `wall`.
    pub(super) fn gap_end(&self, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
        let exists =
            |w: NaiveDateTime| !matches!(self.tz.from_local_datetime(&w), LocalResult::None);
        // Minute steps find the gap's end coarsely; bisection then finds the
        // exact second, since historic offsets (LMT) are not whole minutes.
        let mut hi = wall;
        let mut found = false;
        for _ in 0..MAX_GAP_MINUTES {
            hi = hi.checked_add_signed(TimeDelta::minutes(1))?;
            if exists(hi) {
                found = true;
                break;
            }
        }
        if !found {
            return None;
        }
        let mut lo = hi - TimeDelta::minutes(1);
        while hi - lo > TimeDelta::seconds(1) {
            let mid = lo + (hi - lo) / 2;
            if exists(mid) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        self.tz
            .from_local_datetime(&hi)
            .earliest()
            .map(|at| at.with_timezone(&Utc))
    }
}
