//! One pass over one repository: guard its directories, seal and check what was committed
//! since the last pass, mark floods, rotate by retention, and clean leftovers older than the
//! grace period. Every decision is plan.rs's; this module only looks and acts, through
//! directories it holds open (pin.rs).

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::pin::Pinned;
use super::plan::{self, Rules};
use super::seal::{guard_dir, seal_file, seal_snapshot};
use super::state::{RepoState, Status};
use super::writers::writers;
use crate::config::VerifyMode;
use crate::layout::{self, Entry, SnapshotId};
use crate::remote::Local;
use crate::repository::Repository;

/// What one pass did to one repository.
#[derive(Debug, Default)]
pub struct RepoReport {
    pub key: String,
    pub sealed: usize,
    pub damaged: usize,
    pub suspicious: usize,
    pub waiting: usize,
    pub removed: usize,
    pub cleaned: usize,
    pub errors: Vec<String>,
}

/// A snapshot committed since the last pass, with its manifest's ctime at first sight.
struct New {
    id: SnapshotId,
    ctime: DateTime<Utc>,
}

fn ctime(st: &nix::sys::stat::FileStat) -> DateTime<Utc> {
    DateTime::from_timestamp(st.st_ctime, st.st_ctime_nsec as u32).unwrap_or_default()
}

/// Opens `rel` below `root` one directory at a time, guarding each (seal.rs).
fn open_guarded(root: &Pinned, rel: &str, uid: u32) -> std::io::Result<Pinned> {
    let parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
    let mut at = root.descend("")?;
    for (i, part) in parts.iter().enumerate() {
        at = at.child(part)?;
        guard_dir(&at, uid, i + 1 == parts.len())?;
    }
    Ok(at)
}

/// One repository's pass: where it is, whose the seal makes it, its rules, and the time.
pub struct Pass<'a> {
    pub root: &'a Pinned,
    pub key: &'a str,
    pub uid: u32,
    pub rules: &'a Rules,
    pub now: DateTime<Utc>,
}

