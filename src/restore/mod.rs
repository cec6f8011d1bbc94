//! Getting data back: `backup restore` streams a snapshot's archive from the server, hashes it
//! as it arrives, decompresses and unpacks it safely into a target directory; `backup cat`
//! streams one stored file, decompressed, to stdout. Nothing is buffered beyond a few chunks,
//! and the checksum verdict always comes from every byte of the stored file.

mod cat;
mod decrypts;
mod extended;
mod fetch;
pub mod keys;
mod members;
mod meta;
mod names;
mod outcome;
mod outputs;
mod read_ahead;
mod read_side;
mod run;
mod sparse;
mod special;
mod target;
pub mod unpack;
mod xattrs;

use thiserror::Error;

pub use cat::{CatOptions, cat};
pub use decrypts::Decrypting;
pub use fetch::{Fetched, HashingReader, fetch};
pub use run::{RestoreOptions, restore};

#[derive(Debug, Error)]
pub enum RestoreError {
    /// The request cannot be carried out as asked (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The restore ran and failed (exit 1).
    #[error("{0}")]
    Failed(String),
    /// What was downloaded is not what was backed up: the output must not be trusted (exit 1).
    #[error("{message}")]
    Untrusted { message: String, hint: String },
    /// No identity, or one that cannot decrypt the snapshot (exit 2).
    #[error("{message}")]
    Key { message: String, hint: String },
    #[error(transparent)]
    Remote(#[from] crate::remote::RemoteError),
    #[error(transparent)]
    Repository(#[from] crate::repository::RepoError),
}

impl RestoreError {
    pub fn hint(&self) -> Option<String> {
        match self {
            RestoreError::Untrusted { hint, .. } | RestoreError::Key { hint, .. } => {
                Some(hint.clone())
            }
            RestoreError::Remote(e) => e.hint(),
            RestoreError::Repository(e) => e.hint(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
