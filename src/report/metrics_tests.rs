//! The metrics text, checked with a Prometheus text-format parser.
// Test-only: the parent declares this module under #[cfg(test)].

use chrono::{TimeZone, Utc};

use super::*;
use crate::outcome::Outcome;
use crate::report::state::{LastRun, Trigger};

fn run(outcome: Outcome, start: i64, secs: i64, warnings: usize) -> LastRun {
    LastRun {
        trigger: Trigger::Schedule,
        started_at: Utc.timestamp_opt(start, 0).unwrap(),
        finished_at: Utc.timestamp_opt(start + secs, 0).unwrap(),
        outcome,
        exit_code: outcome.exit_code(),
        snapshot: None,
        files: 12,
        bytes_read: 1000,
        bytes_stored: 400,
        warnings,
        error: None,
        destinations: Vec::new(),
    }
}

fn jobs() -> Vec<JobInput> {
    let ok = run(Outcome::Success, 1_767_225_600, 90, 0);
    let warn = run(Outcome::Warnings, 1_767_229_200, 5, 2);
    let failed = run(Outcome::Failed, 1_767_232_800, 1, 0);
    vec![
        JobInput {
            job: "db".into(),
            state: JobState {
                last_run: Some(ok.clone()),
                last_success: Some(ok),
                snapshots: Some(7),
                ..JobState::default()
            },
            next_run: Some(Utc.timestamp_opt(1_767_312_000, 0).unwrap()),
            verify_scheduled: false,
            remotes: Vec::new(),
        },
        JobInput {
            job: "www".into(),
            state: JobState {
                last_run: Some(warn.clone()),
                last_success: Some(warn),
                ..JobState::default()
            },
            next_run: None,
            verify_scheduled: false,
            remotes: Vec::new(),
        },
        JobInput {
            job: "broken".into(),
            state: JobState {
                last_run: Some(failed),
                consecutive_failures: 3,
                ..JobState::default()
            },
            next_run: None,
            verify_scheduled: false,
            remotes: Vec::new(),
        },
        JobInput {
            job: "new".into(),
            ..JobInput::default()
        },
    ]
}

fn parse(text: &str) -> prometheus_parse::Scrape {
    let samples = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    // The parser skips lines it cannot read: every sample line must have become a sample.
    assert_eq!(scrape.samples.len(), samples, "{text}");
    scrape
}

fn value(s: &prometheus_parse::Scrape, metric: &str, job: &str) -> Option<f64> {
    s.samples
        .iter()
        .find(|x| x.metric == metric && x.labels.get("job") == Some(job))
        .map(|x| match x.value {
            prometheus_parse::Value::Gauge(v) => v,
            ref other => panic!("{metric} is not a gauge: {other:?}"),
        })
}

#[test]
fn every_job_and_value_is_there() {
    let text = render(&jobs(), "1.2.3");
    let s = parse(&text);
    let build = s
        .samples
        .iter()
        .find(|x| x.metric == "backup_build_info")
        .unwrap();
    assert_eq!(build.labels.get("version"), Some("1.2.3"));
    let v = |m, j| value(&s, m, j);
    assert_eq!(
        v("backup_last_run_timestamp_seconds", "db"),
        Some(1_767_225_600.0)
    );
    assert_eq!(v("backup_last_run_duration_seconds", "db"), Some(90.0));
    assert_eq!(v("backup_last_run_bytes_read", "db"), Some(1000.0));
    assert_eq!(v("backup_last_run_bytes_stored", "db"), Some(400.0));
    assert_eq!(v("backup_last_run_files", "db"), Some(12.0));
    assert_eq!(v("backup_snapshots_total", "db"), Some(7.0));
    assert_eq!(
        v("backup_next_run_timestamp_seconds", "db"),
        Some(1_767_312_000.0)
    );
    assert_eq!(v("backup_last_run_success", "www"), Some(1.0));
    assert_eq!(v("backup_last_run_warnings", "www"), Some(2.0));
    assert_eq!(v("backup_last_run_success", "broken"), Some(0.0));
    assert_eq!(v("backup_consecutive_failures", "broken"), Some(3.0));
    // Never succeeded: 0, so "no success for 26 hours" fires for it.
    assert_eq!(
        v("backup_last_success_timestamp_seconds", "broken"),
        Some(0.0)
    );
    assert_eq!(v("backup_last_success_timestamp_seconds", "new"), Some(0.0));
    assert_eq!(v("backup_last_run_timestamp_seconds", "new"), None);
    assert_eq!(v("backup_next_run_timestamp_seconds", "www"), None);
}

