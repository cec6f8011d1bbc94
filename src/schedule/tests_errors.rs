//! Error messages: every bad expression names its field and says what would be right.
// Test-only: the parent declares this module under #[cfg(test)].

use chrono_tz::UTC;

use super::tests::{err, utc};
use super::{Schedule, ScheduleError};

#[test]
fn error_out_of_range_hour_names_field_and_range() {
    assert_eq!(
        err("0 25 * * *"),
        "field 2 (hour): 25 is not an hour (0-23)"
    );
    // With seconds the hour is the third field.
    assert_eq!(
        err("0 0 25 * * *"),
        "field 3 (hour): 25 is not an hour (0-23)"
    );
}

#[test]
fn error_out_of_range_minute() {
    assert_eq!(
        err("60 * * * *"),
        "field 1 (minute): 60 is not a minute (0-59)"
    );
    assert_eq!(
        err("0-60 * * * *"),
        "field 1 (minute): 60 is not a minute (0-59)"
    );
}

#[test]
fn error_field_counts() {
    let four = err("0 2 * *");
    assert!(
        four.starts_with("found 4 field(s), expected 5 (minute hour"),
        "{four}"
    );
    assert!(four.contains("or 6 (second minute hour"), "{four}");
    assert!(err("0 0 2 * * * 2026").starts_with("found 7 field(s)"));
    assert!(err("nonsense").starts_with("found 1 field(s)"));
}

#[test]
fn error_garbage_values() {
    assert_eq!(
        err("x 2 * * *"),
        "field 1 (minute): \"x\" is not a minute (0-59)"
    );
    assert_eq!(
        err("0 2 * JANUARY *"),
        "field 4 (month): \"JANUARY\" is not a month (1-12 or JAN-DEC)"
    );
    assert_eq!(
        err("0 2 * * 8"),
        "field 5 (day of week): 8 is not a day of the week (0-7 or SUN-SAT; 0 and 7 are Sunday)"
    );
    assert_eq!(
        err("0 MON * * *"),
        "field 2 (hour): \"MON\" is not an hour (0-23)"
    );
    assert_eq!(
        err("0 2 0 * *"),
        "field 3 (day of month): 0 is not a day of the month (1-31)"
    );
    assert_eq!(
        err("0 2 * 13 *"),
        "field 4 (month): 13 is not a month (1-12 or JAN-DEC)"
    );
}

#[test]
fn error_syntax_mistakes_explain_the_fix() {
    assert_eq!(
        err("5/10 * * * *"),
        "field 1 (minute): \"5/10\" needs a range before the step: write \"*/10\" or \"5-59/10\""
    );
    assert_eq!(
        err("*/0 * * * *"),
        "field 1 (minute): step in \"*/0\" must be at least 1"
    );
    assert_eq!(
        err("0 5-3 * * *"),
        "field 2 (hour): range \"5-3\" runs backwards; write the smaller value first"
    );
    assert_eq!(
        err("0 1,,2 * * *"),
        "field 2 (hour): empty list entry in \"1,,2\""
    );
    assert_eq!(
        err("0 L * * *"),
        "field 2 (hour): \"L\" is not an hour (0-23)"
    );
}

#[test]
fn error_modifier_rejected_by_croner_still_names_the_field() {
    let message = err("0 2 * * 5#9");
    assert!(
        message.starts_with("field 5 (day of week): \"5#9\" is not valid:"),
        "{message}"
    );
}

#[test]
fn error_unknown_alias_and_empty() {
    assert_eq!(
        err("@fortnightly"),
        "unknown alias \"@fortnightly\": use one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly"
    );
    assert!(err("@reboot").starts_with("unknown alias \"@reboot\""));
    assert!(matches!(
        Schedule::parse("   ", UTC),
        Err(ScheduleError::Empty)
    ));
}

#[test]
fn error_impossible_date() {
    assert!(matches!(
        Schedule::parse("0 0 30 2 *", UTC),
        Err(ScheduleError::NeverFires)
    ));
    assert!(err("0 0 31 4,6 *").starts_with("the schedule never fires"));
    // 29 February exists in leap years, so it is accepted.
    let leap = Schedule::parse("0 0 29 2 *", UTC).unwrap();
    assert_eq!(
        leap.next_after(utc(2026, 1, 1, 0, 0, 0)),
        Some(utc(2028, 2, 29, 0, 0, 0))
    );
}
