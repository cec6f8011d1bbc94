//! Reading from the server: whole small files (manifests, checksum lists) and pipelined
//! streams delivered in order (readback verification, restore, cat).

use std::collections::VecDeque;
use std::sync::Arc;

use russh_sftp::client::RawSftpSession;
use russh_sftp::protocol::{FileAttributes, OpenFlags, StatusCode};
use tokio::sync::mpsc;

use super::{RemoteError, Sftp};

type PendingRead = tokio::task::JoinHandle<Result<Vec<u8>, russh_sftp::client::error::Error>>;

impl Sftp {
    /// Reads `path` from the start, sending chunks in order to `tx` until EOF. Returns bytes read.
    pub async fn download(
        &self,
        path: &str,
        tx: mpsc::Sender<Vec<u8>>,
    ) -> Result<u64, RemoteError> {
        let s = self.sessions[0].clone();
        let handle = s
            .open(path, OpenFlags::READ, FileAttributes::empty())
            .await
            .map_err(|e| RemoteError::sftp("open", path, e))?
            .handle;
        let result = self.read_pipelined(&s, &handle, path, &tx).await;
        let _ = s.close(handle.as_str()).await;
        result
    }

    async fn read_pipelined(
        &self,
        s: &Arc<RawSftpSession>,
        handle: &str,
        path: &str,
        tx: &mpsc::Sender<Vec<u8>>,
    ) -> Result<u64, RemoteError> {
        let len = self.read_len as u64;
        let depth = self.in_flight.clamp(4, 64);
        let mut queue: VecDeque<(u64, PendingRead)> = VecDeque::new();
        let mut next = 0u64;
        let mut total = 0u64;
        let spawn = |at: u64| {
            let s = s.clone();
            let h = handle.to_string();
            tokio::spawn(async move {
                match s.read(h.as_str(), at, len as u32).await {
                    Ok(d) => Ok(d.data),
                    Err(russh_sftp::client::error::Error::Status(st))
                        if st.status_code == StatusCode::Eof =>
                    {
                        Ok(Vec::new())
                    }
                    Err(e) => Err(e),
                }
            })
        };
        loop {
            while queue.len() < depth {
                queue.push_back((next, spawn(next)));
                next += len;
            }
            let Some((at, task)) = queue.pop_front() else {
                break;
            };
            let mut data = task
                .await
                .map_err(|e| RemoteError::Sftp {
                    op: "read",
                    path: path.to_string(),
                    message: e.to_string(),
                    code: None,
                })?
                .map_err(|e| RemoteError::sftp("read", path, e))?;
            if data.is_empty() {
                for (_, t) in queue.drain(..) {
                    t.abort();
                }
                break;
            }
            // A short read that is not at EOF: fetch the rest of this range before going on.
            while (data.len() as u64) < len {
                match s
                    .read(
                        handle,
                        at + data.len() as u64,
                        (len - data.len() as u64) as u32,
                    )
                    .await
                {
                    Ok(more) if more.data.is_empty() => break,
                    Ok(more) => data.extend_from_slice(&more.data),
                    Err(russh_sftp::client::error::Error::Status(st))
                        if st.status_code == StatusCode::Eof =>
                    {
                        break;
                    }
                    Err(e) => return Err(RemoteError::sftp("read", path, e)),
                }
            }
            let short = (data.len() as u64) < len;
            total += data.len() as u64;
            if tx.send(data).await.is_err() {
                break; // the consumer stopped; its error is the one that matters
            }
            if short {
                for (_, t) in queue.drain(..) {
                    t.abort();
                }
                break;
            }
        }
        Ok(total)
    }

    /// Reads a small file whole (manifests, checksum lists).
    pub async fn read_small(&self, path: &str, max: u64) -> Result<Vec<u8>, RemoteError> {
        let s = self.main();
        let handle = s
            .open(path, OpenFlags::READ, FileAttributes::empty())
            .await
            .map_err(|e| RemoteError::sftp("open", path, e))?
            .handle;
        let mut out = Vec::new();
        let result = loop {
            match s
                .read(handle.as_str(), out.len() as u64, self.read_len as u32)
                .await
            {
                Ok(d) if d.data.is_empty() => break Ok(()),
                Ok(d) => {
                    out.extend_from_slice(&d.data);
                    if out.len() as u64 > max {
                        break Err(RemoteError::Sftp {
                            op: "read",
                            path: path.to_string(),
                            message: format!(
                                "larger than {max} bytes; not a file this program wrote"
                            ),
                            code: Some(4),
                        });
                    }
                }
                Err(russh_sftp::client::error::Error::Status(st))
                    if st.status_code == StatusCode::Eof =>
                {
                    break Ok(());
                }
                Err(e) => break Err(RemoteError::sftp("read", path, e)),
            }
        };
        let _ = s.close(handle.as_str()).await;
        result.map(|()| out)
    }
}
