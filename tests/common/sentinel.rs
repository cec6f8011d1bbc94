//! [`Sentinels`]: files and directories outside what a command may touch, with known content,
//! modes and times. [`Sentinels::assert_intact`] proves that nothing there was written,
//! created, deleted, renamed, linked to or read: every watched path keeps its kind, mode, link
//! count, size, mtime and content, no entry appears or vanishes, and every access time is still
//! the one set long ago (with `relatime` or `strictatime`, reading a file or listing a
//! directory sets it to now; whether this file system keeps access times is probed when the
//! first path is watched).

use std::collections::BTreeMap;
use std::fs::{self, File, FileTimes};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

/// Access time of every watched path: long ago, so that any read moves it.
const OLD_ATIME: Duration = Duration::from_secs(1_000_000_000);
/// Modification time of planted sentinels.
const SENTINEL_MTIME: Duration = Duration::from_secs(1_200_000_000);

/// What the test watches; see the module docs.
#[derive(Default)]
pub struct Sentinels {
    /// Each watched root and what was under it (root included) when it was watched.
    watched: Vec<(PathBuf, BTreeMap<PathBuf, String>)>,
    /// `Some(false)` when this file system does not record reads in access times.
    atime_works: Option<bool>,
}

impl Sentinels {
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates the directory `dir` holding `sentinel.txt` and `sub/inner.txt` (known content,
    /// mode 0644, an old mtime) and watches it.
    pub fn plant(&mut self, dir: &Path) -> PathBuf {
        fs::create_dir_all(dir.join("sub")).unwrap();
        write_old(&dir.join("sentinel.txt"), b"sentinel: must stay as it is\n");
        write_old(&dir.join("sub/inner.txt"), b"inner sentinel\n");
        for d in [dir.join("sub"), dir.to_path_buf()] {
            File::open(&d)
                .unwrap()
                .set_times(FileTimes::new().set_modified(UNIX_EPOCH + SENTINEL_MTIME))
                .unwrap();
        }
        self.watch(dir);
        dir.to_path_buf()
    }

    /// Creates the file `path` with `content` (old mtime) and watches it.
    pub fn plant_file(&mut self, path: &Path, content: &[u8]) {
        write_old(path, content);
        self.watch(path);
    }

    /// Watches an existing file or tree as it is now.
    pub fn watch(&mut self, root: &Path) {
        let state = describe(root);
        arm(state.keys());
        if self.atime_works.is_none() {
            self.atime_works = Some(probe_atime(&state));
            if self.atime_works == Some(false) {
                eprintln!(
                    "note: this file system does not update access times: reads outside are not detected"
                );
            }
        }
        self.watched.push((root.to_path_buf(), state));
    }

    /// Panics naming every watched path that was read, changed, created or removed.
    pub fn assert_intact(&self) {
        let mut problems = Vec::new();
        for (root, before) in &self.watched {
            // Access times first: describing reads the files.
            if self.atime_works == Some(true) {
                for p in before.keys() {
                    if let Ok(m) = fs::symlink_metadata(p)
                        && !m.file_type().is_symlink()
                        && m.atime() != OLD_ATIME.as_secs() as i64
                    {
                        problems.push(format!("read: {}", p.display()));
                    }
                }
            }
            let after = describe(root);
            for (p, was) in before {
                match after.get(p) {
                    None => problems.push(format!("removed: {} ({was})", p.display())),
                    Some(now) if now != was => problems.push(format!(
                        "changed: {}\n  was {was}\n  now {now}",
                        p.display()
                    )),
                    Some(_) => {}
                }
            }
            for (p, now) in &after {
                if !before.contains_key(p) {
                    problems.push(format!("created: {} ({now})", p.display()));
                }
            }
            arm(after.keys());
        }
        assert!(
            problems.is_empty(),
            "outside what the command may touch:\n{}",
            problems.join("\n")
        );
    }
}

fn write_old(path: &Path, content: &[u8]) {
    fs::write(path, content).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o644)).unwrap();
    File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_times(FileTimes::new().set_modified(UNIX_EPOCH + SENTINEL_MTIME))
        .unwrap();
}

/// Every path under `root` (root included, links not followed) with a description of it.
fn describe(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let m = fs::symlink_metadata(&p).unwrap_or_else(|e| panic!("lstat {}: {e}", p.display()));
        let ft = m.file_type();
        let what = if ft.is_symlink() {
            format!("symlink -> {}", fs::read_link(&p).unwrap().display())
        } else if ft.is_dir() {
            for e in fs::read_dir(&p).unwrap().flatten() {
                stack.push(e.path());
            }
            "dir".to_string()
        } else if ft.is_file() {
            let data = fs::read(&p).unwrap();
            format!("file sha256:{}", hex::encode(Sha256::digest(&data)))
        } else {
            format!("special {:o}", m.mode() & 0o170000)
        };
        let desc = format!(
            "{what} mode {:o} links {} size {} mtime {}.{:09}",
            m.mode() & 0o7777,
            if ft.is_dir() { 0 } else { m.nlink() },
            if ft.is_dir() { 0 } else { m.len() },
            m.mtime(),
            m.mtime_nsec()
        );
        out.insert(p, desc);
    }
    out
}

/// Sets the access time of every path (not symlinks) to [`OLD_ATIME`], leaving the mtime.
fn arm<'a>(paths: impl Iterator<Item = &'a PathBuf>) {
    for p in paths {
        let Ok(m) = fs::symlink_metadata(p) else {
            continue;
        };
        if m.file_type().is_symlink() || !(m.is_file() || m.is_dir()) {
            continue;
        }
        let old = SystemTime::UNIX_EPOCH + OLD_ATIME;
        File::open(p)
            .and_then(|f| f.set_times(FileTimes::new().set_accessed(old)))
            .unwrap_or_else(|e| panic!("set atime of {}: {e}", p.display()));
    }
}

/// Does reading a file move its access time here? Reads one watched file and re-arms it.
fn probe_atime(state: &BTreeMap<PathBuf, String>) -> bool {
    let Some(file) = state.keys().find(|p| p.is_file() && !p.is_symlink()) else {
        return true;
    };
    let _ = fs::read(file);
    let moved = fs::metadata(file).is_ok_and(|m| m.atime() != OLD_ATIME.as_secs() as i64);
    arm(std::iter::once(file));
    moved
}
