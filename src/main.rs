//! `backup`: parse the command line, dispatch, print the error once, exit with its code.

use clap::Parser;

fn main() {
    let cli = match backup_agent::cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    backup_agent::logging::init(cli.log_format, cli.verbose, cli.quiet);
    let json = cli.log_format == backup_agent::cli::LogFormat::Json;
    let code = match backup_agent::commands::dispatch(cli) {
        Ok(code) => code,
        Err(backup_agent::commands::CliError::Silent(code)) => code,
        Err(e) if json => {
            // Log collectors expect every stderr line to be one JSON object.
            tracing::error!(
                exit_code = e.exit_code(),
                hint = e.hint().unwrap_or(""),
                "{e}"
            );
            e.exit_code()
        }
        Err(e) => {
            use backup_agent::commands::eprint_line;
            let p = backup_agent::logging::line_prefix(tracing::Level::ERROR);
            eprint_line(&format!("{p}error: {e}"));
            if let Some(h) = e.hint() {
                eprint_line(&format!("{p}hint: {h}"));
            }
            e.exit_code()
        }
    };
    std::process::exit(code);
}
