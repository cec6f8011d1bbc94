//! Host key verification against an OpenSSH known_hosts file. Written here rather than taken
//! from russh, whose checker ignores `@revoked`, wildcards and negation, and numbers lines
//! without counting comments: an operator needs the right line number to fix the right entry.

use russh::keys::{Algorithm, HashAlg, PublicKey};

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The key is listed for this host on `line`.
    Trusted { line: usize },
    /// The key is listed as `@revoked` on `line`.
    Revoked { line: usize },
    /// The host is listed with other keys of the same type: the server was re-keyed, or this
    /// is not the server it claims to be.
    Changed { lines: Vec<usize> },
    /// The host is listed only with keys of other types.
    OtherTypes {
        lines: Vec<usize>,
        types: Vec<String>,
    },
    /// The host is not listed at all.
    Unknown,
}

struct Line<'a> {
    number: usize,
    revoked: bool,
    hosts: &'a str,
    key: PublicKey,
}

fn lines(text: &str) -> impl Iterator<Item = Line<'_>> {
    text.lines().enumerate().filter_map(|(i, raw)| {
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            return None;
        }
        let mut fields = l.split_whitespace();
        let mut first = fields.next()?;
        let mut revoked = false;
        if first.starts_with('@') {
            match first {
                "@revoked" => revoked = true,
                // Host certificates are not supported: such lines vouch for no plain key.
                _ => return None,
            }
            first = fields.next()?;
        }
        let key_type = fields.next()?;
        let b64 = fields.next()?;
        let key = PublicKey::from_openssh(&format!("{key_type} {b64}")).ok()?;
        Some(Line {
            number: i + 1,
            revoked,
            hosts: first,
            key,
        })
    })
}

/// The name known_hosts files use for a host: `host` on port 22, else `[host]:port`.
pub fn host_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

pub fn check(text: &str, host: &str, port: u16, key: &PublicKey) -> Verdict {
    let name = host_name(host, port);
    let mut same_type = Vec::new();
    let mut other = Vec::new();
    let mut other_types = Vec::new();
    let mut trusted = None;
    for l in lines(text) {
        if !hosts_match(l.hosts, &name) {
            continue;
        }
        let same_key = l.key.key_data() == key.key_data();
        if l.revoked {
            if same_key {
                return Verdict::Revoked { line: l.number };
            }
            continue;
        }
        if same_key {
            trusted.get_or_insert(l.number);
        } else if l.key.algorithm() == key.algorithm() {
            same_type.push(l.number);
        } else {
            other.push(l.number);
            let t = l.key.algorithm().to_string();
            if !other_types.contains(&t) {
                other_types.push(t);
            }
        }
    }
    match trusted {
        Some(line) => Verdict::Trusted { line },
        None if !same_type.is_empty() => Verdict::Changed { lines: same_type },
        None if !other.is_empty() => Verdict::OtherTypes {
            lines: other,
            types: other_types,
        },
        None => Verdict::Unknown,
    }
}

/// Host key algorithms recorded for this host, so the server is asked for a key we can check
/// (OpenSSH orders its proposal the same way).
pub fn known_algorithms(text: &str, host: &str, port: u16) -> Vec<Algorithm> {
    let name = host_name(host, port);
    let mut algs: Vec<Algorithm> = Vec::new();
    for l in lines(text) {
        if l.revoked || !hosts_match(l.hosts, &name) {
            continue;
        }
        let a = l.key.algorithm();
        let expanded = if a.clone().is_rsa() {
            vec![
                Algorithm::Rsa {
                    hash: Some(HashAlg::Sha512),
                },
                Algorithm::Rsa {
                    hash: Some(HashAlg::Sha256),
                },
            ]
        } else {
            vec![a]
        };
        for a in expanded {
            if !algs.contains(&a) {
                algs.push(a);
            }
        }
    }
    algs
}

