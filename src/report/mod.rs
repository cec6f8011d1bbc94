//! What happened, told to the operator: the state file (last results, last scheduled runs)
//! that `backup status` reads and the daemon's catch-up relies on; Prometheus metrics rendered
//! from it; notifications (healthcheck pings, webhooks) about each run.

mod deliver;
pub mod metrics;
pub mod notify;
pub mod state;

pub use state::{JobState, LastRun, State, Trigger};
