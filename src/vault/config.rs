//! `vault.toml`: the backup server's own config, parsed with the agent's rules (unknown keys are
//! errors, durations in the one syntax of `crate::duration`, errors with file:line:col through
//! [`ConfigError`]) and resolved once into [`VaultConfig`], which nothing downstream re-checks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::config::ConfigError;
use crate::duration::HumanDuration;
use crate::retention::Policy;

pub const DEFAULT_VAULT_CONFIG: &str = "/etc/backup-agent/vault.toml";
pub const DEFAULT_STATE_DIR: &str = "/var/lib/backup-agent/vault";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileModel {
    vault: Spanned<VaultModel>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VaultModel {
    roots: Option<Spanned<Vec<Spanned<String>>>>,
    user: Option<Spanned<String>>,
    state_dir: Option<Spanned<String>>,
    metrics_file: Option<Spanned<String>>,
    seal_delay: Option<HumanDuration>,
    grace: Option<HumanDuration>,
    id_tolerance: Option<HumanDuration>,
    flood_limit: Option<Spanned<u32>>,
    flood_window: Option<Spanned<HumanDuration>>,
    timezone: Option<Spanned<String>>,
    #[serde(default)]
    retention: Policy,
    #[serde(default)]
    repositories: BTreeMap<String, Policy>,
}

/// The resolved vault config.
#[derive(Debug, Clone)]
pub struct VaultConfig {
    pub path: PathBuf,
    pub roots: Vec<PathBuf>,
    pub uid: u32,
    pub state_dir: PathBuf,
    /// vault.prom (default `<state_dir>/vault.prom`), e.g. in node_exporter's textfile dir.
    pub metrics_file: PathBuf,
    pub seal_delay: Duration,
    pub grace: Duration,
    pub id_tolerance: Duration,
    pub flood_limit: u32,
    pub flood_window: Duration,
    pub timezone: chrono_tz::Tz,
    pub retention: Policy,
    /// Per repository (path relative to its root): a whole policy replacing the default.
    pub repositories: BTreeMap<String, Policy>,
}

impl VaultConfig {
    /// The policy of the repository `relpath`.
    pub fn policy(&self, relpath: &str) -> &Policy {
        self.repositories.get(relpath).unwrap_or(&self.retention)
    }
}

pub fn load(path: &Path) -> Result<VaultConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let err = ConfigError::file(path, format!("cannot read the vault config: {e}"));
        if e.kind() == std::io::ErrorKind::NotFound {
            err.with_hint(format!(
                "pass --config PATH or set BACKUP_VAULT_CONFIG; the default is {DEFAULT_VAULT_CONFIG}"
            ))
        } else {
            err
        }
    })?;
    parse(path, &text)
}

/// Parses and resolves `text`, the contents of `path`.
pub fn parse(path: &Path, text: &str) -> Result<VaultConfig, ConfigError> {
    let model: FileModel = toml::from_str(text)
        .map_err(|e| ConfigError::at(path, text, e.span(), e.message().trim().to_string()))?;
    let span = model.vault.span();
    let v = model.vault.into_inner();
    let at = |s: std::ops::Range<usize>, key: &str, msg: String| {
        ConfigError::at(path, text, Some(s), msg).with_key(key)
    };
    let Some(roots) = v.roots else {
        return Err(at(span, "vault.roots", "is required".into())
            .with_hint("roots = [\"/srv/backups\"]: the directories holding the job directories"));
    };
    let roots_span = roots.span();
    let roots = roots.into_inner();
    if roots.is_empty() {
        return Err(at(
            roots_span,
            "vault.roots",
            "needs at least one directory".into(),
        ));
    }
    let mut out_roots = Vec::new();
    for r in &roots {
        if !r.get_ref().starts_with('/') {
            return Err(at(
                r.span(),
                "vault.roots",
                format!("{:?} is not an absolute path", r.get_ref()),
            ));
        }
        out_roots.push(PathBuf::from(r.get_ref()));
    }
    let Some(user) = v.user else {
        return Err(at(span, "vault.user", "is required".into())
            .with_hint("user = \"backup-vault\": the account that owns sealed snapshots"));
    };
    let uid = resolve_user(user.get_ref()).map_err(|m| at(user.span(), "vault.user", m))?;
    let absolute = |s: Option<Spanned<String>>, key: &str| match s {
        Some(s) if !s.get_ref().starts_with('/') => Err(at(
            s.span(),
            key,
            format!("{:?} is not an absolute path", s.get_ref()),
        )),
        s => Ok(s.map(|s| PathBuf::from(s.into_inner()))),
    };
    let state_dir = absolute(v.state_dir, "vault.state_dir")?
        .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR));
    let metrics_file = absolute(v.metrics_file, "vault.metrics_file")?
        .unwrap_or_else(|| state_dir.join(super::metrics::METRICS_FILE));
    let flood_limit = match v.flood_limit {
        Some(n) if *n.get_ref() == 0 => {
            return Err(at(
                n.span(),
                "vault.flood_limit",
                "must be at least 1".into(),
            ));
        }
        Some(n) => n.into_inner(),
        None => 12,
    };
    let flood_window = match v.flood_window {
        Some(w) if w.get_ref().get().is_zero() => {
            return Err(at(
                w.span(),
                "vault.flood_window",
                "must be longer than 0".into(),
            ));
        }
        Some(w) => w.into_inner().get(),
        None => Duration::from_secs(3600),
    };
    let timezone = match v.timezone {
        Some(tz) => tz.get_ref().parse::<chrono_tz::Tz>().map_err(|_| {
            at(
                tz.span(),
                "vault.timezone",
                format!("{:?} is not an IANA time zone", tz.get_ref()),
            )
            .with_hint("use a name such as \"Europe/Berlin\" or \"UTC\"")
        })?,
        None => crate::config::system_timezone(),
    };
    Ok(VaultConfig {
        path: path.to_path_buf(),
        roots: out_roots,
        uid,
        state_dir,
        metrics_file,
        seal_delay: v
            .seal_delay
            .map_or(Duration::from_secs(60), HumanDuration::get),
        grace: v
            .grace
            .map_or(Duration::from_secs(86400), HumanDuration::get),
        id_tolerance: v
            .id_tolerance
            .map_or(Duration::from_secs(7200), HumanDuration::get),
        flood_limit,
        flood_window,
        timezone,
        retention: v.retention,
        repositories: v.repositories,
    })
}

