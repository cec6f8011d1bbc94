//! A directory on this machine as a remote: a mounted disk, NFS, or the backup server itself
//! (where `backup vault` runs). Same semantics as SFTP: files written whole and fsynced, then
//! their directory fsynced, so a rename is durable; nothing follows a symlink (`O_NOFOLLOW`
//! on every open, `lstat` for every look); a FIFO or device is never opened for reading.

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

mod files;

use self::files::{CHUNK, blocking, entry, io_error, open_regular, parent, sync_dir};
use super::{Capabilities, DirEntry, ErrorKind, ReadEnd, Remote, RemoteError};

pub struct Local {
    base: String,
}

impl Local {
    /// `base` is the remote's configured path, for messages.
    pub fn new(base: &str) -> Result<Local, RemoteError> {
        if !base.starts_with('/') {
            return Err(RemoteError::op(
                ErrorKind::Other,
                "open",
                base,
                "a local remote's path must be absolute",
            ));
        }
        Ok(Local {
            base: base.to_string(),
        })
    }
}

#[async_trait]
impl Remote for Local {
    fn describe(&self) -> String {
        format!("local {}", self.base)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            rename_dirs: true,
            fsync: true,
            hash: true,
            sequential_writes: false,
        }
    }

    async fn list(&self, dir: &str) -> Result<Vec<DirEntry>, RemoteError> {
        let d = dir.to_string();
        blocking("list", dir, move || {
            let mut out = Vec::new();
            for e in fs::read_dir(&d).map_err(|e| io_error("list", &d, e))? {
                let e = e.map_err(|e| io_error("list", &d, e))?;
                // DirEntry::metadata does not follow symlinks.
                let m = e.metadata().map_err(|e| io_error("list", &d, e))?;
                out.push(entry(e.file_name().to_string_lossy().into_owned(), &m));
            }
            out.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(out)
        })
        .await
    }

    async fn stat(&self, path: &str) -> Result<Option<DirEntry>, RemoteError> {
        let p = path.to_string();
        blocking("stat", path, move || match fs::symlink_metadata(&p) {
            Ok(m) => {
                let name = p.rsplit('/').next().unwrap_or(&p).to_string();
                Ok(Some(entry(name, &m)))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error("stat", &p, e)),
        })
        .await
    }

    async fn mkdir(&self, path: &str) -> Result<(), RemoteError> {
        let p = path.to_string();
        blocking("mkdir", path, move || {
            fs::DirBuilder::new()
                .mode(0o700)
                .create(&p)
                .and_then(|()| sync_dir(&parent(&p)))
                .map_err(|e| io_error("mkdir", &p, e))
        })
        .await
    }

    async fn create(
        &self,
        path: &str,
        mut data: mpsc::Receiver<Vec<u8>>,
    ) -> Result<u64, RemoteError> {
        let p = path.to_string();
        blocking("write", path, move || {
            let err = |e| io_error("write", &p, e);
            let open = || {
                OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&p)
            };
            let mut f = match open() {
                // As on SFTP: a symlink where the file goes is replaced, never written through.
                Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                    tracing::warn!("{p} is a symlink; it is replaced, not followed");
                    fs::remove_file(&p).and_then(|()| open()).map_err(err)?
                }
                other => other.map_err(err)?,
            };
            let mut n = 0u64;
            while let Some(chunk) = data.blocking_recv() {
                f.write_all(&chunk).map_err(err)?;
                n += chunk.len() as u64;
            }
            f.sync_all().map_err(err)?;
            sync_dir(&parent(&p)).map_err(err)?;
            Ok(n)
        })
        .await
    }

    async fn create_new(&self, path: &str, data: &[u8]) -> Result<(), RemoteError> {
        let (p, data) = (path.to_string(), data.to_vec());
        blocking("create", path, move || {
            let err = |e| io_error("create", &p, e);
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&p)
                .map_err(err)?;
            f.write_all(&data).map_err(err)?;
            f.sync_all().map_err(err)
        })
        .await
    }

    async fn read(
        &self,
        path: &str,
        limit: u64,
        tx: mpsc::Sender<Vec<u8>>,
    ) -> Result<ReadEnd, RemoteError> {
        let p = path.to_string();
        blocking("read", path, move || {
            let mut f = open_regular(&p)?;
            let mut end = ReadEnd {
                bytes: 0,
                over_limit: false,
            };
            loop {
                // One byte past the limit tells whether there is more.
                let want = (limit - end.bytes).saturating_add(1).min(CHUNK as u64) as usize;
                let mut buf = vec![0u8; want];
                let n = match f.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(io_error("read", &p, e)),
                };
                buf.truncate(n);
                if end.bytes + n as u64 > limit {
                    buf.truncate((limit - end.bytes) as usize);
                    end.over_limit = true;
                }
                end.bytes += buf.len() as u64;
                if !buf.is_empty() && tx.blocking_send(buf).is_err() {
                    break; // the consumer stopped; its error is the one that matters
                }
                if end.over_limit {
                    break;
                }
            }
            Ok(end)
        })
        .await
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), RemoteError> {
        let (f, t) = (from.to_string(), to.to_string());
        blocking("rename", from, move || {
            let err = |e| io_error("rename", &f, e);
            fs::rename(&f, &t).map_err(err)?;
            let (pf, pt) = (parent(&f), parent(&t));
            sync_dir(&pt).map_err(err)?;
            if pf != pt {
                sync_dir(&pf).map_err(err)?;
            }
            Ok(())
        })
        .await
    }

    async fn remove_file(&self, path: &str) -> Result<(), RemoteError> {
        let p = path.to_string();
        blocking("remove", path, move || {
            fs::remove_file(&p).map_err(|e| io_error("remove", &p, e))
        })
        .await
    }

    async fn remove_dir(&self, path: &str) -> Result<(), RemoteError> {
        let p = path.to_string();
        blocking("rmdir", path, move || {
            fs::remove_dir(&p).map_err(|e| io_error("rmdir", &p, e))
        })
        .await
    }

    async fn sha256(&self, paths: &[String]) -> Result<Vec<String>, RemoteError> {
        let paths = paths.to_vec();
        let first = paths.first().cloned().unwrap_or_default();
        blocking("hash", &first, move || {
            let mut out = Vec::with_capacity(paths.len());
            for p in &paths {
                let mut f = open_regular(p)?;
                let mut h = Sha256::new();
                let mut buf = vec![0u8; CHUNK];
                loop {
                    match f.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => h.update(&buf[..n]),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(io_error("hash", p, e)),
                    }
                }
                out.push(hex::encode(h.finalize()));
            }
            Ok(out)
        })
        .await
    }

    async fn close(&self) {}
}
