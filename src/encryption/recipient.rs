//! Recipients: the public keys a snapshot is encrypted to. age X25519 recipients (`age1...`)
//! and SSH public keys (`ssh-ed25519 ...`, `ssh-rsa ...`), as `age -r` and `age -R` accept
//! them, each with the fingerprint that manifests record and error messages show.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::fingerprint;

/// One parsed recipient.
#[derive(Clone)]
pub struct Recipient {
    key: Key,
    info: RecipientInfo,
}

#[derive(Clone)]
enum Key {
    X25519(age::x25519::Recipient),
    Ssh(age::ssh::Recipient),
}

/// What may be said of a recipient on an untrusted server: its kind and fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientInfo {
    /// `x25519`, `ssh-ed25519` or `ssh-rsa`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `SHA256:...`
    pub fingerprint: String,
}

impl fmt::Display for RecipientInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.fingerprint)
    }
}

impl fmt::Debug for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Recipient({})", self.info)
    }
}

impl Recipient {
    /// Parses one recipient as age does; the error says what was expected.
    pub fn parse(text: &str) -> Result<Recipient, String> {
        let text = text.trim();
        if text.starts_with("age1") {
            let key: age::x25519::Recipient = text
                .parse()
                .map_err(|e| format!("{:?} is not a valid age X25519 recipient: {e}", cut(text)))?;
            return Ok(Recipient::x25519(key));
        }
        if text.starts_with("ssh-") {
            let key: age::ssh::Recipient = text.parse().map_err(|e| {
                format!(
                    "{:?} is not a usable SSH public key: {}",
                    cut(text),
                    ssh_why(e)
                )
            })?;
            let kind = match key {
                age::ssh::Recipient::SshRsa(..) => "ssh-rsa",
                age::ssh::Recipient::SshEd25519(..) => "ssh-ed25519",
            };
            let info = RecipientInfo {
                kind: kind.into(),
                fingerprint: fingerprint::of_recipient(&key.to_string()),
            };
            return Ok(Recipient {
                key: Key::Ssh(key),
                info,
            });
        }
        Err(format!(
            "{:?} is neither an age recipient (age1...) nor an SSH public key (ssh-ed25519 ..., ssh-rsa ...)",
            cut(text)
        ))
    }

    pub(super) fn x25519(key: age::x25519::Recipient) -> Recipient {
        let info = RecipientInfo {
            kind: "x25519".into(),
            fingerprint: fingerprint::of_recipient(&key.to_string()),
        };
        Recipient {
            key: Key::X25519(key),
            info,
        }
    }

    pub(super) fn ssh(key: age::ssh::Recipient) -> Option<Recipient> {
        Recipient::parse(&key.to_string()).ok()
    }

    pub fn info(&self) -> &RecipientInfo {
        &self.info
    }

    /// The recipient as `age -r` takes it.
    pub fn to_text(&self) -> String {
        match &self.key {
            Key::X25519(k) => k.to_string(),
            Key::Ssh(k) => k.to_string(),
        }
    }

    pub(super) fn as_age(&self) -> &dyn age::Recipient {
        match &self.key {
            Key::X25519(k) => k,
            Key::Ssh(k) => k,
        }
    }
}

/// Parses age's recipients-file format: one recipient per line, `#` comments and blank lines
/// ignored. Written here rather than taken from age's `cli-common`, which reads the file
/// itself and reports no line number for a config error.
pub fn parse_recipients_file(text: &str) -> Result<Vec<Recipient>, (usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        out.push(Recipient::parse(line).map_err(|e| (i + 1, e))?);
    }
    Ok(out)
}

fn ssh_why(e: age::ssh::ParseRecipientKeyError) -> String {
    use age::ssh::ParseRecipientKeyError as E;
    match e {
        E::RsaModulusTooSmall => "the RSA key is shorter than 2048 bits".into(),
        E::RsaModulusTooLarge => "the RSA key is longer than age supports".into(),
        E::Unsupported(kind) => {
            format!("age does not encrypt to {kind} keys; use ssh-ed25519 or ssh-rsa")
        }
        E::Invalid(why) => why.to_string(),
        _ => "not a supported SSH public key".into(),
    }
}

/// Recipients are public, but a pasted private key must not be echoed whole.
fn cut(text: &str) -> String {
    if text.chars().count() > 24 {
        format!("{}...", text.chars().take(20).collect::<String>())
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SSH: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIP4eiJgctEdQF9toUWXnQjdXn/1Xs5oY6X48SwCjc4X7 x";

    #[test]
    fn parses_both_kinds() {
        let id = age::x25519::Identity::generate();
        let text = id.to_public().to_string();
        let r = Recipient::parse(&text).unwrap();
        assert_eq!(r.info().kind, "x25519");
        assert_eq!(r.to_text(), text);
        let s = Recipient::parse(SSH).unwrap();
        assert_eq!(s.info().kind, "ssh-ed25519");
        assert_eq!(
            s.info().fingerprint,
            "SHA256:zCPFM41iovVEo70l+wVJoxPSXdxABVp/Kle2trgoODg"
        );
    }

    #[test]
    fn bad_recipients_say_what_was_expected() {
        for (bad, says) in [
            ("age1qqqq", "not a valid age X25519 recipient"),
            ("ssh-dss AAAAB3NzaC1kc3MAAACBAP", "SSH public key"),
            (
                "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ",
                "neither",
            ),
        ] {
            let e = Recipient::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
            assert!(!e.contains("QQQQQQQQQQQQQQQQQQQQ"), "{e}");
        }
    }

    #[test]
    fn recipients_files_skip_comments_and_name_the_bad_line() {
        let id = age::x25519::Identity::generate().to_public().to_string();
        let text = format!("# team keys\n\n{id}\n  {SSH}\n");
        assert_eq!(parse_recipients_file(&text).unwrap().len(), 2);
        let (line, e) = parse_recipients_file(&format!("{id}\n# x\nnot-a-key\n")).unwrap_err();
        assert_eq!(line, 3);
        assert!(e.contains("neither"), "{e}");
    }
}
