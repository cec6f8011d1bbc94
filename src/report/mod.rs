//! What happened, told to the operator: the state file (last results, last scheduled runs)
//! that `backup status` reads and the daemon's catch-up relies on.

pub mod state;

pub use state::{JobState, LastRun, State, Trigger};
