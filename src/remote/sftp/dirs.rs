//! Directory listing over SFTP, and the account's start directory. `readdir` answers with the
//! entries' own attributes (lstat, not stat), so a symlink lists as a symlink.

use russh_sftp::protocol::StatusCode;

use super::{Sftp, entry_of, sent, status_error};
use crate::remote::{DirEntry, RemoteError};

impl Sftp {
    /// The directory's entries. Two `readdir`s are kept in flight, so the end of a small
    /// directory is known with its entries, and the handle's close is sent without waiting
    /// for its answer (the server takes a channel's requests in order): over a WAN a listing
    /// costs two round trips, not four.
    pub async fn list(&self, path: &str) -> Result<Vec<DirEntry>, RemoteError> {
        let s = self.main();
        let handle = s
            .opendir(path)
            .await
            .map_err(|e| status_error("opendir", path, e))?
            .handle;
        let h = handle.as_str();
        let mut out = Vec::new();
        let mut next = sent(Box::pin(s.readdir(h))).await;
        let listed = loop {
            let ahead = sent(Box::pin(s.readdir(h))).await;
            match next.await {
                Ok(name) => {
                    for f in name.files {
                        if f.filename == "." || f.filename == ".." {
                            continue;
                        }
                        out.push(entry_of(f.filename, &f.attrs));
                    }
                    next = ahead;
                }
                Err(russh_sftp::client::error::Error::Status(st))
                    if st.status_code == StatusCode::Eof =>
                {
                    break Ok(());
                }
                Err(e) => break Err(status_error("readdir", path, e)),
            }
        };
        // Its answer (and that of a readdir sent past the end) is not waited for.
        drop(sent(Box::pin(s.close(h))).await);
        listed?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// realpath(".") as the server answers it: where the account starts, inside any chroot.
    pub async fn start_dir(&self) -> Option<String> {
        let name = self.main().realpath(".").await.ok()?;
        name.files.into_iter().next().map(|f| f.filename)
    }
}
