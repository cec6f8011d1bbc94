//! Running `backup` under a deadline: a command that has not finished in time is killed, with
//! every process it started, by PID, and the test fails saying so. A hostile server (a stored
//! file that never ends, a FIFO, a device) can then never hang a suite; it fails it.
//! Output is captured up to [`CAPTURE`] bytes per stream, so a command that streams forever
//! (`cat` of `/dev/zero`) cannot exhaust the test's memory before the deadline.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{backup_cmd, describe, kill_tree};

/// How long any one command of a hostile-server test may take.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Bytes of stdout or stderr kept; the rest is read and dropped.
pub const CAPTURE: usize = 16 << 20;

/// Says, from what was read so far, when to stop reading (and close the pipe).
type Enough = Box<dyn FnMut(&[u8]) -> bool + Send>;

/// Reads `r` in a thread, keeping the first [`CAPTURE`] bytes, until its end or until
/// `enough(kept)`; then drops it (closing a pipe's read end).
fn drain(mut r: Box<dyn Read + Send>, mut enough: Enough) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        while !enough(&kept) {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let room = CAPTURE.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
            }
        }
        kept
    })
}

/// Runs `cmd` (stdout and stderr captured) to its end, or kills its process tree after
/// `deadline` and panics with what it printed so far.
pub fn run_within(cmd: Command, deadline: Duration) -> Output {
    run_until(cmd, deadline, |_| false)
}

/// Like [`run_within`], but stdout is closed as soon as `enough(what was read so far)` says
/// so, as `| head` closes it: the command must then end by itself within `deadline`.
pub fn run_until(
    cmd: Command,
    deadline: Duration,
    enough: impl FnMut(&[u8]) -> bool + Send + 'static,
) -> Output {
    run(cmd, deadline, Stream::Read(Box::new(enough)), Stream::all())
}

/// Like [`run_within`], with stdout and/or stderr a pipe whose reader is gone before the
/// command starts (`backup ... | true`, `2>&-` into a closed pipe): every write to it fails
/// with `EPIPE`. What went to a closed stream is not captured.
pub fn run_closed(cmd: Command, deadline: Duration, stdout: bool, stderr: bool) -> Output {
    let pick = |closed: bool| {
        if closed {
            Stream::Closed
        } else {
            Stream::all()
        }
    };
    run(cmd, deadline, pick(stdout), pick(stderr))
}

/// How one output stream of the command is treated.
enum Stream {
    /// Captured until the closure says it has enough.
    Read(Enough),
    /// A pipe that nobody reads.
    Closed,
}

impl Stream {
    fn all() -> Stream {
        Stream::Read(Box::new(|_| false))
    }

    fn stdio(&self) -> Stdio {
        match self {
            Stream::Read(_) => Stdio::piped(),
            Stream::Closed => {
                let (read, write) = nix::unistd::pipe().expect("pipe");
                drop(read);
                Stdio::from(write)
            }
        }
    }
}

fn run(mut cmd: Command, deadline: Duration, out: Stream, err: Stream) -> Output {
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdout(out.stdio())
        .stderr(err.stdio())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {shown}: {e}"));
    let reader = |pipe: Option<Box<dyn Read + Send>>, s: Stream| match (pipe, s) {
        (Some(p), Stream::Read(enough)) => Some(drain(p, enough)),
        _ => None,
    };
    let out = reader(child.stdout.take().map(|p| Box::new(p) as _), out);
    let err = reader(child.stderr.take().map(|p| Box::new(p) as _), err);
    let collect = |h: Option<JoinHandle<Vec<u8>>>| h.map(|h| h.join().unwrap_or_default());
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for the child") {
            break s;
        }
        if start.elapsed() > deadline {
            kill_tree(child.id(), libc::SIGKILL);
            let status = child.wait().expect("reap the killed child");
            let output = Output {
                status,
                stdout: collect(out).unwrap_or_default(),
                stderr: collect(err).unwrap_or_default(),
            };
            panic!(
                "{shown} was still running after {deadline:?} and was killed\n{}",
                describe(&output)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: collect(out).unwrap_or_default(),
        stderr: collect(err).unwrap_or_default(),
    }
}

/// `backup --config CONFIG ARGS...` under [`DEADLINE`].
pub fn backup_within(config: &Path, args: &[&str]) -> Output {
    run_within(backup_cmd(config, args), DEADLINE)
}

/// Both streams, lossily as text, for `contains` checks.
pub fn all_text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The exit code is `code`, no raw ESC byte reached either stream (so no ANSI sequence from a
/// server got to a terminal), nothing panicked, and each of `needles` was said (ignoring
/// case).
pub fn assert_reported(out: &Output, code: i32, needles: &[&str]) {
    assert_eq!(out.status.code(), Some(code), "{}", describe(out));
    assert_no_escape(out);
    let text = all_text(out).to_lowercase();
    for n in needles {
        let said = text.contains(&n.to_lowercase());
        assert!(said, "{n:?} not said\n{}", describe(out));
    }
}

/// No raw ESC byte on stdout or stderr, and no panic.
pub fn assert_no_escape(out: &Output) {
    for (name, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        if let Some(at) = bytes.iter().position(|&b| b == 0x1b) {
            let from = at.saturating_sub(80);
            panic!(
                "raw ESC byte on {name} at {at}: {:?}\n{}",
                String::from_utf8_lossy(&bytes[from..(at + 80).min(bytes.len())]),
                describe(out)
            );
        }
    }
    assert!(!all_text(out).contains("panicked"), "{}", describe(out));
}