impl Pass<'_> {
    pub async fn run(&self, state: &mut RepoState) -> RepoReport {
        let mut report = RepoReport {
            key: self.key.to_string(),
            ..RepoReport::default()
        };
        if let Err(e) = self.inner(state, &mut report).await {
            report.errors.push(e.to_string());
        }
        state.last_pass = Some(self.now);
        state.error = (!report.errors.is_empty()).then(|| report.errors.join("; "));
        report
    }

    async fn inner(&self, state: &mut RepoState, report: &mut RepoReport) -> anyhow::Result<()> {
        let Pass {
            root,
            key,
            uid,
            rules,
            now,
        } = *self;
        let job = open_guarded(root, key, uid)?;
        let job_name = key.rsplit('/').next().unwrap_or(key);
        seal_file(&job, layout::OWNER_FILE, uid)?;
        let mut fresh = Vec::new();
        let mut present = HashSet::new();
        let mut leftovers = Vec::new();
        for e in job.entries()? {
            match Entry::classify(&e.name) {
                Entry::Snapshot(id) if e.is_dir() => {
                    present.insert(e.name.clone());
                    let done = state
                        .snapshots
                        .get(&e.name)
                        .is_some_and(|s| s.status != Status::Waiting);
                    if done {
                        continue;
                    }
                    match job.child(&e.name)?.look(layout::MANIFEST_FILE)? {
                        Some(m) if super::pin::kind(&m) == nix::sys::stat::SFlag::S_IFREG => fresh
                            .push(New {
                                id,
                                ctime: ctime(&m),
                            }),
                        _ => leftovers.push(e.name),
                    }
                }
                // Left by the vault itself, half removed: finish it.
                Entry::Deleting(_) if e.is_dir() => job.remove_tree(&e.name)?,
                Entry::Snapshot(_) | Entry::Partial(_) | Entry::Deleting(_) => {
                    leftovers.push(e.name)
                }
                Entry::Other if e.name.starts_with(super::discover::PROBE_PREFIX) => {
                    leftovers.push(e.name)
                }
                Entry::Other => {}
            }
        }
        let vanished: Vec<String> = state
            .snapshots
            .keys()
            .filter(|id| !present.contains(*id))
            .cloned()
            .collect();
        for id in vanished {
            state.snapshots.remove(&id);
            report.errors.push(format!(
            "snapshot {id}, sealed by an earlier pass, is gone: something with root or the vault user's rights on this server removed it"
        ));
        }
        let repo = Repository::pinned(Arc::new(Local::new(&job.path())?), &job.path(), job_name);
        for n in fresh {
            self.check_new(&job, &repo, n, state, report).await?;
        }
        for id in plan::mark_floods(state, rules) {
            tracing::warn!("{key}: snapshot {id} marked: came in a flood");
            report.suspicious += 1;
        }
        for id in plan::rotate(state, rules) {
            let deleting = format!(".{id}.deleting");
            job.rename(&id.to_string(), &deleting)?;
            job.remove_tree(&deleting)?;
            state.snapshots.remove(&id.to_string());
            state.totals.removed += 1;
            report.removed += 1;
            tracing::info!("{key}: removed snapshot {id} (retention)");
        }
        for name in plan::expired(&mut state.incomplete, &leftovers, now, rules.grace) {
            match Entry::classify(&name) {
                // Out of the way first, so a manifest arriving now cannot make half a snapshot.
                Entry::Snapshot(id) => {
                    let deleting = format!(".{id}.deleting");
                    job.remove_tree(&deleting)?;
                    job.rename(&name, &deleting)?;
                    job.remove_tree(&deleting)?;
                }
                _ => job.remove_tree(&name)?,
            }
            state.incomplete.remove(&name);
            state.totals.cleaned += 1;
            report.cleaned += 1;
            tracing::info!("{key}: removed {name}, left by a failed run");
        }
        Ok(())
    }

    async fn check_new(
        &self,
        job: &Pinned,
        repo: &Repository,
        n: New,
        state: &mut RepoState,
        report: &mut RepoReport,
    ) -> anyhow::Result<()> {
        let (uid, rules, now) = (self.uid, self.rules, self.now);
        let key = &report.key;
        let trusted = state
            .snapshots
            .get(&n.id.to_string())
            .map_or(n.ctime.min(now), |s| s.trusted);
        let dir = job.child(&n.id.to_string())?;
        let mut seal = seal_snapshot(&dir, uid)?;
        // The check reads by name: the name must still be the directory just sealed (which the
        // client can no longer rename), not one swapped in before the seal.
        let sealed = dir.stat()?;
        if job
            .look(&n.id.to_string())?
            .is_none_or(|st| (st.st_dev, st.st_ino) != (sealed.st_dev, sealed.st_ino))
        {
            seal.problems.push("replaced while it was sealed".into());
        }
        let open = writers(&seal.inodes);
        if seal.problems.is_empty() && !open.is_empty() {
            tracing::info!(
                "{key}: snapshot {} is sealed but still open for writing, or the vault may not look (pid {open:?}); checked next pass",
                n.id
            );
            plan::wait(state, n.id, trusted, now);
            report.waiting += 1;
            return Ok(());
        }
        let problem = if seal.problems.is_empty() {
            check(repo, n.id, &seal.names).await?
        } else {
            Some(seal.problems.join("; "))
        };
        match plan::record(state, n.id, trusted, now, problem, rules) {
            Status::Sealed => report.sealed += 1,
            Status::Damaged => report.damaged += 1,
            Status::Suspicious => report.suspicious += 1,
            Status::Waiting => {}
        }
        if let Some(s) = state.snapshots.get(&n.id.to_string())
            && let Some(why) = &s.reason
        {
            tracing::warn!("{key}: snapshot {} is {}: {why}", n.id, s.status.as_str());
        }
        Ok(())
    }
}

/// The vault's own check of a sealed snapshot: its manifest describes this directory and
/// job, it holds exactly the manifest's files beside `SHA256SUMS`, which agrees with the
/// manifest, and every file's bytes hash to what both record.
async fn check(
    repo: &Repository,
    id: SnapshotId,
    names: &[String],
) -> anyhow::Result<Option<String>> {
    let snap = match repo.snapshot_at(id).await? {
        None => return Ok(Some("its manifest vanished before it was sealed".into())),
        Some(Err(problem)) => return Ok(Some(problem)),
        Some(Ok(s)) => s,
    };
    let expected: HashSet<&str> = snap
        .manifest
        .files
        .iter()
        .map(|f| f.name.as_str())
        .chain([layout::SUMS_FILE, layout::MANIFEST_FILE])
        .collect();
    let extra: Vec<String> = names
        .iter()
        .filter(|n| !expected.contains(n.as_str()))
        .map(|n| crate::repository::escape(n))
        .collect();
    let mut problems = Vec::new();
    if !extra.is_empty() {
        problems.push(format!(
            "files the manifest does not list: {}",
            extra.join(", ")
        ));
    }
    let checked = repo.check_by(&snap, VerifyMode::Readback).await?;
    problems.extend(checked.problems);
    problems.extend(
        checked
            .files
            .into_iter()
            .filter_map(|f| f.problem.map(|p| format!("{}: {p}", f.name))),
    );
    Ok((!problems.is_empty()).then(|| problems.join("; ")))
}
