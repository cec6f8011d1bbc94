//! Human durations (`"90s"`, `"10m"`, `"6h"`, `"7d"`): the one syntax for every duration an
//! operator writes, validated while deserializing so a bad value is reported with its file,
//! line and column. A leaf, so that config and the value types it holds (such as
//! `retention::Policy`) accept the same syntax without importing each other.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, de};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    pub fn get(self) -> Duration {
        self.0
    }
}

impl std::str::FromStr for HumanDuration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if t == "0" {
            return Ok(HumanDuration(Duration::ZERO));
        }
        humantime::parse_duration(t).map(HumanDuration).map_err(|e| {
            format!("{s:?} is not a duration ({e}); write a number with a unit, e.g. \"90s\", \"10m\", \"6h\", \"7d\"")
        })
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

/// For `#[serde(default, deserialize_with = "crate::duration::optional")]` on an
/// `Option<Duration>` field of a value type that should not carry a newtype.
pub fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    HumanDuration::deserialize(d).map(|h| Some(h.get()))
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        let d = |s: &str| s.parse::<HumanDuration>().map(|h| h.0.as_secs());
        assert_eq!(d("90s"), Ok(90));
        assert_eq!(d("10m"), Ok(600));
        assert_eq!(d("6h"), Ok(21600));
        assert_eq!(d("7d"), Ok(604800));
        assert_eq!(d("1h 30m"), Ok(5400));
        assert_eq!(d("0"), Ok(0));
        assert_eq!(d("0s"), Ok(0));
    }

    #[test]
    fn rejects_bare_numbers_and_garbage() {
        for s in ["90", "ten minutes", "5 parsecs", ""] {
            let e = s.parse::<HumanDuration>().unwrap_err();
            assert!(e.contains("is not a duration"), "{e}");
        }
    }
}
