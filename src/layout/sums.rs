//! `SHA256SUMS` in the exact format `sha256sum -c` reads: `<hex>  <name>` per line.

/// One line per file, in the order given.
pub fn render(files: &[(String, String)]) -> String {
    files
        .iter()
        .map(|(name, hex)| format!("{hex}  {name}\n"))
        .collect()
}

/// Parses lines written by [`render`] or by `sha256sum` (text or binary `*` mode).
pub fn parse(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (hex, rest) = line
            .split_once(' ')
            .ok_or_else(|| format!("line {}: not \"<sha256>  <file>\"", i + 1))?;
        let name = rest
            .strip_prefix(' ')
            .or_else(|| rest.strip_prefix('*'))
            .unwrap_or(rest);
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "line {}: {hex:?} is not a SHA-256 hex digest",
                i + 1
            ));
        }
        out.push((name.to_string(), hex.to_ascii_lowercase()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let h = "a".repeat(64);
        let files = vec![
            ("files.tar.zst".to_string(), h.clone()),
            ("app.sql.zst".to_string(), h),
        ];
        let text = render(&files);
        assert!(text.starts_with(&format!("{}  files.tar.zst\n", "a".repeat(64))));
        assert_eq!(parse(&text).unwrap(), files);
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse("nothex  x\n").is_err());
        assert!(parse("oneword\n").is_err());
    }
}
