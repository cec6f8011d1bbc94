//! One vault pass over every root: find the repositories (discover.rs), pass each
//! (pass.rs) with its own policy, and clean `check --connect` scratch directories outside
//! repositories after the grace period. The caller holds the vault lock and saves the state.

use chrono::{DateTime, Utc};

use super::config::VaultConfig;
use super::discover::discover;
use super::pass::{Pass, RepoReport};
use super::pin::Pinned;
use super::plan::{self, Rules};
use super::state::VaultState;

/// What one pass did.
#[derive(Debug, Default)]
pub struct PassReport {
    pub repositories: Vec<RepoReport>,
    /// Errors outside any one repository (a root that cannot be read, a probe not removed).
    pub errors: Vec<String>,
}

impl PassReport {
    pub fn failed(&self) -> bool {
        !self.errors.is_empty() || self.repositories.iter().any(|r| !r.errors.is_empty())
    }
}

pub fn rules(cfg: &VaultConfig, key: &str) -> Rules {
    Rules {
        policy: cfg.policy(key).clone(),
        tz: cfg.timezone,
        grace: cfg.grace,
        id_tolerance: cfg.id_tolerance,
        flood_limit: cfg.flood_limit,
        flood_window: cfg.flood_window,
    }
}

pub async fn run_pass(cfg: &VaultConfig, state: &mut VaultState, now: DateTime<Utc>) -> PassReport {
    let mut report = PassReport::default();
    let mut found_keys = Vec::new();
    let mut probes = Vec::new();
    for root_path in &cfg.roots {
        let root = match Pinned::root(root_path) {
            Ok(r) => r,
            Err(e) => {
                report.errors.push(e.to_string());
                continue;
            }
        };
        let found = discover(&root);
        report.errors.extend(found.problems);
        for rel in found.probes {
            probes.push((
                root_path.join(&rel).to_string_lossy().into_owned(),
                rel,
                root_path.clone(),
            ));
        }
        for key in found.repositories {
            if found_keys.contains(&key) {
                report.errors.push(format!(
                    "{} is a repository under two roots; its key {key} must be unique (give the roots different layouts)",
                    root_path.join(&key).display()
                ));
                continue;
            }
            let repo_state = state.repositories.entry(key.clone()).or_default();
            let pass = Pass {
                root: &root,
                key: &key,
                uid: cfg.uid,
                rules: &rules(cfg, &key),
                now,
            };
            let r = pass.run(repo_state).await;
            found_keys.push(key);
            report.repositories.push(r);
        }
    }
    // A root that could not be read (an unmounted disk) hides its repositories: forgetting
    // them would forget their marks, so nothing is forgotten in such a pass.
    let whole = report.errors.is_empty();
    let gone: Vec<String> = state
        .repositories
        .keys()
        .filter(|k| whole && !found_keys.contains(k))
        .cloned()
        .collect();
    for key in gone {
        if let Some(old) = state.repositories.remove(&key)
            && !old.snapshots.is_empty()
        {
            report.errors.push(format!(
                "repository {key}, which held {} snapshots, is no longer under any root: check who moved or removed it",
                old.snapshots.len()
            ));
        }
    }
    let shown: Vec<String> = probes.iter().map(|p| p.0.clone()).collect();
    for path in plan::expired(&mut state.leftovers, &shown, now, cfg.grace) {
        let Some((_, rel, root_path)) = probes.iter().find(|p| p.0 == path) else {
            continue;
        };
        let (parent, name) = rel.rsplit_once('/').unwrap_or(("", rel.as_str()));
        let removed = Pinned::root(root_path)
            .and_then(|r| r.descend(parent))
            .and_then(|d| d.remove_tree(name));
        match removed {
            Ok(()) => {
                state.leftovers.remove(&path);
                tracing::info!("removed {path}, a check --connect probe");
            }
            Err(e) => report.errors.push(e.to_string()),
        }
    }
    state.last_pass = Some(now);
    report
}
