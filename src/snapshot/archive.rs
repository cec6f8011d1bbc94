//! Walking the sources into one tar stream: GNU headers with long names, symlinks stored (never
//! followed), hard links stored once, empty directories, modes, owners and mtimes (with their
//! nanoseconds in PAX records, pax.rs). A file that vanishes or cannot be read is skipped with a
//! warning; it never fails the run. A missing optional source is only recorded.

use std::collections::HashMap;
use std::fs::Metadata;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use tar::{EntryType, Header, HeaderMode};
use walkdir::WalkDir;

use super::names::Names;
use super::pax::{self, Keep, Origin, Records};
use super::reader::{Change, ExactReader};
use super::sparse::Layout;
use crate::config::{Exclude, Source};
use crate::layout::manifest::Stats;

pub struct Archiver<W: Write> {
    tar: tar::Builder<W>,
    exclude: Exclude,
    /// (dev, inode) of files with several links -> the archive path that holds the data.
    links: HashMap<(u64, u64), PathBuf>,
    names: Names,
    keep: Keep,
    pub stats: Stats,
    pub warnings: Vec<String>,
    /// Optional sources that do not exist: recorded, not warned about.
    pub skipped: Vec<String>,
}

impl<W: Write> Archiver<W> {
    pub fn new(out: W, exclude: Exclude, keep: Keep) -> Self {
        let mut tar = tar::Builder::new(out);
        tar.mode(HeaderMode::Complete);
        tar.follow_symlinks(false);
        Archiver {
            tar,
            exclude,
            links: HashMap::new(),
            names: Names::default(),
            keep,
            stats: Stats::default(),
            warnings: Vec::new(),
            skipped: Vec::new(),
        }
    }

    fn warn(&mut self, msg: String) {
        tracing::warn!("{msg}");
        self.warnings.push(msg);
    }

    /// Adds one source tree. Only errors writing the archive are returned; problems with
    /// single files become warnings.
    pub fn add_source(&mut self, source: &Source) -> io::Result<()> {
        match std::fs::symlink_metadata(&source.path) {
            // Absent is what `optional` allows (a directory only some hosts have): a warning
            // on every run would teach people to ignore exit 3.
            Err(e) if e.kind() == io::ErrorKind::NotFound && source.optional => {
                tracing::info!(
                    "optional source {} does not exist; skipped",
                    source.path.display()
                );
                self.skipped.push(source.path.display().to_string());
                return Ok(());
            }
            Err(e) => {
                self.warn(format!(
                    "source {} cannot be read: {e}",
                    source.path.display()
                ));
                return Ok(());
            }
            Ok(_) => {}
        }
        let exclude = self.exclude.clone();
        let walk = WalkDir::new(&source.path)
            .follow_links(false)
            .same_file_system(self.keep.one_file_system)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(move |e| !exclude.is_excluded(e.path()));
        for entry in walk {
            match entry {
                Ok(e) => {
                    let meta = match e.metadata() {
                        Ok(m) => m,
                        Err(err) => {
                            self.skip(e.path(), &err.into());
                            continue;
                        }
                    };
                    self.add_entry(e.path(), &meta)?;
                }
                Err(err) => {
                    let path = err.path().map(Path::to_path_buf).unwrap_or_default();
                    self.skip(&path, &io::Error::other(err.to_string()));
                }
            }
        }
        Ok(())
    }

    fn skip(&mut self, path: &Path, err: &io::Error) {
        let msg =
            if err.kind() == io::ErrorKind::NotFound || err.raw_os_error() == Some(libc::ENOENT) {
                format!("{} vanished before it was read; skipped", path.display())
            } else {
                format!("{} cannot be read ({err}); skipped", path.display())
            };
        self.warn(msg);
    }

    fn add_entry(&mut self, path: &Path, meta: &Metadata) -> io::Result<()> {
        let name = archive_name(path);
        if name.as_os_str().is_empty() {
            return Ok(()); // the root directory itself
        }
        let ft = meta.file_type();
        let mut header = Header::new_gnu();
        header.set_metadata_in_mode(meta, HeaderMode::Complete);
        self.names.set(&mut header, meta);
        if ft.is_dir() {
            self.stats.dirs += 1;
            header.set_size(0);
            self.extended(Origin { path, file: None }, meta)?;
            return self.tar.append_data(&mut header, &name, io::empty());
        }
        if ft.is_symlink() {
            let target = match std::fs::read_link(path) {
                Ok(t) => t,
                Err(e) => {
                    self.skip(path, &e);
                    return Ok(());
                }
            };
            self.stats.symlinks += 1;
            header.set_size(0);
            self.extended(Origin { path, file: None }, meta)?;
            return self.tar.append_link(&mut header, &name, &target);
        }
        if ft.is_file() {
            return self.add_file(path, &name, meta, header);
        }
        if ft.is_fifo() || ft.is_char_device() || ft.is_block_device() {
            header.set_size(0);
            // The tar crate leaves a device's numbers at zero.
            header.set_device_major(libc::major(meta.rdev()))?;
            header.set_device_minor(libc::minor(meta.rdev()))?;
            self.extended(Origin { path, file: None }, meta)?;
            return self.tar.append_data(&mut header, &name, io::empty());
        }
        tracing::debug!(
            "{}: socket or unknown file type; not archived",
            path.display()
        );
        Ok(())
    }

