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
mod report;
mod run;
pub mod snapshots;
mod streams;
pub mod verify;

pub use error::JobError;
pub use observed::run_observed;
pub use report::{Outcome, RunReport, human_bytes as report_bytes};
pub use run::{RunOptions, run};
