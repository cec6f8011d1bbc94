//! backup-agent: scheduled, secure backups over SFTP.
//!
//! Data flows one way: `config` -> `snapshot` (producers) -> `remote` (upload) -> `job`
//! (verify, commit) -> `retention`. `layout` is the shared, pure description of what lives on
//! the server; `outcome` is what one run did, the leaf type job fills in and report, daemon and
//! commands read; `duration` is the one duration syntax of the config and the values it holds,
//! `size` the one for byte sizes and percentages;
//! `commands` holds one entry point per CLI command.

pub mod acl;
pub mod cli;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod duration;
pub mod encryption;
pub mod job;
pub mod layout;
pub mod logging;
pub mod outcome;
pub mod remote;
pub mod report;
pub mod repository;
pub mod restore;
pub mod retention;
pub mod schedule;
pub mod secret_file;
pub mod size;
pub mod snapshot;
pub mod vault;
