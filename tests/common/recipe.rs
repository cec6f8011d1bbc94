//! The README's append-only recipe ("Append-only backups"), for real: a chrooted account
//! (`nobody`) behind `ForceCommand internal-sftp -P <the denied requests>`, its `upload/`
//! directory owned by the vault user (`daemon`) with the sticky bit and writable by the
//! account's group, an agent config with `append_only = true` for it, and a vault.toml whose
//! root is the chroot. Root only (sshd chroots only as root); everything lives under
//! `/run/backup-agent-vault-PID-N/` (a chroot's every component must be root-owned, which a
//! temp dir under /tmp is not) and is removed on drop.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::{Sshd, toml_str};

/// The requests the recipe denies: everything that removes, renames, links or changes
/// attributes, by the names `sftp-server -Q requests` prints (`posix-rename`, not
/// `posix-rename@openssh.com`: the long name matches nothing and leaves it allowed, which
/// `check --connect` catches). Kept in step with the README's `Match` block.
pub const DENIED: &str =
    "remove,rmdir,rename,posix-rename,setstat,fsetstat,lsetstat,symlink,hardlink";

pub struct Recipe {
    pub sshd: Sshd,
    pub top: PathBuf,
    /// The chroot, and the vault's root.
    pub jail: PathBuf,
    /// `<jail>/upload`: the account's `/upload`; the remote path is `/upload/db01`.
    pub upload: PathBuf,
    pub client_uid: u32,
    pub client_gid: u32,
    pub vault_uid: u32,
}

impl Drop for Recipe {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.top);
    }
}

impl Recipe {
    /// `None` where it cannot run (not root, no `nobody`/`daemon`, no sshd).
    pub fn start(extra_match: &str) -> Option<Recipe> {
        let user = |n: &str| nix::unistd::User::from_name(n).ok().flatten();
        let (Some(client), Some(vault)) = (user("nobody"), user("daemon")) else {
            return None;
        };
        if !nix::unistd::geteuid().is_root() {
            return None;
        }
        // One per test: the tests of a binary run at once, in one process.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let top = PathBuf::from(format!(
            "/run/backup-agent-vault-{}-{n}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&top);
        let jail = top.join("jail");
        let upload = jail.join("upload");
        fs::create_dir_all(&upload).unwrap();
        for d in [&top, &jail] {
            fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
        }
        nix::unistd::chown(&upload, Some(vault.uid), Some(client.gid)).unwrap();
        fs::set_permissions(&upload, fs::Permissions::from_mode(0o1770)).unwrap();
        let keys = top.join("authorized_keys");
        let sshd = Sshd::builder()
            .extra_config(&format!(
                "Match User nobody\n  ChrootDirectory {}\n  ForceCommand internal-sftp -P {DENIED}\n  AuthorizedKeysFile {}\n{extra_match}",
                jail.display(),
                keys.display()
            ))
            .start()?;
        fs::copy(sshd.dir().join("authorized_keys"), &keys).unwrap();
        fs::set_permissions(&keys, fs::Permissions::from_mode(0o644)).unwrap();
        Some(Recipe {
            sshd,
            top,
            jail,
            upload,
            client_uid: client.uid.as_raw(),
            client_gid: client.gid.as_raw(),
            vault_uid: vault.uid.as_raw(),
        })
    }

    /// The agent's config: job `t` backing up `src` to the account's `/upload/db01` (the
    /// README's `/upload/{host}`), append-only,
    /// with `extra` appended (more jobs or keys for `t`).
    pub fn agent_config(&self, src: &Path, extra: &str) -> PathBuf {
        let job = format!(
            "[jobs.t]\nremote = \"test\"\nsources = [{}]\n{extra}",
            toml_str(&src.to_string_lossy())
        );
        let cfg = self.sshd.write_config_full(
            self.sshd.port(),
            Path::new("/upload/db01"),
            "append_only = true",
            &job,
        );
        let text = fs::read_to_string(&cfg).unwrap();
        let user = format!("user = {}", toml_str(self.sshd.user()));
        fs::write(&cfg, text.replace(&user, "user = \"nobody\"")).unwrap();
        cfg
    }

    /// vault.toml with the chroot as root, its state in the test's directory, and `extra`
    /// appended (`[vault.retention]` and the like); `vault` keys go in `keys`.
    pub fn vault_config(&self, keys: &str, extra: &str) -> PathBuf {
        let cfg = self.top.join("vault.toml");
        fs::write(
            &cfg,
            format!(
                "[vault]\nroots = [{}]\nuser = \"daemon\"\nstate_dir = {}\n{keys}\n{extra}",
                toml_str(&self.jail.to_string_lossy()),
                toml_str(&self.top.join("vault-state").to_string_lossy()),
            ),
        )
        .unwrap();
        cfg
    }

    /// The job directory on the server's disk.
    pub fn job_dir(&self) -> PathBuf {
        self.upload.join("db01/t")
    }

    /// OpenSSH's own `sftp` with the client's key, one batch command; its output (a refused
    /// request fails the batch, so the exit code says whether the server carried it out).
    pub fn sftp(&self, command: &str) -> Output {
        let mut child = Command::new("sftp")
            .args(["-b", "-", "-P", &self.sshd.port().to_string(), "-i"])
            .arg(self.sshd.client_key())
            .arg("-o")
            .arg(format!(
                "UserKnownHostsFile={}",
                self.sshd.known_hosts().display()
            ))
            .args([
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                "BatchMode=yes",
                "-o",
                "IdentitiesOnly=yes",
                "nobody@127.0.0.1",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sftp");
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{command}\n").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }
}
