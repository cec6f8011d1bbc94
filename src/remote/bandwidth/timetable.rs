//! A remote's `bandwidth` setting as the operator writes it: one rate (`"20MiB"`, `"off"`) or
//! a timetable in rclone's spirit (`["08:00 4MiB", "19:00 off"]`), and which rate is in force
//! at an instant, read in `agent.timezone`. Pure: no clock, no I/O; config builds these values
//! (as it builds schedules) and the limiter asks them for the rate of the moment.

use std::fmt;

use chrono::{DateTime, Timelike, Utc};
use chrono_tz::Tz;

use crate::size::ByteSize;

/// One timetable entry: from `at` (seconds after local midnight) on, `rate` bytes per second
/// (`None`: no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub at: u32,
    pub rate: Option<u64>,
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (h, m, s) = (self.at / 3600, self.at / 60 % 60, self.at % 60);
        write!(f, "{h:02}:{m:02}")?;
        if s != 0 {
            write!(f, ":{s:02}")?;
        }
        match self.rate {
            Some(r) => write!(f, " {}/s", crate::outcome::human_bytes(r)),
            None => write!(f, " off"),
        }
    }
}

/// Entries in strictly increasing time order, at least one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timetable {
    entries: Vec<Entry>,
}

impl Timetable {
    /// One rate all day.
    pub fn fixed(rate: Option<u64>) -> Timetable {
        Timetable {
            entries: vec![Entry { at: 0, rate }],
        }
    }

    /// Checks the order; the error names the index of the entry out of place.
    pub fn new(entries: Vec<Entry>) -> Result<Timetable, (usize, String)> {
        if entries.is_empty() {
            return Err((0, "the timetable is empty".into()));
        }
        for (i, w) in entries.windows(2).enumerate() {
            if w[1].at <= w[0].at {
                return Err((
                    i + 1,
                    format!(
                        "entry \"{}\" does not come after the one before it (\"{}\"): list the times in order, each once",
                        w[1], w[0]
                    ),
                ));
            }
        }
        Ok(Timetable { entries })
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The index of the entry in force `second` seconds after local midnight: the last one
    /// whose time has come today, else yesterday's last.
    pub fn in_force_at(&self, second: u32) -> usize {
        self.entries
            .iter()
            .rposition(|e| e.at <= second)
            .unwrap_or(self.entries.len() - 1)
    }
}

/// A remote's `bandwidth`, with the zone its times are read in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bandwidth {
    pub timetable: Timetable,
    pub timezone: Tz,
}

impl Bandwidth {
    /// The entry in force at `now`.
    pub fn in_force(&self, now: DateTime<Utc>) -> (usize, Entry) {
        let local = now.with_timezone(&self.timezone);
        let i = self
            .timetable
            .in_force_at(local.time().num_seconds_from_midnight());
        (i, self.timetable.entries[i])
    }
}

/// `"off"` (no limit) or a size per second (`"4MiB"`, `"500 KB"`); zero is refused, since it
/// would stop every transfer for good.
pub fn parse_rate(s: &str) -> Result<Option<u64>, String> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let n = t
        .parse::<ByteSize>()
        .map_err(|_| format!("{s:?} is not a rate: write bytes per second such as \"20MiB\" or \"500KiB\", or \"off\""))?;
    positive(n.0)
}

pub fn positive(n: u64) -> Result<Option<u64>, String> {
    if n == 0 {
        return Err(
            "a rate of 0 would never send anything; write \"off\" for no limit".to_string(),
        );
    }
    Ok(Some(n))
}

/// `HH:MM` or `HH:MM:SS` as seconds after midnight.
pub fn parse_time(s: &str) -> Result<u32, String> {
    let bad = || format!("{s:?} is not a time of day; write HH:MM or HH:MM:SS, e.g. \"08:00\"");
    let parts: Vec<&str> = s.split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return Err(bad());
    }
    let mut fields = [0u32; 3];
    for (i, p) in parts.iter().enumerate() {
        let digits_ok = (1..=2).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit());
        // Minutes and seconds always have two digits; the hour may have one ("8:00").
        if !digits_ok || (i > 0 && p.len() != 2) {
            return Err(bad());
        }
        fields[i] = p.parse().map_err(|_| bad())?;
    }
    let [h, m, sec] = fields;
    if h > 23 || m > 59 || sec > 59 {
        return Err(bad());
    }
    Ok(h * 3600 + m * 60 + sec)
}

