//! Whether the server really refuses, for this key, what an append-only remote must never
//! allow (DESIGN.md principle 7): `check --connect` tries to remove, rename and rmdir in a
//! scratch directory of its own, `<path>/.backup-agent-probe-<pid>-<random>/`, so an operator
//! sees that the protection is on before trusting it. Where it is on, the scratch directory
//! cannot be removed and stays for the vault, which removes it after its grace period.

use crate::remote::{Remote, RemoteError, write_small};

/// What the probe was allowed to do; enforced when nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendProbe {
    /// The scratch directory, as the server names it.
    pub scratch: String,
    /// The requests the server carried out (`remove`, `rename`, `rmdir`).
    pub allowed: Vec<&'static str>,
}

impl AppendProbe {
    pub fn enforced(&self) -> bool {
        self.allowed.is_empty()
    }
}

/// `Err` only when the scratch directory or its file cannot be made: a refusal of the
/// requests under test is the answer, not an error.
pub async fn probe_append_only(
    remote: &dyn Remote,
    base: &str,
) -> Result<AppendProbe, RemoteError> {
    let scratch = format!(
        "{}/.backup-agent-probe-{}-{:08x}",
        base.trim_end_matches('/'),
        std::process::id(),
        rand::random::<u32>()
    );
    remote.mkdir(&scratch).await?;
    let file = format!("{scratch}/probe");
    let moved = format!("{scratch}/probe.renamed");
    let sub = format!("{scratch}/dir");
    write_small(remote, &file, b"backup-agent append-only probe\n").await?;
    remote.mkdir(&sub).await?;
    let mut allowed = Vec::new();
    let mut now_at = file.clone();
    if remote.rename(&file, &moved).await.is_ok() {
        allowed.push("rename");
        now_at = moved;
    }
    let removed = remote.remove_file(&now_at).await.is_ok();
    if removed {
        allowed.push("remove");
    }
    let rmdir = remote.remove_dir(&sub).await.is_ok();
    if rmdir {
        allowed.push("rmdir");
    }
    // A server that lets this key remove things gets its scratch directory back clean.
    if !allowed.is_empty() {
        if !removed {
            let _ = remote.remove_file(&now_at).await;
        }
        if !rmdir {
            let _ = remote.remove_dir(&sub).await;
        }
        let _ = remote.remove_dir(&scratch).await;
    }
    Ok(AppendProbe { scratch, allowed })
}
