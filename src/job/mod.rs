//! One run of a job, end to end: lock, connect, clean up after crashed runs, stream every
//! source into `.<id>.partial/`, verify what landed, write the checksums and the manifest
//! last, rename the directory to `<id>`, then apply retention.

pub mod check;
mod commit;
mod dry_run;
mod error;
mod hooks;
pub mod lock;
mod observed;
mod progress;
pub mod prune;
mod run;
pub mod snapshots;
mod streams;
pub mod verify;

pub use crate::outcome::{Outcome, RunReport, human_bytes as report_bytes};
pub use error::JobError;
pub use observed::run_observed;
// run.rs and dry_run.rs, rewritten on another branch, still import `super::report`; the alias
// keeps them untouched here. Drop it once they import `crate::outcome`.
use crate::outcome as report;
pub use run::{RunOptions, run};
