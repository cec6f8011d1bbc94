//! The configs the packages ship: the default /etc/backup-agent/config.toml must pass
//! `backup check` as installed (and define no job, so nothing runs before the operator says
//! so), and every example in /usr/share/doc/backup-agent/examples/ must pass `backup check`
//! as a jobs.d drop-in, all of them together, beside it once its commented remote is filled in.

use std::path::Path;

use backup_agent::config;

const SHIPPED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/config.toml");
const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/examples");

#[test]
fn shipped_config_is_valid_and_defines_no_job() {
    let cfg = config::load(Path::new(SHIPPED)).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        cfg.jobs.is_empty(),
        "the shipped config must not define a job"
    );
    assert!(cfg.remotes.is_empty());
    assert_eq!(cfg.agent.state_dir, Path::new("/var/lib/backup-agent"));
}

/// The shipped config with its commented examples (a remote, a job) uncommented: what an
/// operator does first.
fn uncommented() -> String {
    let text = std::fs::read_to_string(SHIPPED).unwrap();
    text.lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest) if rest.starts_with('[') || rest.contains(" = ") => rest,
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn examples_pass_check_together_as_dropins_beside_the_shipped_config() {
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("config.toml");
    std::fs::write(&main, uncommented()).unwrap();
    let jobs_d = dir.path().join("jobs.d");
    std::fs::create_dir(&jobs_d).unwrap();
    let mut copied = 0;
    for e in std::fs::read_dir(EXAMPLES).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            std::fs::copy(&p, jobs_d.join(p.file_name().unwrap())).unwrap();
            copied += 1;
        }
    }
    assert!(copied >= 2, "expected the example drop-ins in {EXAMPLES}");
    let cfg = config::load(&main).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.files.len(), 1 + copied);
    let names: Vec<&str> = cfg.jobs.keys().map(String::as_str).collect();
    assert_eq!(names, ["db", "etc", "www"]);
    assert_eq!(cfg.jobs["db"].commands[0].name, "app.sql");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_backup"))
        .arg("--config")
        .arg(&main)
        // The files alone: this machine has none of the shipped config's keys, hosts or paths.
        .args(["check", "--config-only"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "backup check: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn uncommented_examples_in_the_shipped_config_are_valid() {
    // The commented remote and job are what an operator uncomments first: they must load.
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("config.toml");
    std::fs::write(&main, uncommented()).unwrap();
    let cfg = config::load(&main).unwrap_or_else(|e| panic!("{e}\n--- {}", main.display()));
    assert_eq!(cfg.jobs.len(), 1);
    assert_eq!(cfg.remotes.len(), 1);
}
