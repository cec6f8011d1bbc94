//! Reading the main file and the `jobs.d/*.toml` drop-ins beside it, in name order.

use std::path::{Path, PathBuf};

use super::error::ConfigError;
use super::model::FileModel;
use super::resolved::Config;
use super::validate;

pub const DEFAULT_CONFIG_PATH: &str = "/etc/backup-agent/config.toml";

/// One file's text and parsed model; the text is kept to turn spans into line numbers.
pub(super) struct Parsed {
    pub path: PathBuf,
    pub text: String,
    pub model: FileModel,
}

pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let main = parse_file(path)?;
    let mut dropins = Vec::new();
    let dir = path.parent().unwrap_or(Path::new(".")).join("jobs.d");
    match fs_err::read_dir(&dir) {
        Ok(entries) => {
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
                .collect();
            files.sort();
            for f in files {
                dropins.push(parse_file(&f)?);
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(ConfigError::file(
                &dir,
                format!("cannot read drop-in directory: {e}"),
            ));
        }
    }
    validate::resolve(main, dropins)
}

fn parse_file(path: &Path) -> Result<Parsed, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::NotFound {
            Some(format!(
                "pass --config PATH or set BACKUP_CONFIG; the default is {DEFAULT_CONFIG_PATH}"
            ))
        } else {
            None
        };
        let err = ConfigError::file(path, format!("cannot read config file: {e}"));
        match hint {
            Some(h) => err.with_hint(h),
            None => err,
        }
    })?;
    let model: FileModel = toml::from_str(&text)
        .map_err(|e| ConfigError::at(path, &text, e.span(), without_value(e.message().trim())))?;
    Ok(Parsed {
        path: path.to_path_buf(),
        text,
        model,
    })
}

/// serde's "invalid type: string \"Bearer ...\", expected a map" quotes the value it rejected,
/// and a value given with the wrong type may be a token: say only what kind it was (the line
/// and column already point at it).
fn without_value(message: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some((found, expected)) = rest.split_once(", expected ")
        {
            let kind = found.split([' ', '`', '"']).next().unwrap_or("value");
            return format!("{prefix}{kind}, expected {expected}");
        }
    }
    message.to_string()
}

#[cfg(test)]
mod secret_tests {
    use super::without_value;

    #[test]
    fn rejected_values_are_not_repeated() {
        assert_eq!(
            without_value(r#"invalid type: string "Authorization: Bearer s3cr3t", expected a map"#),
            "invalid type: string, expected a map"
        );
        assert_eq!(
            without_value("invalid type: integer `12345678`, expected a string"),
            "invalid type: integer, expected a string"
        );
        assert_eq!(
            without_value("unknown field `hots`, expected one of `host`"),
            "unknown field `hots`, expected one of `host`"
        );
    }
}
