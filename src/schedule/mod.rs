//! Cron schedules evaluated in a named time zone, with Vixie-cron DST rules.
//!
//! This module owns turning a schedule string plus an IANA zone into fire
//! instants: parsing (5-field, 6-field with leading seconds, `@aliases`),
//! operator-facing error messages, and the answers the scheduler needs
//! ([`Schedule::next_after`], [`Schedule::missed_between`],
//! [`Schedule::last_at_or_before`]). It is pure: no clock, no I/O.
//!
//! # DST contract (what Vixie cron does)
//!
//! * A wall time that does not exist (clocks spring forward) fires at the first
//!   instant after the gap, if the hour field names specific hours (`2`, `1,2`).
//!   `30 2 * * *` in Europe/Berlin on 2026-03-29 fires at 03:00 CEST.
//! * A wall time that happens twice (clocks fall back) fires once, at its first
//!   occurrence, if the hour field names specific hours.
//! * If the hour field spans hours (`*`, `*/2`, `1-5`), the job keeps its real
//!   interval instead: gap times are skipped and repeated times fire twice, so
//!   `0 * * * *` fires 23 times on a spring-forward day and 25 on a fall-back day.
//! * Several wall times mapped onto one instant fire once.
//!
//! Croner 4 implements these rules natively, but decides "fixed" versus
//! "interval" by requiring a single value in the second, minute *and* hour
//! fields, so `0,30 2 * * *` or `0 2,14 * * *` would run twice on a fall-back
//! night and be skipped on a spring-forward night. We therefore use croner only
//! to parse and to walk matching *wall clock* times (on `NaiveDateTime`), and
//! resolve each wall time against the zone here, keyed on the hour field alone.

mod dst;
mod parse;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_dst;
#[cfg(test)]
mod tests_errors;
#[cfg(test)]
mod tests_prop;

use std::fmt;

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use croner::Cron;

use dst::Pass;

/// Upper bound on the fire times [`Schedule::missed_between`] returns, so a
/// long outage with a per-second schedule cannot exhaust memory.
pub const MAX_MISSED: usize = 100_000;

/// Matching wall times examined by one search before giving up. A search only
/// skips wall times inside one repeated (fall-back) range, at most a few
/// thousand for a per-second schedule, so reaching this means a zone anomaly.
const SCAN_LIMIT: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error(
        "the schedule is empty: write a cron expression such as \"0 2 * * *\" or an alias such as @daily"
    )]
    Empty,
    #[error("unknown alias {alias:?}: use one of {}", parse::ALIAS_NAMES)]
    UnknownAlias { alias: String },
    #[error(
        "found {found} field(s), expected 5 (minute hour day-of-month month day-of-week) \
         or 6 (second minute hour day-of-month month day-of-week)"
    )]
    FieldCount { found: usize },
    #[error("field {position} ({name}): {problem}")]
    Field {
        position: usize,
        name: &'static str,
        problem: String,
    },
    #[error("invalid cron expression: {reason}")]
    Invalid { reason: String },
    #[error(
        "the schedule never fires: no date matches its day-of-month, month and day-of-week fields"
    )]
    NeverFires,
}

/// A parsed cron expression bound to the time zone its wall times are read in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    expr: String,
    tz: Tz,
    cron: Cron,
    /// The hour field spans hours; selects the DST rule (see module docs).
    wildcard_hour: bool,
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.expr, self.tz)
    }
}

