//! What `config::load` resolves, checked on the values the rest of the program receives: a
//! parsed schedule, a retention policy, and errors that point at the file, line and key.
// Test-only: the parent declares this module under #[cfg(test)].

use chrono::{TimeZone, Utc};

use super::{Config, ConfigError, load};

const HEAD: &str = "[agent]\ntimezone = \"Europe/Berlin\"\n\
    [remotes.r]\nhost = \"127.0.0.1\"\nuser = \"u\"\nidentity_file = \"/k\"\n\
    known_hosts = \"/kh\"\npath = \"/b\"\n\
    [jobs.db]\nremote = \"r\"\nsources = [\"/etc\"]\n";

fn load_text(job_lines: &str) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, format!("{HEAD}{job_lines}")).unwrap();
    load(&path)
}

#[test]
fn schedule_is_parsed_once_in_the_agent_timezone() {
    let cfg = load_text("schedule = \"  30 2 * * *  \"\n").unwrap();
    let s = cfg.jobs["db"].schedule.as_ref().unwrap();
    assert_eq!(s.as_str(), "30 2 * * *");
    assert_eq!(s.tz(), chrono_tz::Europe::Berlin);
    // 02:30 CET is 01:30 UTC: the zone came from [agent], not from UTC.
    let after = Utc.with_ymd_and_hms(2026, 1, 10, 0, 0, 0).unwrap();
    assert_eq!(
        s.next_after(after),
        Some(Utc.with_ymd_and_hms(2026, 1, 10, 1, 30, 0).unwrap())
    );
    assert!(load_text("").unwrap().jobs["db"].schedule.is_none());
}

#[test]
fn bad_schedule_names_the_line_and_key() {
    let e = load_text("schedule = \"0 25 * * *\"\n").unwrap_err();
    assert_eq!(e.position, Some((HEAD.lines().count() + 1, 12)), "{e}");
    assert_eq!(e.key.as_deref(), Some("jobs.db.schedule"), "{e}");
    assert!(e.message.contains("25 is not an hour"), "{e}");
}
