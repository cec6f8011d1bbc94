//! `backup check` without the network: everything on this machine a run needs. Every problem
//! is listed at once, each with its setting's `file:line` and the command that fixes it; a good
//! config passes, also as a non-root service user that reads its own key. Run as `nobody` when
//! the tests run as root, so that permissions mean what they mean for the packaged service.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{describe, toml_str};

/// A machine's files in a temp dir every user can traverse: a key, known_hosts, a source.
struct Host {
    dir: tempfile::TempDir,
    /// `nobody`, when the test runs as root.
    runner: Option<nix::unistd::User>,
}

impl Host {
    fn new() -> Host {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let runner = if nix::unistd::geteuid().is_root() {
            nix::unistd::User::from_name("nobody").unwrap()
        } else {
            None
        };
        let h = Host { dir, runner };
        let key = h.path("id_ed25519");
        let out = Command::new("ssh-keygen")
            .args(["-q", "-N", "", "-t", "ed25519", "-f"])
            .arg(&key)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", describe(&out));
        let public = fs::read_to_string(key.with_extension("pub")).unwrap();
        fs::write(h.path("known_hosts"), format!("[127.0.0.1]:2222 {public}")).unwrap();
        fs::create_dir(h.path("src")).unwrap();
        fs::create_dir(h.path("state")).unwrap();
        h.give(&key);
        h.give(&h.path("state"));
        h
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Makes `p` belong to the user the check runs as.
    fn give(&self, p: &Path) {
        if let Some(u) = &self.runner {
            nix::unistd::chown(p, Some(u.uid), Some(u.gid)).unwrap();
        }
    }

    fn remote(&self, name: &str, key: &Path, known_hosts: &Path) -> String {
        format!(
            "[remotes.{name}]\nhost = \"127.0.0.1\"\nport = 2222\nuser = \"backup\"\n\
             identity_file = {}\nknown_hosts = {}\npath = \"/srv/backups\"\n\n",
            q(key),
            q(known_hosts)
        )
    }

    /// Writes `config.toml` (state_dir first) and returns its text.
    fn config(&self, state_dir: &Path, rest: &str) -> String {
        let text = format!("[agent]\nstate_dir = {}\n\n{rest}", q(state_dir));
        fs::write(self.path("config.toml"), &text).unwrap();
        text
    }

    /// `backup check`, as `nobody` when root, from a copy of the binary that user can reach.
    fn check(&self) -> Output {
        let bin = self.path("backup");
        if !bin.exists() {
            fs::copy(common::bin(), &bin).unwrap();
        }
        let mut cmd = Command::new(&bin);
        cmd.arg("--config")
            .arg(self.path("config.toml"))
            .arg("check")
            .stdin(Stdio::null());
        if let Some(u) = &self.runner {
            std::os::unix::process::CommandExt::uid(&mut cmd, u.uid.as_raw());
            std::os::unix::process::CommandExt::gid(&mut cmd, u.gid.as_raw());
        }
        common::output_of_copied(&mut cmd)
    }
}

fn q(p: &Path) -> String {
    toml_str(&p.to_string_lossy())
}

/// `config.toml:N`, N the 1-based line of the first line of `text` containing `needle`.
fn at(text: &str, needle: &str) -> String {
    let n = text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    format!("config.toml:{n}")
}

#[test]
fn a_good_config_passes_and_a_missing_optional_source_is_a_note() {
    let h = Host::new();
    let text = h.config(
        &h.path("state"),
        &format!(
            "{}[jobs.t]\nremote = \"r\"\nsources = [{}]\noptional_sources = [\"/nonexistent/opt\"]\n\
             [[jobs.t.commands]]\nname = \"a.sql\"\nrun = [\"sh\", \"-c\", \"echo\"]\n\
             [jobs.t.hooks]\nbefore = [\"true\"]\n",
            h.remote("r", &h.path("id_ed25519"), &h.path("known_hosts")),
            q(&h.path("src"))
        ),
    );
    let out = h.check();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("job t: "), "{stdout}");
    let place = at(&text, "optional_sources");
    assert!(
        stdout.lines().any(|l| l.starts_with("note: ")
            && l.contains(&place)
            && l.contains("/nonexistent/opt")),
        "{stdout}"
    );
    assert!(!stdout.contains("problem:"), "{stdout}");
}

