//! What every throwaway SSH server of the harness ([`super::Sshd`], [`super::Proftpd`]) shares:
//! its temp dir with the client key and `remote/`, its port, and its process (started in the
//! foreground, killed with every session it forked). The files in that dir (host keys,
//! `known_hosts`, the product config) are in server_files.rs. `Sshd` and `Proftpd` deref to
//! [`SshServer`], so tests call these methods on either alike.

use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::server_files::keygen;
use super::{HostKeyType, free_port, kill_tree, require_sshd, signal_tree};

/// A server process and its temp dir; see the module docs.
pub struct SshServer {
    /// "sshd" or "proftpd", for messages.
    name: &'static str,
    dir: TempDir,
    pub(super) port: u16,
    user: String,
    pub(super) host_keys: Vec<HostKeyType>,
    /// Extra ports (proxies) whose `[127.0.0.1]:PORT` entries `known_hosts` also carries.
    pub(super) alias_ports: Mutex<Vec<u16>>,
    /// The server binary and its arguments for a foreground run.
    exe: PathBuf,
    args: Vec<OsString>,
    child: Option<Child>,
}

/// `impl Deref<Target = SshServer>` and `DerefMut` for a type whose field `server` is one.
macro_rules! deref_to_server {
    ($t:ty) => {
        impl std::ops::Deref for $t {
            type Target = $crate::common::server::SshServer;
            fn deref(&self) -> &Self::Target {
                &self.server
            }
        }
        impl std::ops::DerefMut for $t {
            fn deref_mut(&mut self) -> &mut Self::Target {
                &mut self.server
            }
        }
    };
}
pub(super) use deref_to_server;

/// `Some(server)`, or `None` after an `eprintln!` when it cannot run here; panics instead when
/// `BACKUP_TEST_REQUIRE_SSHD=1`.
pub(super) fn or_skip<T>(name: &str, started: Result<T, String>) -> Option<T> {
    match started {
        Ok(server) => Some(server),
        Err(why) if require_sshd() => {
            panic!("BACKUP_TEST_REQUIRE_SSHD=1 but {name} did not start: {why}")
        }
        Err(why) => {
            eprintln!("skipping: {name} unavailable: {why}");
            None
        }
    }
}

impl SshServer {
    /// A fresh temp dir `<name>-XXXX` with `remote/` and a client ed25519 key pair; fresh host
    /// keys of `host_keys`. Nothing runs yet: see [`Self::start_on_free_port`].
    pub(super) fn create(
        name: &'static str,
        exe: PathBuf,
        host_keys: &[HostKeyType],
    ) -> Result<Self, String> {
        if host_keys.is_empty() {
            return Err("no host key types requested".into());
        }
        let dir = tempfile::Builder::new()
            .prefix(&format!("{name}-"))
            .tempdir()
            .map_err(|e| e.to_string())?;
        fs::create_dir(dir.path().join("remote")).map_err(|e| e.to_string())?;
        let server = SshServer {
            name,
            dir,
            port: 0,
            user: id_name("-un")?,
            host_keys: host_keys.to_vec(),
            alias_ports: Mutex::new(Vec::new()),
            exe,
            args: Vec::new(),
            child: None,
        };
        keygen(&server.client_key(), &["-t", "ed25519"])?;
        fs::set_permissions(server.client_key(), fs::Permissions::from_mode(0o600))
            .map_err(|e| e.to_string())?;
        server.generate_host_keys()?;
        Ok(server)
    }

    /// Pick a free port, write the server's config for it (`write_config`) and `known_hosts`,
    /// and start `exe args...`; retried on a lost race for the port.
    pub(super) fn start_on_free_port(
        &mut self,
        args: Vec<OsString>,
        write_config: impl Fn(&SshServer) -> Result<(), String>,
    ) -> Result<(), String> {
        self.start_on_free_port_args(|_| args.clone(), write_config)
    }

