//! Bad configuration gets exit 2 with the file, line and key; every shipped example parses.

mod common;

use std::fs;
use std::path::Path;

use common::{backup, describe};

const REMOTE: &str = "[remotes.r]\nhost = \"h\"\nuser = \"u\"\nidentity_file = \"/k\"\nknown_hosts = \"/kh\"\npath = \"/srv\"\n";

fn check(dir: &Path, main: &str) -> (Option<i32>, String) {
    let cfg = dir.join("config.toml");
    fs::write(&cfg, main).unwrap();
    let out = backup(&cfg, &["check", "--config-only"]);
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        ),
    )
}

#[test]
fn unknown_key_names_file_line_and_key() {
    let d = tempfile::tempdir().unwrap();
    let (code, err) = check(
        d.path(),
        &format!("{REMOTE}\n[jobs.j]\nremote = \"r\"\nsources = [\"/etc\"]\nverfy = \"size\"\n"),
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("config.toml:11:1"), "{err}");
    assert!(
        err.contains("jobs.j.verfy") && err.contains("unknown field"),
        "{err}"
    );
}

#[test]
fn unknown_remote_lists_the_defined_ones() {
    let d = tempfile::tempdir().unwrap();
    let (code, err) = check(
        d.path(),
        &format!("{REMOTE}\n[jobs.j]\nremote = \"offsite\"\nsources = [\"/etc\"]\n"),
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("config.toml:9:10") && err.contains("unknown remote \"offsite\""),
        "{err}"
    );
    assert!(err.contains("defined remotes: r"), "{err}");
}

#[test]
fn bad_duration_says_how_to_write_one() {
    let d = tempfile::tempdir().unwrap();
    let (code, err) = check(
        d.path(),
        &format!(
            "{REMOTE}\n[jobs.j]\nremote = \"r\"\nsources = [\"/etc\"]\ntimeout = \"6 hours-ish\"\n"
        ),
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(":11:") && err.contains("jobs.j.timeout") && err.contains("is not a duration"),
        "{err}"
    );
}

#[test]
fn bad_glob_and_bad_schedule_are_config_errors() {
    let d = tempfile::tempdir().unwrap();
    let (code, err) = check(
        d.path(),
        &format!(
            "{REMOTE}\n[jobs.j]\nremote = \"r\"\nsources = [\"/etc\"]\nexclude = [\"[unclosed\"]\n"
        ),
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("bad glob"), "{err}");
    let (code, err) = check(
        d.path(),
        &format!(
            "{REMOTE}\n[jobs.j]\nremote = \"r\"\nsources = [\"/etc\"]\nschedule = \"0 25 * * *\"\n"
        ),
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("25 is not an hour"), "{err}");
}

#[test]
fn job_defined_in_two_files_names_both() {
    let d = tempfile::tempdir().unwrap();
    fs::create_dir_all(d.path().join("jobs.d")).unwrap();
    fs::write(
        d.path().join("jobs.d/db.toml"),
        "[jobs.j]\nremote = \"r\"\nsources = [\"/var\"]\n",
    )
    .unwrap();
    let (code, err) = check(
        d.path(),
        &format!("{REMOTE}\n[jobs.j]\nremote = \"r\"\nsources = [\"/etc\"]\n"),
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("jobs.d/db.toml:1:1")
            && err.contains("defined twice")
            && err.contains("config.toml"),
        "{err}"
    );
}

#[test]
fn dropins_are_merged() {
    let d = tempfile::tempdir().unwrap();
    fs::create_dir_all(d.path().join("jobs.d")).unwrap();
    fs::write(
        d.path().join("jobs.d/db.toml"),
        "[jobs.db]\nremote = \"r\"\nsources = [\"/var\"]\n",
    )
    .unwrap();
    let (code, out) = check(
        d.path(),
        &format!("{REMOTE}\n[jobs.etc]\nremote = \"r\"\nsources = [\"/etc\"]\n"),
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("job db:") && out.contains("job etc:"), "{out}");
}

