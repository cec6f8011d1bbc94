//! Directory listing over SFTP, and the account's start directory. `readdir` answers with the
//! entries' own attributes (lstat, not stat), so a symlink lists as a symlink.

use russh_sftp::protocol::StatusCode;

use super::{Sftp, entry_of, status_error};
use crate::remote::{DirEntry, RemoteError};

impl Sftp {
    pub async fn list(&self, path: &str) -> Result<Vec<DirEntry>, RemoteError> {
        let s = self.main();
        let handle = s
            .opendir(path)
            .await
            .map_err(|e| status_error("opendir", path, e))?
            .handle;
        let mut out = Vec::new();
        loop {
            match s.readdir(handle.as_str()).await {
                Ok(name) => {
                    for f in name.files {
                        if f.filename == "." || f.filename == ".." {
                            continue;
                        }
                        out.push(entry_of(f.filename, &f.attrs));
                    }
                }
                Err(russh_sftp::client::error::Error::Status(st))
                    if st.status_code == StatusCode::Eof =>
                {
                    break;
                }
                Err(e) => {
                    let _ = s.close(handle.as_str()).await;
                    return Err(status_error("readdir", path, e));
                }
            }
        }
        let _ = s.close(handle.as_str()).await;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// realpath(".") as the server answers it: where the account starts, inside any chroot.
    pub async fn start_dir(&self) -> Option<String> {
        let name = self.main().realpath(".").await.ok()?;
        name.files.into_iter().next().map(|f| f.filename)
    }
}
