//! `backup vault run|watch|status` on the backup server. A pass holds `<state_dir>/vault.lock`
//! (two passes at once would race for the same snapshots), saves the state and the metrics,
//! and prints one line per repository. Exit codes: 0 the pass completed, 1 a repository or
//! root had an error, 2 the config is wrong.

use std::path::Path;
use std::time::Duration;

use crate::cli::VaultCommand;
use crate::commands::CliError;
use crate::commands::out::outln;
use crate::job::lock::{LockError, lock_file};
use crate::vault::config::{self, VaultConfig};
use crate::vault::run::{PassReport, run_pass};
use crate::vault::{metrics, state};

pub async fn vault(path: &Path, command: &VaultCommand) -> Result<i32, CliError> {
    let cfg = config::load(path)?;
    match command {
        VaultCommand::Run => {
            let report = pass(&cfg, false).await?;
            Ok(i32::from(report.failed()))
        }
        VaultCommand::Watch => watch(&cfg).await,
        VaultCommand::Status { json } => status(&cfg, *json),
    }
}

async fn pass(cfg: &VaultConfig, quiet_when_busy: bool) -> Result<PassReport, CliError> {
    fs_err::create_dir_all(&cfg.state_dir).map_err(|e| CliError::Failed(e.to_string()))?;
    let lock_path = cfg.state_dir.join("vault.lock");
    let _held = match lock_file(&lock_path, &cfg.state_dir, false) {
        Ok(h) => h,
        Err(LockError::Held(who)) if quiet_when_busy => {
            tracing::info!("another vault pass is running ({who}); skipping this one");
            return Ok(PassReport::default());
        }
        Err(LockError::Held(who)) => {
            return Err(CliError::Hinted {
                code: 1,
                message: format!("another vault pass holds {} ({who})", lock_path.display()),
                hint: "wait for it; `backup vault watch` (the backup-vault service) passes every half seal_delay".into(),
            });
        }
        Err(LockError::Io(e)) => return Err(CliError::Failed(e)),
    };
    let mut saved = state::load(&cfg.state_dir).map_err(|e| CliError::Failed(e.to_string()))?;
    let report = run_pass(cfg, &mut saved, chrono::Utc::now()).await;
    state::save(&cfg.state_dir, &saved).map_err(|e| CliError::Failed(e.to_string()))?;
    if let Err(e) = metrics::write(&cfg.metrics_file, &saved, report.failed()) {
        tracing::warn!("{e}");
    }
    for e in &report.errors {
        tracing::error!("{e}");
    }
    for r in &report.repositories {
        let s = &saved.repositories.get(&r.key);
        let kept = s.map_or(0, |s| s.count(state::Status::Sealed));
        let line = format!(
            "vault: {}: {} sealed, {} damaged, {} suspicious, {} waiting, {} removed, {} cleaned; {kept} counted by retention",
            r.key, r.sealed, r.damaged, r.suspicious, r.waiting, r.removed, r.cleaned
        );
        if r.errors.is_empty() {
            tracing::info!("{line}");
        } else {
            tracing::error!("{line}; FAILED: {}", r.errors.join("; "));
        }
    }
    if report.repositories.is_empty() && report.errors.is_empty() {
        tracing::info!(
            "vault: no repository under {} yet",
            cfg.roots
                .iter()
                .map(|r| r.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(report)
}

async fn watch(cfg: &VaultConfig) -> Result<i32, CliError> {
    use tokio::signal::unix::{SignalKind, signal};
    let every = (cfg.seal_delay / 2).max(Duration::from_secs(1));
    let mut term = signal(SignalKind::terminate())
        .map_err(|e| CliError::Failed(format!("cannot watch for SIGTERM: {e}")))?;
    let mut int = signal(SignalKind::interrupt())
        .map_err(|e| CliError::Failed(format!("cannot watch for SIGINT: {e}")))?;
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    tracing::info!(
        "vault: watching {} repositories' roots, a pass every {}",
        cfg.roots.len(),
        humantime::format_duration(every)
    );
    loop {
        let status = match pass(cfg, true).await {
            Ok(r) if r.failed() => "last pass: FAILED (see the log)".to_string(),
            Ok(r) => format!("last pass: ok, {} repositories", r.repositories.len()),
            Err(e) => {
                tracing::error!("{e}");
                format!("last pass: FAILED: {e}")
            }
        };
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Status(&status)]);
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    tracing::info!("vault: stopped");
    Ok(0)
}

fn status(cfg: &VaultConfig, json: bool) -> Result<i32, CliError> {
    let saved = state::load(&cfg.state_dir).map_err(|e| CliError::Failed(e.to_string()))?;
    if json {
        let text = serde_json::to_string_pretty(&saved).unwrap_or_default();
        outln!("{text}")?;
        return Ok(0);
    }
    let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or("never".to_string(), |t| {
            t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
    };
    outln!("last pass: {}", when(saved.last_pass))?;
    for (key, r) in &saved.repositories {
        use state::Status::*;
        outln!(
            "{key}: {} sealed, {} damaged, {} suspicious, {} waiting, newest sealed {}, last pass {}{}",
            r.count(Sealed),
            r.count(Damaged),
            r.count(Suspicious),
            r.count(Waiting),
            r.newest_sealed().unwrap_or("none"),
            when(r.last_pass),
            r.error
                .as_ref()
                .map_or(String::new(), |e| format!(", ERROR: {e}"))
        )?;
        for (id, s) in r.snapshots.iter().filter(|(_, s)| s.reason.is_some()) {
            outln!(
                "  {id} {}: {}",
                s.status.as_str(),
                s.reason.as_deref().unwrap_or_default()
            )?;
        }
    }
    Ok(i32::from(
        saved.repositories.values().any(|r| r.error.is_some()),
    ))
}
