//! [`SmallFs`]: a size-limited tmpfs on a temp dir, for "disk full" tests (needs root).
//!
//! `None` (after an `eprintln!`) when mounting is not permitted; under
//! `BACKUP_TEST_REQUIRE_SSHD=1` a failure panics if we are root (non-root CI may still skip).
//! Unmounted on drop (`umount`, then lazy `umount -l`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tempfile::TempDir;

use super::require_sshd;

pub struct SmallFs {
    dir: Option<TempDir>,
    path: PathBuf,
}

impl SmallFs {
    /// Mount a tmpfs of `size_bytes` (rounded up to pages by the kernel).
    pub fn mount(size_bytes: u64) -> Option<SmallFs> {
        Self::mount_on(None, size_bytes)
    }

    /// The same on the existing directory `on` (a mount point inside a test's tree), or on a
    /// new temp dir when `None`.
    pub fn mount_on(on: Option<&Path>, size_bytes: u64) -> Option<SmallFs> {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let fail = |why: String| -> Option<SmallFs> {
            if root && require_sshd() {
                panic!("BACKUP_TEST_REQUIRE_SSHD=1 and root, but tmpfs mount failed: {why}");
            }
            eprintln!("skipping: cannot mount tmpfs: {why}");
            None
        };
        if !root {
            return fail("not root".into());
        }
        let (dir, path) = match on {
            Some(p) => (None, p.to_path_buf()),
            None => match tempfile::Builder::new().prefix("smallfs-").tempdir() {
                Ok(d) => {
                    let p = d.path().to_path_buf();
                    (Some(d), p)
                }
                Err(e) => return fail(e.to_string()),
            },
        };
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size_bytes},mode=0755"),
                "tmpfs",
            ])
            .arg(&path)
            .stdin(Stdio::null())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(SmallFs { dir, path }),
            Ok(o) => fail(format!(
                "mount: {} {}",
                o.status,
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => fail(format!("spawn mount: {e}")),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes still available to an unprivileged writer.
    pub fn available(&self) -> u64 {
        let (bsize, avail, _) = self.statvfs();
        bsize * avail
    }

    /// Total size in bytes.
    pub fn size(&self) -> u64 {
        let (bsize, _, blocks) = self.statvfs();
        bsize * blocks
    }

    fn statvfs(&self) -> (u64, u64, u64) {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(self.path.as_os_str().as_bytes()).unwrap();
        // SAFETY: valid NUL-terminated path and a zeroed out-struct owned by us.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
        assert_eq!(rc, 0, "statvfs {}", self.path.display());
        (st.f_frsize as u64, st.f_bavail as u64, st.f_blocks as u64)
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.path)
            .stderr(Stdio::null())
            .status();
        if !ok.is_ok_and(|s| s.success()) {
            let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        }
        drop(self.dir.take()); // removes the (now empty) mount point
    }
}
