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

/// The tar stream's file name in a snapshot (with [`AGE_SUFFIX`] when encrypted).
pub const SOURCES_FILE: &str = "files.tar.zst";
/// Appended to the name of a stored file encrypted with age.
pub const AGE_SUFFIX: &str = ".age";
/// An encrypted snapshot's private metadata.
pub const DETAILS_FILE: &str = "details.json.age";
pub const SUMS_FILE: &str = "SHA256SUMS";
pub const MANIFEST_FILE: &str = "manifest.json";
/// In `<path>/<job>/`: which machine owns this history (JSON, see `repository::owner`).
pub const OWNER_FILE: &str = ".owner";
/// In `<path>/<job>/`: held while a run or prune changes the history (JSON).
pub const LOCK_FILE: &str = ".lock";

/// The stored file name of the sources' archive.
pub fn sources_file(encrypted: bool) -> String {
    StoredFile::Sources { encrypted }.file_name()
}

/// The stored file name of a command's output.
pub fn command_file(name: &str, encrypted: bool) -> String {
    StoredFile::Command {
        name: name.to_string(),
        encrypted,
    }
    .file_name()
}
