//! The files in an [`SshServer`]'s temp dir that do not depend on which server it is: host
//! keys, `known_hosts` (also for proxy ports) and the product config TOML that points the
//! `backup` binary at the server.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::server::SshServer;

/// Host key algorithms the server can be given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostKeyType {
    Ed25519,
    Ecdsa,
    Rsa,
}

impl HostKeyType {
    pub const ALL: [HostKeyType; 3] = [Self::Ed25519, Self::Ecdsa, Self::Rsa];

    /// Short name used in file names and for `ssh-keygen -t`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ed25519 => "ed25519",
            Self::Ecdsa => "ecdsa",
            Self::Rsa => "rsa",
        }
    }

    pub(super) fn keygen_args(self) -> &'static [&'static str] {
        match self {
            Self::Ed25519 => &["-t", "ed25519"],
            Self::Ecdsa => &["-t", "ecdsa", "-b", "256"],
            Self::Rsa => &["-t", "rsa", "-b", "2048"],
        }
    }
}

impl SshServer {
    /// Private host key (OpenSSH format); its public half is the same path with `.pub`.
    pub fn host_key_path(&self, t: HostKeyType) -> PathBuf {
        self.dir().join(format!("ssh_host_{}_key", t.name()))
    }
    /// The host key types the server offers.
    pub fn host_key_types(&self) -> &[HostKeyType] {
        &self.host_keys
    }
    /// `known_hosts` line for one host key type, e.g. `[127.0.0.1]:2222 ssh-ed25519 AAAA…`.
    pub fn known_hosts_line(&self, t: HostKeyType) -> String {
        self.known_hosts_line_for_port(t, self.port)
    }
    /// Same key, listed for another port (a [`super::Proxy`] in front of this server).
    pub fn known_hosts_line_for_port(&self, t: HostKeyType, port: u16) -> String {
        let public =
            fs::read_to_string(self.host_key_path(t).with_extension("pub")).expect("host key");
        let mut fields = public.split_whitespace();
        let (algo, blob) = (fields.next().unwrap(), fields.next().unwrap());
        format!("[127.0.0.1]:{port} {algo} {blob}\n")
    }
    /// Also trust this server's keys as `[127.0.0.1]:port` (kept across `write_known_hosts`).
    pub fn trust_port(&self, port: u16) {
        let mut ports = self.alias_ports.lock().unwrap();
        if !ports.contains(&port) {
            ports.push(port);
        }
        drop(ports);
        self.write_known_hosts();
    }
    /// Rewrite `known_hosts` to trust the current host keys (all of them).
    pub fn write_known_hosts(&self) {
        self.write_known_hosts_for(&self.host_keys);
    }
    /// Rewrite `known_hosts` listing only the given host key types (for our port and every
    /// [`Self::trust_port`] port).
    pub fn write_known_hosts_for(&self, types: &[HostKeyType]) {
        let mut ports = vec![self.port];
        ports.extend(self.alias_ports.lock().unwrap().iter().copied());
        let mut text = String::new();
        for port in ports {
            text.extend(
                types
                    .iter()
                    .map(|t| self.known_hosts_line_for_port(*t, port)),
            );
        }
        fs::write(self.known_hosts(), text).expect("write known_hosts");
    }

    /// Product config with one remote `test` pointing here, then `extra_jobs` verbatim.
    pub fn write_config(&self, extra_jobs: &str) -> PathBuf {
        self.write_config_with("", extra_jobs)
    }

    /// Like [`Self::write_config`], with `remote_extra` lines added to `[remotes.test]`.
    pub fn write_config_with(&self, remote_extra: &str, extra_jobs: &str) -> PathBuf {
        self.write_config_port(self.port, remote_extra, extra_jobs)
    }

    /// Config whose remote connects to `port` (e.g. `proxy.port()`); that port is added to
    /// `known_hosts` via [`Self::trust_port`].
    pub fn write_config_port(&self, port: u16, remote_extra: &str, extra_jobs: &str) -> PathBuf {
        self.write_config_full(port, &self.remote_dir(), remote_extra, extra_jobs)
    }

    /// Config whose remote base path is `path` instead of `remote_dir()` (e.g. a small tmpfs).
    pub fn write_config_at(&self, path: &Path, extra_jobs: &str) -> PathBuf {
        self.write_config_full(self.port, path, "", extra_jobs)
    }

    /// The product config with the base path `path` and `remote_extra` lines in
    /// `[remotes.test]`, for a server on `port`.
    pub fn write_config_full(
        &self,
        port: u16,
        path: &Path,
        remote_extra: &str,
        extra_jobs: &str,
    ) -> PathBuf {
        if port != self.port {
            self.trust_port(port);
        }
        let q = |p: PathBuf| toml_str(&p.to_string_lossy());
        let mut text = String::new();
        writeln!(
            text,
            "[agent]\nstate_dir = {}\n",
            q(self.dir().join("state"))
        )
        .unwrap();
        writeln!(text, "[remotes.test]\nhost = \"127.0.0.1\"\nport = {port}").unwrap();
        writeln!(text, "user = {}", toml_str(self.user())).unwrap();
        writeln!(text, "identity_file = {}", q(self.client_key())).unwrap();
        writeln!(text, "known_hosts = {}", q(self.known_hosts())).unwrap();
        writeln!(text, "path = {}", q(path.to_path_buf())).unwrap();
        if !remote_extra.is_empty() {
            writeln!(text, "{}", remote_extra.trim_end()).unwrap();
        }
        writeln!(text, "\n{extra_jobs}").unwrap();
        let path = self.dir().join("config.toml");
        fs::write(&path, text).expect("write config.toml");
        path
    }

    /// A `[remotes.NAME]` table for this server with base path `path`, for a config that
    /// names several servers (the test writes the rest of it).
    pub fn remote_table(&self, name: &str, path: &Path) -> String {
        let q = |p: PathBuf| toml_str(&p.to_string_lossy());
        format!(
            "[remotes.{name}]\nhost = \"127.0.0.1\"\nport = {}\nuser = {}\nidentity_file = {}\nknown_hosts = {}\npath = {}\n",
            self.port,
            toml_str(self.user()),
            q(self.client_key()),
            q(self.known_hosts()),
            q(path.to_path_buf())
        )
    }

    pub(super) fn generate_host_keys(&self) -> Result<(), String> {
        for t in &self.host_keys {
            let path = self.host_key_path(*t);
            let _ = fs::remove_file(&path);
            let _ = fs::remove_file(path.with_extension("pub"));
            keygen(&path, t.keygen_args())?;
        }
        Ok(())
    }
}

/// A fresh key pair without passphrase at `path` (and `path.pub`), e.g. `type_args = ["-t",
/// "ed25519"]`.
pub(super) fn keygen(path: &Path, type_args: &[&str]) -> Result<(), String> {
    let mut args: Vec<OsString> = ["-q", "-N", "", "-C", "backup-agent-test"]
        .iter()
        .chain(type_args)
        .map(OsString::from)
        .collect();
    args.extend(["-f".into(), path.into()]);
    ssh_keygen(&args).map(drop)
}

/// Run `ssh-keygen ARGS...`: its stdout, or an error with its stderr.
pub(super) fn ssh_keygen(args: &[OsString]) -> Result<Vec<u8>, String> {
    let out = Command::new("ssh-keygen")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("ssh-keygen: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ssh-keygen {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(out.stdout)
}

/// TOML basic string literal.
pub fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => write!(out, "\\u{:04X}", c as u32).unwrap(),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
