//! Running one case against every remote: [`for_each_remote!`] turns each case (an
//! `async fn(&Target)`) into a module with one `#[test]` per remote (`local`, `sshd`,
//! `proftpd`), so `cargo test` names the remote that failed. A [`Target`] is opened the way
//! the product opens a remote: a product config written by the harness, loaded with
//! `config::load`, then `remote::open`.

use std::fs;
use std::path::PathBuf;
use std::sync::Arc;

use backup_agent::remote::{self, ReadEnd, Remote, RemoteError};
use sha2::{Digest, Sha256};
use tempfile::TempDir;
use tokio::sync::mpsc;

use crate::common::{HostKeyType, Proftpd, Sshd, toml_str};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Local,
    Sshd,
    Proftpd,
}

/// What keeps a remote's other end alive for the length of a test.
enum Server {
    Local(TempDir),
    Sshd(Sshd),
    Proftpd(Proftpd),
}

impl Server {
    /// `None` when sshd or proftpd cannot run here (the harness's skip rule; a panic under
    /// `BACKUP_TEST_REQUIRE_SSHD=1`). The local remote never skips.
    fn start(kind: Kind) -> Option<Server> {
        match kind {
            Kind::Local => Some(Server::Local(tempfile::tempdir().expect("temp dir"))),
            Kind::Sshd => Sshd::builder()
                .host_keys(&[HostKeyType::Ed25519])
                .start()
                .map(Server::Sshd),
            Kind::Proftpd => Proftpd::start().map(Server::Proftpd),
        }
    }

    /// The product config with one remote `test`.
    fn write_config(&self) -> PathBuf {
        match self {
            Server::Sshd(s) => s.write_config(""),
            Server::Proftpd(s) => s.write_config(""),
            Server::Local(dir) => {
                let base = dir.path().join("remote");
                fs::create_dir(&base).expect("mkdir remote");
                let text = format!(
                    "[remotes.test]\ntype = \"local\"\npath = {}\n",
                    toml_str(&base.to_string_lossy())
                );
                let path = dir.path().join("config.toml");
                fs::write(&path, text).expect("write config");
                path
            }
        }
    }
}

/// One remote under test, opened on a fresh, empty base directory.
pub struct Target {
    pub kind: Kind,
    /// `local`, `sshd` or `proftpd`, for messages.
    pub name: &'static str,
    pub remote: Arc<dyn Remote>,
    /// The remote's base path, the same on the server and on this machine's disk.
    pub base: String,
    _server: Server,
}

impl Target {
    /// `<base>/<rel>`.
    pub fn path(&self, rel: &str) -> String {
        format!("{}/{rel}", self.base)
    }

    /// The same path on this machine's disk (every test server serves this machine's disk).
    pub fn disk(&self, rel: &str) -> PathBuf {
        PathBuf::from(self.path(rel))
    }

    /// SFTP: the servers run `sha256sum` where the account may (OpenSSH) and not at all
    /// (ProFTPD has no exec channel); the local remote hashes itself.
    pub fn can_hash(&self) -> bool {
        self.kind != Kind::Proftpd
    }
}

/// Runs `case` against the remote `kind` in a runtime of its own.
pub fn run(kind: Kind, case: impl AsyncFnOnce(&Target)) {
    let Some(server) = Server::start(kind) else {
        return;
    };
    let name = match kind {
        Kind::Local => "local",
        Kind::Sshd => "sshd",
        Kind::Proftpd => "proftpd",
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let config = backup_agent::config::load(&server.write_config())
            .unwrap_or_else(|e| panic!("{name}: config: {e}"));
        let rc = config.remotes["test"].clone();
        let remote = remote::open(&rc)
            .await
            .unwrap_or_else(|e| panic!("{name}: open: {e}"));
        let t = Target {
            kind,
            name,
            remote,
            base: rc.path.clone(),
            _server: server,
        };
        case(&t).await;
        t.remote.close().await;
    });
}

/// `for_each_remote!(case, ...)`: for each `async fn case(t: &Target)` in scope, a module
/// `case` with the tests `local`, `sshd` and `proftpd`.
macro_rules! for_each_remote {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            use $crate::harness::{Kind, run};
            #[test]
            fn local() {
                run(Kind::Local, super::$case);
            }
            #[test]
            fn sshd() {
                run(Kind::Sshd, super::$case);
            }
            #[test]
            fn proftpd() {
                run(Kind::Proftpd, super::$case);
            }
        }
    )*};
}
pub(crate) use for_each_remote;

/// Deterministic bytes that do not repeat with any short period.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A channel that carries `bytes` cut into chunks of the `sizes` in turn, fed by a task.
pub fn chunked(bytes: Vec<u8>, sizes: &[usize]) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel(2);
    let sizes = sizes.to_vec();
    tokio::spawn(async move {
        let (mut at, mut i) = (0, 0);
        while at < bytes.len() {
            let end = (at + sizes[i % sizes.len()]).min(bytes.len());
            if tx.send(bytes[at..end].to_vec()).await.is_err() {
                return;
            }
            at = end;
            i += 1;
        }
    });
    rx
}

/// Writes `bytes` to `path` in one chunk.
pub async fn put(remote: &dyn Remote, path: &str, bytes: &[u8]) {
    remote::write_small(remote, path, bytes)
        .await
        .unwrap_or_else(|e| panic!("{}: write {path}: {e}", remote.describe()));
}

/// What a bounded read ended with, and every byte it delivered.
pub async fn read_all(
    remote: &dyn Remote,
    path: &str,
    limit: u64,
) -> (Result<ReadEnd, RemoteError>, Vec<u8>) {
    let (tx, rx) = mpsc::channel::<Vec<u8>>(4);
    let collected = tokio::spawn(collect(rx));
    let end = remote.read(path, limit, tx).await;
    (end, collected.await.expect("collector"))
}

/// Every chunk `rx` carries, joined.
pub async fn collect(mut rx: mpsc::Receiver<Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(c) = rx.recv().await {
        out.extend(c);
    }
    out
}

/// Names in `<base>/<rel>` on disk, sorted.
pub fn disk_names(t: &Target, rel: &str) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(t.disk(rel))
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}
