//! A throwaway `rclone serve sftp` on 127.0.0.1 for integration tests: a Go SFTP server
//! (pkg/sftp) over rclone's VFS with its default options (`--vfs-cache-mode off`), which
//! streams each file to its backend and so takes a file's writes only in offset order.
//!
//! Like [`super::Sshd`] (and deref'ing to the same [`SshServer`]): one temp dir with a fresh
//! ed25519 host key (`--key`), a fresh client key in `authorized_keys`
//! (`--authorized-keys`), `known_hosts`, `rclone.log` (its stderr) and `remote/`, the
//! directory it serves. rclone shows that directory as the SFTP root, so the backup base path
//! is `/` ([`Rclone::write_config`]). `--config` and `--cache-dir` point into the temp dir, so
//! nothing is read or left in the user's home.

use std::fs;
use std::path::{Path, PathBuf};

use super::HostKeyType;
use super::server::{SshServer, find_exe, or_skip};

/// A running rclone SFTP server; see the module docs. Dropping it kills the server.
pub struct Rclone {
    server: SshServer,
}

super::server::deref_to_server!(Rclone);

impl Rclone {
    /// Start the server. `None` (after an `eprintln!`) if rclone is not installed; panics
    /// instead when `BACKUP_TEST_REQUIRE_SSHD=1`.
    pub fn start() -> Option<Rclone> {
        or_skip("rclone", Self::try_start())
    }

    fn try_start() -> Result<Rclone, String> {
        let exe = find_exe(
            "BACKUP_TEST_RCLONE",
            &["/usr/bin/rclone", "/usr/local/bin/rclone"],
        )
        .ok_or("no rclone binary (set BACKUP_TEST_RCLONE or install rclone)")?;
        let mut server = SshServer::create("rclone", exe, &[HostKeyType::Ed25519])?;
        let client_pub = fs::read_to_string(server.client_key().with_extension("pub"))
            .map_err(|e| e.to_string())?;
        let keys = server.dir().join("authorized_keys");
        fs::write(&keys, client_pub).map_err(|e| e.to_string())?;
        let dir = server.dir().to_path_buf();
        let args = move |s: &SshServer| {
            let path = |p: PathBuf| p.into_os_string();
            vec![
                "serve".into(),
                "sftp".into(),
                path(s.remote_dir()),
                "--addr".into(),
                format!("127.0.0.1:{}", s.port()).into(),
                "--key".into(),
                path(s.host_key_path(HostKeyType::Ed25519)),
                "--authorized-keys".into(),
                path(keys.clone()),
                "--config".into(),
                path(dir.join("rclone.conf")),
                "--cache-dir".into(),
                path(dir.join("cache")),
            ]
        };
        server.start_on_free_port_args(args, |_| Ok(()))?;
        Ok(Rclone { server })
    }

    /// The product config for `extra_jobs`, with the base path `/` (the served directory)
    /// and `remote_extra` lines in `[remotes.test]`.
    pub fn write_config_with(&self, remote_extra: &str, extra_jobs: &str) -> PathBuf {
        let port = self.port();
        self.server
            .write_config_full(port, Path::new("/"), remote_extra, extra_jobs)
    }

    /// `rclone --version`'s first line, e.g. `rclone v1.60.1-DEV`.
    pub fn version(&self) -> String {
        let out = std::process::Command::new(self.exe())
            .arg("version")
            .output();
        out.map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default()
    }
}
