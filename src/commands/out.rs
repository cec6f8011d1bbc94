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

/// `println!` that ends the command quietly when stdout is gone: `outln!("...", x)?`.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::commands::out::print_line(&format!($($arg)*))
    };
}
pub(crate) use outln;

/// `eprintln!` that cannot panic: a closed stderr leaves nobody to tell.
pub fn eprint_line(text: &str) {
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "{text}");
}
