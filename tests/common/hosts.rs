//! Several agents ("hosts") sharing one backup server: each gets its own config file,
//! `[agent] host_name` and `state_dir`, with a remote `test` that is either a directory on this
//! machine (`type = "local"`) or an [`SshServer`]. Plus running the binary under a deadline, so
//! that a hang fails the test instead of stalling the suite, and reading what a run left on
//! the server.

use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{SshServer, backup_cmd, toml_str};

/// Where the remote `test` of a host config points.
#[derive(Clone, Copy)]
pub enum Server<'a> {
    /// `type = "local"`: the config's `path` is a directory on this machine.
    Local,
    /// The same `path`, on this SFTP server (not chrooted: it is the same directory on disk).
    Sftp(&'a SshServer),
}

impl Server<'_> {
    pub fn label(&self) -> &'static str {
        match self {
            Server::Local => "local",
            Server::Sftp(_) => "sftp",
        }
    }

    /// The `[remotes.test]` table with base `path` (which may hold `{host}`).
    pub fn remote_toml(&self, path: &str) -> String {
        let mut t = String::from("[remotes.test]\n");
        match self {
            Server::Local => t.push_str("type = \"local\"\n"),
            Server::Sftp(s) => {
                let q = |p: PathBuf| toml_str(&p.to_string_lossy());
                writeln!(t, "host = \"127.0.0.1\"\nport = {}", s.port()).unwrap();
                writeln!(t, "user = {}", toml_str(s.user())).unwrap();
                writeln!(t, "identity_file = {}", q(s.client_key())).unwrap();
                writeln!(t, "known_hosts = {}", q(s.known_hosts())).unwrap();
            }
        }
        writeln!(t, "path = {}", toml_str(path)).unwrap();
        t
    }
}

/// One agent: its config file and its own state directory.
pub struct Host {
    pub name: String,
    pub config: PathBuf,
    pub state_dir: PathBuf,
}

impl Host {
    /// `backup --config <this host's config> ARGS...` within [`DEADLINE`].
    pub fn backup(&self, args: &[&str]) -> Output {
        backup_within(&self.config, args)
    }

    /// The same, which must exit 0.
    pub fn ok(&self, args: &[&str]) -> Output {
        let out = self.backup(args);
        assert_exit(&out, 0, &format!("host {}: backup {args:?}", self.name));
        out
    }
}

/// `backup list t --json` of `h`, parsed, and the ids it lists.
pub fn list_json(h: &Host) -> (Vec<serde_json::Value>, Vec<String>) {
    let out = h.ok(&["list", "t", "--json"]);
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let ids = listed
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    (listed, ids)
}

/// `backup restore t WHICH --target TARGET` succeeds, says the checksums match, and gives
/// back the tree `root` (stored without its leading `/`); returns its output.
pub fn assert_restores(h: &Host, which: &str, root: &Path, target: &Path) -> Output {
    let out = h.ok(&["restore", "t", which, "--target", target.to_str().unwrap()]);
    assert!(
        stderr(&out).contains("checksums match"),
        "{}",
        super::describe(&out)
    );
    super::assert_trees_eq(root, &target.join(root.strip_prefix("/").unwrap()));
    out
}

/// What the command output `app.sql` of [`tree_and_dump`] holds.
pub const SQL: &str = "select 1;\n";

/// Job `t` backing up the tree `root` plus a command output `app.sql`, then `extra` lines.
pub fn tree_and_dump(root: &Path, extra: &str) -> String {
    super::sample::job_toml("t", root, extra)
        + &super::snap::command("app.sql", &["printf", SQL], "")
}

/// Writes `<dir>/<name>.toml`: `[agent] host_name = name` with `state_dir` `<dir>/state-<name>`,
/// the remote `test` on `server` with base `path`, then `jobs` verbatim.
pub fn host(dir: &Path, name: &str, server: Server, path: &str, jobs: &str) -> Host {
    let state_dir = dir.join(format!("state-{name}"));
    let text = format!(
        "[agent]\nstate_dir = {}\nhost_name = {}\n\n{}\n{jobs}\n",
        toml_str(&state_dir.to_string_lossy()),
        toml_str(name),
        server.remote_toml(path)
    );
    let config = dir.join(format!("{name}.toml"));
    std::fs::write(&config, text).expect("write host config");
    Host {
        name: name.to_string(),
        config,
        state_dir,
    }
}

