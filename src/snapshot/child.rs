//! Running an outside program the way a backup needs it: stdin closed, in its own process group
//! (so a timeout or an aborted run kills everything it started, not just the first process),
//! optionally as another user, with the tail of its stderr kept for the error message.
//! Shared by command producers and by the job's hooks. See also `run_as` and `tail`.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{Id, WaitPidFlag, waitid};
use nix::unistd::Pid;

pub use super::run_as::{RunAs, configure, resolve_user};
pub use super::tail::{TAIL_BYTES, Tail};

/// After SIGTERM at a timeout, how long the program gets before SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(5);

/// After the program exits, how long processes it left in the background may keep its
/// output pipes open before they are killed.
const STRAGGLER_GRACE: Duration = Duration::from_secs(5);

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

#[cfg(test)]
mod tests {
    use super::*;

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
