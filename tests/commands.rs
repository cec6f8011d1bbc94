//! Command sources without a database: a hanging command is killed at its timeout, commands
//! run concurrently, 4 GiB of output streams in bounded memory, `user` needs root, and the
//! example configs are valid.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::snap::{assert_failure_commits_nothing, command, sha256sum_c, snapshots};
use common::{backup, describe, toml_str};

/// A shell that records its pid and a background child's in `pids`, then waits forever: the
/// child proves that the whole process group is killed.
fn hanging_script(pids: &Path) -> String {
    format!(
        "echo $$ > {0}; sleep 1000 & echo $! >> {0}; wait",
        pids.display()
    )
}

/// No process of `pids` (one pid per line) is alive any more.
fn assert_dead(pids: &Path) {
    let text = fs::read_to_string(pids).unwrap();
    for pid in text.split_whitespace() {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .next();
        assert!(
            matches!(state, None | Some("Z")),
            "process {pid} survived: {stat}"
        );
    }
}

#[test]
fn the_job_timeout_cancels_the_run_and_kills_its_commands() {
    let sshd = common::sshd_or_skip!();
    let tmp = tempfile::tempdir().unwrap();
    let pids = tmp.path().join("pids");
    let script = hanging_script(&pids);
    let jobs = format!(
        "[jobs.t]\nremote = \"test\"\ntimeout = \"2s\"\n{}",
        command("hang.out", &["sh", "-c", &script], "")
    );
    let cfg = sshd.write_config(&jobs);
    let started = std::time::Instant::now();
    let out = backup(&cfg, &["run", "t"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the job's timeout"),
        "{}",
        describe(&out)
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_dead(&pids);
    let job_dir = sshd.remote_dir().join("t");
    assert!(snapshots(&job_dir).is_empty());
    // The next run removes what the cancelled one left and commits.
    let good = sshd.write_config(&format!(
        "[jobs.t]\nremote = \"test\"\n{}",
        command("a.txt", &["echo", "ok"], "")
    ));
    let out = backup(&good, &["run", "t"]);
    assert!(out.status.success(), "{}", describe(&out));
    let left = common::snap::job_entries(&job_dir);
    assert_eq!(left.len(), 1, "{left:?}");
}

#[test]
fn a_hanging_command_is_killed_at_its_timeout() {
    let sshd = common::sshd_or_skip!();
    let tmp = tempfile::tempdir().unwrap();
    let pids = tmp.path().join("pids");
    let script = hanging_script(&pids);
    assert_failure_commits_nothing(
        &sshd,
        &command("hang.out", &["sh", "-c", &script], "timeout = \"2s\""),
        &["\"hang.out\"", "did not finish within 2s"],
    );
    assert_dead(&pids);
}

#[test]
fn commands_run_concurrently() {
    // Each command needs the other to be running: a FIFO opens only once both ends are open.
    let sshd = common::sshd_or_skip!();
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("fifo");
    common::run_ok("mkfifo", &[fifo.to_str().unwrap()]);
    let f = fifo.display().to_string();
    let jobs = format!(
        "[jobs.t]\nremote = \"test\"\n{}{}",
        command(
            "writer.out",
            &["sh", "-c", &format!("echo ping > {f}; echo wrote")],
            "timeout = \"60s\""
        ),
        command("reader.out", &["cat", &f], "timeout = \"60s\""),
    );
    let out = backup(&sshd.write_config(&jobs), &["run", "t"]);
    assert!(out.status.success(), "{}", describe(&out));
    let snap = &snapshots(&sshd.remote_dir().join("t"))[0];
    let read = Command::new("zstd")
        .arg("-dc")
        .arg(snap.join("reader.out.zst"))
        .output()
        .unwrap();
    assert_eq!(read.stdout, b"ping\n");
    sha256sum_c(snap);
}

#[test]
fn four_gib_of_output_streams_in_bounded_memory() {
    let sshd = common::sshd_or_skip!();
    let jobs = format!(
        "[jobs.t]\nremote = \"test\"\n{}",
        command("zero.bin", &["head", "-c", "4G", "/dev/zero"], "")
    );
    let cfg = sshd.write_config(&jobs);
    let (out, kib) = common::peak_rss_kib(&common::backup_cmd(&cfg, &["run", "t"]));
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        kib < 100 * 1024,
        "peak RSS {kib} KiB for 4 GiB of command output"
    );
    let snap = &snapshots(&sshd.remote_dir().join("t"))[0];
    let m: serde_json::Value =
        serde_json::from_slice(&fs::read(snap.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["commands"][0]["bytes"].as_u64(), Some(4 << 30));
    assert_eq!(m["files"][0]["raw_size"].as_u64(), Some(4 << 30));
    sha256sum_c(snap);
    eprintln!("peak RSS for 4 GiB of command output: {kib} KiB");
}

#[test]
fn switching_user_needs_root_and_says_so() {
    let Some(nobody) = nix::unistd::User::from_name("nobody").ok().flatten() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    fs::create_dir(&state).unwrap();
    for (p, mode) in [(tmp.path(), 0o755), (state.as_path(), 0o777)] {
        fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
    }
    let cfg = tmp.path().join("config.toml");
    fs::write(
        &cfg,
        format!(
            "[agent]\nstate_dir = {}\n\n[remotes.r]\nhost = \"127.0.0.1\"\nport = 1\nuser = \"u\"\n\
             identity_file = \"/nonexistent/key\"\nknown_hosts = \"/nonexistent/known_hosts\"\n\
             path = \"/srv\"\n\n[jobs.t]\nremote = \"r\"\n{}",
            toml_str(&state.to_string_lossy()),
            command("a.sql", &["true"], "user = \"root\"")
        ),
    )
    .unwrap();
    // A copy of the binary where `nobody` can reach it: the checkout may sit under a 0700
    // directory such as /root.
    let bin = tmp.path().join("backup");
    fs::copy(common::bin(), &bin).unwrap();
    let mut cmd = Command::new(&bin);
    cmd.arg("--config")
        .arg(&cfg)
        .args(["run", "t"])
        .stdin(std::process::Stdio::null());
    std::os::unix::process::CommandExt::uid(&mut cmd, nobody.uid.as_raw());
    std::os::unix::process::CommandExt::gid(&mut cmd, nobody.gid.as_raw());
    let out = common::output_of_copied(&mut cmd);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("needs the agent to run as root") && stderr.contains("hint:"),
        "{stderr}"
    );
}
