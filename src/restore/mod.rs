//! Getting data back: `backup restore` streams a snapshot's archive from the server, hashes it
//! as it arrives, decompresses and unpacks it safely into a target directory; `backup cat`
//! streams one stored file, decompressed, to stdout. Nothing is buffered beyond a few chunks,
//! and the checksum verdict always comes from every byte of the stored file.

mod cat;
mod fetch;
mod meta;
mod run;
pub mod unpack;

use thiserror::Error;

pub use cat::{CatOptions, cat};
pub use fetch::{Fetched, HashingReader, fetch};
pub use run::{RestoreOptions, restore};

#[derive(Debug, Error)]
pub enum RestoreError {
    /// The request cannot be carried out as asked (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The restore ran and failed, or its result must not be trusted (exit 1).
    #[error("{0}")]
    Failed(String),
}

impl From<crate::remote::RemoteError> for RestoreError {
    fn from(e: crate::remote::RemoteError) -> Self {
        RestoreError::Failed(e.to_string())
    }
}

impl From<crate::job::JobError> for RestoreError {
    fn from(e: crate::job::JobError) -> Self {
        match e {
            crate::job::JobError::Snapshot(m) => RestoreError::Usage(m),
            e => RestoreError::Failed(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests;