#[test]
fn missing_config_and_usage_errors_exit_2() {
    let out = backup(Path::new("/nonexistent/backup.toml"), &["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("BACKUP_CONFIG"));
    let out = std::process::Command::new(common::bin()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = std::process::Command::new(common::bin())
        .arg("frobnicate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_example_dropins_pass_check_together_beside_the_example_main_config() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let main = examples.join("config.toml");
    let out = backup(&main, &["check", "--config-only"]);
    assert!(
        out.status.success(),
        "{}: {}",
        main.display(),
        describe(&out)
    );
    // As an operator installs them: the main file, and every other example in jobs.d/.
    let dir = tempfile::tempdir().unwrap();
    let installed = dir.path().join("config.toml");
    fs::copy(&main, &installed).unwrap();
    fs::create_dir(dir.path().join("jobs.d")).unwrap();
    let mut dropins = Vec::new();
    for e in fs::read_dir(&examples).unwrap().flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "toml") && p != main {
            fs::copy(&p, dir.path().join("jobs.d").join(p.file_name().unwrap())).unwrap();
            dropins.push(p);
        }
    }
    assert!(dropins.len() >= 4, "{dropins:?}");
    // `--config-only`: the examples name keys, hosts and programs this machine does not have.
    let out = backup(&installed, &["check", "--config-only"]);
    assert!(out.status.success(), "{}", describe(&out));
    let cfg = backup_agent::config::load(&installed).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = cfg.jobs.keys().map(String::as_str).collect();
    assert_eq!(names, ["app-sqlite", "mysql-nightly", "nightly-db", "www"]);
}

/// An operator's `sudo backup run` must not leave root-owned state that the daemon's service
/// user cannot open afterwards.
#[test]
fn files_root_creates_in_state_dir_belong_to_its_owner() {
    use std::os::unix::fs::MetadataExt;
    if !nix_is_root() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let state = d.path().join("state");
    fs::create_dir_all(&state).unwrap();
    std::os::unix::fs::chown(&state, Some(65534), Some(65534)).unwrap();
    let main = format!(
        "[agent]\nstate_dir = {:?}\n{REMOTE}\n[jobs.j]\nremote = \"r\"\nsources = [\"/etc/hostname\"]\n",
        state.to_string_lossy()
    );
    let cfg = d.path().join("config.toml");
    fs::write(&cfg, main).unwrap();
    let out = backup(&cfg, &["run", "j"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    for f in [
        "state.json",
        "state.json.lock",
        "locks/j.lock",
        "metrics.prom",
    ] {
        let m = fs::metadata(state.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!((m.uid(), m.gid()), (65534, 65534), "{f}");
    }
}

fn nix_is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout == b"0\n")
}

#[test]
fn a_token_given_with_the_wrong_type_is_not_repeated() {
    let d = tempfile::tempdir().unwrap();
    let (code, err) = check(
        d.path(),
        "[agent.notify]\nwebhook_url = \"https://chat.example/h\"\nwebhook_headers = \"Authorization: Bearer s3cr3t-t0ken\"\n",
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("config.toml:3:") && err.contains("webhook_headers"),
        "{err}"
    );
    assert!(!err.contains("s3cr3t-t0ken"), "{err}");
}

#[test]
fn local_remotes_have_a_path_only_and_paths_are_absolute() {
    let d = tempfile::tempdir().unwrap();
    let (code, err) = check(
        d.path(),
        "[remotes.usb]\ntype = \"local\"\npath = \"/mnt/b\"\nhost = \"h\"\n",
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("config.toml:1:") && err.contains("host"),
        "{err}"
    );
    let (code, err) = check(d.path(), &REMOTE.replace("/srv", "backups/x"));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("not an absolute path"), "{err}");
    let (code, err) = check(d.path(), "[agent]\nhost_name = \"db/01\"\n");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("agent.host_name"), "{err}");
}
