//! backup-agent: scheduled, secure backups over SFTP.
//!
//! Data flows one way: `config` -> `snapshot` (producers) -> `remote` (upload) -> `job`
//! (verify, commit) -> `retention`. `layout` is the shared, pure description of what lives on
//! the server; `commands` holds one entry point per CLI command.

pub mod cli;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod duration;
pub mod job;
pub mod layout;
pub mod logging;
pub mod outcome;
pub mod remote;
pub mod report;
pub mod restore;
pub mod retention;
pub mod schedule;
pub mod snapshot;
