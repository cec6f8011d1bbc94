//! One run of a job, end to end: the local lock, hooks, connect, the history's lock and owner
//! check, stream every source into a new snapshot of the repository, check the dump guards,
//! verify what landed, commit it, then apply retention; and a verification of what is stored
//! (`verify`).

mod destination;
mod dry_run;
mod error;
mod fanout;
mod finish;
mod guards;
mod hooks;
pub mod lock;
mod lost_reply;
mod observed;
mod progress;
pub mod prune;
mod record;
mod run;
mod streams;
mod verdict;
pub mod verify;

pub use error::JobError;
pub use observed::run_observed;
pub use run::{RunOptions, run};
