//! One HTTP notification, delivered best effort: retried a few times with a short backoff, all
//! within one deadline, and never an error for the caller. ureq (rustls, no OpenSSL) is
//! blocking, so each attempt runs on the blocking pool with its own timeout set to what is
//! left of the deadline.
//!
//! URLs can hold secrets (a healthchecks.io UUID is the credential; userinfo is a password),
//! so messages name an endpoint only as `scheme://host:port/…`, and header values never leave
//! this module.

use std::time::Duration;

use tokio::time::Instant;

/// Attempts per notification; the deadline usually ends them first.
const ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

#[derive(Debug, Clone)]
pub struct Request {
    /// What it is, for messages: "healthcheck start ping", "webhook".
    pub what: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

struct Failure {
    message: String,
    retry: bool,
}

/// Sends `req` until it succeeds, the attempts are used up, or `deadline` passes; logs the
/// outcome. Never returns an error: a notification must not fail a backup.
pub async fn deliver(req: Request, deadline: Instant) {
    let mut backoff = FIRST_BACKOFF;
    let mut last = String::from("no time left before the notification deadline");
    for attempt in 1..=ATTEMPTS {
        let left = deadline.saturating_duration_since(Instant::now());
        if left < Duration::from_millis(10) {
            break;
        }
        let r = req.clone();
        let sent = tokio::time::timeout(
            left,
            tokio::task::spawn_blocking(move || send_blocking(&r, left)),
        )
        .await;
        let failure = match sent {
            Ok(Ok(Ok(()))) => {
                tracing::debug!("{} sent to {}", req.what, redact(&req.url));
                return;
            }
            Ok(Ok(Err(f))) => f,
            Ok(Err(e)) => Failure {
                message: format!("the sending task failed: {e}"),
                retry: false,
            },
            Err(_) => Failure {
                message: "no answer within the notify timeout".into(),
                retry: false,
            },
        };
        last = failure.message;
        if !failure.retry || attempt == ATTEMPTS {
            break;
        }
        let pause = backoff.min(deadline.saturating_duration_since(Instant::now()));
        tokio::time::sleep(pause).await;
        backoff *= 4;
    }
    tracing::warn!(
        "{} to {} failed: {last}; the backup itself is not affected",
        req.what,
        redact(&req.url)
    );
}

fn send_blocking(req: &Request, timeout: Duration) -> Result<(), Failure> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .user_agent(concat!("backup-agent/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut r = agent
        .post(&req.url)
        .header("Content-Type", req.content_type);
    for (name, value) in &req.headers {
        r = r.header(name.as_str(), value.as_str());
    }
    r.send(&req.body[..])
        .map(drop)
        .map_err(|e| explain(&e, &req.url))
}

/// A message about `e` that cannot hold the URL's secrets or a header value.
fn explain(e: &ureq::Error, url: &str) -> Failure {
    let (message, retry) = match e {
        ureq::Error::StatusCode(c) => (
            format!("the server answered HTTP {c}"),
            *c >= 500 || *c == 429,
        ),
        ureq::Error::Timeout(_) => ("no answer within the notify timeout".into(), false),
        ureq::Error::Io(io) => (format!("{io}"), true),
        ureq::Error::HostNotFound => ("host not found".into(), true),
        ureq::Error::ConnectionFailed => ("connection failed".into(), true),
        ureq::Error::BadUri(_) => ("the URL is not valid".into(), false),
        ureq::Error::Http(_) => (
            "a header name or value is not valid HTTP (check webhook_headers)".into(),
            false,
        ),
        other => (scrub(&other.to_string(), url), true),
    };
    Failure { message, retry }
}

/// `scheme://host[:port]/…`: enough to tell endpoints apart, nothing secret.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(a URL)".into();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let tail = if end < rest.len() { "/…" } else { "" };
    format!("{scheme}://{host}{tail}")
}

/// `text` with the URL, its path and its userinfo replaced by the redacted form.
fn scrub(text: &str, url: &str) -> String {
    let mut out = text.replace(url, &redact(url));
    if let Some((_, rest)) = url.split_once("://") {
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        if let Some((userinfo, _)) = rest[..end].rsplit_once('@') {
            out = out.replace(userinfo, "…");
        }
        if end < rest.len() && rest.len() - end > 1 {
            out = out.replace(&rest[end..], "/…");
        }
    }
    out
}

/// `<url>/<suffix>`, before any query string: `https://hc-ping.com/<uuid>/start`.
pub fn with_suffix(url: &str, suffix: &str) -> String {
    let (base, query) = match url.find(['?', '#']) {
        Some(i) => url.split_at(i),
        None => (url, ""),
    };
    format!("{}/{suffix}{query}", base.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_keeps_only_scheme_and_host() {
        assert_eq!(
            redact("https://user:pw@hc.example.net:8443/ping/abc?x=1"),
            "https://hc.example.net:8443/…"
        );
        assert_eq!(redact("http://127.0.0.1:9"), "http://127.0.0.1:9");
        assert_eq!(redact("garbage"), "(a URL)");
    }

    #[test]
    fn scrub_removes_userinfo_and_path() {
        let url = "https://bob:s3cret@h.example/hook/T0KEN";
        let msg = scrub(&format!("failed {url} (bob:s3cret) /hook/T0KEN"), url);
        assert!(!msg.contains("s3cret") && !msg.contains("T0KEN"), "{msg}");
    }

    #[test]
    fn suffix_goes_before_the_query() {
        assert_eq!(
            with_suffix("https://hc-ping.com/u1", "start"),
            "https://hc-ping.com/u1/start"
        );
        assert_eq!(
            with_suffix("https://hc-ping.com/u1/?create=1", "fail"),
            "https://hc-ping.com/u1/fail?create=1"
        );
    }

    #[tokio::test]
    async fn a_silent_server_costs_no_more_than_the_deadline() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        let start = Instant::now();
        let req = Request {
            what: "test",
            url,
            headers: vec![],
            content_type: "text/plain",
            body: vec![],
        };
        deliver(req, start + Duration::from_millis(600)).await;
        let took = start.elapsed();
        assert!(took < Duration::from_millis(1500), "{took:?}");
        drop(listener);
    }
}
