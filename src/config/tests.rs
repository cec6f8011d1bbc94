//! What `config::load` resolves, checked on the values the rest of the program receives: a
//! parsed schedule, a retention policy, and errors that point at the file, line and key.
// Test-only: the parent declares this module under #[cfg(test)].

use std::time::Duration;

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

#[test]
fn absent_retention_rules_make_an_empty_policy() {
    assert!(load_text("").unwrap().jobs["db"].retention.is_empty());
    let cfg =
        load_text("[jobs.db.retention]\nkeep_last = 3\nkeep_within_daily = \"1d\"\n").unwrap();
    let p = &cfg.jobs["db"].retention;
    assert_eq!(p.keep_last, 3);
    assert_eq!(p.keep_daily, 0);
    assert_eq!(p.keep_within_daily, Some(Duration::from_secs(86400)));
    assert_eq!(p.keep_within, None);
    assert!(!p.is_empty());
}

#[test]
fn retention_durations_use_the_config_syntax() {
    let cfg = load_text(
        "[jobs.db.retention]\nkeep_within = \"1h 30m\"\nkeep_within_hourly = \"90s\"\n\
         keep_within_weekly = \"0\"\n",
    )
    .unwrap();
    let p = &cfg.jobs["db"].retention;
    assert_eq!(p.keep_within, Some(Duration::from_secs(5400)));
    assert_eq!(p.keep_within_hourly, Some(Duration::from_secs(90)));
    // A zero duration is accepted as written and means "no rule", as in restic.
    assert_eq!(p.keep_within_weekly, Some(Duration::ZERO));
}

#[test]
fn bad_retention_value_or_key_names_the_line_and_key() {
    let line = HEAD.lines().count() + 2;
    let e = load_text("[jobs.db.retention]\nkeep_within = \"30\"\n").unwrap_err();
    assert_eq!(e.position.map(|(l, _)| l), Some(line), "{e}");
    assert_eq!(
        e.key.as_deref(),
        Some("jobs.db.retention.keep_within"),
        "{e}"
    );
    assert!(e.message.contains("is not a duration"), "{e}");

    let e = load_text("[jobs.db.retention]\nkeep_dayly = 7\n").unwrap_err();
    assert_eq!(e.position.map(|(l, _)| l), Some(line), "{e}");
    assert_eq!(
        e.key.as_deref(),
        Some("jobs.db.retention.keep_dayly"),
        "{e}"
    );
    assert!(e.message.contains("unknown field"), "{e}");

    let e = load_text("[jobs.db.retention]\nkeep_last = -1\n").unwrap_err();
    assert_eq!(e.key.as_deref(), Some("jobs.db.retention.keep_last"), "{e}");
}

#[test]
fn settings_keep_the_line_they_are_written_on() {
    let cfg = load_text(
        "[[jobs.db.commands]]\nname = \"a.sql\"\nrun = [\"true\"]\n[jobs.db.hooks]\nbefore = [\"true\"]\n",
    )
    .unwrap();
    let r = cfg.remotes["r"].sftp().unwrap();
    assert_eq!(r.identity_file_at.line, Some(6));
    assert_eq!(r.host_key_at.line, Some(7));
    let j = &cfg.jobs["db"];
    assert_eq!(j.sources[0].at.line, Some(11));
    assert_eq!(j.commands[0].at.line, Some(12));
    assert_eq!(j.hooks_at.line, Some(15));
    assert!(j.sources[0].at.to_string().ends_with("config.toml:11"));
    assert_eq!(cfg.agent.state_dir_at.line, None);
}

#[test]
fn home_relative_remote_paths_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, HEAD.replace("path = \"/b\"", "path = \"~/b\"")).unwrap();
    let e = load(&path).unwrap_err().to_string();
    assert!(
        e.contains("config.toml:8:8") && e.contains("only a shell expands"),
        "{e}"
    );
    assert!(e.contains("ChrootDirectory"), "{e}");
}

#[test]
fn dump_guards_default_to_a_floor_and_take_sizes_and_percentages() {
    let cmd = "[[jobs.db.commands]]\nname = \"a.sql\"\nrun = [\"pg_dump\"]\n";
    let c = &load_text(cmd).unwrap().jobs["db"].commands[0];
    assert_eq!((c.min_bytes, c.max_shrink), (512, None));
    let set = format!("{cmd}min_bytes = \"1KiB\"\nmax_shrink = \"50%\"\n");
    let c = &load_text(&set).unwrap().jobs["db"].commands[0];
    assert_eq!((c.min_bytes, c.max_shrink.map(|p| p.0)), (1024, Some(50)));
    assert_eq!(
        load_text(&format!("{cmd}min_bytes = 0\n")).unwrap().jobs["db"].commands[0].min_bytes,
        0
    );
    let e = load_text(&format!("{cmd}max_shrink = \"half\"\n")).unwrap_err();
    assert!(e.message.contains("not a percentage"), "{e}");
    assert!(e.position.is_some(), "{e}");
    let e = load_text(&format!("{cmd}min_bytes = -1\n")).unwrap_err();
    assert!(e.message.contains("negative"), "{e}");
}

#[test]
fn fidelity_switches_default_to_keeping_everything() {
    let on = &load_text("").unwrap().jobs["db"];
    assert!(on.xattrs && on.acls && !on.one_file_system);
    let off = &load_text("xattrs = false\nacls = false\none_file_system = true\n").unwrap();
    let off = &off.jobs["db"];
    assert!(!off.xattrs && !off.acls && off.one_file_system);
    let e = load_text("xattrs = \"no\"\n").unwrap_err();
    assert!(e.position.is_some(), "{e}");
}

/// A second SFTP remote `s` after HEAD, with `write_order = VALUE` unless `None`.
fn with_write_order(value: Option<&str>) -> Result<Config, ConfigError> {
    let line = value.map_or(String::new(), |v| format!("write_order = \"{v}\"\n"));
    load_text(&format!(
        "[remotes.s]\nhost = \"h\"\nuser = \"u\"\nidentity_file = \"/k\"\n\
         known_hosts = \"/kh\"\npath = \"/b\"\n{line}"
    ))
}

#[test]
fn write_order_is_detected_unless_set() {
    use super::WriteOrder;
    let order = |c: &Config| c.remotes["s"].sftp().unwrap().write_order;
    assert_eq!(order(&with_write_order(None).unwrap()), None);
    let seq = with_write_order(Some("sequential")).unwrap();
    assert_eq!(order(&seq), Some(WriteOrder::Sequential));
    let any = with_write_order(Some("any")).unwrap();
    assert_eq!(order(&any), Some(WriteOrder::Any));
}

#[test]
fn bad_write_order_names_the_line_and_the_choices() {
    let e = with_write_order(Some("in-order")).unwrap_err();
    let line = HEAD.lines().count() + 7;
    assert_eq!(e.position.map(|p| p.0), Some(line), "{e}");
    assert!(
        e.message.contains("any") && e.message.contains("sequential"),
        "{e}"
    );
}