    /// [`Self::start_on_free_port`] for a server that takes its port on the command line:
    /// `args` are made for each port tried.
    pub(super) fn start_on_free_port_args(
        &mut self,
        args: impl Fn(&SshServer) -> Vec<OsString>,
        write_config: impl Fn(&SshServer) -> Result<(), String>,
    ) -> Result<(), String> {
        let mut last = String::new();
        // The free port is only reserved until we drop the probe socket: retry on a lost race.
        for _ in 0..3 {
            self.port = free_port();
            self.args = args(self);
            write_config(self)?;
            self.write_known_hosts();
            match self.spawn() {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    pub fn port(&self) -> u16 {
        self.port
    }
    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }
    pub fn user(&self) -> &str {
        &self.user
    }
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
    /// The server binary.
    pub fn exe(&self) -> &Path {
        &self.exe
    }
    /// Private client key (mode 0600); the server accepts its `.pub`.
    pub fn client_key(&self) -> PathBuf {
        self.dir().join("client_ed25519")
    }
    pub fn known_hosts(&self) -> PathBuf {
        self.dir().join("known_hosts")
    }
    /// Backup base path on the "server" (same machine); clients see it at this same path.
    pub fn remote_dir(&self) -> PathBuf {
        self.dir().join("remote")
    }
    /// The server's own config file (`sshd_config`, `proftpd.conf`).
    pub fn config_path(&self) -> PathBuf {
        self.dir().join(format!("{}.conf", self.name))
    }
    pub fn log_path(&self) -> PathBuf {
        self.dir().join(format!("{}.log", self.name))
    }
    /// The server log (all runs, appended).
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }
    /// Run `sh -c cmd` locally with `remote_dir()` as working directory.
    pub fn remote_run(&self, cmd: &str) -> Output {
        Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .current_dir(self.remote_dir())
            .output()
            .expect("spawn sh")
    }

    /// Is the server process (still) running?
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// PID of the listening server, if running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Stop the listener and every session it forked (SIGTERM, then SIGKILL), and reap it.
    pub fn stop(&mut self) {
        self.kill_with(libc::SIGTERM);
    }

    /// SIGKILL the listener and all sessions at once: the server "crashes" mid-transfer.
    pub fn kill_now(&mut self) {
        self.kill_with(libc::SIGKILL);
    }

    /// Stop (if running) and start again with the same port, keys and config.
    pub fn restart(&mut self) {
        self.stop();
        if let Err(e) = self.spawn() {
            panic!("{} restart failed: {e}", self.name);
        }
    }

    /// Replace the host keys (a "reinstalled server") and restart; `known_hosts` is left
    /// untouched, so it no longer matches. Call [`Self::write_known_hosts`] to trust again.
    pub fn rekey(&mut self) {
        self.stop();
        self.generate_host_keys().expect("regenerate host keys");
        if let Err(e) = self.spawn() {
            panic!("{} restart after rekey failed: {e}", self.name);
        }
    }

    fn kill_with(&mut self, sig: i32) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // Sessions may call setsid(), so a process-group kill would miss them: walk /proc.
        let tree = kill_tree(child.id(), sig);
        if sig != libc::SIGKILL {
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            signal_tree(&tree, libc::SIGKILL);
        }
        let _ = child.wait();
    }

    /// Start `exe args...` with stdout and stderr appended to the log; ready once the port
    /// answers with an SSH banner.
    fn spawn(&mut self) -> Result<(), String> {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path());
        let log = log.map_err(|e| e.to_string())?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(&self.exe)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", self.exe.display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                return Err(format!(
                    "{} exited with {status}\n--- {} log ---\n{}",
                    self.name,
                    self.name,
                    self.log()
                ));
            }
            if banner_ok(self.addr()) {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.kill_now();
                return Err(format!(
                    "{} not ready after 10 s\n--- {} log ---\n{}",
                    self.name,
                    self.name,
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for SshServer {
    fn drop(&mut self) {
        self.kill_now();
    }
}

/// The first of `candidates` that exists, unless the environment variable `env` names one.
pub(super) fn find_exe(env: &str, candidates: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Some(p.into());
    }
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}

/// Connects and reads the `SSH-2.0-` banner (proves it is an SSH server, not just a port).
fn banner_ok(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = [0u8; 8];
    s.read_exact(&mut buf).is_ok() && &buf == b"SSH-2.0-"
}

/// `id -un` (or `id -gn` with `flag = "-gn"`).
pub(super) fn id_name(flag: &str) -> Result<String, String> {
    let out = Command::new("id")
        .arg(flag)
        .output()
        .map_err(|e| format!("id {flag}: {e}"))?;
    let name = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if name.is_empty() {
        Err(format!("id {flag} printed nothing"))
    } else {
        Ok(name)
    }
}