/// How long any one command of these tests may take before it counts as hung.
pub const DEADLINE: Duration = Duration::from_secs(90);

/// `backup --config CONFIG ARGS...` to completion within [`DEADLINE`]; a hang fails the test.
pub fn backup_within(config: &Path, args: &[&str]) -> Output {
    output_within(backup_cmd(config, args), DEADLINE)
}

/// Runs `cmd` with stdout and stderr captured, within `limit` (see [`wait_within`]).
pub fn output_within(mut cmd: Command, limit: Duration) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {:?}: {e}", cmd.get_program()));
    wait_within(child, limit)
}

/// Waits for `child`, reading whichever of its stdout and stderr pipes are still attached;
/// SIGKILLs it (its PID only) and panics with what it printed when it has not exited after
/// `limit`.
pub fn wait_within(mut child: Child, limit: Duration) -> Output {
    let out = child.stdout.take().map(drain);
    let err = child.stderr.take().map(drain);
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let so_far = err.as_ref().map(|e| e.lock().unwrap().clone());
            panic!(
                "pid {} hung (no exit after {limit:?})\n--- stderr so far ---\n{}",
                child.id(),
                String::from_utf8_lossy(&so_far.unwrap_or_default())
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    // The pipes close when the process exits (these tests start no daemons); give the readers
    // a moment to take the rest.
    let settle = Instant::now() + Duration::from_secs(5);
    let busy =
        |b: &Option<Arc<Mutex<Vec<u8>>>>| b.as_ref().is_some_and(|b| Arc::strong_count(b) > 1);
    while (busy(&out) || busy(&err)) && Instant::now() < settle {
        std::thread::sleep(Duration::from_millis(2));
    }
    let take = |b: Option<Arc<Mutex<Vec<u8>>>>| {
        b.map(|b| std::mem::take(&mut *b.lock().unwrap()))
            .unwrap_or_default()
    };
    Output {
        status,
        stdout: take(out),
        stderr: take(err),
    }
}

/// Reads `r` to its end on a thread, into a shared buffer the thread lets go of when done.
fn drain(mut r: impl Read + Send + 'static) -> Arc<Mutex<Vec<u8>>> {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let mine = buf.clone();
    std::thread::spawn(move || {
        let mut chunk = [0u8; 64 * 1024];
        while let Ok(n) = r.read(&mut chunk) {
            if n == 0 {
                break;
            }
            mine.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    buf
}

/// The ids of the committed-looking snapshot directories of a job, oldest first.
pub fn ids(job_dir: &Path) -> Vec<String> {
    super::snap::snapshots(job_dir)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// Everything under `dir` (kind, mode, mtime, size, content hash, link target): compare two of
/// them to prove that a command changed nothing on the server.
pub fn server_state(dir: &Path) -> Vec<String> {
    super::tree_digest(dir)
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// Asserts `out` exited with `code`, showing everything it printed otherwise.
pub fn assert_exit(out: &Output, code: i32, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}\n{}",
        super::describe(out)
    );
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `test(server, dir, base)` against a local directory and, where sshd can run, against a
/// real sshd: `dir` is a fresh directory for configs and sources, `base` the server directory
/// the remote's `path` names (on disk; empty or not there yet).
pub fn for_each_server(test: impl Fn(Server, &Path, &Path)) {
    let local = tempfile::tempdir().expect("temp dir");
    let base = local.path().join("remote");
    test(Server::Local, local.path(), &base);
    if let Some(sshd) = super::sshd() {
        let dir = tempfile::tempdir().expect("temp dir");
        test(Server::Sftp(&sshd), dir.path(), &sshd.remote_dir());
    }
}
