//! [`tree_digest`]: a sorted, comparable description of a directory tree, to check that a
//! restore reproduces the source: content (SHA-256 via `sha256sum`), kind, mode, owner,
//! mtime (seconds), size, symlink targets and hard-link groups. Names are raw bytes, so
//! non-UTF-8 names work. The root directory itself is not listed.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Fifo,
    Socket,
    CharDev,
    BlockDev,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Relative path, `/`-separated, raw bytes.
    pub path: Vec<u8>,
    pub kind: Kind,
    /// Permission bits including setuid/setgid/sticky (`st_mode & 0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Whole seconds of `st_mtime`.
    pub mtime: i64,
    /// Byte size for files and symlinks, 0 otherwise.
    pub size: u64,
    /// Hex SHA-256 of regular files' content.
    pub sha256: Option<String>,
    /// Symlink target bytes.
    pub link_target: Option<Vec<u8>>,
    /// For files sharing an inode with another entry of the tree: the smallest path of that
    /// group (the same for every member), else `None`.
    pub hardlink: Option<Vec<u8>>,
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:?} {:o} {}:{} mtime={} size={}",
            esc(&self.path),
            self.kind,
            self.mode,
            self.uid,
            self.gid,
            self.mtime,
            self.size
        )?;
        if let Some(h) = &self.sha256 {
            write!(f, " sha256={}", &h[..16])?;
        }
        if let Some(t) = &self.link_target {
            write!(f, " -> {}", esc(t))?;
        }
        if let Some(h) = &self.hardlink {
            write!(f, " hardlink={}", esc(h))?;
        }
        Ok(())
    }
}

fn esc(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

/// Describe every entry below `root` (not following symlinks), sorted by path bytes.
pub fn tree_digest(root: &Path) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut inodes: HashMap<(u64, u64), Vec<usize>> = HashMap::new();
    let mut files: Vec<(usize, PathBuf)> = Vec::new();
    let mut stack = vec![(root.to_path_buf(), Vec::new())];
    while let Some((dir, rel)) = stack.pop() {
        let rd =
            std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display()));
        for item in rd {
            let item = item.unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display()));
            let abs = item.path();
            let meta = std::fs::symlink_metadata(&abs)
                .unwrap_or_else(|e| panic!("lstat {}: {e}", abs.display()));
            let mut path: Vec<u8> = rel.clone();
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(item.file_name().as_bytes());
            let ft = meta.file_type();
            let kind = if ft.is_file() {
                Kind::File
            } else if ft.is_dir() {
                Kind::Dir
            } else if ft.is_symlink() {
                Kind::Symlink
            } else if ft.is_fifo() {
                Kind::Fifo
            } else if ft.is_socket() {
                Kind::Socket
            } else if ft.is_char_device() {
                Kind::CharDev
            } else {
                Kind::BlockDev
            };
            let link_target = (kind == Kind::Symlink).then(|| {
                std::fs::read_link(&abs)
                    .unwrap_or_else(|e| panic!("readlink {}: {e}", abs.display()))
                    .into_os_string()
                    .into_vec()
            });
            let idx = entries.len();
            match kind {
                Kind::Dir => stack.push((abs, path.clone())),
                Kind::File => {
                    files.push((idx, abs));
                    inodes
                        .entry((meta.dev(), meta.ino()))
                        .or_default()
                        .push(idx);
                }
                _ if meta.nlink() > 1 => inodes
                    .entry((meta.dev(), meta.ino()))
                    .or_default()
                    .push(idx),
                _ => {}
            }
            let size = if matches!(kind, Kind::File | Kind::Symlink) {
                meta.len()
            } else {
                0
            };
            entries.push(Entry {
                path,
                kind,
                mode: meta.mode() & 0o7777,
                uid: meta.uid(),
                gid: meta.gid(),
                mtime: meta.mtime(),
                size,
                sha256: None,
                link_target,
                hardlink: None,
            });
        }
    }
    for group in inodes.values().filter(|g| g.len() > 1) {
        let first = group
            .iter()
            .map(|&i| entries[i].path.clone())
            .min()
            .unwrap();
        for &i in group {
            entries[i].hardlink = Some(first.clone());
        }
    }
    for chunk in files.chunks(256) {
        let paths: Vec<&PathBuf> = chunk.iter().map(|(_, p)| p).collect();
        for ((idx, _), hash) in chunk.iter().zip(sha256_files(&paths)) {
            entries[*idx].sha256 = Some(hash);
        }
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    entries
}

/// Hex SHA-256 of each file, in order, via one `sha256sum -z` process.
fn sha256_files(paths: &[&PathBuf]) -> Vec<String> {
    let out = Command::new("sha256sum")
        .arg("-z")
        .arg("--")
        .args(paths.iter().map(|p| OsString::from(p.as_os_str())))
        .stdin(Stdio::null())
        .output()
        .expect("spawn sha256sum");
    assert!(
        out.status.success(),
        "sha256sum failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hashes: Vec<String> = out
        .stdout
        .split(|&b| b == 0)
        .filter(|rec| !rec.is_empty())
        .map(|rec| {
            let rec = rec.strip_prefix(b"\\").unwrap_or(rec);
            String::from_utf8_lossy(&rec[..64]).into_owned()
        })
        .collect();
    assert_eq!(hashes.len(), paths.len(), "sha256sum output count");
    hashes
}

/// Human-readable differences between two digests (empty if equal).
pub fn diff_digests(a: &[Entry], b: &[Entry]) -> Vec<String> {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x.path == y.path => {
                if x != y {
                    out.push(format!("differs:\n  a: {x}\n  b: {y}"));
                }
                i += 1;
                j += 1;
            }
            (Some(x), y) if y.is_none_or(|y| x.path < y.path) => {
                out.push(format!("only in a: {x}"));
                i += 1;
            }
            (_, Some(y)) => {
                out.push(format!("only in b: {y}"));
                j += 1;
            }
            _ => unreachable!(),
        }
    }
    out
}

/// Panic listing the differences unless the trees under `a` and `b` have equal digests.
pub fn assert_trees_eq(a: &Path, b: &Path) {
    let diffs = diff_digests(&tree_digest(a), &tree_digest(b));
    if !diffs.is_empty() {
        let shown: Vec<&str> = diffs.iter().take(40).map(String::as_str).collect();
        panic!(
            "trees differ (a = {}, b = {}), {} difference(s):\n{}",
            a.display(),
            b.display(),
            diffs.len(),
            shown.join("\n")
        );
    }
}
