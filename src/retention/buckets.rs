//! Calendar buckets in the operator's zone. A bucket's label doubles as its identity: two
//! snapshots share a bucket exactly when their labels are equal, so the reason shown to the
//! operator can never disagree with the grouping that produced it.

use chrono::{DateTime, Datelike, Timelike};
use chrono_tz::Tz;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Period {
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl Period {
    pub(super) fn adjective(self) -> &'static str {
        match self {
            Period::Hour => "hourly",
            Period::Day => "daily",
            Period::Week => "weekly",
            Period::Month => "monthly",
            Period::Year => "yearly",
        }
    }

    /// The bucket `t` falls in, from its local wall-clock reading. Like restic (Go's
    /// `t.Hour()` etc. in the snapshot's zone), the repeated hour of a DST fall-back is one
    /// hourly bucket, and weeks are ISO 8601 weeks labelled with their ISO year, so
    /// 2027-01-01 is in 2026-W53 and 2022-01-01 in 2021-W52.
    pub(super) fn bucket(self, t: &DateTime<Tz>) -> String {
        match self {
            Period::Hour => format!(
                "{:04}-{:02}-{:02} {:02}h",
                t.year(),
                t.month(),
                t.day(),
                t.hour()
            ),
            Period::Day => format!("{:04}-{:02}-{:02}", t.year(), t.month(), t.day()),
            Period::Week => {
                let w = t.iso_week();
                format!("{:04}-W{:02}", w.year(), w.week())
            }
            Period::Month => format!("{:04}-{:02}", t.year(), t.month()),
            Period::Year => format!("{:04}", t.year()),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn labels() {
        let t = chrono_tz::Europe::Berlin
            .with_ymd_and_hms(2026, 11, 24, 13, 5, 0)
            .unwrap();
        let got: Vec<String> = [
            Period::Hour,
            Period::Day,
            Period::Week,
            Period::Month,
            Period::Year,
        ]
        .iter()
        .map(|p| p.bucket(&t))
        .collect();
        assert_eq!(
            got,
            [
                "2026-11-24 13h",
                "2026-11-24",
                "2026-W48",
                "2026-11",
                "2026"
            ]
        );
    }

    #[test]
    fn iso_week_belongs_to_its_iso_year() {
        let utc = chrono_tz::UTC;
        let w = |y, m, d| Period::Week.bucket(&utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap());
        assert_eq!(w(2026, 12, 31), "2026-W53");
        assert_eq!(w(2027, 1, 3), "2026-W53");
        assert_eq!(w(2027, 1, 4), "2027-W01");
        assert_eq!(w(2022, 1, 2), "2021-W52");
        assert_eq!(w(2024, 12, 30), "2025-W01");
    }
}
