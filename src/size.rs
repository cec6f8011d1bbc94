//! Byte sizes (`512`, `"1KiB"`, `"10 MB"`) and percentages (`"50%"`) as an operator writes
//! them, validated while deserializing so a bad value is reported with its file, line and
//! column. A leaf, like `duration`.

use std::fmt;

use serde::{Deserialize, Deserializer, de};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct ByteSize(pub u64);

const UNITS: [(&str, u64); 10] = [
    ("B", 1),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("TiB", 1 << 40),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("TB", 1_000_000_000_000),
    ("", 1),
];

impl std::str::FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (number, unit) = t.split_at(digits);
        let unit = unit.trim();
        let bad = || {
            format!(
                "{s:?} is not a size; write a number of bytes or a number with a unit, e.g. 512, \"1KiB\", \"10MiB\", \"1GB\""
            )
        };
        let n: u64 = number.parse().map_err(|_| bad())?;
        let (_, mult) = UNITS
            .iter()
            .find(|(u, _)| u.eq_ignore_ascii_case(unit))
            .ok_or_else(bad)?;
        n.checked_mul(*mult)
            .map(ByteSize)
            .ok_or_else(|| format!("{s:?} is too large"))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number of bytes or a size such as \"1KiB\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom(format!("{v} is negative; a size is 0 or more bytes")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes", self.0)
    }
}

/// A share from 0% to 100%, written `"50%"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Percent(pub u8);

impl std::str::FromStr for Percent {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        s.trim()
            .strip_suffix('%')
            .and_then(|n| n.trim().parse::<u8>().ok())
            .filter(|n| *n <= 100)
            .map(Percent)
            .ok_or_else(|| {
                format!(
                    "{s:?} is not a percentage; write one from \"0%\" to \"100%\", e.g. \"50%\""
                )
            })
    }
}

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_with_and_without_units() {
        let b = |s: &str| s.parse::<ByteSize>().map(|b| b.0);
        assert_eq!(b("512"), Ok(512));
        assert_eq!(b("0"), Ok(0));
        assert_eq!(b("1KiB"), Ok(1024));
        assert_eq!(b("1 kib"), Ok(1024));
        assert_eq!(b("10MiB"), Ok(10 << 20));
        assert_eq!(b("2GB"), Ok(2_000_000_000));
        assert_eq!(b("7B"), Ok(7));
        for s in [
            "",
            "KiB",
            "1.5KiB",
            "-1",
            "ten",
            "1 parsec",
            "99999999999TiB",
        ] {
            assert!(b(s).is_err(), "{s}");
        }
    }

    #[test]
    fn percentages_from_0_to_100() {
        let p = |s: &str| s.parse::<Percent>().map(|p| p.0);
        assert_eq!(p("50%"), Ok(50));
        assert_eq!(p(" 0% "), Ok(0));
        assert_eq!(p("100%"), Ok(100));
        for s in ["50", "101%", "-5%", "half", "%"] {
            assert!(p(s).unwrap_err().contains("not a percentage"), "{s}");
        }
    }
}
