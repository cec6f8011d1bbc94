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
    let code = match backup_agent::commands::dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
