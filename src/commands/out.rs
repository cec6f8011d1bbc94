//! Writing command output to stdout: a reader that goes away (`backup list | head -1`) ends the
//! command quietly, as `cat` ends, instead of a panic from `println!`.

use std::io::{self, Write};

use super::CliError;

pub fn print_line(text: &str) -> Result<(), CliError> {
    let mut out = io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(CliError::Silent(0)),
        Err(e) => Err(CliError::Failed(format!("cannot write to stdout: {e}"))),
    }
}
