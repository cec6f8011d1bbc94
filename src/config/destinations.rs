//! A job's destinations: `remote = "offsite"` or `remotes = ["offsite", "nas"]` (exactly one of
//! the two), each with the retention policy that applies there: `[jobs.X.retention]` for all,
//! and a sub-table `[jobs.X.retention.NAME]` that replaces it for the destination NAME.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

use super::error::ConfigError;
use super::load::Parsed;
use super::model;
use super::resolved::{Destination, RemoteConfig};
use super::validate::err;
use crate::retention::Policy;

type Remotes = BTreeMap<String, (Arc<RemoteConfig>, std::path::PathBuf)>;

pub(super) fn resolve(
    p: &Parsed,
    name: &str,
    j: &Spanned<model::Job>,
    remotes: &Remotes,
) -> Result<Vec<Destination>, ConfigError> {
    let key = |k: &str| format!("jobs.{name}.{k}");
    let jv = j.get_ref();
    let named: Vec<&Spanned<String>> = match (&jv.remote, &jv.remotes) {
        (Some(one), None) => vec![one],
        (None, Some(many)) if !many.get_ref().is_empty() => many.get_ref().iter().collect(),
        (None, Some(many)) => {
            return Err(err(p, many, key("remotes"), "remotes is empty")
                .with_hint("list at least one [remotes.NAME], e.g. remotes = [\"offsite\"]"));
        }
        (Some(one), Some(_)) => {
            return Err(err(
                p,
                one,
                key("remote"),
                "both `remote` and `remotes` are set",
            )
            .with_hint("keep one: `remote = \"NAME\"` for one destination, `remotes = [\"A\", \"B\"]` for several"));
        }
        (None, None) => {
            return Err(ConfigError::at(
                &p.path,
                &p.text,
                Some(j.span()),
                "the job has no destination",
            )
            .with_key(format!("jobs.{name}"))
            .with_hint("set remote = \"NAME\" (or remotes = [...]) to a [remotes.NAME] table"));
        }
    };
    let (default, overrides) = retention(p, name, jv.retention.as_ref())?;
    let mut out: Vec<Destination> = Vec::new();
    for n in &named {
        let Some((remote, _)) = remotes.get(n.get_ref()) else {
            let known: Vec<&str> = remotes.keys().map(String::as_str).collect();
            let hint = if known.is_empty() {
                "no [remotes.NAME] table is defined".to_string()
            } else {
                format!("defined remotes: {}", known.join(", "))
            };
            let k = if jv.remote.is_some() {
                "remote"
            } else {
                "remotes"
            };
            return Err(
                err(p, n, key(k), format!("unknown remote {:?}", n.get_ref())).with_hint(hint),
            );
        };
        if out.iter().any(|d| d.remote.name == remote.name) {
            return Err(err(
                p,
                n,
                key("remotes"),
                format!("{:?} is listed twice", n.get_ref()),
            ));
        }
        if let Some(d) = out.iter().find(|d| same_place(&d.remote, remote)) {
            return Err(err(
                p,
                n,
                key("remotes"),
                format!(
                    "{:?} and {:?} are the same directory ({}:{}): two runs would write one history",
                    d.remote.name,
                    remote.name,
                    remote.display_addr(),
                    remote.path
                ),
            ));
        }
        let retention = overrides
            .get(n.get_ref())
            .map(|(p, _)| p.clone())
            .unwrap_or_else(|| default.clone());
        if remote.append_only && !retention.is_empty() {
            return Err(err(
                p,
                n,
                key("retention"),
                format!(
                    "remote {:?} is append_only, so this agent cannot delete there, but the job gives it a retention policy: on an append-only remote the backup server's vault rotates",
                    remote.name
                ),
            )
            .with_hint(format!(
                "set the policy in the server's vault.toml ([vault.retention]) and remove [jobs.{name}.retention], or add an empty [jobs.{name}.retention.{}] to keep the policy for the other destinations",
                remote.name
            )));
        }
        out.push(Destination {
            remote: remote.clone(),
            retention,
        });
    }
    for (remote, (_, at)) in &overrides {
        if !named.iter().any(|n| n.get_ref() == remote) {
            return Err(err(
                p,
                at,
                key(&format!("retention.{remote}")),
                format!("{remote:?} is not one of this job's destinations"),
            )
            .with_hint(format!(
                "a sub-table of retention names a destination in `remote`/`remotes`; or, if {remote:?} is meant as a rule, it is not one (keep_last, keep_daily, keep_within, ...)"
            )));
        }
    }
    Ok(out)
}

fn same_place(a: &RemoteConfig, b: &RemoteConfig) -> bool {
    a.display_addr() == b.display_addr() && a.path == b.path
}

type Overrides<'a> = BTreeMap<String, (Policy, &'a Spanned<toml::Value>)>;

/// The policy for every destination, and the per-destination ones. Each key is parsed on its
/// own, so an error names its line and key, as the rest of the config does.
fn retention<'a>(
    p: &Parsed,
    job: &str,
    table: Option<&'a BTreeMap<String, Spanned<toml::Value>>>,
) -> Result<(Policy, Overrides<'a>), ConfigError> {
    let mut overrides = Overrides::new();
    let Some(table) = table else {
        return Ok((Policy::default(), overrides));
    };
    let mut rules = toml::Table::new();
    for (k, v) in table {
        let at = format!("jobs.{job}.retention.{k}");
        match v.get_ref() {
            toml::Value::Table(sub) => {
                let policy = policy(sub.clone()).map_err(|e| err(p, v, at, e))?;
                overrides.insert(k.clone(), (policy, v));
            }
            value => {
                let one = toml::Table::from_iter([(k.clone(), value.clone())]);
                policy(one).map_err(|e| err(p, v, at, e))?;
                rules.insert(k.clone(), value.clone());
            }
        }
    }
    let default = policy(rules)
        .map_err(|e| ConfigError::file(&p.path, e).with_key(format!("jobs.{job}.retention")))?;
    Ok((default, overrides))
}

fn policy(t: toml::Table) -> Result<Policy, String> {
    Policy::deserialize(toml::Value::Table(t)).map_err(|e| e.message().to_string())
}
