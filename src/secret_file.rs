//! Files that hold secrets (a private key, its passphrase, webhook tokens) are refused when
//! group or others may read them, as OpenSSH refuses such a key: a secret others could read
//! must be considered leaked. One rule, used for every such file.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Why a secret file cannot be used, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub message: String,
    pub hint: String,
}

/// Checks that only its owner can read `path`; `what` names it in messages ("private key").
pub fn check_private(path: &Path, what: &str) -> Result<(), Refused> {
    let meta = fs_err::metadata(path).map_err(|e| Refused {
        message: format!("cannot read the {what}: {e}"),
        hint: format!(
            "check the {what}'s path in the config and that the agent's user can read it"
        ),
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Refused {
            message: format!(
                "{what} {} has permissions {mode:04o}, too open: other users can read it, so it is refused (as OpenSSH refuses such a key)",
                path.display()
            ),
            hint: format!(
                "run `chmod 600 {}` (and consider the secret compromised if others could read it)",
                path.display()
            ),
        });
    }
    Ok(())
}

/// Reads a secret file after [`check_private`].
pub fn read_private(path: &Path, what: &str) -> Result<String, Refused> {
    check_private(path, what)?;
    fs_err::read_to_string(path).map_err(|e| Refused {
        message: format!("cannot read the {what}: {e}"),
        hint: format!(
            "check the {what}'s path in the config and that the agent's user can read it"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_owner_readable_files_are_accepted() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("token");
        std::fs::write(&p, "s3cret\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_private(&p, "token file").unwrap(), "s3cret\n");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = read_private(&p, "token file").unwrap_err();
        assert!(e.message.contains("0640"), "{e:?}");
        assert!(e.hint.contains("chmod 600"), "{e:?}");
        assert!(!e.message.contains("s3cret"));
    }
}
