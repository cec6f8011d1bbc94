//! Log setup: human text or one JSON object per line on stderr (stdout is for data such as
//! `backup cat` and `list --json`). Colour only for a person at a terminal; under systemd, when
//! stderr is the journal, plain text without our timestamp and with the syslog priority prefix
//! journald reads, so `journalctl -p warning` works.

use std::io::IsTerminal;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::sync::OnceLock;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::{FmtContext, format::Format};
use tracing_subscriber::registry::LookupSpan;

use crate::cli::LogFormat;

static JOURNAL: OnceLock<bool> = OnceLock::new();

pub fn init(format: LogFormat, verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        _ => "trace",
    };
    // Our own crate at the chosen level; libraries only warn unless asked for more.
    let default = if verbose >= 2 {
        level.to_string()
    } else {
        format!("warn,backup_agent={level}")
    };
    // ureq's trace output dumps raw requests, webhook tokens included: at most debug, where
    // it redacts them itself.
    let default = if verbose >= 2 {
        format!("{default},ureq=debug,ureq_proto=debug")
    } else {
        default
    };
    let filter = EnvFilter::try_from_env("BACKUP_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    // Colour only for a person at a terminal: a file, a pipe or journald gets plain text, and
    // NO_COLOR (no-color.org) turns it off there too.
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let journal = *JOURNAL.get_or_init(stderr_is_journal);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        // A closed stderr leaves nobody to tell; the subscriber's own report of a failed write
        // would panic (`eprintln!`).
        .log_internal_errors(false)
        .with_target(false);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text if journal => builder
            .event_format(Journal(format::format().without_time().with_target(false)))
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// What starts a line written straight to stderr (the final `error:` and `hint:` lines) at
/// `level`: the journal's priority prefix when stderr is the journal, else nothing.
pub fn line_prefix(level: Level) -> &'static str {
    if *JOURNAL.get_or_init(stderr_is_journal) {
        priority(level)
    } else {
        ""
    }
}

/// systemd sets `JOURNAL_STREAM=<device>:<inode>` for a service whose stdout or stderr is
/// the journal; it is inherited by children whose stderr may be something else, so it counts
/// only when it names our stderr (systemd.exec(5), "$JOURNAL_STREAM").
fn stderr_is_journal() -> bool {
    let Some(value) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = value.to_str().and_then(|v| v.split_once(':')) else {
        return false;
    };
    let meta = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .and_then(|f| f.metadata());
    meta.is_ok_and(|m| dev.parse() == Ok(m.dev()) && ino.parse() == Ok(m.ino()))
}

/// The syslog priority journald reads from the start of a line (sd-daemon(3)); it strips the
/// prefix and stores the rest as the message.
fn priority(level: Level) -> &'static str {
    match level {
        Level::ERROR => "<3>",
        Level::WARN => "<4>",
        Level::INFO => "<6>",
        Level::DEBUG | Level::TRACE => "<7>",
    }
}

/// The usual text line without the timestamp (journald records its own), after the priority.
struct Journal(Format<format::Full, ()>);

impl<S, N> FormatEvent<S, N> for Journal
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        writer.write_str(priority(*event.metadata().level()))?;
        self.0.format_event(ctx, writer, event)
    }
}