#[test]
fn each_family_has_help_and_type_once_before_its_samples() {
    let text = render(&jobs(), "0.1.0");
    let mut seen = std::collections::BTreeSet::new();
    let mut current = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap().to_string();
            assert!(seen.insert(name.clone()), "{name} twice");
            current = name;
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            assert_eq!(rest, format!("{current} gauge"));
        } else {
            let name = line.split('{').next().unwrap();
            assert_eq!(name, current, "sample outside its family: {line}");
        }
    }
    assert_eq!(
        seen.len(),
        FAMILIES.len() + crate::report::destinations::FAMILY_COUNT + 1
    );
}

#[test]
fn label_values_are_escaped() {
    assert_eq!(escape(r#"a"b\c"#), r#"a\"b\\c"#);
    assert_eq!(escape("x\ny"), "x\\ny");
    let text = render(&[], "v\"1\n");
    assert!(
        text.contains(r#"backup_build_info{version="v\"1\n"} 1"#),
        "{text}"
    );
}

#[test]
fn write_renders_the_state_file_and_leaves_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out/backup.prom");
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::write(&target, "old").unwrap();
    let text = format!(
        "[agent]\nstate_dir = {:?}\nmetrics_file = {:?}\ntimezone = \"UTC\"\n\
         [remotes.r]\nhost = \"127.0.0.1\"\nuser = \"u\"\nidentity_file = \"/k\"\n\
         known_hosts = \"/kh\"\npath = \"/b\"\n\
         [jobs.a]\nremote = \"r\"\nsources = [\"/etc\"]\nschedule = \"@daily\"\n\
         [jobs.b]\nremote = \"r\"\nsources = [\"/etc\"]\n",
        dir.path().join("state").to_string_lossy(),
        target.to_string_lossy()
    );
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    let config = crate::config::load(&path).unwrap();
    let state_dir = config.agent.state_dir.clone();
    state::record_snapshots(&state_dir, "b", 4).unwrap();
    write(&config, &state_dir).unwrap();
    let s = parse(&std::fs::read_to_string(&target).unwrap());
    assert!(value(&s, "backup_next_run_timestamp_seconds", "a").unwrap() > 1.7e9);
    assert_eq!(value(&s, "backup_snapshots_total", "b"), Some(4.0));
    assert_eq!(
        value(&s, "backup_last_success_timestamp_seconds", "a"),
        Some(0.0)
    );
    let names: Vec<_> = std::fs::read_dir(target.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["backup.prom"]);
}

#[test]
fn verify_families_and_the_heartbeat_parse_and_say_what_happened() {
    let at = Utc.timestamp_opt(1_767_225_600, 0).unwrap();
    let verify = |problems: Vec<String>| crate::outcome::VerifyReport {
        job: "db".into(),
        scheduled: true,
        started_at: at,
        finished_at: at,
        all: false,
        snapshots: vec!["20260101T000000Z".into()],
        problems,
        error: None,
    };
    let jobs = [
        JobInput {
            job: "failed".into(),
            state: JobState {
                last_verify: Some(verify(vec!["x/files.tar.zst: differs".into()])),
                last_verify_ok: Some(at - chrono::TimeDelta::days(7)),
                ..JobState::default()
            },
            ..JobInput::default()
        },
        JobInput {
            job: "scheduled".into(),
            verify_scheduled: true,
            ..JobInput::default()
        },
        JobInput {
            job: "never".into(),
            ..JobInput::default()
        },
    ];
    let text = render(&jobs, "1") + &render_heartbeat(Some(at));
    let s = parse(&text);
    let v = |m, j| value(&s, m, j);
    assert_eq!(v("backup_last_verify_success", "failed"), Some(0.0));
    assert_eq!(
        v("backup_last_verify_timestamp_seconds", "failed"),
        Some(1_767_225_600.0)
    );
    assert_eq!(
        v("backup_last_verify_success_timestamp_seconds", "failed"),
        Some(1_767_225_600.0 - 7.0 * 86400.0)
    );
    // verify_schedule but never verified: 0, so "no successful verify in 8 days" fires.
    assert_eq!(
        v("backup_last_verify_success_timestamp_seconds", "scheduled"),
        Some(0.0)
    );
    assert_eq!(v("backup_last_verify_success", "scheduled"), None);
    assert_eq!(
        v("backup_last_verify_success_timestamp_seconds", "never"),
        None
    );
    let beat = s.samples.iter().find(|x| x.metric == HEARTBEAT).unwrap();
    assert!(beat.labels.is_empty());
    assert_eq!(render_heartbeat(None), "");
}
