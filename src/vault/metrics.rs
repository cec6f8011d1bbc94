//! `metrics_file` (default `<state_dir>/vault.prom`), the vault's metrics in the node_exporter
//! textfile format, beside the agent's: when the last pass ran and whether it completed, and
//! per repository the snapshots by state, the newest sealed one, and what passes sealed,
//! removed and cleaned.

use std::fmt::Write as _;
use std::path::Path;

use super::state::{RepoState, Status, VaultState};
use crate::report::files::{Durable, replace};
use crate::report::metrics::escape;

pub const METRICS_FILE: &str = "vault.prom";

/// A per-repository series: name, type, help, value.
type Series = (
    &'static str,
    &'static str,
    &'static str,
    fn(&RepoState) -> i64,
);

pub fn render(state: &VaultState, failed: bool) -> String {
    let mut out = String::new();
    let ts = |t: Option<chrono::DateTime<chrono::Utc>>| t.map_or(0, |t| t.timestamp());
    let _ = writeln!(
        out,
        "# HELP backup_vault_last_pass_timestamp_seconds When the last vault pass ran.\n# TYPE backup_vault_last_pass_timestamp_seconds gauge\nbackup_vault_last_pass_timestamp_seconds {}",
        ts(state.last_pass)
    );
    let _ = writeln!(
        out,
        "# HELP backup_vault_last_pass_success 1 when the last pass completed without an error.\n# TYPE backup_vault_last_pass_success gauge\nbackup_vault_last_pass_success {}",
        u8::from(!failed)
    );
    let _ = writeln!(
        out,
        "# HELP backup_vault_snapshots Snapshots per repository by state (sealed ones are counted by retention).\n# TYPE backup_vault_snapshots gauge"
    );
    for (key, r) in &state.repositories {
        for s in [
            Status::Sealed,
            Status::Waiting,
            Status::Damaged,
            Status::Suspicious,
        ] {
            let _ = writeln!(
                out,
                "backup_vault_snapshots{{repository=\"{}\",state=\"{}\"}} {}",
                escape(key),
                s.as_str(),
                r.count(s)
            );
        }
    }
    let series: [Series; 6] = [
        (
            "newest_sealed_timestamp_seconds",
            "gauge",
            "Id time of the newest sealed, counted snapshot (0: none).",
            |r| {
                r.newest_sealed()
                    .and_then(crate::layout::SnapshotId::parse)
                    .map_or(0, |id| id.time().timestamp())
            },
        ),
        (
            "repository_error",
            "gauge",
            "1 when the last pass over the repository had an error.",
            |r| i64::from(r.error.is_some()),
        ),
        (
            "repository_last_pass_timestamp_seconds",
            "gauge",
            "When a pass last went over the repository.",
            |r| r.last_pass.map_or(0, |t| t.timestamp()),
        ),
        (
            "sealed_total",
            "counter",
            "Snapshots sealed and checked.",
            |r| r.totals.sealed as i64,
        ),
        (
            "removed_total",
            "counter",
            "Snapshots removed by retention.",
            |r| r.totals.removed as i64,
        ),
        (
            "cleaned_total",
            "counter",
            "Leftovers of failed runs removed after the grace period.",
            |r| r.totals.cleaned as i64,
        ),
    ];
    for (name, kind, help, value) in series {
        let _ = writeln!(
            out,
            "# HELP backup_vault_{name} {help}\n# TYPE backup_vault_{name} {kind}"
        );
        for (key, r) in &state.repositories {
            let _ = writeln!(
                out,
                "backup_vault_{name}{{repository=\"{}\"}} {}",
                escape(key),
                value(r)
            );
        }
    }
    out
}

pub fn write(file: &Path, state: &VaultState, failed: bool) -> std::io::Result<()> {
    replace(file, render(state, failed).as_bytes(), 0o644, Durable::No)
}
