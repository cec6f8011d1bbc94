//! A remote that changes nothing: reads pass through, every write is logged with what it would
//! have done and reported as done, so a dry run walks the same code path as a real one. A
//! rename it pretended to do is remembered, so that reading under the new name (removing what
//! is in a `.deleting` directory) reads what is really under the old one.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::{Capabilities, DirEntry, ReadEnd, Remote, RemoteError};

pub struct DryRun {
    inner: Arc<dyn Remote>,
    /// (new name, old name) of the renames pretended so far.
    renamed: Mutex<Vec<(String, String)>>,
}

impl DryRun {
    pub fn new(inner: Arc<dyn Remote>) -> DryRun {
        DryRun {
            inner,
            renamed: Mutex::new(Vec::new()),
        }
    }

    /// Where `path` really is, given the renames pretended so far.
    fn real(&self, path: &str) -> String {
        let renamed = self.renamed.lock().unwrap_or_else(|p| p.into_inner());
        for (to, from) in renamed.iter().rev() {
            if path == to {
                return from.clone();
            }
            if let Some(rest) = path.strip_prefix(to.as_str())
                && rest.starts_with('/')
            {
                return format!("{from}{rest}");
            }
        }
        path.to_string()
    }
}

#[async_trait]
impl Remote for DryRun {
    fn describe(&self) -> String {
        format!("{} (dry run)", self.inner.describe())
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn list(&self, dir: &str) -> Result<Vec<DirEntry>, RemoteError> {
        self.inner.list(&self.real(dir)).await
    }

    async fn stat(&self, path: &str) -> Result<Option<DirEntry>, RemoteError> {
        self.inner.stat(&self.real(path)).await
    }

    async fn mkdir(&self, path: &str) -> Result<(), RemoteError> {
        tracing::info!("dry run: would create directory {path}");
        Ok(())
    }

    async fn create(
        &self,
        path: &str,
        mut data: mpsc::Receiver<Vec<u8>>,
    ) -> Result<u64, RemoteError> {
        let mut n = 0u64;
        while let Some(c) = data.recv().await {
            n += c.len() as u64;
        }
        tracing::info!("dry run: would write {path} ({n} bytes)");
        Ok(n)
    }

    async fn create_new(&self, path: &str, data: &[u8]) -> Result<(), RemoteError> {
        tracing::info!("dry run: would create {path} ({} bytes)", data.len());
        Ok(())
    }

    async fn read(
        &self,
        path: &str,
        limit: u64,
        tx: mpsc::Sender<Vec<u8>>,
    ) -> Result<ReadEnd, RemoteError> {
        self.inner.read(&self.real(path), limit, tx).await
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), RemoteError> {
        tracing::info!("dry run: would rename {from} to {to}");
        let from = self.real(from);
        self.renamed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((to.to_string(), from));
        Ok(())
    }

    async fn remove_file(&self, path: &str) -> Result<(), RemoteError> {
        tracing::info!("dry run: would remove {path}");
        Ok(())
    }

    async fn remove_dir(&self, path: &str) -> Result<(), RemoteError> {
        tracing::info!("dry run: would remove directory {path}");
        Ok(())
    }

    async fn sha256(&self, paths: &[String]) -> Result<Vec<String>, RemoteError> {
        let real: Vec<String> = paths.iter().map(|p| self.real(p)).collect();
        self.inner.sha256(&real).await
    }

    async fn start_dir(&self) -> Option<String> {
        self.inner.start_dir().await
    }

    async fn close(&self) {
        self.inner.close().await;
    }
}
