//! `restore` end to end: the archive (or only the PATHs asked for) and the command outputs
//! into a target directory. Trust is decided only at the end, from the SHA-256 of every byte
//! received against the snapshot's manifest.

use std::io::{self, IsTerminal};
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};

use super::RestoreError;
use super::fetch::{Fetched, fetch};
use super::keys;
use super::outputs::{output_name, write_output};
use super::read_ahead::with_read_ahead;
use super::target::{check_target, create_target};
use super::unpack::{UnpackReport, Unpacker, safe_relative};
use crate::config::JobConfig;
use crate::layout::{self, StoredFile, manifest::FileEntry};
use crate::remote::{self, Remote, RetryReads};
use crate::repository::Repository;

#[derive(Debug, Clone)]
pub struct RestoreOptions {
    pub snapshot: String,
    pub target: PathBuf,
    /// Stored paths (absolute source paths); empty means everything.
    pub paths: Vec<PathBuf>,
    pub force: bool,
    pub no_owner: bool,
    /// Create device nodes (root only).
    pub devices: bool,
    pub progress_bar: bool,
    /// Decrypts encrypted snapshots.
    pub identity: Option<crate::encryption::IdentitySource>,
}

/// What a successful restore did, for its summary line.
#[derive(Debug, Default)]
pub struct Restored {
    pub snapshot: String,
    pub entries: u64,
    pub outputs: Vec<String>,
    pub bytes: u64,
    pub warnings: Vec<String>,
}