/// A user name from the password database, or a numeric uid.
fn resolve_user(name: &str) -> Result<u32, String> {
    if let Ok(uid) = name.parse::<u32>() {
        return Ok(uid);
    }
    match nix::unistd::User::from_name(name) {
        Ok(Some(u)) => Ok(u.uid.as_raw()),
        Ok(None) => Err(format!(
            "no user {name:?} on this machine; create it or give a numeric uid"
        )),
        Err(e) => Err(format!("cannot look up user {name:?}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<VaultConfig, ConfigError> {
        parse(Path::new("/etc/v.toml"), text)
    }

    #[test]
    fn defaults() {
        let c = p("[vault]\nroots = [\"/srv/backups\"]\nuser = \"0\"\n").unwrap();
        assert_eq!(c.uid, 0);
        assert_eq!(c.state_dir, PathBuf::from(DEFAULT_STATE_DIR));
        assert_eq!(
            c.metrics_file,
            PathBuf::from(DEFAULT_STATE_DIR).join("vault.prom")
        );
        assert_eq!(c.seal_delay, Duration::from_secs(60));
        assert_eq!(c.grace, Duration::from_secs(86400));
        assert_eq!(c.id_tolerance, Duration::from_secs(7200));
        assert_eq!(c.flood_limit, 12);
        assert_eq!(c.flood_window, Duration::from_secs(3600));
        assert!(c.retention.is_empty());
    }

    #[test]
    fn relpath_override_replaces_the_whole_policy() {
        let c = p(
            "[vault]\nroots = [\"/srv\"]\nuser = \"root\"\ntimezone = \"Europe/Berlin\"\n\
                   [vault.retention]\nkeep_daily = 7\n\
                   [vault.repositories.\"db01/repo/db\"]\nkeep_last = 3\n",
        )
        .unwrap();
        assert_eq!(c.policy("db01/repo/db").keep_last, 3);
        assert_eq!(c.policy("db01/repo/db").keep_daily, 0);
        assert_eq!(c.policy("other").keep_daily, 7);
        assert_eq!(c.timezone, chrono_tz::Europe::Berlin);
    }

    #[test]
    fn errors_name_the_line() {
        let e = p("[vault]\nroots = [\"/srv\"]\nuser = \"0\"\nbogus = 1\n").unwrap_err();
        assert_eq!(e.position.map(|p| p.0), Some(4), "{e}");
        let e = p("[vault]\nroots = [\"/srv\"]\nuser = \"0\"\ngrace = \"soon\"\n").unwrap_err();
        assert!(e.to_string().contains("is not a duration"), "{e}");
        assert_eq!(e.position.map(|p| p.0), Some(4), "{e}");
        let e = p("[vault]\nuser = \"0\"\n").unwrap_err();
        assert!(e.to_string().contains("vault.roots"), "{e}");
        let e = p("[vault]\nroots = [\"/srv\"]\n").unwrap_err();
        assert!(e.to_string().contains("vault.user"), "{e}");
        let e = p("[vault]\nroots = [\"srv\"]\nuser = \"0\"\n").unwrap_err();
        assert!(e.to_string().contains("absolute"), "{e}");
        let e = p("[vault]\nroots = [\"/srv\"]\nuser = \"0\"\n[vault.retention]\nkeep_dialy = 1\n")
            .unwrap_err();
        assert_eq!(e.position.map(|p| p.0), Some(5), "{e}");
        let e = p("[vault]\nroots = [\"/srv\"]\nuser = \"0\"\nflood_limit = 0\n").unwrap_err();
        assert!(e.to_string().contains("flood_limit"), "{e}");
    }

    #[test]
    fn the_shipped_example_is_valid() {
        let text = include_str!("../../packaging/vault/vault.toml")
            .replace("user = \"backup-vault\"", "user = \"root\"");
        let c = p(&text).unwrap();
        assert_eq!(c.retention.keep_monthly, 12);
    }
}
