//! PAX extended records written in front of an entry, for what a GNU header cannot hold: the
//! sub-second part of the mtime (`mtime=SECS.NANOS`, as GNU tar writes it). GNU tar and the
//! restore (restore/extended.rs) read them; a reader that ignores PAX still gets the
//! whole-second mtime from the header.

use std::fs::Metadata;
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;

/// The records of one entry, in the order they are written.
#[derive(Default)]
pub struct Records(Vec<(String, Vec<u8>)>);

impl Records {
    /// The records for an entry with metadata `meta`.
    pub fn of(meta: &Metadata) -> Records {
        let mut r = Records::default();
        if let Some(t) = mtime_value(meta.mtime(), meta.mtime_nsec()) {
            r.0.push(("mtime".into(), t.into_bytes()));
        }
        r
    }

    /// Writes the records as one PAX extended header; nothing when there are none.
    pub fn write<W: Write>(&self, tar: &mut tar::Builder<W>) -> io::Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        tar.append_pax_extensions(self.0.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
    }
}

/// `SECS.FRACTION` without trailing zeros; `None` for a whole second (the header holds it) and
/// for times before 1970, which the header's unsigned field cannot carry anyway.
fn mtime_value(secs: i64, nanos: i64) -> Option<String> {
    if nanos <= 0 || secs < 0 || nanos >= 1_000_000_000 {
        return None;
    }
    let frac = format!("{nanos:09}");
    Some(format!("{secs}.{}", frac.trim_end_matches('0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mtimes_carry_their_nanoseconds_like_gnu_tar() {
        assert_eq!(
            mtime_value(1_700_000_000, 123_456_789).as_deref(),
            Some("1700000000.123456789")
        );
        assert_eq!(
            mtime_value(1_700_000_000, 500_000_000).as_deref(),
            Some("1700000000.5")
        );
        assert_eq!(
            mtime_value(1_700_000_000, 1).as_deref(),
            Some("1700000000.000000001")
        );
        assert_eq!(mtime_value(1_700_000_000, 0), None);
        assert_eq!(mtime_value(-5, 10), None);
    }
}
