//! Finding a command's or hook's program as exec will, so that `backup check` can say before
//! a run that `pg_dump` is not installed, and what to do about it.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// What to do when `program` is not found.
pub fn install_fix(program: &str) -> String {
    if program.contains('/') {
        format!("install {program} (executable), or fix the path in `run`")
    } else {
        format!(
            "install the package that provides `{program}`, or give its full path (`command -v {program}` as the agent's user)"
        )
    }
}

/// Finds `name` as exec would: a path with a `/` as it is (relative to `cwd`), else on PATH
/// (the command's own `env.PATH` when it sets one).
pub fn program(name: &str, cwd: Option<&Path>, search: Option<String>) -> Result<PathBuf, String> {
    if name.contains('/') {
        let p = match cwd {
            Some(dir) if !name.starts_with('/') => dir.join(name),
            _ => PathBuf::from(name),
        };
        return match executable(&p) {
            true => Ok(p),
            false if p.exists() => Err(format!("program {} is not executable", p.display())),
            false => Err(format!("program {} does not exist", p.display())),
        };
    }
    let search = search
        .or_else(|| std::env::var("PATH").ok())
        .unwrap_or_default();
    std::env::split_paths(&search)
        .map(|d| d.join(name))
        .find(|p| executable(p))
        .ok_or_else(|| format!("program `{name}` is not on PATH ({search})"))
}

fn executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_found_as_exec_finds_them() {
        assert!(program("sh", None, None).is_ok());
        assert!(program("/bin/sh", None, None).is_ok());
        let e = program("no-such-program-x", None, Some("/usr/bin:/bin".into())).unwrap_err();
        assert!(e.contains("not on PATH (/usr/bin:/bin)"), "{e}");
        assert!(program("sh", None, Some("/nonexistent".into())).is_err());
        assert!(program("./sh", Some(Path::new("/bin")), None).is_ok());
        let e = program("/etc/passwd", None, None).unwrap_err();
        assert!(e.contains("not executable"), "{e}");
    }
}
