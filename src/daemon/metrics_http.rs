//! `agent.metrics_listen`: the daemon serves the metrics text on `GET /metrics`, plain HTTP/1.0
//! style (one request per connection), rendered afresh from the state file at each scrape.
//! Hand-written on tokio: Prometheus needs nothing more, and it keeps an HTTP server framework
//! out of the dependencies. A changed address takes effect at the next daemon start.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::report::metrics;

/// Requests are a line and a few headers; anything bigger is not a scrape.
const MAX_REQUEST: usize = 16 * 1024;
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Binds `addr` and serves until the handle is aborted; a bind failure is logged, never fatal:
/// backups matter more than their metrics.
pub async fn spawn(
    addr: SocketAddr,
    config: watch::Receiver<Arc<Config>>,
    state_dir: PathBuf,
) -> Option<JoinHandle<()>> {
    let listener = match TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(
                "cannot serve metrics on {addr}: {e}; the daemon runs without it\n\
                 hint: pick a free address for agent.metrics_listen; the metrics file is still written"
            );
            return None;
        }
    };
    tracing::info!("serving metrics on http://{addr}/metrics");
    Some(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (config, state_dir) = (config.clone(), state_dir.clone());
            tokio::spawn(async move {
                let _ = tokio::time::timeout(READ_TIMEOUT, answer(stream, config, state_dir)).await;
            });
        }
    }))
}

async fn answer(
    mut stream: TcpStream,
    config: watch::Receiver<Arc<Config>>,
    state_dir: PathBuf,
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && !buf.windows(2).any(|w| w == b"\n\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 || buf.len() > MAX_REQUEST {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let mut words = head.lines().next().unwrap_or_default().split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let (status, body) = match (method, path) {
        ("GET" | "HEAD", "/metrics") => {
            let cfg = config.borrow().clone();
            let text = tokio::task::spawn_blocking(move || metrics::current(&cfg, &state_dir))
                .await
                .unwrap_or_default();
            ("200 OK", text)
        }
        ("GET" | "HEAD", _) => ("404 Not Found", "not found: try /metrics\n".into()),
        _ => ("405 Method Not Allowed", "only GET /metrics\n".into()),
    };
    let header = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(header.as_bytes()).await?;
    if method != "HEAD" {
        stream.write_all(body.as_bytes()).await?;
    }
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_metrics_and_404_elsewhere() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::daemon::tests::write_config(dir.path(), "", crate::daemon::tests::JOB);
        let state_dir = config.agent.state_dir.clone();
        let (_tx, rx) = watch::channel(Arc::new(config));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let server = spawn(addr, rx, state_dir).await.unwrap();
        let get = |path: &'static str| async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
                .await
                .unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).await.unwrap();
            out
        };
        let ok = get("/metrics").await;
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(
            ok.contains("backup_last_success_timestamp_seconds{job=\"db\"} 0"),
            "{ok}"
        );
        assert!(get("/").await.starts_with("HTTP/1.1 404"));
        server.abort();
    }
}
