//! Text-level checks of a cron expression, done before croner sees it.
//!
//! Croner's own messages ("Component error: Number out of bounds.") do not say
//! which field is wrong or what would be accepted, and an operator reading a log
//! line needs both. This layer validates the common syntax (numbers, names,
//! `*`, ranges, steps, lists) field by field; croner remains the authority on the
//! exotic modifiers (`L`, `W`, `#`), whose errors are passed through with the
//! field named.

use croner::Cron;
use croner::parser::{CronParser, Seconds};

use super::ScheduleError;

/// Aliases and the 5-field expression each one stands for.
const ALIASES: &[(&str, &str)] = &[
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

/// Human-readable list of accepted aliases, for error messages.
pub(super) const ALIAS_NAMES: &str =
    "@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly";

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Second,
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Second => "second",
            Kind::Minute => "minute",
            Kind::Hour => "hour",
            Kind::DayOfMonth => "day of month",
            Kind::Month => "month",
            Kind::DayOfWeek => "day of week",
        }
    }

    /// The noun used in "25 is not an hour", with the accepted range.
    fn what(self) -> &'static str {
        match self {
            Kind::Second => "a second (0-59)",
            Kind::Minute => "a minute (0-59)",
            Kind::Hour => "an hour (0-23)",
            Kind::DayOfMonth => "a day of the month (1-31)",
            Kind::Month => "a month (1-12 or JAN-DEC)",
            Kind::DayOfWeek => "a day of the week (0-7 or SUN-SAT; 0 and 7 are Sunday)",
        }
    }

    fn bounds(self) -> (u32, u32) {
        match self {
            Kind::Second | Kind::Minute => (0, 59),
            Kind::Hour => (0, 23),
            Kind::DayOfMonth => (1, 31),
            Kind::Month => (1, 12),
            Kind::DayOfWeek => (0, 7),
        }
    }

    fn names(self) -> &'static [&'static str] {
        match self {
            Kind::Month => &MONTHS,
            Kind::DayOfWeek => &WEEKDAYS,
            _ => &[],
        }
    }
}

/// An expression that passed the text-level checks.
pub(super) struct Checked {
    /// What croner should parse: aliases expanded, fields joined by one space.
    pub croner_text: String,
    /// Whether the hour field spans hours (`*`, a range or a step) rather than
    /// naming specific ones; this picks the DST rule (see the module docs).
    pub wildcard_hour: bool,
}

/// Expands aliases and validates every field, naming the first bad one.
pub(super) fn check(expr: &str) -> Result<Checked, ScheduleError> {
    let trimmed = expr.trim();
    if trimmed.is_empty() {
        return Err(ScheduleError::Empty);
    }
    let expanded = if trimmed.starts_with('@') {
        ALIASES
            .iter()
            .find(|(alias, _)| alias.eq_ignore_ascii_case(trimmed))
            .map(|(_, fields)| *fields)
            .ok_or_else(|| ScheduleError::UnknownAlias {
                alias: trimmed.to_string(),
            })?
    } else {
        trimmed
    };

    let fields: Vec<&str> = expanded.split_whitespace().collect();
    let kinds = kinds_for(fields.len()).ok_or(ScheduleError::FieldCount {
        found: fields.len(),
    })?;

    let mut wildcard_hour = false;
    for (index, (field, kind)) in fields.iter().zip(kinds).enumerate() {
        check_field(field, *kind).map_err(|problem| ScheduleError::Field {
            position: index + 1,
            name: kind.name(),
            problem,
        })?;
        if *kind == Kind::Hour {
            wildcard_hour = field.contains(['*', '-', '/']);
        }
    }
    Ok(Checked {
        croner_text: fields.join(" "),
        wildcard_hour,
    })
}

/// Builds croner's pattern, naming the field croner rejects if this layer
/// let something through (modifier syntax such as `5#9`). Croner's error does
/// not say where it is, so each field is tried alone against wildcards.
pub(super) fn to_cron(checked: &Checked) -> Result<Cron, ScheduleError> {
    let parser = CronParser::builder().seconds(Seconds::Optional).build();
    let error = match parser.parse(&checked.croner_text) {
        Ok(cron) => return Ok(cron),
        Err(error) => error,
    };
    let fields: Vec<&str> = checked.croner_text.split(' ').collect();
    let kinds = kinds_for(fields.len()).unwrap_or(&[]);
    for (index, kind) in kinds.iter().enumerate() {
        let alone: Vec<&str> = fields
            .iter()
            .enumerate()
            .map(|(other, field)| if other == index { *field } else { "*" })
            .collect();
        if let Err(field_error) = parser.parse(&alone.join(" ")) {
            return Err(ScheduleError::Field {
                position: index + 1,
                name: kind.name(),
                problem: format!("{:?} is not valid: {field_error}", fields[index]),
            });
        }
    }
    Err(ScheduleError::Invalid {
        reason: error.to_string(),
    })
}