#[test]
fn every_problem_is_listed_with_its_line_and_its_fix() {
    let h = Host::new();
    let open_key = h.path("open_key");
    fs::copy(h.path("id_ed25519"), &open_key).unwrap();
    fs::set_permissions(&open_key, fs::Permissions::from_mode(0o644)).unwrap();
    h.give(&open_key);
    let other_port = h.path("other_known_hosts");
    let line = fs::read_to_string(h.path("known_hosts")).unwrap();
    fs::write(&other_port, line.replace(":2222", ":2223")).unwrap();
    let read_only = h.path("read-only");
    fs::create_dir(&read_only).unwrap();
    fs::set_permissions(&read_only, fs::Permissions::from_mode(0o555)).unwrap();
    let text = h.config(
        &read_only.join("state"),
        &format!(
            "{}{}[jobs.t]\nremote = \"a\"\nsources = [\"/nonexistent/src\"]\n\
             [[jobs.t.commands]]\nname = \"a.sql\"\nrun = [\"no-such-dump-program\", \"db\"]\n\
             [jobs.t.hooks]\nbefore = [\"/nonexistent/hook\"]\n",
            h.remote("a", &h.path("missing_key"), &h.path("missing_known_hosts")),
            h.remote("b", &open_key, &other_port),
        ),
    );
    let out = h.check();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let key_b = format!("identity_file = {}", q(&open_key));
    let kh_b = format!("known_hosts = {}", q(&other_port));
    let expected = [
        (
            at(&text, "missing_key"),
            "remotes.a.identity_file",
            "does not exist",
            "ssh-keygen -t ed25519",
        ),
        (
            at(&text, "missing_known_hosts"),
            "remotes.a.known_hosts",
            "does not exist",
            "backup host-key a >>",
        ),
        (
            at(&text, &key_b),
            "remotes.b.identity_file",
            "0644",
            "chmod 600",
        ),
        (
            at(&text, &kh_b),
            "remotes.b.known_hosts",
            "no entry for [127.0.0.1]:2222",
            "backup host-key b >>",
        ),
        (
            at(&text, "/nonexistent/src"),
            "jobs.t.sources",
            "does not exist",
            "optional_sources",
        ),
        (
            at(&text, "[[jobs.t.commands]]"),
            "jobs.t.commands (a.sql)",
            "`no-such-dump-program` is not on PATH",
            "install the package",
        ),
        (
            at(&text, "[jobs.t.hooks]"),
            "jobs.t.hooks.before",
            "/nonexistent/hook does not exist",
            "install /nonexistent/hook",
        ),
        (
            at(&text, "state_dir"),
            "agent.state_dir",
            "cannot be created",
            "mkdir -p",
        ),
    ];
    let lines: Vec<&str> = stdout.lines().collect();
    for (place, key, what, fix) in &expected {
        let i = lines
            .iter()
            .position(|l| {
                l.starts_with("problem: ") && l.contains(place.as_str()) && l.contains(key)
            })
            .unwrap_or_else(|| panic!("no problem for {key} at {place}:\n{stdout}"));
        assert!(lines[i].contains(what), "{key}: {}", lines[i]);
        let fix_line = lines.get(i + 1).copied().unwrap_or_default();
        assert!(
            fix_line.starts_with("  fix: ") && fix_line.contains(fix),
            "{key}: {fix_line}"
        );
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("8 problem(s)"), "{}", describe(&out));
}

#[test]
fn a_key_the_checking_user_cannot_read_names_that_user() {
    let h = Host::new();
    let Some(runner) = h.runner.clone() else {
        return; // needs root to make a key another user owns
    };
    let roots = h.path("roots_key");
    fs::copy(h.path("id_ed25519"), &roots).unwrap();
    fs::set_permissions(&roots, fs::Permissions::from_mode(0o600)).unwrap();
    h.config(
        &h.path("state"),
        &format!(
            "{}[jobs.t]\nremote = \"r\"\nsources = [{}]\n",
            h.remote("r", &roots, &h.path("known_hosts")),
            q(&h.path("src"))
        ),
    );
    let out = h.check();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("cannot be read by user {}", runner.name))
            && stdout.contains(&format!("chown {} {}", runner.name, roots.display())),
        "{stdout}"
    );
}
