//! A remote that counts the bytes going through it, for the progress bar and the summary: the
//! bytes handed to each upload, and the bytes each read delivered.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::{Capabilities, DirEntry, ReadEnd, Remote, RemoteError};

/// Running totals, shared with whoever displays them.
#[derive(Debug, Default)]
pub struct Counted {
    pub written: AtomicU64,
    pub read: AtomicU64,
}

pub struct Progressed {
    inner: Arc<dyn Remote>,
    counted: Arc<Counted>,
}

impl Progressed {
    pub fn new(inner: Arc<dyn Remote>, counted: Arc<Counted>) -> Progressed {
        Progressed { inner, counted }
    }
}

/// Forwards chunks from `rx` to a new channel, adding their sizes to `total` on the way.
fn counting(
    mut rx: mpsc::Receiver<Vec<u8>>,
    total: Arc<Counted>,
    add: fn(&Counted, u64),
) -> (mpsc::Receiver<Vec<u8>>, tokio::task::JoinHandle<()>) {
    let (tx, out) = mpsc::channel(2);
    let task = tokio::spawn(async move {
        while let Some(c) = rx.recv().await {
            add(&total, c.len() as u64);
            if tx.send(c).await.is_err() {
                break;
            }
        }
    });
    (out, task)
}

#[async_trait]
impl Remote for Progressed {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn list(&self, dir: &str) -> Result<Vec<DirEntry>, RemoteError> {
        self.inner.list(dir).await
    }

    async fn stat(&self, path: &str) -> Result<Option<DirEntry>, RemoteError> {
        self.inner.stat(path).await
    }

    async fn mkdir(&self, path: &str) -> Result<(), RemoteError> {
        self.inner.mkdir(path).await
    }

    async fn create(&self, path: &str, data: mpsc::Receiver<Vec<u8>>) -> Result<u64, RemoteError> {
        let (rx, task) = counting(data, self.counted.clone(), |c, n| {
            c.written.fetch_add(n, Ordering::Relaxed);
        });
        let r = self.inner.create(path, rx).await;
        task.abort();
        r
    }

    async fn create_new(&self, path: &str, data: &[u8]) -> Result<(), RemoteError> {
        self.inner.create_new(path, data).await
    }

    async fn read(
        &self,
        path: &str,
        limit: u64,
        tx: mpsc::Sender<Vec<u8>>,
    ) -> Result<ReadEnd, RemoteError> {
        let r = self.inner.read(path, limit, tx).await;
        if let Ok(end) = &r {
            self.counted.read.fetch_add(end.bytes, Ordering::Relaxed);
        }
        r
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), RemoteError> {
        self.inner.rename(from, to).await
    }

    async fn remove_file(&self, path: &str) -> Result<(), RemoteError> {
        self.inner.remove_file(path).await
    }

    async fn remove_dir(&self, path: &str) -> Result<(), RemoteError> {
        self.inner.remove_dir(path).await
    }

    async fn sha256(&self, paths: &[String]) -> Result<Vec<String>, RemoteError> {
        self.inner.sha256(paths).await
    }

    fn hash_when_written(&self, path: &str) {
        self.inner.hash_when_written(path);
    }

    async fn start_dir(&self) -> Option<String> {
        self.inner.start_dir().await
    }

    async fn close(&self) {
        self.inner.close().await;
    }
}