pub async fn restore(job: &JobConfig, opts: &RestoreOptions) -> Result<Restored, RestoreError> {
    let select = opts
        .paths
        .iter()
        .map(|p| {
            let stored = p.strip_prefix("/").unwrap_or(p);
            safe_relative(stored).map_err(|why| {
                RestoreError::Usage(format!(
                    "PATH {} {why}; name paths as they were backed up, e.g. /srv/data/x",
                    p.display()
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    check_target(&opts.target, opts.force)?;
    let remote: std::sync::Arc<dyn Remote> =
        std::sync::Arc::new(RetryReads(remote::open(&job.remote).await?));
    let result = restore_from(job, opts, &remote, &select).await;
    remote.close().await;
    result
}

async fn restore_from(
    job: &JobConfig,
    opts: &RestoreOptions,
    remote: &std::sync::Arc<dyn Remote>,
    select: &[PathBuf],
) -> Result<Restored, RestoreError> {
    let repo = Repository::new(remote.clone(), &job.remote.path, &job.name);
    let snapshot = repo.resolve(&opts.snapshot).await?;
    let m = &snapshot.manifest;
    let ids = keys::identities_for(m, opts.identity.as_ref(), &job.name).await?;
    let root = create_target(&opts.target)?;
    let snap = repo.dir().snapshot(snapshot.id);
    let select = select.to_vec();
    let owners = !opts.no_owner && nix::unistd::geteuid().is_root();
    let mut done = Restored {
        snapshot: m.snapshot.clone(),
        ..Restored::default()
    };
    let mut problems = Vec::new();
    let mut untrusted = false;
    let sources = m
        .files
        .iter()
        .find(|f| matches!(StoredFile::parse(&f.name), Some(StoredFile::Sources { .. })));
    if sources.is_none() && !select.is_empty() {
        return Err(RestoreError::Usage(format!(
            "snapshot {} holds no {}, so it has no paths to restore",
            m.snapshot,
            layout::SOURCES_FILE
        )));
    }
    let archive = match sources {
        Some(f) => {
            let bar = bar(f, opts.progress_bar);
            let (r, sel, devices) = (root.clone(), select.clone(), opts.devices);
            let (name, keys) = (f.name.clone(), ids.clone());
            let fetched = fetch(
                remote.as_ref(),
                &format!("{snap}/{}", f.name),
                f.size,
                bar.clone(),
                move |input| {
                    let plain = keys::plaintext(input, &name, keys.as_deref())?;
                    let decoder = zstd::stream::read::Decoder::new(plain)?;
                    let unpacker = Unpacker::new(&r, sel, owners)?.with_devices(devices);
                    Ok(with_read_ahead(decoder, |ahead| unpacker.unpack(ahead)))
                },
            )
            .await;
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            go_on(fetched, f, &mut problems)?.map(|fetched| (f, fetched))
        }
        None => None,
    };
    if let Some((f, fetched)) = archive {
        keys::refuse_wrong_identity(&fetched, ids.as_deref(), m)?;
        let report = fetched.result.as_ref().ok();
        if let Some(UnpackReport {
            entries,
            matched,
            refused,
            failed,
            warnings,
            error,
        }) = report
        {
            done.entries = *entries;
            done.warnings.extend(warnings.iter().cloned());
            if !refused.is_empty() {
                problems.push(format!(
                    "refused {} unsafe archive entr{} (nothing was written outside {}):\n    {}",
                    refused.len(),
                    if refused.len() == 1 { "y" } else { "ies" },
                    root.display(),
                    refused.join("\n    ")
                ));
            }
            if !failed.is_empty() {
                problems.push(format!(
                    "{} entr{} could not be written (every other entry was restored):\n    {}",
                    failed.len(),
                    if failed.len() == 1 { "y" } else { "ies" },
                    failed.join("\n    ")
                ));
            }
            if let Some(e) = error {
                problems.push(format!("unpacking {} failed: {e}", f.name));
            }
            if *matched == 0 && error.is_none() && !select.is_empty() {
                return Err(RestoreError::Usage(format!(
                    "no entry of snapshot {} matches {}; nothing was restored",
                    m.snapshot,
                    opts.paths
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        if let Err(e) = &fetched.result {
            problems.push(format!("decompressing {} failed: {e}", f.name));
        }
        if let Some(p) = mismatch(f, &fetched) {
            untrusted = true;
            problems.push(p);
        }
        done.bytes += fetched.bytes;
    }
    if select.is_empty() {
        for f in m.files.iter().filter(|f| {
            !matches!(
                StoredFile::parse(&f.name),
                Some(StoredFile::Sources { .. } | StoredFile::Details)
            )
        }) {
            let Some(plain) = output_name(&f.name) else {
                problems.push(format!(
                    "\"{}\": not restored: not a name this program writes",
                    layout::escape(&f.name)
                ));
                continue;
            };
            let (path, force) = (root.clone(), opts.force);
            let (name, stored, keys) = (plain.to_string(), f.name.clone(), ids.clone());
            let fetched = fetch(
                remote.as_ref(),
                &format!("{snap}/{}", f.name),
                f.size,
                None,
                move |input| {
                    let input = keys::plaintext(input, &stored, keys.as_deref())?;
                    write_output(input, &path, &name, force)
                },
            )
            .await;
            let Some(fetched) = go_on(fetched, f, &mut problems)? else {
                continue;
            };
            keys::refuse_wrong_identity(&fetched, ids.as_deref(), m)?;
            if let Err(e) = &fetched.result {
                problems.push(format!("restoring {} to {plain} failed: {e}", f.name));
            }
            if let Some(p) = mismatch(f, &fetched) {
                untrusted = true;
                problems.push(p);
            }
            done.outputs.push(plain.to_string());
            done.bytes += fetched.bytes;
        }
    }
    if problems.is_empty() {
        return Ok(done);
    }
    if !done.warnings.is_empty() {
        // Printed on their own only after a success: a failure's summary lists them too.
        problems.push(format!(
            "{} warning(s):\n    {}",
            done.warnings.len(),
            done.warnings.join("\n    ")
        ));
    }
    let message = format!(
        "restore of snapshot {} into {} failed:\n  {}",
        m.snapshot,
        root.display(),
        problems.join("\n  ")
    );
    if untrusted {
        return Err(RestoreError::Untrusted {
            message: format!(
                "{message}\n{} must not be trusted: what was downloaded is not what was backed up",
                root.display()
            ),
            hint: format!(
                "`backup verify {} {}`, then restore another snapshot into an empty directory",
                job.name, m.snapshot
            ),
        });
    }
    Err(RestoreError::Failed(message))
}

/// A stored file the server does not let us read as recorded (not a regular file, missing,
/// refused) is one problem of the restore, which goes on with the next stored file; a lost
/// connection ends it.
fn go_on<T>(
    fetched: Result<Fetched<T>, RestoreError>,
    f: &FileEntry,
    problems: &mut Vec<String>,
) -> Result<Option<Fetched<T>>, RestoreError> {
    match fetched {
        Ok(fetched) => Ok(Some(fetched)),
        Err(RestoreError::Remote(e)) if !e.is_transient() => {
            problems.push(format!("{} was not restored: {e}", f.name));
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

pub(super) fn mismatch<T>(f: &FileEntry, got: &Fetched<T>) -> Option<String> {
    if got.over_limit {
        return Some(format!(
            "{}: the server holds more than the {} bytes the manifest records",
            f.name, f.size
        ));
    }
    (got.sha256 != f.sha256 || got.bytes != f.size).then(|| {
        format!(
            "{}: SHA-256 of the {} bytes received is {}, the manifest says {} ({} bytes)",
            f.name, got.bytes, got.sha256, f.sha256, f.size
        )
    })
}

fn bar(f: &FileEntry, allow: bool) -> Option<ProgressBar> {
    (allow && io::stderr().is_terminal()).then(|| {
        let b = ProgressBar::new(f.size);
        b.set_style(
            ProgressStyle::with_template(
                "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b.set_prefix(f.name.clone());
        b
    })
}
