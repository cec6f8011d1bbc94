//! The grammar of names: what a job or command may be called (both become names on the server),
//! and which stored file names a snapshot may hold. Names read back from a server are parsed
//! with the same rules before anything uses them.

use super::SOURCES_FILE;

/// Job and command names become file and directory names on the server.
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@+".contains(&b))
}

/// What a stored file of a snapshot is, by its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredFile {
    /// `files.tar.zst`: the sources.
    Sources,
    /// `<name>.zst`: the output of the command `name`.
    Command(String),
}

impl StoredFile {
    /// `None` for anything this program never writes as a stored file: a path, `..`, a
    /// control character, a name no command could have.
    pub fn parse(name: &str) -> Option<StoredFile> {
        if name == SOURCES_FILE {
            return Some(StoredFile::Sources);
        }
        let command = name.strip_suffix(".zst")?;
        valid_name(command).then(|| StoredFile::Command(command.to_string()))
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
        assert_eq!(
            StoredFile::parse("files.tar.zst"),
            Some(StoredFile::Sources)
        );
        assert_eq!(
            StoredFile::parse("app.sql.zst"),
            Some(StoredFile::Command("app.sql".into()))
        );
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
            "",
            "SHA256SUMS",
        ] {
            assert_eq!(StoredFile::parse(bad), None, "{bad:?}");
        }
    }
}
