//! `[jobs.X.hooks]` end to end against a real sshd: the order the hooks run in, what they see
//! in their environment, a failing `before` that stops the run before anything is uploaded, and
//! `on_failure` after a failed upload that never hides the upload's own error.

mod common;

use std::fs;
use std::path::Path;

use common::snap::snapshots;
use common::{SmallFs, backup, describe, toml_str};

/// A hook that appends `NAME|job|status|snapshot|bytes|error` to `log`, then exits `code`.
fn hook(name: &str, log: &Path, code: i32) -> String {
    let script = format!(
        "err=$(printf %s \"$BACKUP_ERROR\" | tr '\\n|' '  ' | head -c 300); \
         printf '%s|%s|%s|%s|%s|%s\\n' {name} \"$BACKUP_JOB\" \"$BACKUP_STATUS\" \
         \"$BACKUP_SNAPSHOT\" \"$BACKUP_BYTES\" \"$err\" >> {}; exit {code}",
        log.display()
    );
    format!("{name} = [\"sh\", \"-c\", {}]\n", toml_str(&script))
}

fn lines(log: &Path) -> Vec<Vec<String>> {
    fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| l.split('|').map(str::to_string).collect())
        .collect()
}

#[test]
fn hooks_run_in_order_and_see_the_run() {
    let sshd = common::sshd_or_skip!();
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("hooks.log");
    let jobs = format!(
        "[jobs.t]\nremote = \"test\"\n\n[[jobs.t.commands]]\nname = \"a.txt\"\nrun = [\"echo\", \"hello\"]\nmin_bytes = 0\n\n\
         [jobs.t.hooks]\n{}{}{}{}timeout = \"30s\"\n",
        hook("before", &log, 0),
        hook("after", &log, 0),
        hook("on_failure", &log, 0),
        hook("finally", &log, 0)
    );
    let out = backup(&sshd.write_config(&jobs), &["run", "t"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let snaps = snapshots(&sshd.remote_dir().join("t"));
    assert_eq!(snaps.len(), 1);
    let id = snaps[0].file_name().unwrap().to_string_lossy().into_owned();
    let size = fs::metadata(snaps[0].join("a.txt.zst")).unwrap().len();
    let got = lines(&log);
    let names: Vec<&str> = got.iter().map(|l| l[0].as_str()).collect();
    assert_eq!(names, ["before", "after", "finally"], "{got:?}");
    assert_eq!(got[0][1..], ["t", "running", "", "0", ""]);
    let done = ["t", "success", &id, &size.to_string(), ""];
    assert_eq!(got[1][1..], done);
    assert_eq!(got[2][1..], done);
}

#[test]
fn a_failing_before_hook_aborts_before_anything_is_uploaded() {
    let sshd = common::sshd_or_skip!();
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("hooks.log");
    let marker = tmp.path().join("command-ran");
    let jobs = format!(
        "[jobs.t]\nremote = \"test\"\n\n[[jobs.t.commands]]\nname = \"a.txt\"\n\
         run = [\"touch\", {}]\n\n[jobs.t.hooks]\n{}{}{}{}",
        toml_str(&marker.to_string_lossy()),
        hook("before", &log, 3),
        hook("after", &log, 0),
        hook("on_failure", &log, 0),
        hook("finally", &log, 0)
    );
    let out = backup(&sshd.write_config(&jobs), &["run", "t"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("aborted before anything was uploaded") && stderr.contains("status 3"),
        "{stderr}"
    );
    assert!(
        !marker.exists(),
        "the command ran after a failed before hook"
    );
    assert!(
        !sshd.remote_dir().join("t").exists(),
        "the run touched the server"
    );
    let got = lines(&log);
    let names: Vec<&str> = got.iter().map(|l| l[0].as_str()).collect();
    assert_eq!(names, ["before", "on_failure", "finally"], "{got:?}");
    assert_eq!(got[1][2], "failed");
    assert!(got[1][5].contains("hook before"), "{got:?}");
}

#[test]
fn on_failure_runs_after_a_failed_upload_without_masking_it() {
    let sshd = common::sshd_or_skip!();
    // The remote path is a 4 MiB filesystem: the upload fills it up.
    let Some(small) = SmallFs::mount(4 << 20) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("hooks.log");
    let jobs = format!(
        "[jobs.t]\nremote = \"test\"\n\n[[jobs.t.commands]]\nname = \"noise.bin\"\n\
         run = [\"head\", \"-c\", \"40M\", \"/dev/urandom\"]\n\n[jobs.t.hooks]\n{}{}{}",
        hook("after", &log, 0),
        hook("on_failure", &log, 7),
        hook("finally", &log, 0)
    );
    let cfg = sshd.write_config_at(small.path(), &jobs);
    let out = backup(&cfg, &["run", "t"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("error: "))
        .unwrap_or("");
    assert!(
        last.starts_with("error: job t: ")
            && last.contains("disk is full")
            && !last.contains("on_failure"),
        "{stderr}"
    );
    assert!(stderr.contains("hook on_failure"), "{stderr}");
    let got = lines(&log);
    let names: Vec<&str> = got.iter().map(|l| l[0].as_str()).collect();
    assert_eq!(names, ["on_failure", "finally"], "{got:?}");
    assert_eq!(got[0][2], "failed");
    assert!(got[0][5].contains("disk is full"), "BACKUP_ERROR: {got:?}");
    assert!(snapshots(&small.path().join("t")).is_empty());
}

/// Hook URLs are logged as `scheme://host/…`: their userinfo, path and query may be the
/// credential.
#[test]
fn hook_urls_are_logged_without_their_secrets() {
    let sshd = common::sshd_or_skip!();
    let url = "https://ops:pa55word@hc.example.net/ping/0f4c-uuid?token=t0ken";
    let jobs = format!(
        "[jobs.t]\nremote = \"test\"\n\n[[jobs.t.commands]]\nname = \"a.txt\"\nrun = [\"echo\", \"hi\"]\nmin_bytes = 0\n\n\
         [jobs.t.hooks]\nafter = [\"true\", {}]\n",
        toml_str(url)
    );
    let out = backup(&sshd.write_config(&jobs), &["-v", "run", "t"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("running hook after: true https://hc.example.net/…"),
        "{err}"
    );
    for secret in ["pa55word", "0f4c-uuid", "t0ken", "ops:"] {
        assert!(!err.contains(secret), "{secret} leaked: {err}");
    }
}
