//! A remote that tries idempotent reads again after a passing failure (a timeout, a dropped
//! request): listing, stat, and a read that has not yet delivered a byte. Writes, renames and
//! removals are never repeated here: whether the first attempt took effect is unknown, and
//! the commit protocol, not a retry, decides what happens next.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::{Capabilities, DirEntry, ReadEnd, Remote, RemoteError};

const ATTEMPTS: u32 = 3;
const FIRST_DELAY: Duration = Duration::from_millis(500);

pub struct RetryReads(pub Arc<dyn Remote>);

async fn again<T, F, Fut>(what: &str, mut f: F) -> Result<T, RemoteError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, RemoteError>>,
{
    let mut delay = FIRST_DELAY;
    let mut attempt = 1;
    loop {
        match f().await {
            Err(e) if e.is_transient() && attempt < ATTEMPTS => {
                tracing::debug!("{what} failed ({e}); trying again in {delay:?}");
                tokio::time::sleep(delay).await;
                delay *= 2;
                attempt += 1;
            }
            other => return other,
        }
    }
}

#[async_trait]
impl Remote for RetryReads {
    fn describe(&self) -> String {
        self.0.describe()
    }

    fn capabilities(&self) -> Capabilities {
        self.0.capabilities()
    }

    async fn list(&self, dir: &str) -> Result<Vec<DirEntry>, RemoteError> {
        again("list", || self.0.list(dir)).await
    }

    async fn stat(&self, path: &str) -> Result<Option<DirEntry>, RemoteError> {
        again("stat", || self.0.stat(path)).await
    }

    async fn mkdir(&self, path: &str) -> Result<(), RemoteError> {
        self.0.mkdir(path).await
    }

    async fn create(&self, path: &str, data: mpsc::Receiver<Vec<u8>>) -> Result<u64, RemoteError> {
        self.0.create(path, data).await
    }

    async fn create_new(&self, path: &str, data: &[u8]) -> Result<(), RemoteError> {
        self.0.create_new(path, data).await
    }

    async fn read(
        &self,
        path: &str,
        limit: u64,
        tx: mpsc::Sender<Vec<u8>>,
    ) -> Result<ReadEnd, RemoteError> {
        let mut delay = FIRST_DELAY;
        for _ in 1..ATTEMPTS {
            // Each attempt reads into its own channel; only an attempt that delivered nothing
            // may be repeated, since the consumer cannot take bytes back.
            let (inner_tx, mut inner_rx) = mpsc::channel::<Vec<u8>>(1);
            let tx = &tx;
            // `move`: the receiver must go when forwarding stops, or the read would wait on it.
            let forward = async move {
                let mut delivered = false;
                while let Some(c) = inner_rx.recv().await {
                    delivered = true;
                    if tx.send(c).await.is_err() {
                        break;
                    }
                }
                delivered
            };
            let (r, delivered) = tokio::join!(self.0.read(path, limit, inner_tx), forward);
            match r {
                Err(e) if e.is_transient() && !delivered => {
                    tracing::debug!("read {path} failed ({e}); trying again in {delay:?}");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                other => return other,
            }
        }
        self.0.read(path, limit, tx).await
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), RemoteError> {
        self.0.rename(from, to).await
    }

    async fn remove_file(&self, path: &str) -> Result<(), RemoteError> {
        self.0.remove_file(path).await
    }

    async fn remove_dir(&self, path: &str) -> Result<(), RemoteError> {
        self.0.remove_dir(path).await
    }

    async fn sha256(&self, paths: &[String]) -> Result<Vec<String>, RemoteError> {
        self.0.sha256(paths).await
    }

    fn hash_when_written(&self, path: &str) {
        self.0.hash_when_written(path);
    }

    async fn start_dir(&self) -> Option<String> {
        self.0.start_dir().await
    }

    async fn close(&self) {
        self.0.close().await;
    }
}
