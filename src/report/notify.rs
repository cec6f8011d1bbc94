//! Notifications about a run, for the tools ops teams already watch:
//!
//! - `healthcheck_url` (healthchecks.io / Uptime Kuma convention): `<url>/start` when the run
//!   starts, `<url>` on success (exit 0 or 3), `<url>/fail` on failure, the body being the
//!   summary line; a dead-man's switch for runs that never happen; a failed scheduled
//!   verification pings `<url>/fail` too;
//! - `webhook_url`: a JSON POST of [`RunSummary`] (`outcome = "verify_failed"` for a failed
//!   verification), with headers from `webhook_headers` and
//!   `webhook_headers_file` (`Name: value` lines, for tokens kept out of the config).
//!
//! The start ping goes out in the background so it never holds up the run; the result waits
//! for it (so the server sees them in order) within the same `timeout` as the result itself.
//! A run is thus delayed by at most `timeout`, and a notification never changes its outcome.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::deliver::{self, Request};
use crate::config::Notify;
use crate::outcome::{DestinationResult, Outcome, RunReport, VerifyReport};

/// The outcome of a notification about a failed scheduled verification.
pub const VERIFY_FAILED: &str = "verify_failed";

/// Healthcheck services cap the body (healthchecks.io: 100 kB); the summary is far shorter.
const MAX_PING_BODY: usize = 10_000;

/// What the webhook receives, and the fields of the log's summary line.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub job: String,
    pub outcome: &'static str,
    pub exit_code: i32,
    pub snapshot: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_seconds: f64,
    pub files: u64,
    pub bytes_read: u64,
    pub bytes_stored: u64,
    pub warnings: usize,
    pub error: Option<String>,
    /// The human summary line, as logged.
    pub summary: String,
    /// Which destinations committed and which failed (why), in config order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub destinations: Vec<DestinationResult>,
}

impl RunSummary {
    pub fn new(r: &RunReport) -> RunSummary {
        RunSummary {
            job: r.job.clone(),
            outcome: r.outcome.as_str(),
            exit_code: r.outcome.exit_code(),
            snapshot: r.snapshot.clone(),
            started_at: r.started_at,
            finished_at: r.finished_at,
            duration_seconds: r.duration_secs(),
            files: r.files,
            bytes_read: r.bytes_read,
            bytes_stored: r.bytes_stored,
            warnings: r.warnings.len(),
            error: r.error.clone(),
            summary: r.summary(),
            destinations: r.destinations.clone(),
        }
    }

    /// What a failed scheduled verification sends: outcome `verify_failed`, exit code 1, the
    /// latest snapshot checked, the problems as the error.
    pub fn verify_failed(r: &VerifyReport) -> RunSummary {
        let why = r.error.clone().unwrap_or_else(|| r.problems.join("\n"));
        RunSummary {
            job: r.job.clone(),
            outcome: VERIFY_FAILED,
            exit_code: 1,
            snapshot: r.snapshots.last().cloned(),
            started_at: r.started_at,
            finished_at: r.finished_at,
            duration_seconds: (r.finished_at - r.started_at).num_milliseconds() as f64 / 1000.0,
            files: 0,
            bytes_read: 0,
            bytes_stored: 0,
            warnings: 0,
            error: Some(why),
            summary: r.summary(),
            destinations: Vec::new(),
        }
    }

    fn failed(&self) -> bool {
        self.outcome == Outcome::Failed.as_str()
            || self.outcome == Outcome::Partial.as_str()
            || self.outcome == VERIFY_FAILED
    }
}

/// A job's notification settings, ready to send.
#[derive(Debug)]
pub struct Notifier {
    settings: Notify,
    timeout: Duration,
}

impl Notifier {
    /// `None` when the job has nothing to notify.
    pub fn new(settings: Option<&Notify>) -> Option<Arc<Notifier>> {
        let n = settings?;
        if n.healthcheck_url.is_none() && n.webhook_url.is_none() {
            return None;
        }
        Some(Arc::new(Notifier {
            timeout: n.timeout.0,
            settings: n.clone(),
        }))
    }