/// OpenSSH host pattern lists: comma-separated, `*` and `?` wildcards, `!` negation, and
/// hashed `|1|salt|hmac` entries.
fn hosts_match(patterns: &str, name: &str) -> bool {
    let mut matched = false;
    for p in patterns.split(',') {
        if let Some(hashed) = p.strip_prefix("|1|") {
            if hashed_match(hashed, name) {
                matched = true;
            }
            continue;
        }
        let (negated, p) = match p.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, p),
        };
        if wildcard_match(&p.to_ascii_lowercase(), &name.to_ascii_lowercase()) {
            if negated {
                return false;
            }
            matched = true;
        }
    }
    matched
}

fn hashed_match(hashed: &str, name: &str) -> bool {
    let Some((salt, hash)) = hashed.split_once('|') else {
        return false;
    };
    let b64 = data_encoding::BASE64;
    let (Ok(salt), Ok(hash)) = (b64.decode(salt.as_bytes()), b64.decode(hash.as_bytes())) else {
        return false;
    };
    let Ok(mac) = <Hmac<Sha1> as KeyInit>::new_from_slice(&salt) else {
        return false;
    };
    mac.chain_update(name.as_bytes())
        .verify_slice(&hash)
        .is_ok()
}

fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// A known_hosts line for `key`, as `backup host-key` prints it.
pub fn line_for(host: &str, port: u16, key: &PublicKey) -> String {
    let mut k = key.clone();
    k.set_comment("");
    format!(
        "{} {}",
        host_name(host, port),
        k.to_openssh().unwrap_or_default().trim()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
    const ED2: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHbHK0Jtq6x4n4cWnpAyyNUBX9b1X2V5jcdXdMeUBpLo";

    fn key(s: &str) -> PublicKey {
        PublicKey::from_openssh(s).unwrap()
    }

    #[test]
    fn trusts_listed_key_with_port_form() {
        let text = format!("# comment\n\n[10.0.0.5]:2222 {ED}\n");
        assert_eq!(
            check(&text, "10.0.0.5", 2222, &key(ED)),
            Verdict::Trusted { line: 3 }
        );
        assert_eq!(check(&text, "10.0.0.5", 22, &key(ED)), Verdict::Unknown);
    }

    #[test]
    fn reports_changed_key_with_line() {
        let text = format!("other {ED}\n# c\nhost.example {ED2}\n");
        assert_eq!(
            check(&text, "host.example", 22, &key(ED)),
            Verdict::Changed { lines: vec![3] }
        );
    }

    #[test]
    fn revoked_wins() {
        let text = format!("@revoked * {ED}\nhost {ED}\n");
        assert_eq!(
            check(&text, "host", 22, &key(ED)),
            Verdict::Revoked { line: 1 }
        );
    }

    #[test]
    fn wildcards_and_negation() {
        let text = format!("*.example.net,!evil.example.net {ED}\n");
        assert!(matches!(
            check(&text, "db.example.net", 22, &key(ED)),
            Verdict::Trusted { .. }
        ));
        assert_eq!(
            check(&text, "evil.example.net", 22, &key(ED)),
            Verdict::Unknown
        );
    }

    #[test]
    fn hashed_entries() {
        // `ssh-keygen -H` output for "[127.0.0.1]:2222".
        let salt = [7u8; 20];
        let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(&salt).unwrap();
        mac.update(b"[127.0.0.1]:2222");
        let hash = mac.finalize().into_bytes();
        let b64 = data_encoding::BASE64;
        let text = format!("|1|{}|{} {ED}\n", b64.encode(&salt), b64.encode(&hash));
        assert_eq!(
            check(&text, "127.0.0.1", 2222, &key(ED)),
            Verdict::Trusted { line: 1 }
        );
        assert_eq!(check(&text, "127.0.0.1", 2223, &key(ED)), Verdict::Unknown);
    }

    #[test]
    fn other_types_only() {
        let text = "host ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg=\n";
        assert!(matches!(
            check(text, "host", 22, &key(ED)),
            Verdict::OtherTypes { .. }
        ));
        assert_eq!(known_algorithms(text, "host", 22).len(), 1);
    }
}