fn kinds_for(count: usize) -> Option<&'static [Kind]> {
    match count {
        5 => Some(&[
            Kind::Minute,
            Kind::Hour,
            Kind::DayOfMonth,
            Kind::Month,
            Kind::DayOfWeek,
        ]),
        6 => Some(&[
            Kind::Second,
            Kind::Minute,
            Kind::Hour,
            Kind::DayOfMonth,
            Kind::Month,
            Kind::DayOfWeek,
        ]),
        _ => None,
    }
}

fn check_field(field: &str, kind: Kind) -> Result<(), String> {
    let field = field
        .strip_prefix('+')
        .filter(|_| kind == Kind::DayOfWeek)
        .unwrap_or(field);
    for item in field.split(',') {
        if item.is_empty() {
            return Err(format!("empty list entry in {field:?}"));
        }
        check_item(item, kind)?;
    }
    Ok(())
}

fn check_item(item: &str, kind: Kind) -> Result<(), String> {
    let day_field = matches!(kind, Kind::DayOfMonth | Kind::DayOfWeek);
    if item == "*" || (item == "?" && day_field) {
        return Ok(());
    }
    // `L`, `W` and `#` only make sense in the day fields; croner checks their
    // finer syntax, so here they are only kept out of the other fields.
    let upper = item.to_ascii_uppercase();
    let has_modifier = match kind {
        Kind::DayOfMonth => upper == "L" || upper.ends_with('W'),
        Kind::DayOfWeek => {
            upper == "L" || upper.contains('#') || (upper.len() > 1 && upper.ends_with('L'))
        }
        _ => false,
    };
    if has_modifier {
        return Ok(());
    }

    let (range, step) = match item.split_once('/') {
        Some((range, step)) => (range, Some(step)),
        None => (item, None),
    };
    if let Some(step) = step {
        let step: u32 = step
            .parse()
            .map_err(|_| format!("step {step:?} in {item:?} is not a whole number"))?;
        if step == 0 {
            return Err(format!("step in {item:?} must be at least 1"));
        }
        if range != "*" && !range.contains('-') {
            return Err(format!(
                "{item:?} needs a range before the step: write \"*/{step}\" or \"{range}-{max}/{step}\"",
                max = kind.bounds().1
            ));
        }
    }
    if range == "*" {
        return Ok(());
    }
    match range.split_once('-') {
        Some((start, end)) => {
            let start = value(start, kind, false)?;
            let end = value(end, kind, true)?;
            // `FRI-SUN` reads naturally and croner maps it to 5-7; a numeric
            // range written backwards is almost certainly a typo.
            if start > end {
                return Err(format!(
                    "range {range:?} runs backwards; write the smaller value first"
                ));
            }
            Ok(())
        }
        None => value(range, kind, false).map(|_| ()),
    }
}

/// One value, as a number or (month and weekday fields) a three-letter name.
/// `range_end` matters for Sunday only, as it does in croner.
fn value(text: &str, kind: Kind, range_end: bool) -> Result<u32, String> {
    let (min, max) = kind.bounds();
    if let Ok(number) = text.parse::<u32>() {
        if (min..=max).contains(&number) {
            return Ok(number);
        }
        return Err(format!("{number} is not {}", kind.what()));
    }
    let upper = text.to_ascii_uppercase();
    if let Some(index) = kind.names().iter().position(|name| *name == upper) {
        // Months count from 1; weekdays from Sunday = 0. A name at the end of a
        // weekday range (`FRI-SUN`) is Sunday = 7 so the range stays ascending.
        let number = match kind {
            Kind::Month => index as u32 + 1,
            _ if index == 0 && range_end => 7,
            _ => index as u32,
        };
        return Ok(number);
    }
    if text.is_empty() {
        return Err(format!("a value is missing; expected {}", kind.what()));
    }
    Err(format!("{text:?} is not {}", kind.what()))
}
