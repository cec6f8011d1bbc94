//! `[agent.encryption]` and `[jobs.NAME.encryption]`: the recipients new snapshots are
//! encrypted to, parsed at load time so that a bad one is a config error with its file and
//! line, and the identity that restores read (only named here: it is read when needed, and
//! belongs on the machines that restore, not on the one backed up).

use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

use super::error::ConfigError;
use super::load::Parsed;
use super::validate::err;
use crate::encryption::{IdentitySource, Recipient, parse_recipients_file};

/// A recipients file is a list of public keys; anything larger is not one.
const MAX_RECIPIENTS_FILE: u64 = 1024 * 1024;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Encryption {
    /// `false` stores this job's new snapshots in clear despite `[agent.encryption]`.
    pub enabled: Option<bool>,
    pub recipients: Option<Vec<Spanned<String>>>,
    pub recipients_file: Option<Spanned<PathBuf>>,
    pub identity_file: Option<Spanned<PathBuf>>,
    pub identity_passphrase_file: Option<Spanned<PathBuf>>,
}

/// What a job encrypts to and decrypts with.
#[derive(Debug, Clone, Default)]
pub struct EncryptionConfig {
    /// New snapshots are encrypted to all of these; empty: stored in clear.
    pub recipients: Arc<Vec<Recipient>>,
    /// For `restore`, `cat` and `verify --read` of encrypted snapshots.
    pub identity: Option<IdentitySource>,
}

impl EncryptionConfig {
    pub fn is_on(&self) -> bool {
        !self.recipients.is_empty()
    }
}

/// Resolves a table (`key` is `agent.encryption` or `jobs.NAME.encryption`) over `default`:
/// recipients (`recipients` and `recipients_file` together) and the identity each replace the
/// default's only when the table sets them.
pub(super) fn resolve(
    p: &Parsed,
    key: &str,
    table: Option<&Spanned<Encryption>>,
    default: &EncryptionConfig,
) -> Result<EncryptionConfig, ConfigError> {
    let Some(t) = table else {
        return Ok(default.clone());
    };
    let e = t.get_ref();
    let k = |name: &str| format!("{key}.{name}");
    for (name, path) in [
        ("recipients_file", &e.recipients_file),
        ("identity_file", &e.identity_file),
        ("identity_passphrase_file", &e.identity_passphrase_file),
    ] {
        if let Some(path) = path.as_ref().filter(|p| !p.get_ref().is_absolute()) {
            return Err(err(
                p,
                path,
                k(name),
                format!("{} is not an absolute path", path.get_ref().display()),
            ));
        }
    }
    let recipients = if e.recipients.is_some() || e.recipients_file.is_some() {
        let mut all = Vec::new();
        for r in e.recipients.iter().flatten() {
            all.push(Recipient::parse(r.get_ref()).map_err(|why| {
                err(p, r, k("recipients"), why).with_hint(
                    "give age recipients (age1..., from `backup keygen` or age-keygen) or SSH public keys (ssh-ed25519 AAAA...)",
                )
            })?);
        }
        if let Some(file) = &e.recipients_file {
            all.extend(read_recipients_file(p, file, &k("recipients_file"))?);
        }
        Arc::new(all)
    } else {
        default.recipients.clone()
    };
    let enabled = e.enabled.unwrap_or(true);
    if enabled && recipients.is_empty() {
        return Err(ConfigError::at(
            &p.path,
            &p.text,
            Some(t.span()),
            "encryption has no recipient, so nothing could ever decrypt a snapshot",
        )
        .with_key(key.to_string())
        .with_hint("add recipients = [\"age1...\"] or recipients_file, or set enabled = false"));
    }
    let identity = match &e.identity_file {
        Some(path) => Some(IdentitySource {
            path: path.get_ref().clone(),
            passphrase_file: e
                .identity_passphrase_file
                .as_ref()
                .map(|f| f.get_ref().clone()),
        }),
        None => default.identity.clone(),
    };
    Ok(EncryptionConfig {
        recipients: if enabled {
            recipients
        } else {
            Arc::new(Vec::new())
        },
        identity,
    })
}

