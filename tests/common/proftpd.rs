//! A throwaway ProFTPD `mod_sftp` server on 127.0.0.1 for integration tests: a second SFTP
//! implementation besides OpenSSH, SFTP-only (no exec or shell channel) by nature.
//!
//! Like [`super::Sshd`] (and deref'ing to the same [`SshServer`]): one temp dir with fresh host
//! keys (ed25519, ecdsa, rsa, in OpenSSH's private key format, which mod_sftp reads since
//! 1.3.7), a client ed25519 key, `proftpd.conf`, `known_hosts` in `[127.0.0.1]:PORT` form,
//! `proftpd.log` (the server's stderr in `--nodaemon` mode plus the `SFTPLog`) and `remote/`,
//! the backup base path. The config:
//! - the one listener is the SFTP port on 127.0.0.1 (`SFTPEngine on` in the main server,
//!   `SocketBindTight`): there is no FTP listener at all;
//! - public-key auth only, for the current user only: `SFTPAuthorizedUserKeys` points at
//!   `authorized_keys/%u`, holding the client key in RFC 4716 form (`ssh-keygen -e`);
//! - sessions run as the current user (`User`/`Group` are the current user's, and
//!   `RootLogin on` when that is root, as in CI); no chroot (`DefaultRoot` unset), so the
//!   client sees `remote/` at its real absolute path, as with sshd; the session starts in
//!   `remote/` (`DefaultChdir`: a user's home may not exist);
//! - `AllowOverwrite on` (ProFTPD refuses to overwrite files by default), no PAM, no
//!   `/etc/ftpusers`, no shell check, no wtmp, no delay table, no controls socket; PidFile,
//!   ScoreboardFile and TransferLog in the temp dir.
//!
//! One system-wide trace remains: at start-up this build of proftpd binds and at once unlinks
//! a socket `/run/test.sock` (a compiled-in probe; harmless, also for parallel starts).

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::HostKeyType;
use super::server::{SshServer, find_exe, id_name, or_skip};
use super::server_files::ssh_keygen;

/// A running ProFTPD; see the module docs. Dropping it kills the server and its sessions.
pub struct Proftpd {
    server: SshServer,
}

super::server::deref_to_server!(Proftpd);

impl Proftpd {
    /// Start the server. `None` (after an `eprintln!`) if it cannot run here; panics instead
    /// when `BACKUP_TEST_REQUIRE_SSHD=1`.
    pub fn start() -> Option<Proftpd> {
        Self::start_with("")
    }

    /// Like [`Self::start`], with `extra_config` lines appended verbatim to `proftpd.conf`
    /// (e.g. `SFTPExtensions -posixRename`).
    pub fn start_with(extra_config: &str) -> Option<Proftpd> {
        or_skip("proftpd", Self::try_start(extra_config))
    }

    fn try_start(extra_config: &str) -> Result<Proftpd, String> {
        let exe = find_exe(
            "BACKUP_TEST_PROFTPD",
            &["/usr/sbin/proftpd", "/usr/local/sbin/proftpd"],
        )
        .ok_or("no proftpd binary (set BACKUP_TEST_PROFTPD or install proftpd-core)")?;
        let modules = mod_sftp_dir(&exe)?;
        let mut server = SshServer::create("proftpd", exe, &HostKeyType::ALL)?;
        let keys = server.dir().join("authorized_keys");
        fs::create_dir(&keys).map_err(|e| e.to_string())?;
        let rfc4716 = rfc4716(&server.client_key().with_extension("pub"))?;
        fs::write(keys.join(server.user()), rfc4716).map_err(|e| e.to_string())?;
        let group = id_name("-gn")?;
        let args = vec![
            "--nodaemon".into(),
            "-c".into(),
            server.config_path().into(),
        ];
        server.start_on_free_port(args, |s| {
            let text = proftpd_conf(s, modules.as_deref(), &group, extra_config);
            fs::write(s.config_path(), text).map_err(|e| e.to_string())
        })?;
        Ok(Proftpd { server })
    }

    /// The server's transfer log (one line per file read or written).
    pub fn transfer_log(&self) -> String {
        fs::read_to_string(self.dir().join("xferlog")).unwrap_or_default()
    }
}

/// Where `mod_sftp.so` is (`None` when it is compiled in); an error when neither.
fn mod_sftp_dir(exe: &Path) -> Result<Option<PathBuf>, String> {
    let builtin = Command::new(exe)
        .arg("-l")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{} -l: {e}", exe.display()))?;
    if String::from_utf8_lossy(&builtin.stdout).contains("mod_sftp.c") {
        return Ok(None);
    }
    let dirs = [
        "/usr/lib/proftpd",
        "/usr/libexec/proftpd",
        "/usr/local/libexec/proftpd",
    ];
    dirs.iter()
        .map(PathBuf::from)
        .find(|d| d.join("mod_sftp.so").exists())
        .map(Some)
        .ok_or_else(|| format!("no mod_sftp.so in {dirs:?} (install proftpd-mod-crypto)"))
}

/// An OpenSSH public key file in RFC 4716 form (`ssh-keygen -e`), as mod_sftp wants it.
fn rfc4716(public: &Path) -> Result<String, String> {
    let text = ssh_keygen(&["-e".into(), "-f".into(), public.into()])?;
    String::from_utf8(text).map_err(|e| e.to_string())
}

/// The `proftpd.conf` text for `s`; see the module docs for why each line is there.
fn proftpd_conf(s: &SshServer, modules: Option<&Path>, group: &str, extra: &str) -> String {
    let d = s.dir();
    let mut c = String::new();
    c.push_str("ServerName \"backup-agent test\"\nServerType standalone\n");
    if let Some(m) = modules {
        writeln!(c, "ModulePath {}\nLoadModule mod_sftp.c", m.display()).unwrap();
    }
    writeln!(
        c,
        "DefaultAddress 127.0.0.1\nSocketBindTight on\nUseIPv6 off"
    )
    .unwrap();
    writeln!(c, "Port {}", s.port()).unwrap();
    writeln!(
        c,
        "User {}\nGroup {group}\nRootLogin on\nUmask 022",
        s.user()
    )
    .unwrap();
    writeln!(c, "PidFile {}", d.join("proftpd.pid").display()).unwrap();
    writeln!(
        c,
        "ScoreboardFile {}",
        d.join("proftpd.scoreboard").display()
    )
    .unwrap();
    writeln!(c, "TransferLog {}", d.join("xferlog").display()).unwrap();
    c.push_str(
        "WtmpLog off\nDelayEngine off\nUseReverseDNS off\nUseFtpUsers off\n\
         RequireValidShell off\nAuthPAM off\nAuthOrder mod_auth_unix.c\nAllowOverwrite on\n\
         <IfModule mod_ctrls.c>\n  ControlsEngine off\n</IfModule>\n",
    );
    writeln!(c, "DefaultChdir {}", s.remote_dir().display()).unwrap();
    c.push_str("SFTPEngine on\nSFTPAuthMethods publickey\n");
    writeln!(c, "SFTPLog {}", s.log_path().display()).unwrap();
    for t in s.host_key_types() {
        writeln!(c, "SFTPHostKey {}", s.host_key_path(*t).display()).unwrap();
    }
    writeln!(
        c,
        "SFTPAuthorizedUserKeys file:{}/%u",
        d.join("authorized_keys").display()
    )
    .unwrap();
    c.push_str(extra);
    c.push('\n');
    c
}