/// `"08:00 4MiB"`: a time of day, blanks, a rate.
pub fn parse_entry(s: &str) -> Result<Entry, String> {
    let t = s.trim();
    let Some((time, rate)) = t.split_once(char::is_whitespace) else {
        return Err(format!(
            "{s:?} is not a timetable entry; write a time and a rate, e.g. \"08:00 4MiB\" or \"19:00 off\""
        ));
    };
    Ok(Entry {
        at: parse_time(time)?,
        rate: parse_rate(rate)?,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;

    fn table(entries: &[&str]) -> Timetable {
        Timetable::new(entries.iter().map(|e| parse_entry(e).unwrap()).collect()).unwrap()
    }

    #[test]
    fn rates_times_and_entries() {
        assert_eq!(parse_rate("off"), Ok(None));
        assert_eq!(parse_rate(" OFF "), Ok(None));
        assert_eq!(parse_rate("4MiB"), Ok(Some(4 << 20)));
        assert_eq!(parse_rate("500 KB"), Ok(Some(500_000)));
        assert!(parse_rate("0").unwrap_err().contains("off"));
        assert!(parse_rate("0MiB").is_err());
        assert!(parse_rate("fast").unwrap_err().contains("not a rate"));
        assert_eq!(parse_time("08:00"), Ok(8 * 3600));
        assert_eq!(parse_time("8:05"), Ok(8 * 3600 + 300));
        assert_eq!(parse_time("23:59:59"), Ok(86_399));
        for t in [
            "24:00",
            "12:60",
            "12:00:60",
            "12",
            "12:5",
            "a:00",
            "12:00:00:00",
            "",
        ] {
            assert!(parse_time(t).is_err(), "{t}");
        }
        assert_eq!(
            parse_entry("19:00   off"),
            Ok(Entry {
                at: 19 * 3600,
                rate: None
            })
        );
        assert_eq!(parse_entry("08:00 4 MiB").unwrap().rate, Some(4 << 20));
        assert!(
            parse_entry("08:00")
                .unwrap_err()
                .contains("time and a rate")
        );
        assert!(parse_entry("4MiB 08:00").is_err());
        assert_eq!(
            parse_entry("07:30:15 1KiB").unwrap().to_string(),
            "07:30:15 1.0 KiB/s"
        );
    }

    #[test]
    fn order_is_strict() {
        let e = |at| Entry { at, rate: None };
        assert!(Timetable::new(vec![]).is_err());
        let (i, why) = Timetable::new(vec![e(10), e(20), e(20)]).unwrap_err();
        assert_eq!(i, 2);
        assert!(why.contains("in order"), "{why}");
        assert_eq!(Timetable::new(vec![e(20), e(10)]).unwrap_err().0, 1);
    }

    #[test]
    fn the_last_entry_whose_time_has_come_wrapping_to_yesterday() {
        let t = table(&["08:00 4MiB", "19:00 off"]);
        assert_eq!(t.in_force_at(0), 1, "before 08:00: yesterday's 19:00");
        assert_eq!(t.in_force_at(8 * 3600 - 1), 1);
        assert_eq!(t.in_force_at(8 * 3600), 0);
        assert_eq!(t.in_force_at(12 * 3600), 0);
        assert_eq!(t.in_force_at(19 * 3600), 1);
        assert_eq!(t.in_force_at(86_399), 1);
        assert_eq!(Timetable::fixed(Some(1)).in_force_at(5), 0);
    }

    #[test]
    fn times_are_read_in_the_agent_timezone() {
        let b = Bandwidth {
            timetable: table(&["08:00 4MiB", "19:00 off"]),
            timezone: chrono_tz::Asia::Tokyo,
        };
        // 00:30 UTC is 09:30 in Tokyo: the day rate, though it is night in UTC.
        let now = Utc.with_ymd_and_hms(2026, 6, 1, 0, 30, 0).unwrap();
        assert_eq!(b.in_force(now).1.rate, Some(4 << 20));
        let now = Utc.with_ymd_and_hms(2026, 6, 1, 10, 30, 0).unwrap();
        assert_eq!(b.in_force(now).1.rate, None);
    }

    proptest! {
        #[test]
        fn the_entry_in_force_is_the_latest_not_after_now(
            mut times in proptest::collection::btree_set(0u32..86_400, 1..8),
            second in 0u32..86_400,
        ) {
            let entries: Vec<Entry> = std::mem::take(&mut times)
                .into_iter()
                .map(|at| Entry { at, rate: Some(u64::from(at) + 1) })
                .collect();
            let t = Timetable::new(entries.clone()).unwrap();
            let i = t.in_force_at(second);
            let started = entries.iter().filter(|e| e.at <= second).count();
            if started == 0 {
                prop_assert_eq!(i, entries.len() - 1);
            } else {
                prop_assert_eq!(i, started - 1);
            }
        }

        #[test]
        fn every_written_entry_reads_back(h in 0u32..24, m in 0u32..60, s in 0u32..60, kib in 1u64..100_000) {
            let text = format!("{h:02}:{m:02}:{s:02} {kib}KiB");
            let e = parse_entry(&text).unwrap();
            prop_assert_eq!(e.at, h * 3600 + m * 60 + s);
            prop_assert_eq!(e.rate, Some(kib * 1024));
        }
    }
}
