//! A throwaway OpenSSH `sshd` on 127.0.0.1 for integration tests.
//!
//! Everything lives in one temporary directory: fresh host keys (ed25519, ecdsa, rsa), a
//! client ed25519 key pair, `authorized_keys`, `sshd_config`, `known_hosts` (in
//! `[127.0.0.1]:PORT` form), the sshd log and `remote/`, the backup base path. The server is
//! killed (with every session process it forked) on drop.

use std::fs;
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::sshd_files::keygen;
use super::{HostKeyType, free_port, kill_tree, require_sshd, signal_tree};

/// Options for [`Sshd`]; start with [`Sshd::builder`].
#[derive(Clone, Debug)]
pub struct SshdBuilder {
    pub(super) sftp_only: bool,
    pub(super) host_keys: Vec<HostKeyType>,
    pub(super) extra_config: String,
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
        match self.try_start() {
            Ok(sshd) => Some(sshd),
            Err(why) if require_sshd() => {
                panic!("BACKUP_TEST_REQUIRE_SSHD=1 but sshd did not start: {why}")
            }
            Err(why) => {
                eprintln!("skipping: sshd unavailable: {why}");
                None
            }
        }
    }

    fn try_start(self) -> Result<Sshd, String> {
        let exe =
            sshd_exe().ok_or("no sshd binary (set BACKUP_TEST_SSHD or install openssh-server)")?;
        if self.host_keys.is_empty() {
            return Err("no host key types requested".into());
        }
        let dir = tempfile::Builder::new()
            .prefix("sshd-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let user = current_user()?;
        fs::create_dir(dir.path().join("remote")).map_err(|e| e.to_string())?;
        let client_key = dir.path().join("client_ed25519");
        keygen(&client_key, &["-t", "ed25519"])?;
        fs::set_permissions(&client_key, fs::Permissions::from_mode(0o600))
            .map_err(|e| e.to_string())?;
        let client_pub =
            fs::read_to_string(client_key.with_extension("pub")).map_err(|e| e.to_string())?;
        fs::write(dir.path().join("authorized_keys"), client_pub).map_err(|e| e.to_string())?;
        if unsafe { libc::geteuid() } == 0 && !Path::new("/run/sshd").is_dir() {
            // Privilege-separation chroot directory; normally made by systemd's RuntimeDirectory.
            fs::create_dir_all("/run/sshd").map_err(|e| format!("mkdir /run/sshd: {e}"))?;
            fs::set_permissions("/run/sshd", fs::Permissions::from_mode(0o755)).ok();
        }
        let mut sshd = Sshd {
            dir,
            exe,
            port: 0,
            child: None,
            user,
            builder: self,
            alias_ports: Mutex::new(Vec::new()),
        };
        sshd.generate_host_keys()?;
        let mut last = String::new();
        // The free port is only reserved until we drop the probe socket: retry on a lost race.
        for _ in 0..3 {
            sshd.port = free_port();
            sshd.write_sshd_config()?;
            sshd.write_known_hosts();
            match sshd.spawn() {
                Ok(()) => return Ok(sshd),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

/// A running sshd; see the module docs. Dropping it kills the server and its sessions.
pub struct Sshd {
    pub(super) dir: TempDir,
    pub(super) exe: PathBuf,
    pub(super) port: u16,
    child: Option<Child>,
    user: String,
    pub(super) builder: SshdBuilder,
    /// Extra ports (proxies) whose `[127.0.0.1]:PORT` entries `known_hosts` also carries.
    pub(super) alias_ports: Mutex<Vec<u16>>,
}

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
    /// Private client key (mode 0600); the `.pub` next to it is in `authorized_keys`.
    pub fn client_key(&self) -> PathBuf {
        self.dir().join("client_ed25519")
    }
    pub fn known_hosts(&self) -> PathBuf {
        self.dir().join("known_hosts")
    }
    /// Backup base path on the "server" (same machine).
    pub fn remote_dir(&self) -> PathBuf {
        self.dir().join("remote")
    }
    pub fn config_path(&self) -> PathBuf {
        self.dir().join("sshd_config")
    }
    pub fn log_path(&self) -> PathBuf {
        self.dir().join("sshd.log")
    }
    /// The sshd log (all runs, appended).
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

    /// PID of the listening sshd, if running.
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
            panic!("sshd restart failed: {e}\n--- sshd log ---\n{}", self.log());
        }
    }

    /// Replace the host keys (a "reinstalled server") and restart; `known_hosts` is left
    /// untouched, so it no longer matches. Call [`Self::write_known_hosts`] to trust again.
    pub fn rekey(&mut self) {
        self.stop();
        self.generate_host_keys().expect("regenerate host keys");
        if let Err(e) = self.spawn() {
            panic!(
                "sshd restart after rekey failed: {e}\n--- sshd log ---\n{}",
                self.log()
            );
        }
    }

    fn kill_with(&mut self, sig: i32) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // Sessions call setsid(), so a process-group kill would miss them: walk /proc instead.
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

    fn spawn(&mut self) -> Result<(), String> {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path());
        let log = log.map_err(|e| e.to_string())?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(&self.exe)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(self.config_path())
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
                    "sshd exited with {status}\n--- sshd log ---\n{}",
                    self.log()
                ));
            }
            if banner_ok(self.addr()) {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.kill_now();
                return Err(format!(
                    "sshd not ready after 10 s\n--- sshd log ---\n{}",
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill_now();
    }
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

fn sshd_exe() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("BACKUP_TEST_SSHD") {
        return Some(p.into());
    }
    ["/usr/sbin/sshd", "/usr/local/sbin/sshd", "/sbin/sshd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn current_user() -> Result<String, String> {
    let out = Command::new("id")
        .arg("-un")
        .output()
        .map_err(|e| format!("id -un: {e}"))?;
    let name = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if name.is_empty() {
        Err("id -un printed nothing".into())
    } else {
        Ok(name)
    }
}