fn read_recipients_file(
    p: &Parsed,
    file: &Spanned<PathBuf>,
    key: &str,
) -> Result<Vec<Recipient>, ConfigError> {
    let path = file.get_ref();
    let size = fs_err::metadata(path).map(|m| m.len());
    let text = match size {
        Ok(n) if n > MAX_RECIPIENTS_FILE => Err(format!(
            "{} is {n} bytes, too large for a recipients file",
            path.display()
        )),
        _ => fs_err::read_to_string(path).map_err(|e| e.to_string()),
    }
    .map_err(|why| {
        err(p, file, key.to_string(), why)
            .with_hint("the file lists one recipient per line, as `age -R` reads it")
    })?;
    let recipients = parse_recipients_file(&text).map_err(|(line, why)| {
        err(
            p,
            file,
            key.to_string(),
            format!("{}:{line}: {why}", path.display()),
        )
    })?;
    if recipients.is_empty() {
        return Err(err(
            p,
            file,
            key.to_string(),
            format!("{} lists no recipient", path.display()),
        ));
    }
    Ok(recipients)
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ConfigError, load};

    fn load_text(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).unwrap();
        load(&path)
    }

    fn recipient() -> String {
        age::x25519::Identity::generate().to_public().to_string()
    }

    const REMOTE: &str = "[remotes.r]\ntype = \"local\"\npath = \"/b\"\n";

    #[test]
    fn the_agent_sets_the_default_and_a_job_may_replace_it_or_turn_it_off() {
        let (a, b) = (recipient(), recipient());
        let cfg = load_text(&format!(
            "[agent.encryption]\nrecipients = [\"{a}\"]\nidentity_file = \"/root/key.txt\"\n{REMOTE}\
             [jobs.inherit]\nremote = \"r\"\nsources = [\"/etc\"]\n\
             [jobs.own]\nremote = \"r\"\nsources = [\"/etc\"]\n[jobs.own.encryption]\nrecipients = [\"{b}\"]\n\
             [jobs.clear]\nremote = \"r\"\nsources = [\"/etc\"]\n[jobs.clear.encryption]\nenabled = false\n"
        ))
        .unwrap();
        let to = |job: &str| -> Vec<String> {
            cfg.jobs[job]
                .encryption
                .recipients
                .iter()
                .map(|r| r.to_text())
                .collect()
        };
        assert_eq!(to("inherit"), [a]);
        assert_eq!(to("own"), [b]);
        assert!(to("clear").is_empty());
        for job in ["inherit", "own", "clear"] {
            let id = cfg.jobs[job].encryption.identity.as_ref().unwrap();
            assert_eq!(id.path, std::path::Path::new("/root/key.txt"), "{job}");
        }
        let none = load_text(&format!(
            "{REMOTE}[jobs.j]\nremote = \"r\"\nsources = [\"/etc\"]\n"
        ))
        .unwrap();
        assert!(!none.jobs["j"].encryption.is_on());
    }

    #[test]
    fn bad_encryption_settings_name_their_line() {
        let job = format!(
            "{REMOTE}[jobs.j]\nremote = \"r\"\nsources = [\"/etc\"]\n[jobs.j.encryption]\n"
        );
        for (table, says, line) in [
            (
                "recipients = [\"age1bad\"]\n",
                "not a valid age X25519 recipient",
                8,
            ),
            (
                "recipients = [\"ssh-ed25519 AAAAnope\"]\n",
                "SSH public key",
                8,
            ),
            ("recipients = []\n", "no recipient", 7),
            (
                &format!(
                    "recipients = [\"{}\"]\nidentity_file = \"key.txt\"\n",
                    recipient()
                ),
                "not an absolute path",
                9,
            ),
            (
                "recipients_file = \"/nonexistent/r.txt\"\n",
                "/nonexistent/r.txt",
                8,
            ),
        ] {
            let e = load_text(&format!("{job}{table}")).unwrap_err();
            assert!(e.to_string().contains(says), "{table}: {e}");
            assert_eq!(e.position.map(|p| p.0), Some(line), "{table}: {e}");
        }
    }
}
