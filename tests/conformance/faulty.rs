//! A `Remote` wrapper that misbehaves on purpose, around any real remote: it crashes (every
//! call after the first `n` fails), refuses to rename directories, cannot hash, or loses the
//! first answers to reads. Each case picks one behaviour; everything else passes through.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use backup_agent::remote::{
    Capabilities, DirEntry, EntryKind, ErrorKind, ReadEnd, Remote, RemoteError,
};
use tokio::sync::mpsc;

/// How the first failing call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crash {
    /// The connection is cut as the call starts: nothing happens, except that a create
    /// writes half of its first chunk (a file cut short).
    Cut,
    /// The call takes effect, and its answer is lost.
    Lost,
}

pub struct Faulty {
    inner: Arc<dyn Remote>,
    /// Calls that pass before the crash; `usize::MAX`: no crash.
    budget: usize,
    crash: Crash,
    calls: AtomicUsize,
    /// What `rename` of a directory answers, if it is refused.
    dir_rename: Option<ErrorKind>,
    hash: bool,
    /// Reads (list, stat, read) still to fail with a passing error before they work.
    flaky: AtomicUsize,
}

enum Fate {
    Pass,
    Fail(Crash),
}

impl Faulty {
    fn new(inner: Arc<dyn Remote>) -> Faulty {
        Faulty {
            inner,
            budget: usize::MAX,
            crash: Crash::Cut,
            calls: AtomicUsize::new(0),
            dir_rename: None,
            hash: true,
            flaky: AtomicUsize::new(0),
        }
    }

    /// Passes `n` calls, then fails every call as `crash` says.
    pub fn crash_after(inner: Arc<dyn Remote>, n: usize, crash: Crash) -> Faulty {
        Faulty {
            budget: n,
            crash,
            ..Faulty::new(inner)
        }
    }

    /// A server that cannot rename a directory and answers `kind`.
    pub fn no_dir_rename(inner: Arc<dyn Remote>, kind: ErrorKind) -> Faulty {
        Faulty {
            dir_rename: Some(kind),
            ..Faulty::new(inner)
        }
    }

    /// An account that cannot run `sha256sum`.
    pub fn no_hash(inner: Arc<dyn Remote>) -> Faulty {
        Faulty {
            hash: false,
            ..Faulty::new(inner)
        }
    }

    /// The first `n` list, stat and read calls fail with a passing error.
    pub fn flaky_reads(inner: Arc<dyn Remote>, n: usize) -> Faulty {
        Faulty {
            flaky: AtomicUsize::new(n),
            ..Faulty::new(inner)
        }
    }

    /// With a crash as well (`crash_after` on top of another behaviour).
    pub fn and_crash_after(self, n: usize, crash: Crash) -> Faulty {
        Faulty {
            budget: n,
            crash,
            ..self
        }
    }

    /// Calls made so far, failed ones included.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn fate(&self) -> Fate {
        if self.calls.fetch_add(1, Ordering::SeqCst) < self.budget {
            Fate::Pass
        } else {
            Fate::Fail(self.crash)
        }
    }

    async fn call<T>(
        &self,
        op: &'static str,
        path: &str,
        f: impl Future<Output = Result<T, RemoteError>>,
    ) -> Result<T, RemoteError> {
        match self.fate() {
            Fate::Pass => f.await,
            Fate::Fail(Crash::Cut) => Err(crashed(op, path)),
            Fate::Fail(Crash::Lost) => {
                let _ = f.await;
                Err(crashed(op, path))
            }
        }
    }

    /// A passing failure for one of the first reads, when `flaky_reads` asked for them.
    fn flake(&self, op: &'static str, path: &str) -> Result<(), RemoteError> {
        let left = self
            .flaky
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        match left {
            Ok(_) => Err(RemoteError::op(
                ErrorKind::Transient,
                op,
                path,
                "injected: answer lost",
            )),
            Err(_) => Ok(()),
        }
    }
}

fn crashed(op: &'static str, path: &str) -> RemoteError {
    RemoteError::op(
        ErrorKind::Transient,
        op,
        path,
        "injected crash: connection lost",
    )
}

#[async_trait]
impl Remote for Faulty {
    fn describe(&self) -> String {
        format!("{} (faulty)", self.inner.describe())
    }

    fn capabilities(&self) -> Capabilities {
        let inner = self.inner.capabilities();
        Capabilities {
            rename_dirs: inner.rename_dirs && self.dir_rename.is_none(),
            hash: inner.hash && self.hash,
            ..inner
        }
    }

    async fn list(&self, dir: &str) -> Result<Vec<DirEntry>, RemoteError> {
        self.flake("list", dir)?;
        self.call("list", dir, self.inner.list(dir)).await
    }

    async fn stat(&self, path: &str) -> Result<Option<DirEntry>, RemoteError> {
        self.flake("stat", path)?;
        self.call("stat", path, self.inner.stat(path)).await
    }

    async fn mkdir(&self, path: &str) -> Result<(), RemoteError> {
        self.call("mkdir", path, self.inner.mkdir(path)).await
    }

    async fn create(
        &self,
        path: &str,
        mut data: mpsc::Receiver<Vec<u8>>,
    ) -> Result<u64, RemoteError> {
        match self.fate() {
            Fate::Pass => self.inner.create(path, data).await,
            Fate::Fail(crash) => {
                if crash == Crash::Cut {
                    let mut first = data.recv().await.unwrap_or_default();
                    first.truncate(first.len() / 2);
                    let (tx, rx) = mpsc::channel(1);
                    let _ = tx.try_send(first);
                    drop(tx);
                    data = rx;
                }
                let _ = self.inner.create(path, data).await;
                Err(crashed("write", path))
            }
        }
    }

    async fn create_new(&self, path: &str, data: &[u8]) -> Result<(), RemoteError> {
        self.call("create", path, self.inner.create_new(path, data))
            .await
    }

    async fn read(
        &self,
        path: &str,
        limit: u64,
        tx: mpsc::Sender<Vec<u8>>,
    ) -> Result<ReadEnd, RemoteError> {
        self.flake("read", path)?;
        self.call("read", path, self.inner.read(path, limit, tx))
            .await
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), RemoteError> {
        let refused = match self.dir_rename {
            Some(kind) => match self.inner.stat(from).await {
                Ok(Some(e)) if e.kind == EntryKind::Dir => Some(kind),
                _ => None,
            },
            None => None,
        };
        let rename = async {
            match refused {
                Some(kind) => Err(RemoteError::op(
                    kind,
                    "rename",
                    from,
                    "injected: no directory renames",
                )),
                None => self.inner.rename(from, to).await,
            }
        };
        self.call("rename", from, rename).await
    }

    async fn remove_file(&self, path: &str) -> Result<(), RemoteError> {
        self.call("remove", path, self.inner.remove_file(path))
            .await
    }

    async fn remove_dir(&self, path: &str) -> Result<(), RemoteError> {
        self.call("rmdir", path, self.inner.remove_dir(path)).await
    }

    async fn sha256(&self, paths: &[String]) -> Result<Vec<String>, RemoteError> {
        let first = paths.first().map_or("", String::as_str);
        let hash = async {
            if self.hash {
                self.inner.sha256(paths).await
            } else {
                Err(RemoteError::op(
                    ErrorKind::Unsupported,
                    "hash",
                    first,
                    "injected: no exec",
                ))
            }
        };
        self.call("hash", first, hash).await
    }

    async fn close(&self) {
        self.inner.close().await;
    }
}
