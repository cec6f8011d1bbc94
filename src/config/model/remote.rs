//! A remote's table: `[remotes.NAME]`.

use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use crate::duration::HumanDuration;

/// What carries the bytes: an SFTP server, or a directory here (a disk, NFS, the server itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RemoteType {
    #[default]
    Sftp,
    Local,
}

/// Every SFTP key is optional, so validation can name (with file and line) those a `local`
/// remote must not have and those an `sftp` remote lacks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Remote {
    #[serde(rename = "type", default)]
    pub kind: RemoteType,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub identity_file: Option<Spanned<PathBuf>>,
    pub identity_passphrase_file: Option<Spanned<PathBuf>>,
    /// OpenSSH known_hosts file; required unless `host_key_fingerprint` pins the key.
    pub known_hosts: Option<Spanned<PathBuf>>,
    /// `SHA256:...` as printed by `ssh-keygen -lf` or `backup host-key`.
    pub host_key_fingerprint: Option<Spanned<String>>,
    /// Base directory; snapshots go to `<path>/<job>/`. May hold `{host}`.
    pub path: Spanned<String>,
    pub connect_timeout: Option<HumanDuration>,
    /// SFTP channels of the one connection an upload spreads its writes over (sshd's 2 MiB
    /// window per channel caps a long link); unset: 3 to 8, from the round-trip time.
    pub channels: Option<u32>,
    /// SFTP write requests in flight per channel.
    pub requests_in_flight: Option<u32>,
    /// Whether the server takes a file's writes at any offset; unset: detected at connect.
    pub write_order: Option<WriteOrder>,
    /// Bytes per second, or a timetable of them (sftp only).
    pub bandwidth: Option<Spanned<crate::config::bandwidth::Written>>,
    /// The agent never removes, renames or changes what it committed there; the server's
    /// `backup vault` seals and rotates (DESIGN.md principle 7).
    #[serde(default)]
    pub append_only: bool,
}

impl Remote {
    /// The SFTP-only keys that are set, for the error on a `local` remote.
    pub fn sftp_keys_set(&self) -> Vec<&'static str> {
        [
            ("host", self.host.is_some()),
            ("port", self.port.is_some()),
            ("user", self.user.is_some()),
            ("identity_file", self.identity_file.is_some()),
            (
                "identity_passphrase_file",
                self.identity_passphrase_file.is_some(),
            ),
            ("known_hosts", self.known_hosts.is_some()),
            ("host_key_fingerprint", self.host_key_fingerprint.is_some()),
            ("connect_timeout", self.connect_timeout.is_some()),
            ("channels", self.channels.is_some()),
            ("requests_in_flight", self.requests_in_flight.is_some()),
            ("write_order", self.write_order.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, set)| set.then_some(k))
        .collect()
    }
}

/// How one file's writes may reach an SFTP server: object-store gateways (rclone's VFS, AWS
/// Transfer Family) stream a file to storage and take writes only in offset order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WriteOrder {
    /// Spread over every channel, each write at its own offset, answered in any order.
    Any,
    /// One handle on one channel, sent strictly in offset order (still pipelined).
    Sequential,
}