    /// The PAX records of the entry about to be appended.
    fn extended(&mut self, from: Origin<'_>, meta: &Metadata) -> io::Result<()> {
        pax::records(from, meta, self.keep, &mut self.warnings).write(&mut self.tar)
    }

    fn add_file(
        &mut self,
        path: &Path,
        name: &Path,
        meta: &Metadata,
        mut header: Header,
    ) -> io::Result<()> {
        let key = (meta.dev(), meta.ino());
        if meta.nlink() > 1
            && let Some(first) = self.links.get(&key)
        {
            let first = first.clone();
            header.set_entry_type(EntryType::Link);
            header.set_size(0);
            self.stats.files += 1;
            Records::of(meta).write(&mut self.tar)?;
            return self.tar.append_link(&mut header, name, &first);
        }
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) => {
                self.skip(path, &e);
                return Ok(());
            }
        };
        // Size and times from the open file: the path may have been replaced since the walk.
        let meta = match file.metadata() {
            Ok(m) if m.is_file() => m,
            Ok(_) => {
                self.warn(format!(
                    "{} changed type during the run; skipped",
                    path.display()
                ));
                return Ok(());
            }
            Err(e) => {
                self.skip(path, &e);
                return Ok(());
            }
        };
        header.set_metadata_in_mode(&meta, HeaderMode::Complete);
        self.names.set(&mut header, &meta);
        let size = meta.len();
        let from = Origin {
            path,
            file: Some(&file),
        };
        let mut records = pax::records(from, &meta, self.keep, &mut self.warnings);
        let layout = Layout::of(&file, &meta);
        let file = io::BufReader::with_capacity(256 * 1024, file);
        let (data, stored, stored_name): (Box<dyn Read>, u64, PathBuf) = match layout {
            Some(l) => {
                records.add_sparse(name, size);
                header = l.header(&header)?;
                let stored = l.stored();
                (Box::new(l.reader(file)), stored, Layout::header_name(name))
            }
            None => {
                header.set_size(size);
                (Box::new(file), size, name.to_path_buf())
            }
        };
        records.write(&mut self.tar)?;
        let mut reader = ExactReader::new(data, stored);
        self.tar
            .append_data(&mut header, &stored_name, &mut reader)?;
        self.stats.files += 1;
        self.stats.bytes_read += stored;
        if meta.nlink() > 1 {
            self.links.insert(key, name.to_path_buf());
        }
        match reader.finish() {
            Change::None => {}
            Change::Shrank(at) => self.warn(format!(
                "{} shrank while it was read (ended at {at} of {size} bytes); stored padded with zeros",
                path.display()
            )),
            Change::Grew => self.warn(format!(
                "{} grew while it was read; stored its first {size} bytes",
                path.display()
            )),
            Change::ReadError(e, at) => self.warn(format!(
                "{}: read error at byte {at} ({e}); the rest is stored as zeros",
                path.display()
            )),
        }
        Ok(())
    }

    /// Writes the end-of-archive marker and returns the output.
    pub fn finish(self) -> io::Result<(W, Stats, Vec<String>)> {
        let out = self.tar.into_inner()?;
        Ok((out, self.stats, self.warnings))
    }
}

/// Absolute path without the leading `/`, as GNU tar stores it.
pub fn archive_name(path: &Path) -> PathBuf {
    let bytes = path.as_os_str().as_bytes();
    let trimmed = bytes
        .iter()
        .position(|&b| b != b'/')
        .map_or(&[][..], |i| &bytes[i..]);
    PathBuf::from(std::ffi::OsStr::from_bytes(trimmed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_drop_the_leading_slash() {
        assert_eq!(
            archive_name(Path::new("/etc/hosts")),
            PathBuf::from("etc/hosts")
        );
        assert_eq!(archive_name(Path::new("//srv")), PathBuf::from("srv"));
        assert_eq!(archive_name(Path::new("/")), PathBuf::from(""));
    }
}
