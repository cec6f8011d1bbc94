//! Directory listing and removal over SFTP: what finds snapshots, cleans up `.partial`
//! directories and finishes deletions.

use russh_sftp::protocol::StatusCode;

use super::{DirEntry, RemoteError, Sftp};

impl Sftp {
    pub async fn list(&self, path: &str) -> Result<Vec<DirEntry>, RemoteError> {
        let s = self.main();
        let handle = s
            .opendir(path)
            .await
            .map_err(|e| RemoteError::sftp("opendir", path, e))?
            .handle;
        let mut out = Vec::new();
        loop {
            match s.readdir(handle.as_str()).await {
                Ok(name) => {
                    for f in name.files {
                        if f.filename == "." || f.filename == ".." {
                            continue;
                        }
                        out.push(DirEntry {
                            is_dir: f.attrs.is_dir(),
                            size: f.attrs.size.unwrap_or(0),
                            name: f.filename,
                        });
                    }
                }
                Err(russh_sftp::client::error::Error::Status(st))
                    if st.status_code == StatusCode::Eof =>
                {
                    break;
                }
                Err(e) => {
                    let _ = s.close(handle.as_str()).await;
                    return Err(RemoteError::sftp("readdir", path, e));
                }
            }
        }
        let _ = s.close(handle.as_str()).await;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Removes a directory written by this program (files and subdirectories; symlinks are
    /// removed, never followed).
    pub async fn remove_tree(&self, path: &str) -> Result<(), RemoteError> {
        let mut stack = vec![(path.to_string(), false)];
        while let Some((dir, listed)) = stack.pop() {
            if listed {
                self.rmdir(&dir).await?;
                continue;
            }
            stack.push((dir.clone(), true));
            for e in self.list(&dir).await? {
                let p = format!("{dir}/{}", e.name);
                if e.is_dir {
                    stack.push((p, false));
                } else {
                    self.remove_file(&p).await?;
                }
            }
        }
        Ok(())
    }
}
