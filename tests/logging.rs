//! What the logs look like where they end up: a file, a pipe (how journald and log shippers
//! read a service's stderr) and the journal itself (`JOURNAL_STREAM`). No colour codes outside
//! a terminal; under journald, syslog priorities instead of our timestamps.

mod common;

use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{backup_cmd, describe, toml_str};

fn job(src: &std::path::Path, extra: &str) -> String {
    format!(
        "[jobs.t]\nremote = \"test\"\nsources = [{}]\nverify = \"size\"\n{extra}",
        toml_str(&src.to_string_lossy())
    )
}

fn no_escape(what: &str, bytes: &[u8]) {
    assert!(
        !bytes.contains(&0x1b),
        "{what} holds an ESC byte:\n{}",
        String::from_utf8_lossy(bytes)
    );
}

#[test]
fn run_with_stderr_to_a_file_writes_no_escape_byte_on_success_or_failure() {
    let sshd = common::sshd_or_skip!();
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("a.txt"), "hello\n").unwrap();
    let good = sshd.write_config(&job(src.path(), ""));
    let log = sshd.dir().join("run.log");
    for (cfg, code) in [(&good, 0), (&sshd.dir().join("missing.toml"), 2)] {
        let st = backup_cmd(cfg, &["-v", "run", "t"])
            // What a terminal would have set: colour must still be off for a file.
            .env("TERM", "xterm-256color")
            .env_remove("NO_COLOR")
            .stderr(fs::File::create(&log).unwrap())
            .status()
            .unwrap();
        let text = fs::read(&log).unwrap();
        assert_eq!(st.code(), Some(code), "{}", String::from_utf8_lossy(&text));
        assert!(!text.is_empty());
        no_escape("`backup run 2>file`", &text);
    }
    let failing = sshd.write_config(&job(&src.path().join("gone"), ""));
    let out = backup_cmd(&failing, &["run", "t"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("error:"));
    no_escape("a failed run's stderr", &out.stderr);
}

#[test]
fn the_daemon_logging_into_a_pipe_writes_no_escape_byte() {
    let sshd = common::sshd_or_skip!();
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("a.txt"), "hello\n").unwrap();
    let cfg = sshd.write_config(&job(src.path(), "schedule = \"*/2 * * * * *\"\n"));
    let mut child = backup_cmd(&cfg, &["daemon"])
        .env("TERM", "xterm-256color")
        .env_remove("NO_COLOR")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let job_dir = sshd.remote_dir().join("t");
    let end = Instant::now() + Duration::from_secs(30);
    while common::snap::snapshots(&job_dir).is_empty() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(100));
    }
    // SAFETY: kill(2) on the PID of the child this test spawned and has not reaped yet.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let mut text = Vec::new();
    child.stderr.take().unwrap().read_to_end(&mut text).unwrap();
    let st = child.wait().unwrap();
    let shown = String::from_utf8_lossy(&text);
    assert_eq!(st.code(), Some(0), "{shown}");
    assert!(
        shown.contains("daemon started") && shown.contains("committed"),
        "{shown}"
    );
    no_escape("the daemon's piped stderr", &text);
}

#[test]
fn stderr_that_is_the_journal_gets_priorities_and_no_timestamps() {
    let sshd = common::sshd_or_skip!();
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("a.txt"), "hello\n").unwrap();
    let missing = sshd.write_config(&job(&src.path().join("gone"), ""));
    let log = sshd.dir().join("journal.log");
    let file = fs::File::create(&log).unwrap();
    let meta = file.metadata().unwrap();
    // What systemd sets when stderr is the journal: the device and inode of that stream.
    let stream = format!("{}:{}", meta.dev(), meta.ino());
    let st = backup_cmd(&missing, &["run", "t"])
        .env("JOURNAL_STREAM", &stream)
        .stderr(file)
        .status()
        .unwrap();
    let text = fs::read_to_string(&log).unwrap();
    assert_eq!(st.code(), Some(1), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("<6>") && l.contains("INFO run started")),
        "{text}"
    );
    assert!(lines.iter().any(|l| l.starts_with("<3>error: ")), "{text}");
    for l in &lines {
        assert!(
            l.starts_with('<') && !l.starts_with("<6>20"),
            "not a journal line: {l}"
        );
    }
    no_escape("the journal's stderr", text.as_bytes());

    // Inherited by a child whose stderr is something else: the usual text.
    let out = backup_cmd(&missing, &["run", "t"])
        .env("JOURNAL_STREAM", &stream)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.lines().next().is_some_and(|l| l.starts_with("20")),
        "{err}"
    );
    assert!(!err.contains("<6>"), "{err}");
}
