//! A throwaway OpenSSH `sshd` on 127.0.0.1 for integration tests.
//!
//! Everything lives in one temporary directory: fresh host keys (ed25519, ecdsa, rsa), a
//! client ed25519 key pair, `authorized_keys`, `sshd.conf`, `known_hosts` (in
//! `[127.0.0.1]:PORT` form), the sshd log and `remote/`, the backup base path. The server is
//! killed (with every session process it forked) on drop. Everything but the sshd config is
//! the shared [`SshServer`] (server.rs, server_files.rs), which `Sshd` derefs to.

use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use super::HostKeyType;
use super::server::{SshServer, find_exe, or_skip};

/// Options for [`Sshd`]; start with [`Sshd::builder`].
#[derive(Clone, Debug)]
pub struct SshdBuilder {
    sftp_only: bool,
    host_keys: Vec<HostKeyType>,
    extra_config: String,
}

impl SshdBuilder {
    /// `ForceCommand internal-sftp`: exec/shell channels fail ("This service allows sftp
    /// connections only.", exit status 1), like an SFTP-only hosting account.
    pub fn sftp_only(mut self, on: bool) -> Self {
        self.sftp_only = on;
        self
    }

    /// Which host keys the server offers (default: all three). `known_hosts` lists the same.
    pub fn host_keys(mut self, types: &[HostKeyType]) -> Self {
        self.host_keys = types.to_vec();
        self
    }

    /// Extra `sshd_config` lines, appended verbatim (before any `Match` the harness writes).
    pub fn extra_config(mut self, lines: &str) -> Self {
        self.extra_config.push_str(lines);
        self.extra_config.push('\n');
        self
    }

    /// Start the server. `None` (after an `eprintln!`) if it cannot run here; panics instead
    /// when `BACKUP_TEST_REQUIRE_SSHD=1`.
    pub fn start(self) -> Option<Sshd> {
        or_skip("sshd", self.try_start())
    }

    fn try_start(self) -> Result<Sshd, String> {
        let exe = find_exe(
            "BACKUP_TEST_SSHD",
            &["/usr/sbin/sshd", "/usr/local/sbin/sshd", "/sbin/sshd"],
        )
        .ok_or("no sshd binary (set BACKUP_TEST_SSHD or install openssh-server)")?;
        let mut server = SshServer::create("sshd", exe, &self.host_keys)?;
        let client_pub = fs::read_to_string(server.client_key().with_extension("pub"))
            .map_err(|e| e.to_string())?;
        fs::write(server.dir().join("authorized_keys"), client_pub).map_err(|e| e.to_string())?;
        if unsafe { libc::geteuid() } == 0 && !Path::new("/run/sshd").is_dir() {
            // Privilege-separation chroot directory; normally made by systemd's RuntimeDirectory.
            fs::create_dir_all("/run/sshd").map_err(|e| format!("mkdir /run/sshd: {e}"))?;
            fs::set_permissions("/run/sshd", fs::Permissions::from_mode(0o755)).ok();
        }
        let args = vec![
            "-D".into(),
            "-e".into(),
            "-f".into(),
            server.config_path().into(),
        ];
        server.start_on_free_port(args, |s| {
            fs::write(s.config_path(), sshd_config(s, &self)).map_err(|e| e.to_string())
        })?;
        Ok(Sshd { server })
    }
}

/// A running sshd; see the module docs. Dropping it kills the server and its sessions.
pub struct Sshd {
    server: SshServer,
}

super::server::deref_to_server!(Sshd);

impl Sshd {
    pub fn builder() -> SshdBuilder {
        SshdBuilder {
            sftp_only: false,
            host_keys: HostKeyType::ALL.to_vec(),
            extra_config: String::new(),
        }
    }

    /// Default server (all host key types, shell access allowed).
    pub fn start() -> Option<Sshd> {
        Self::builder().start()
    }
}

/// The `sshd_config` text for `s` as `b` asks.
fn sshd_config(s: &SshServer, b: &SshdBuilder) -> String {
    let d = s.dir();
    let mut c = String::new();
    writeln!(c, "ListenAddress 127.0.0.1\nPort {}", s.port()).unwrap();
    for t in s.host_key_types() {
        writeln!(c, "HostKey {}", s.host_key_path(*t).display()).unwrap();
    }
    writeln!(c, "PidFile {}", d.join("sshd.pid").display()).unwrap();
    writeln!(
        c,
        "AuthorizedKeysFile {}",
        d.join("authorized_keys").display()
    )
    .unwrap();
    c.push_str(
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
         PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nMaxSessions 20\n\
         Subsystem sftp internal-sftp\nLogLevel VERBOSE\n",
    );
    if sshd_version(s.exe()) >= (9, 8) {
        // Newer sshd blocks sources that often disconnect before auth (fault-injection tests).
        c.push_str("PerSourcePenalties no\n");
    }
    if b.sftp_only {
        c.push_str("ForceCommand internal-sftp\n");
    }
    c.push_str(&b.extra_config);
    c
}

/// `(major, minor)` from `sshd -V` ("OpenSSH_9.2p1 …"); `(0, 0)` if unknown.
fn sshd_version(exe: &Path) -> (u32, u32) {
    let Ok(out) = Command::new(exe).arg("-V").output() else {
        return (0, 0);
    };
    let text = String::from_utf8_lossy(&out.stderr);
    let Some(rest) = text.split("OpenSSH_").nth(1) else {
        return (0, 0);
    };
    let digits = |s: &str| {
        s.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap_or(0)
    };
    let mut parts = rest.splitn(2, '.');
    (
        digits(parts.next().unwrap_or("")),
        digits(parts.next().unwrap_or("")),
    )
}
