//! The grammar of names: what a job or command may be called (both become names on the server),
//! and which stored file names a snapshot may hold. Names read back from a server are parsed
//! with the same rules before anything uses them.

use super::{AGE_SUFFIX, DETAILS_FILE, SOURCES_FILE};

/// Job and command names become file and directory names on the server.
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@+".contains(&b))
}

/// What a stored file of a snapshot is, by its name. An encrypted stream is the same name
/// with `.age` appended (`files.tar.zst.age`, `app.sql.zst.age`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredFile {
    /// `files.tar.zst`: the sources.
    Sources { encrypted: bool },
    /// `<name>.zst`: the output of the command `name`.
    Command { name: String, encrypted: bool },
    /// `details.json.age`: what an encrypted snapshot keeps from the server (sources,
    /// excludes, command lines, warnings), encrypted to the same recipients.
    Details,
}

impl StoredFile {
    /// `None` for anything this program never writes as a stored file: a path, `..`, a
    /// control character, a name no command could have.
    pub fn parse(name: &str) -> Option<StoredFile> {
        if name == DETAILS_FILE {
            return Some(StoredFile::Details);
        }
        let (plain, encrypted) = match name.strip_suffix(AGE_SUFFIX) {
            Some(p) => (p, true),
            None => (name, false),
        };
        if plain == SOURCES_FILE {
            return Some(StoredFile::Sources { encrypted });
        }
        let command = plain.strip_suffix(".zst")?;
        valid_name(command).then(|| StoredFile::Command {
            name: command.to_string(),
            encrypted,
        })
    }

    /// The name this file has in a snapshot.
    pub fn file_name(&self) -> String {
        let (plain, encrypted) = match self {
            StoredFile::Details => return DETAILS_FILE.to_string(),
            StoredFile::Sources { encrypted } => (SOURCES_FILE.to_string(), *encrypted),
            StoredFile::Command { name, encrypted } => (format!("{name}.zst"), *encrypted),
        };
        if encrypted { plain + AGE_SUFFIX } else { plain }
    }

    pub fn is_encrypted(&self) -> bool {
        match self {
            StoredFile::Details => true,
            StoredFile::Sources { encrypted } | StoredFile::Command { encrypted, .. } => *encrypted,
        }
    }
}

/// Text from a server made safe for a terminal or a log: control characters (and so ANSI
/// sequences) are shown escaped, and it is cut at 512 characters.
pub fn escape(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(512)
        .flat_map(char::escape_debug)
        .collect();
    if text.chars().count() > 512 {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_characters() {
        assert_eq!(escape("a\u{1b}[31mb\nc"), "a\\u{1b}[31mb\\nc");
        assert!(escape(&"x".repeat(600)).ends_with("..."));
    }

    #[test]
    fn stored_names() {
        for (name, want) in [
            ("files.tar.zst", StoredFile::Sources { encrypted: false }),
            ("files.tar.zst.age", StoredFile::Sources { encrypted: true }),
            (
                "app.sql.zst",
                StoredFile::Command {
                    name: "app.sql".into(),
                    encrypted: false,
                },
            ),
            (
                "app.sql.zst.age",
                StoredFile::Command {
                    name: "app.sql".into(),
                    encrypted: true,
                },
            ),
            ("details.json.age", StoredFile::Details),
        ] {
            assert_eq!(StoredFile::parse(name), Some(want.clone()), "{name}");
            assert_eq!(want.file_name(), name);
        }
        for bad in [
            "../x.zst",
            "/etc/passwd.zst",
            "a/b.zst",
            ".zst",
            "..zst",
            ".hidden.zst",
            "x\n.zst",
            "x\u{1b}[31m.zst",
            "app.sql",
            "app.sql.age",
            "app.sql.zst.age.age",
            "../x.zst.age",
            "details.json",
            "",
            "SHA256SUMS",
            "SHA256SUMS.age",
        ] {
            assert_eq!(StoredFile::parse(bad), None, "{bad:?}");
        }
    }
}
