//! What unpacking an archive gives: the report of the whole run, and why one entry was not
//! restored (refused by rule, or failed here).

use std::io;

/// What the unpacker did; `error` is set when it had to stop early.
#[derive(Debug, Default)]
pub struct UnpackReport {
    /// Entries restored.
    pub entries: u64,
    /// Entries the selection matched (restored, refused or failed).
    pub matched: u64,
    /// Entries refused as unsafe: nothing was written for them.
    pub refused: Vec<String>,
    /// Entries that could not be written here (name, error).
    pub failed: Vec<String>,
    pub warnings: Vec<String>,
    pub error: Option<String>,
}

/// Why one entry was not restored.
pub enum Skip {
    /// Unsafe: refused by rule.
    Refused(String),
    /// Could not be written here.
    Failed(io::Error),
}

impl From<io::Error> for Skip {
    fn from(e: io::Error) -> Self {
        Skip::Failed(e)
    }
}
