//! `[remotes.NAME] bandwidth`: a rate (`"20MiB"`, `"off"`, a number of bytes) or a timetable
//! (`["08:00 4MiB", "19:00 off"]`) read in `agent.timezone`; each entry is checked where it is
//! written, so an error names its line.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use toml::Spanned;

use super::error::ConfigError;
use super::load::Parsed;
use super::validate::err;
use crate::remote::bandwidth::{Bandwidth, Timetable, timetable};

/// What the operator wrote, before it is checked.
#[derive(Debug, Clone)]
pub enum Written {
    Rate(String),
    Bytes(i64),
    Timetable(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for Written {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Written;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a rate such as \"20MiB\" or \"off\", or a list such as [\"08:00 4MiB\", \"19:00 off\"]")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Written, E> {
                Ok(Written::Rate(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Written, E> {
                Ok(Written::Bytes(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Written, E> {
                Ok(Written::Bytes(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Written, A::Error> {
                let mut entries = Vec::new();
                while let Some(e) = seq.next_element::<Spanned<String>>()? {
                    entries.push(e);
                }
                Ok(Written::Timetable(entries))
            }
        }
        d.deserialize_any(V)
    }
}

const HINT: &str = "write bytes per second, e.g. bandwidth = \"20MiB\", \"off\" for no limit, or a timetable such as [\"08:00 4MiB\", \"19:00 off\"]";

pub(super) fn resolve(
    p: &Parsed,
    name: &str,
    w: &Spanned<Written>,
    timezone: chrono_tz::Tz,
) -> Result<Bandwidth, ConfigError> {
    let key = format!("remotes.{name}.bandwidth");
    let at = |span: &Spanned<String>, why: String| err(p, span, key.clone(), why).with_hint(HINT);
    let timetable = match w.get_ref() {
        Written::Rate(s) => Timetable::fixed(
            timetable::parse_rate(s).map_err(|why| err(p, w, key.clone(), why).with_hint(HINT))?,
        ),
        Written::Bytes(n) => {
            let n = u64::try_from(*n)
                .map_err(|_| err(p, w, key.clone(), format!("{n} is negative")).with_hint(HINT))?;
            Timetable::fixed(
                timetable::positive(n)
                    .map_err(|why| err(p, w, key.clone(), why).with_hint(HINT))?,
            )
        }
        Written::Timetable(entries) => {
            let mut parsed = Vec::with_capacity(entries.len());
            for e in entries {
                parsed.push(timetable::parse_entry(e.get_ref()).map_err(|why| at(e, why))?);
            }
            Timetable::new(parsed).map_err(|(i, why)| match entries.get(i) {
                Some(e) => at(e, why),
                None => err(p, w, key.clone(), why).with_hint(HINT),
            })?
        }
    };
    Ok(Bandwidth {
        timetable,
        timezone,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{ConfigError, load};
    use crate::remote::bandwidth::Entry;

    const REMOTE: &str = "[agent]\ntimezone = \"Asia/Tokyo\"\n[remotes.r]\nhost = \"h\"\nuser = \"u\"\n\
        identity_file = \"/k\"\nknown_hosts = \"/kh\"\npath = \"/b\"\n";

    fn with(setting: &str) -> Result<super::Bandwidth, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, format!("{REMOTE}bandwidth = {setting}\n")).unwrap();
        let cfg = load(&path)?;
        Ok(cfg.remotes["r"].sftp().unwrap().bandwidth.clone().unwrap())
    }

    #[test]
    fn a_rate_or_a_timetable_in_the_agent_timezone() {
        let b = with("\"20MiB\"").unwrap();
        assert_eq!(
            b.timetable.entries(),
            [Entry {
                at: 0,
                rate: Some(20 << 20)
            }]
        );
        assert_eq!(b.timezone, chrono_tz::Asia::Tokyo);
        assert_eq!(with("\"off\"").unwrap().timetable.entries()[0].rate, None);
        assert_eq!(
            with("1000000").unwrap().timetable.entries()[0].rate,
            Some(1_000_000)
        );
        let t = with("[\"08:00 4MiB\", \"19:00:30 off\"]").unwrap();
        assert_eq!(
            t.timetable.entries(),
            [
                Entry {
                    at: 8 * 3600,
                    rate: Some(4 << 20)
                },
                Entry {
                    at: 19 * 3600 + 30,
                    rate: None
                },
            ]
        );
    }

    #[test]
    fn bad_values_name_their_line_and_say_what_to_write() {
        let line = REMOTE.lines().count() + 1;
        for (setting, says) in [
            ("\"fast\"", "not a rate"),
            ("\"0\"", "never send anything"),
            ("0", "never send anything"),
            ("-5", "negative"),
            ("[]", "empty"),
            ("[\"25:00 1MiB\"]", "not a time of day"),
            ("[\"08:00\"]", "a time and a rate"),
            ("[\"08:00 0KiB\"]", "never send anything"),
            ("[\"08:00 lots\"]", "not a rate"),
            ("[\"19:00 off\", \"08:00 4MiB\"]", "in order"),
            ("[\"08:00 off\", \"08:00 4MiB\"]", "in order"),
            ("true", "a rate such as"),
        ] {
            let e = with(setting).unwrap_err();
            assert_eq!(e.position.map(|p| p.0), Some(line), "{setting}: {e}");
            assert!(e.to_string().contains(says), "{setting}: {e}");
            assert!(
                e.key.as_deref().is_some_and(|k| k.contains("bandwidth")),
                "{setting}: {e}"
            );
        }
        // The entry out of place is the one pointed at, on its own line.
        let e = with("[\n  \"19:00 off\",\n  \"08:00 4MiB\",\n]").unwrap_err();
        assert_eq!(e.position, Some((line + 2, 3)), "{e}");
    }

    #[test]
    fn a_local_remote_takes_no_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "[remotes.usb]\ntype = \"local\"\npath = \"/mnt\"\nbandwidth = \"1MiB\"\n",
        )
        .unwrap();
        let e = load(&path).unwrap_err();
        assert_eq!(e.position.map(|p| p.0), Some(4), "{e}");
        assert!(e.message.contains("local remote"), "{e}");
    }
}
