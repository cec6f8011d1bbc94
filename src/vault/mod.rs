//! `backup vault` on the backup server (DESIGN.md principle 7): the only party that seals,
//! checks and rotates append-only histories, by times the client cannot forge. A pass
//! (run.rs) finds the repositories under the roots (discover.rs) and, for each (pass.rs),
//! seals what was committed since the last pass (seal.rs, writers.rs), checks it through the
//! same repository code the agent uses, judges its id (judge.rs), marks floods, rotates by
//! retention and cleans leftovers (plan.rs); it remembers what it saw (state.rs) and writes
//! its metrics (metrics.rs). Everything on disk is reached through open directories (pin.rs).

pub mod config;
pub mod discover;
pub mod judge;
pub mod metrics;
pub mod pass;
pub mod pin;
pub mod plan;
pub mod run;
mod seal;
#[cfg(test)]
mod simulation;
pub mod state;
mod writers;
