//! Log setup: human text or one JSON object per line on stderr (stdout is for data such as
//! `backup cat` and `list --json`).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

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
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        // A closed stderr leaves nobody to tell; the subscriber's own report of a failed write
        // would panic (`eprintln!`).
        .log_internal_errors(false)
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
