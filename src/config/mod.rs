//! Configuration: the TOML model, drop-in merging from `jobs.d/`, and validation into a
//! resolved [`Config`] that the rest of the program trusts without checking again.

mod bandwidth;
mod destinations;
mod encryption;
mod error;
mod job;
mod load;
mod model;
mod remote;
mod resolved;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_destinations;
mod validate;
pub(crate) use validate::system_timezone;

pub use crate::duration::HumanDuration;
pub use error::ConfigError;
pub use load::{DEFAULT_CONFIG_PATH, load};
pub use model::{Compression, Hooks, Notify, RemoteType, VerifyMode, WriteOrder};
pub use resolved::{
    AgentConfig, CommandConfig, Config, Destination, EncryptionConfig, Exclude, HostKeyCheck,
    JobConfig, Place, RemoteConfig, SftpConfig, Source, Transport,
};
