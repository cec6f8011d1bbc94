//! The remote layout, as pure data: snapshot ids, directory names, `SHA256SUMS` and
//! `manifest.json`. Everything that reads or writes the server agrees through this module.

pub mod id;
pub mod manifest;
pub mod names;
pub mod paths;
pub mod sums;

pub use id::SnapshotId;
pub use manifest::Manifest;
pub use names::{StoredFile, escape, valid_name};
pub use paths::{Entry, JobDir};

/// The tar stream's file name in a snapshot.
pub const SOURCES_FILE: &str = "files.tar.zst";
pub const SUMS_FILE: &str = "SHA256SUMS";
pub const MANIFEST_FILE: &str = "manifest.json";
/// In `<path>/<job>/`: which machine owns this history (JSON, see `repository::owner`).
pub const OWNER_FILE: &str = ".owner";
/// In `<path>/<job>/`: held while a run or prune changes the history (JSON).
pub const LOCK_FILE: &str = ".lock";

/// The stored file name of a command's output.
pub fn command_file(name: &str) -> String {
    format!("{name}.zst")
}