impl Schedule {
    /// 5-field cron (min hour dom mon dow), 6-field with leading seconds, and
    /// `@hourly @daily @midnight @weekly @monthly @yearly @annually`.
    /// Weekdays are 0-7 with both 0 and 7 Sunday, or `SUN`-`SAT`; months 1-12
    /// or `JAN`-`DEC`. When both day fields are restricted, a day matching
    /// either one fires (as in Vixie cron).
    pub fn parse(expr: &str, tz: Tz) -> Result<Schedule, ScheduleError> {
        let checked = parse::check(expr)?;
        let cron = parse::to_cron(&checked)?;
        // Rejected here rather than surfacing as "never runs" later. Only the
        // day fields can make a pattern unsatisfiable (`0 0 30 2 *`), and croner
        // reports that by exhausting its year range.
        let reference = NaiveDate::from_ymd_opt(2000, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0));
        if let Some(reference) = reference
            && cron.find_next_occurrence(&reference, true).is_err()
        {
            return Err(ScheduleError::NeverFires);
        }
        Ok(Schedule {
            expr: expr.trim().to_string(),
            tz,
            cron,
            wildcard_hour: checked.wildcard_hour,
        })
    }

    /// The expression as the operator wrote it (trimmed), for status lines and messages.
    pub fn as_str(&self) -> &str {
        &self.expr
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// First fire time strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Fire times are whole seconds, so "after t" equals "after t's second".
        let ts = t.with_nanosecond(0)?;
        let fold = self.fold_at(ts);
        let mut start = self.wall(ts)?;
        if let Some(fold) = &fold
            && fold.pass == Pass::Second
            && !self.wildcard_hour
        {
            // The rest of the repeated range already fired on the first pass.
            start = start.max(fold.first_pass_end);
        }
        let mut best = self.scan_forward(start, ts);
        if let Some(fold) = &fold
            && fold.pass == Pass::First
            && self.wildcard_hour
        {
            // The wall clock is about to replay times earlier than `ts`'s own;
            // the forward scan from `ts`'s wall time cannot see them.
            let replay = self
                .cron
                .find_next_occurrence(&fold.second_pass_start, true)
                .ok()
                .and_then(|wall| match self.tz.from_local_datetime(&wall) {
                    LocalResult::Ambiguous(_, later) => Some(later.with_timezone(&Utc)),
                    _ => None,
                });
            best = min_opt(best, replay);
        }
        best
    }

    /// All fire times in `(a, b]`, in order. Stops after [`MAX_MISSED`] entries
    /// (the earliest ones); a caller that only needs the latest should use
    /// [`Schedule::last_at_or_before`].
    pub fn missed_between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let mut fires = Vec::new();
        let mut cursor = a;
        while fires.len() < MAX_MISSED {
            match self.next_after(cursor) {
                Some(fire) if fire <= b => {
                    fires.push(fire);
                    cursor = fire;
                }
                _ => break,
            }
        }
        fires
    }

    /// The last fire time at or before `t`. Searches back as far as needed:
    /// every accepted schedule fires at least once in any 8 years (29 February
    /// skips 2100), so `None` only means `t` is near the start of the calendar.
    pub fn last_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let ts = t.with_nanosecond(0)?;
        let mut best = self.scan_backward(self.wall(ts)?, ts);
        if let Some(fold) = self.fold_at(ts)
            && fold.pass == Pass::Second
        {
            // The first pass ran through wall times later than `ts`'s own.
            let first_pass = self.scan_backward(fold.first_pass_end, ts);
            best = best.max(first_pass);
        }
        best
    }

    /// `None` only at the ends of chrono's range, where the offset overflows.
    fn wall(&self, instant: DateTime<Utc>) -> Option<NaiveDateTime> {
        let offset = self.tz.offset_from_utc_datetime(&instant.naive_utc()).fix();
        instant.naive_utc().checked_add_offset(offset)
    }

    /// The instants a matching wall time fires at, earliest first.
    fn fires_at(&self, wall: NaiveDateTime) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        match self.tz.from_local_datetime(&wall) {
            LocalResult::Single(at) => (Some(at.with_timezone(&Utc)), None),
            LocalResult::Ambiguous(first, second) => (
                Some(first.with_timezone(&Utc)),
                self.wildcard_hour.then(|| second.with_timezone(&Utc)),
            ),
            LocalResult::None if self.wildcard_hour => (None, None),
            LocalResult::None => (self.gap_end(wall), None),
        }
    }

    /// Earliest fire strictly after `ts` among matching wall times after `start`.
    /// Earliest-occurrence instants grow with the wall time, and a second-pass
    /// instant precedes every wall time past the repeated range, so the first
    /// qualifying fire in wall order is the minimum.
    fn scan_forward(&self, start: NaiveDateTime, ts: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut wall = start;
        for _ in 0..SCAN_LIMIT {
            wall = self.cron.find_next_occurrence(&wall, false).ok()?;
            let (first, second) = self.fires_at(wall);
            if let Some(fire) = [first, second].into_iter().flatten().find(|f| *f > ts) {
                return Some(fire);
            }
        }
        None
    }

    /// Latest fire at or before `ts` among matching wall times at or before
    /// `start`; the mirror image of [`Self::scan_forward`].
    fn scan_backward(&self, start: NaiveDateTime, ts: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut wall = self.cron.find_previous_occurrence(&start, true).ok()?;
        for _ in 0..SCAN_LIMIT {
            let (first, second) = self.fires_at(wall);
            if let Some(fire) = [second, first].into_iter().flatten().find(|f| *f <= ts) {
                return Some(fire);
            }
            wall = self.cron.find_previous_occurrence(&wall, false).ok()?;
        }
        None
    }
}

fn min_opt(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
