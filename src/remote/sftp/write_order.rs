//! Which order one file's writes take to a server. OpenSSH and ProFTPD write into a real file
//! at any offset, so a file can be spread over several channels; object-store gateways
//! (`rclone serve sftp` over its VFS, AWS Transfer Family, Azure Blob SFTP) stream the file
//! to storage and refuse a write that is not at the end (rclone: "Illegal seek"). Unknown
//! servers get offset order, which every server accepts: only throughput over a long link
//! is at stake, never the data.

use crate::config::WriteOrder;

/// The order used and why, for the `-v` log and `backup check --connect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub order: WriteOrder,
    pub why: String,
}

impl Decision {
    pub fn is_sequential(&self) -> bool {
        self.order == WriteOrder::Sequential
    }

    /// As written in the config: `any` or `sequential`.
    pub fn order_name(&self) -> &'static str {
        match self.order {
            WriteOrder::Any => "any",
            WriteOrder::Sequential => "sequential",
        }
    }
}

/// Servers told apart by the software part of their SSH version string.
const KNOWN: &[(&str, WriteOrder, &str)] = &[
    (
        "OpenSSH",
        WriteOrder::Any,
        "OpenSSH's sftp-server writes at any offset",
    ),
    (
        "mod_sftp",
        WriteOrder::Any,
        "ProFTPD's mod_sftp writes at any offset",
    ),
    (
        "ProFTPD",
        WriteOrder::Any,
        "ProFTPD's mod_sftp writes at any offset",
    ),
    (
        "rclone",
        WriteOrder::Sequential,
        "rclone serve sftp streams each file into its VFS in offset order",
    ),
    (
        "AWS_SFTP",
        WriteOrder::Sequential,
        "AWS Transfer Family streams each file to S3 in offset order",
    ),
    (
        "AzureSSH",
        WriteOrder::Sequential,
        "Azure Blob SFTP streams each file to a blob in offset order",
    ),
    (
        "Go",
        WriteOrder::Sequential,
        "a Go SFTP server (pkg/sftp), usually a gateway that takes writes in offset order",
    ),
];

/// `configured` wins; otherwise the server's version string (`SSH-2.0-OpenSSH_9.2p1 …`)
/// decides, then its SFTP extensions: `limits@openssh.com` is sent only by OpenSSH's
/// sftp-server, which also runs behind other SSH servers (Dropbear).
pub fn decide(
    configured: Option<WriteOrder>,
    server_version: &str,
    has_extension: impl Fn(&str) -> bool,
) -> Decision {
    if let Some(order) = configured {
        return Decision {
            order,
            why: "set by write_order in the config".into(),
        };
    }
    let software = software_of(server_version);
    let known = KNOWN
        .iter()
        .find(|(prefix, ..)| software.starts_with(prefix));
    if let Some((_, order, why)) = known {
        return Decision {
            order: *order,
            why: format!("{why} (server {software})"),
        };
    }
    if has_extension("limits@openssh.com") {
        return Decision {
            order: WriteOrder::Any,
            why: format!("server {software} runs OpenSSH's sftp-server (limits@openssh.com)"),
        };
    }
    Decision {
        order: WriteOrder::Sequential,
        why: format!(
            "server {software:?} is not one known to write at any offset; set write_order = \"any\" if it does, for more speed over long links"
        ),
    }
}

/// `OpenSSH_9.2p1` from `SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3`.
fn software_of(server_version: &str) -> &str {
    let rest = server_version
        .strip_prefix("SSH-2.0-")
        .or_else(|| server_version.strip_prefix("SSH-1.99-"))
        .unwrap_or(server_version);
    rest.split_whitespace().next().unwrap_or("")
}

/// The hint for a write that failed while a file's writes were out of order: the server may be
/// one that takes them only in order (the failed run committed nothing).
pub fn out_of_order_hint(remote: &str) -> String {
    format!(
        "if this server accepts a file's writes only in offset order (an object-store gateway), set write_order = \"sequential\" under [remotes.{remote}] and run the job again"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect(version: &str, extensions: &[&str]) -> WriteOrder {
        decide(None, version, |e| extensions.contains(&e)).order
    }

    #[test]
    fn known_servers_get_the_order_they_accept() {
        use WriteOrder::{Any, Sequential};
        assert_eq!(detect("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3", &[]), Any);
        assert_eq!(detect("SSH-2.0-mod_sftp/1.0.0", &[]), Any);
        assert_eq!(detect("SSH-2.0-rclone/v1.60.1-DEV", &[]), Sequential);
        assert_eq!(detect("SSH-2.0-AWS_SFTP_1.1", &[]), Sequential);
        assert_eq!(detect("SSH-2.0-AzureSSH_1.0.0", &[]), Sequential);
        assert_eq!(
            detect("SSH-2.0-Go", &["posix-rename@openssh.com"]),
            Sequential
        );
    }

    #[test]
    fn unknown_servers_write_in_order_unless_they_run_sftp_server() {
        assert_eq!(
            detect("SSH-2.0-dropbear_2022.83", &[]),
            WriteOrder::Sequential
        );
        let d = detect("SSH-2.0-dropbear_2022.83", &["limits@openssh.com"]);
        assert_eq!(d, WriteOrder::Any);
        let why = decide(None, "SSH-2.0-Foo", |_| false).why;
        assert!(why.contains("write_order = \"any\""), "{why}");
    }

    #[test]
    fn the_config_wins_over_detection() {
        let d = decide(Some(WriteOrder::Sequential), "SSH-2.0-OpenSSH_9.2", |_| {
            true
        });
        assert_eq!(d.order, WriteOrder::Sequential);
        assert!(d.why.contains("config"), "{}", d.why);
        let d = decide(Some(WriteOrder::Any), "SSH-2.0-rclone/v1", |_| false);
        assert_eq!(d.order, WriteOrder::Any);
    }
}
