//! The server side: SSH connection with host key check and key authentication, SFTP operations
//! over one or more channels, pipelined transfers, and remote commands (`sha256sum`).

mod connect;
mod dirs;
mod download;
mod error;
mod exec;
mod identity;
pub mod known_hosts;
mod scan;
mod sftp;
mod upload;

pub use connect::Connection;
pub use error::RemoteError;
pub use scan::scan_host_keys;
pub use sftp::{DirEntry, Sftp};
