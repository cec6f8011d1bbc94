//! A command producer: runs one `[[jobs.X.commands]]` entry (`pg_dump`, `mysqldump`, ...) and
//! turns its stdout into `<name>.zst` chunks, compressed and hashed as they come, with no
//! temporary file. Anything but a clean exit 0 is an error that names the command, says how it
//! ended and quotes the tail of its stderr: a broken dump must never look like a good one.

use std::fmt;
use std::io::{self, Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::mpsc;

use super::Progress;
use super::child::{self, AbortOnDrop, Finished, RunAs, Running};
use super::sink::{self, Counting, Encoding, StreamDigest};
use crate::config::CommandConfig;

/// A command that finished cleanly.
#[derive(Debug)]
pub struct CommandOutcome {
    pub digest: StreamDigest,
    pub exit_status: i32,
    pub duration: Duration,
}

/// Why a command's output cannot be used.
#[derive(Debug)]
pub enum CommandError {
    /// `user` cannot be switched to, or the program cannot be started.
    Start {
        name: String,
        argv: String,
        why: String,
    },
    /// It ran, but did not succeed.
    Failed {
        name: String,
        argv: String,
        how: String,
        stderr: String,
    },
    /// Reading its output or handing it on failed (e.g. the upload stopped).
    Io { name: String, error: io::Error },
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::Start { name, argv, why } => {
                write!(f, "command {name:?} ({argv}) could not be started: {why}")?;
                if !why.contains("hint:") {
                    write!(
                        f,
                        "\nhint: check `run`, `user` and `cwd` of this command; the program \
                         must be in the agent's PATH or given by its full path"
                    )?;
                }
                Ok(())
            }
            CommandError::Failed {
                name,
                argv,
                how,
                stderr,
            } => {
                write!(f, "command {name:?} ({argv}) {how}")?;
                if stderr.is_empty() {
                    write!(f, "; it wrote nothing to stderr")?;
                } else {
                    write!(f, "; the end of its stderr:\n{stderr}")?;
                }
                write!(
                    f,
                    "\nhint: run the command by hand, as the same user and with the same \
                     environment, to see why"
                )
            }
            CommandError::Io { name, error } => {
                write!(f, "command {name:?}: its output could not be read: {error}")
            }
        }
    }
}

impl std::error::Error for CommandError {}

/// A running command producer. Dropping it before it finished kills the command's process
/// group, so an aborted run leaves nothing behind.
pub struct CommandStream {
    pub rx: mpsc::Receiver<Vec<u8>>,
    pub handle: JoinHandle<Result<CommandOutcome, CommandError>>,
    pub guard: AbortOnDrop,
}

impl CommandStream {
    /// Kills the command now (its output is no longer wanted); the producer then ends.
    pub fn abort(&self) {
        self.guard.0.abort();
    }
}

/// Checks that the command's `user` can be switched to; done before anything is uploaded.
pub fn check_user(cmd: &CommandConfig) -> Result<Option<RunAs>, CommandError> {
    match &cmd.user {
        None => Ok(None),
        Some(u) => child::resolve_user(u).map_err(|why| CommandError::Start {
            name: cmd.name.clone(),
            argv: cmd.run.join(" "),
            why,
        }),
    }
}

/// Starts `cmd` and its producer thread. Its chunks arrive on `rx`; dropping `rx` stops the
/// producer, which then kills the command.
pub fn spawn_command(
    cmd: &CommandConfig,
    encoding: &Encoding,
    progress: Arc<Progress>,
) -> Result<CommandStream, CommandError> {
    let run_as = check_user(cmd)?;
    let argv = cmd.run.join(" ");
    let mut c = Command::new(&cmd.run[0]);
    c.args(&cmd.run[1..]);
    child::configure(&mut c, run_as.as_ref());
    c.envs(&cmd.env).stdout(Stdio::piped());
    if let Some(dir) = &cmd.cwd {
        c.current_dir(dir);
    }
    let started = Running::start(c, cmd.timeout, false);
    let mut running = started.map_err(|e| CommandError::Start {
        name: cmd.name.clone(),
        argv: argv.clone(),
        why: e.to_string(),
    })?;
    let stdout = running.child.stdout.take();
    let guard = AbortOnDrop(running.control.clone());
    let (tx, rx) = mpsc::channel(encoding.queue);
    let name = cmd.name.clone();
    let encoding = encoding.clone();
    tracing::info!(command = %name, "started {argv}");
    let spawned = std::thread::Builder::new()
        .name(format!("cmd-{name}"))
        .spawn(move || {
            let pumped = match stdout {
                Some(out) => pump(out, tx, &encoding, progress),
                None => Err(io::Error::other("stdout was not captured")),
            };
            if pumped.is_err() {
                running.control.abort();
            }
            let finished = running.wait().map_err(|error| CommandError::Io {
                name: name.clone(),
                error,
            })?;
            judge(&name, &argv, pumped, finished)
        });
    let handle = match spawned {
        Ok(h) => h,
        Err(e) => {
            let name = cmd.name.clone();
            std::thread::spawn(move || Err(CommandError::Io { name, error: e }))
        }
    };
    Ok(CommandStream { rx, handle, guard })
}

/// Copies stdout through zstd into the chunk sink until EOF.
fn pump(
    mut out: impl Read,
    tx: mpsc::Sender<Vec<u8>>,
    encoding: &Encoding,
    progress: Arc<Progress>,
) -> io::Result<StreamDigest> {
    let sink = sink::ChunkSink::new(tx, progress.clone());
    let enc = sink::encoder(sink, encoding)?;
    let mut counting = Counting::new(enc, progress);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match out.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        counting.write_all(&buf[..n])?;
    }
    let raw = counting.count;
    sink::finish(counting.inner, raw)
}

/// A clean exit 0 with all output handed on is the only success.
fn judge(
    name: &str,
    argv: &str,
    pumped: io::Result<StreamDigest>,
    finished: Finished,
) -> Result<CommandOutcome, CommandError> {
    let stderr = finished.stderr.text();
    if !finished.success() {
        tracing::warn!(command = %name, "{argv} {}; stderr:\n{stderr}", finished.describe());
        return Err(CommandError::Failed {
            name: name.to_string(),
            argv: argv.to_string(),
            how: finished.describe(),
            stderr: finished.stderr.last_lines(20),
        });
    }
    if !stderr.is_empty() {
        tracing::info!(command = %name, "stderr of {argv}:\n{stderr}");
    }
    let digest = pumped.map_err(|error| CommandError::Io {
        name: name.to_string(),
        error,
    })?;
    tracing::info!(
        command = %name,
        "{argv} finished in {:.1}s: {} bytes of output",
        finished.duration.as_secs_f64(),
        digest.raw_size
    );
    Ok(CommandOutcome {
        digest,
        exit_status: finished.code(),
        duration: finished.duration,
    })
}
