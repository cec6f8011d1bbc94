//! Running an outside program the way a backup needs it: stdin closed, in its own process group
//! (so a timeout or an aborted run kills everything it started, not just the first process),
//! optionally as another user, with the tail of its stderr kept for the error message.
//! Shared by command producers and by the job's hooks.

use std::ffi::CString;
use std::io::{self, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{Id, WaitPidFlag, waitid};
use nix::unistd::{Pid, User};

/// How much of stderr is kept (DESIGN: the last 64 KiB).
pub const TAIL_BYTES: usize = 64 * 1024;

/// After SIGTERM at a timeout, how long the program gets before SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(5);

/// After the program exits, how long processes it left in the background may keep its
/// output pipes open before they are killed.
const STRAGGLER_GRACE: Duration = Duration::from_secs(5);

/// A user to switch to before exec, resolved while we can still allocate and read files
/// (after fork only async-signal-safe calls are allowed).
#[derive(Debug, Clone)]
pub struct RunAs {
    pub name: String,
    uid: libc::uid_t,
    gid: libc::gid_t,
    groups: Vec<libc::gid_t>,
    pub home: PathBuf,
}

/// Looks up `name`. `Ok(None)` when we already are that user; an error when the switch needs
/// root and we are not.
pub fn resolve_user(name: &str) -> Result<Option<RunAs>, String> {
    let user = User::from_name(name)
        .map_err(|e| format!("cannot look up user {name:?}: {e}"))?
        .ok_or_else(|| format!("there is no user named {name:?} on this machine"))?;
    let me = nix::unistd::geteuid();
    if user.uid == me {
        return Ok(None);
    }
    if !me.is_root() {
        return Err(format!(
            "running as user {name:?} needs the agent to run as root (it runs as uid {me})\n\
             hint: run the agent as root, or remove `user` and run the agent as {name:?}"
        ));
    }
    let cname = CString::new(name).map_err(|_| format!("user name {name:?} contains NUL"))?;
    let groups = nix::unistd::getgrouplist(&cname, user.gid)
        .map_err(|e| format!("cannot list the groups of user {name:?}: {e}"))?;
    Ok(Some(RunAs {
        name: name.to_string(),
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
        groups: groups.into_iter().map(|g| g.as_raw()).collect(),
        home: user.dir,
    }))
}

/// Stdin closed, a new process group, and the user switch (with a login-like environment and
/// the user's home as default working directory, as `su -` would give).
pub fn configure(cmd: &mut Command, run_as: Option<&RunAs>) {
    cmd.stdin(Stdio::null()).process_group(0);
    let Some(u) = run_as else { return };
    let home = if u.home.is_dir() {
        u.home.clone()
    } else {
        PathBuf::from("/")
    };
    cmd.env("HOME", &u.home)
        .env("USER", &u.name)
        .env("LOGNAME", &u.name)
        .current_dir(home);
    let (uid, gid, groups) = (u.uid, u.gid, u.groups.clone());
    // SAFETY: the closure runs between fork and exec and makes only raw syscalls on data that
    // was allocated before the fork; std's own uid/gid would drop the supplementary groups
    // that e.g. a `backup` group membership grants, so we set all three here.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setgroups(groups.len() as _, groups.as_ptr()) != 0
                || libc::setgid(gid) != 0
                || libc::setuid(uid) != 0
            {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Why we killed the program, if we did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Killed {
    Timeout(Duration),
    /// The run stopped (an upload failed, the job timed out): the output is not wanted.
    Aborted,
}

#[derive(Default)]
struct State {
    /// The group leader has exited and is about to be reaped: its PID, which is also the
    /// group id, may be reused from now on, so nobody may signal the group any more.
    exited: bool,
    killed: Option<Killed>,
}

/// Signals the process group safely while the leader has not been reaped.
pub struct Control {
    pgid: Pid,
    state: Mutex<State>,
    changed: Condvar,
}

impl Control {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn kill(&self, sig: Signal, why: Killed) {
        let mut s = self.lock();
        if !s.exited {
            let _ = killpg(self.pgid, sig);
            s.killed.get_or_insert(why);
        }
    }

    /// Kills the whole group now: its output is no longer wanted.
    pub fn abort(&self) {
        self.kill(Signal::SIGKILL, Killed::Aborted);
    }

    /// SIGTERM at the deadline, SIGKILL after a grace period.
    fn watch(self: Arc<Self>, timeout: Duration) {
        let spawned = std::thread::Builder::new()
            .name("timeout".into())
            .spawn(move || {
                let (s, res) = self
                    .changed
                    .wait_timeout_while(self.lock(), timeout, |s| !s.exited)
                    .unwrap_or_else(|e| e.into_inner());
                drop(s);
                if !res.timed_out() {
                    return;
                }
                self.kill(Signal::SIGTERM, Killed::Timeout(timeout));
                let (s, res) = self
                    .changed
                    .wait_timeout_while(self.lock(), TERM_GRACE, |s| !s.exited)
                    .unwrap_or_else(|e| e.into_inner());
                drop(s);
                if res.timed_out() {
                    self.kill(Signal::SIGKILL, Killed::Timeout(timeout));
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("cannot start the timeout watcher ({e}); no timeout is enforced");
        }
    }
}

/// Kills the group when dropped before the program finished: a dropped run must not leave a
/// `pg_dump` behind.
pub struct AbortOnDrop(pub Arc<Control>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A started program. Take `child.stdout` before waiting if it was piped.
pub struct Running {
    pub child: Child,
    pub control: Arc<Control>,
    stderr: Option<JoinHandle<Tail>>,
    stdout: Option<JoinHandle<Tail>>,
    started: Instant,
}

/// How it ended.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub killed: Option<Killed>,
    pub stderr: Tail,
    /// Only when [`Running::start`] was asked to capture it.
    pub stdout: Tail,
    pub duration: Duration,
}

impl Running {
    /// Spawns `cmd` (already [`configure`]d) with stderr captured (and stdout, when
    /// `capture_stdout`; else the caller sets it up), and arms `timeout`.
    pub fn start(
        mut cmd: Command,
        timeout: Option<Duration>,
        capture_stdout: bool,
    ) -> io::Result<Running> {
        cmd.stderr(Stdio::piped());
        if capture_stdout {
            cmd.stdout(Stdio::piped());
        }
        let mut child = cmd.spawn()?;
        let pid = i32::try_from(child.id()).map_err(io::Error::other)?;
        let control = Arc::new(Control {
            pgid: Pid::from_raw(pid),
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        if let Some(t) = timeout {
            control.clone().watch(t);
        }
        let stderr = child.stderr.take().map(Tail::collect);
        let stdout = if capture_stdout {
            child.stdout.take().map(Tail::collect)
        } else {
            None
        };
        Ok(Running {
            child,
            control,
            stderr,
            stdout,
            started: Instant::now(),
        })
    }

    /// Waits for the program to exit, then reaps it.
    pub fn wait(mut self) -> io::Result<Finished> {
        let pid = self.control.pgid;
        // Wait without reaping, so the group id stays ours until no one can signal it.
        loop {
            match waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT) {
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(io::Error::from(e)),
                Ok(_) => break,
            }
        }
        // The leader is a zombie now, so its group id cannot be reused yet: the last moment
        // to kill what it left running in the background with our pipes open.
        let deadline = Instant::now() + STRAGGLER_GRACE;
        let open = |r: &Running| {
            [&r.stderr, &r.stdout]
                .into_iter()
                .flatten()
                .any(|h| !h.is_finished())
        };
        while open(&self) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if open(&self) {
            tracing::warn!(
                "the program exited but left processes holding its output; killing them"
            );
            let _ = killpg(pid, Signal::SIGKILL);
        }
        let killed = {
            let mut s = self.control.lock();
            s.exited = true;
            s.killed
        };
        self.control.changed.notify_all();
        let status = self.child.wait()?;
        let duration = self.started.elapsed();
        let join = |h: Option<JoinHandle<Tail>>| h.and_then(|h| h.join().ok()).unwrap_or_default();
        Ok(Finished {
            status,
            killed,
            stderr: join(self.stderr.take()),
            stdout: join(self.stdout.take()),
            duration,
        })
    }
}

impl Finished {
    pub fn success(&self) -> bool {
        self.status.success() && self.killed.is_none()
    }

    /// The exit code, or 128 + signal as a shell reports it.
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .or_else(|| self.status.signal().map(|s| 128 + s))
            .unwrap_or(-1)
    }

    /// "exited with status 2", "was killed by signal 9 (SIGKILL)", "did not finish within 5s".
    pub fn describe(&self) -> String {
        match self.killed {
            Some(Killed::Timeout(t)) => format!(
                "did not finish within {} (its timeout) and was killed",
                humantime::format_duration(t)
            ),
            Some(Killed::Aborted) => "was stopped because the run was aborted".into(),
            None => match (self.status.code(), self.status.signal()) {
                (Some(c), _) => format!("exited with status {c}"),
                (None, Some(s)) => format!(
                    "was killed by signal {s} ({})",
                    Signal::try_from(s).map_or("?", |s| s.as_str())
                ),
                _ => format!("ended with {}", self.status),
            },
        }
    }
}

/// The last [`TAIL_BYTES`] of a stream.
#[derive(Debug, Default, Clone)]
pub struct Tail {
    buf: Vec<u8>,
    cut: bool,
}

impl Tail {
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
        // Trim in batches so a chatty program costs amortised O(1) per byte.
        if self.buf.len() > 2 * TAIL_BYTES {
            self.buf.drain(..self.buf.len() - TAIL_BYTES);
            self.cut = true;
        }
    }

    /// Reads `r` to its end on a thread of its own.
    pub fn collect<R: Read + Send + 'static>(mut r: R) -> JoinHandle<Tail> {
        std::thread::spawn(move || {
            let mut tail = Tail::default();
            let mut buf = [0u8; 8192];
            while let Ok(n) = r.read(&mut buf) {
                if n == 0 {
                    break;
                }
                tail.push(&buf[..n]);
            }
            tail
        })
    }

    /// Everything kept (at most [`TAIL_BYTES`]), starting at a line boundary when cut.
    pub fn text(&self) -> String {
        let start = self.buf.len().saturating_sub(TAIL_BYTES);
        let mut kept = &self.buf[start..];
        if (self.cut || start > 0)
            && let Some(nl) = kept.iter().position(|&b| b == b'\n')
        {
            kept = &kept[nl + 1..];
        }
        String::from_utf8_lossy(kept).trim_end().to_string()
    }

    /// The last `lines` lines (at most 4 KiB), indented, for an error message.
    pub fn last_lines(&self, lines: usize) -> String {
        let text = self.text();
        let mut picked: Vec<&str> = text.lines().rev().take(lines).collect();
        picked.reverse();
        let mut out = picked.join("\n");
        if out.len() > 4096 {
            let mut at = out.len() - 4096;
            while !out.is_char_boundary(at) {
                at += 1;
            }
            out = out[at..].to_string();
        }
        out.lines()
            .map(|l| format!("  {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_end_at_a_line_boundary() {
        let mut t = Tail::default();
        for i in 0..20_000 {
            t.push(format!("line {i}\n").as_bytes());
        }
        let text = t.text();
        assert!(text.len() <= TAIL_BYTES);
        assert!(text.starts_with("line "), "{}", &text[..20]);
        assert!(text.ends_with("line 19999"));
        assert_eq!(t.last_lines(2), "  line 19998\n  line 19999");
    }

    #[test]
    fn timeout_kills_the_whole_group() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 30 & sleep 30; echo never"]);
        configure(&mut cmd, None);
        let r = Running::start(cmd, Some(Duration::from_millis(200)), false).unwrap();
        let f = r.wait().unwrap();
        assert!(!f.success());
        assert_eq!(f.killed, Some(Killed::Timeout(Duration::from_millis(200))));
        assert!(f.describe().contains("did not finish within 200ms"));
        assert!(f.duration < Duration::from_secs(10));
    }

    #[test]
    fn exit_status_and_stderr_are_reported() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo oops >&2; exit 2"]);
        configure(&mut cmd, None);
        let f = Running::start(cmd, None, true).unwrap().wait().unwrap();
        assert_eq!(f.code(), 2);
        assert_eq!(f.describe(), "exited with status 2");
        assert_eq!(f.stderr.text(), "oops");
    }
}