    /// Sends the start ping in the background; hand the handle to [`Notifier::finish`].
    pub fn start(self: &Arc<Self>) -> Option<JoinHandle<()>> {
        let url = self.settings.healthcheck_url.as_ref()?;
        let req = Request {
            what: "healthcheck start ping",
            url: deliver::with_suffix(url, "start"),
            headers: Vec::new(),
            content_type: "text/plain; charset=utf-8",
            body: Vec::new(),
        };
        let deadline = Instant::now() + self.timeout;
        Some(tokio::spawn(deliver::deliver(req, deadline)))
    }

    /// Sends the result ping and the webhook side by side, after the start ping, all within
    /// one `timeout` from now.
    pub async fn finish(&self, started: Option<JoinHandle<()>>, s: &RunSummary) {
        let deadline = Instant::now() + self.timeout;
        if let Some(h) = started {
            let _ = tokio::time::timeout_at(deadline, h).await;
        }
        let ping = self.settings.healthcheck_url.as_ref().map(|url| {
            let mut body = s.summary.clone().into_bytes();
            body.truncate(MAX_PING_BODY);
            Request {
                what: if s.failed() {
                    "healthcheck failure ping"
                } else {
                    "healthcheck success ping"
                },
                url: if s.failed() {
                    deliver::with_suffix(url, "fail")
                } else {
                    url.clone()
                },
                headers: Vec::new(),
                content_type: "text/plain; charset=utf-8",
                body,
            }
        });
        let hook = self.webhook(s);
        tokio::join!(
            async {
                if let Some(r) = ping {
                    deliver::deliver(r, deadline).await;
                }
            },
            async {
                if let Some(r) = hook {
                    deliver::deliver(r, deadline).await;
                }
            },
        );
    }

    /// A failed verification: the failure ping and the webhook (`outcome = "verify_failed"`).
    pub async fn verify_failed(&self, r: &VerifyReport) {
        self.finish(None, &RunSummary::verify_failed(r)).await;
    }

    fn webhook(&self, s: &RunSummary) -> Option<Request> {
        let url = self.settings.webhook_url.as_ref()?;
        let mut headers: Vec<(String, String)> = self
            .settings
            .webhook_headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Some(file) = &self.settings.webhook_headers_file {
            match read_headers(file) {
                Ok(h) => headers.extend(h),
                Err(e) => {
                    tracing::warn!("{e}; the webhook is not sent");
                    return None;
                }
            }
        }
        let body = match serde_json::to_vec(s) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!("cannot encode the webhook body: {e}");
                return None;
            }
        };
        Some(Request {
            what: "webhook",
            url: url.clone(),
            headers,
            content_type: "application/json",
            body,
        })
    }
}

/// `Name: value` lines; blank lines and `#` comments are skipped. Read at every run, so a
/// rotated token needs no restart. Messages name the line, never its content.
pub fn read_headers(path: &Path) -> Result<Vec<(String, String)>, String> {
    let text = crate::secret_file::read_private(path, "webhook_headers_file")
        .map_err(|r| format!("{} ({})", r.message, r.hint))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once(':') {
            Some((name, value)) if !name.trim().is_empty() && !name.contains(' ') => {
                out.push((name.trim().to_string(), value.trim().to_string()));
            }
            _ => {
                return Err(format!(
                    "webhook_headers_file {} line {}: expected `Name: value`",
                    path.display(),
                    i + 1
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_file_lines_and_errors_that_hide_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h");
        std::fs::write(
            &p,
            "# token\nAuthorization: Bearer abc:def\n\nX-Team:  ops \n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            read_headers(&p).unwrap(),
            vec![
                ("Authorization".to_string(), "Bearer abc:def".to_string()),
                ("X-Team".to_string(), "ops".to_string())
            ]
        );
        std::fs::write(&p, "Bearer sekrit-token\n").unwrap();
        let e = read_headers(&p).unwrap_err();
        assert!(e.contains("line 1") && !e.contains("sekrit"), "{e}");
    }
}
