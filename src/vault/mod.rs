//! `backup vault` on the backup server (issue 14, in progress): the party that seals, checks
//! and rotates append-only histories by times the client cannot forge. So far: its config
//! (`vault.toml`) and the pure rules that judge a snapshot's id and mark floods; the pass
//! itself (discovery, sealing, checks, retention, state, metrics) and the commands are not
//! built yet.

pub mod config;
pub mod judge;
