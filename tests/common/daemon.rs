//! `backup daemon` as a child process of a test: started with its stderr in a log file,
//! signalled, waited for with a deadline, and killed (by its PID) when the test ends.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

pub struct Daemon {
    pub child: Child,
    log: PathBuf,
}

impl Daemon {
    pub fn start(cfg: &Path, log: PathBuf) -> Daemon {
        Daemon::start_args(cfg, &["daemon"], log)
    }

    /// Any long-running command (`vault watch`) the same way.
    pub fn start_args(cfg: &Path, args: &[&str], log: PathBuf) -> Daemon {
        let out = fs::File::create(&log).unwrap();
        let child = super::backup_cmd(cfg, args)
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .expect("spawn backup");
        Daemon { child, log }
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on the PID of the child this test spawned and has not reaped yet.
        unsafe { libc::kill(self.child.id() as libc::pid_t, sig) };
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits up to `limit` for the exit code.
    pub fn wait(&mut self, limit: Duration) -> Option<i32> {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.alive() {
            self.signal(libc::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

pub fn wait_for(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}
