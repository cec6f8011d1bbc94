//! Opening the SFTP channels of a connection, all at once. SSH pings beside them measure the
//! round-trip time, which decides how many channels an upload needs when the config leaves it
//! open (each carries at most sshd's window per round trip). Three open together; any more
//! open beside the first one's limits request, so a connection is ready in four round trips
//! on a short link and six on a long one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use russh::client::Msg;
use russh_sftp::client::RawSftpSession;
use russh_sftp::client::rawsession::Limits;
use russh_sftp::protocol::Version;

use super::session::{
    Extensions, MAX_READ, MAX_WRITE, REQUEST_TIMEOUT_SECS, SAFE_IO, SAFE_WRITE, Sftp,
};
use super::write_order::decide;
use super::{Connection, status_error};
use crate::remote::bandwidth::Limit;
use crate::remote::{ErrorKind, RemoteError};

/// OpenSSH's sshd opens every session channel with a 2 MiB window (CHAN_SES_WINDOW_DEFAULT)
/// and never grows it: one channel moves at most that much per round trip.
const SERVER_WINDOW: f64 = 2.0 * 1024.0 * 1024.0;
/// What the channels together should be able to carry, bytes per second: about what this
/// agent streams on a 2-core machine (shared/bench/wan.sh), so the link is not the cap.
const TARGET_RATE: f64 = 300e6;
/// Fewest channels chosen: 3 measured best on loopback and at 20 ms RTT.
const MIN_AUTO: usize = 3;
/// Most channels chosen: each holds `requests_in_flight` writes in memory (4 MiB at 16).
const MAX_AUTO: usize = 8;

/// Channels for a link of round-trip time `rtt`: enough windows in flight for TARGET_RATE.
pub(super) fn channels_for(rtt: Duration) -> usize {
    let windows = (TARGET_RATE * rtt.as_secs_f64() / SERVER_WINDOW).ceil();
    (windows as usize).clamp(MIN_AUTO, MAX_AUTO)
}

/// How long a ping may take before the channels' own start times stand for the round trip.
const PING_WAIT: Duration = Duration::from_secs(2);

type Channel = russh::Channel<Msg>;

impl Connection {
    /// Opens the SFTP channels: `remote.channels`, or as many as the round-trip time asks for.
    pub async fn sftp(&self) -> Result<Sftp, RemoteError> {
        let addr = self.cfg.display_addr();
        let base = self.cfg.channels.unwrap_or(MIN_AUTO).max(1);
        let open_one = || async {
            let ch = self.open_channel(&addr).await?;
            start(ch, &addr).await
        };
        // An SSH ping is one round trip, but sshd answers nothing for tens of ms after the
        // authentication (it sets up the session), so the first is slow: the second counts.
        // Both are done before the channels are.
        let ping = async {
            self.ping().await?;
            self.ping().await
        };
        let (ping, raws) = tokio::join!(
            ping,
            futures::future::try_join_all((0..base).map(|_| open_one()))
        );
        let mut raws = raws?;
        let rtt = ping.unwrap_or_else(|| raws.iter().map(|r| r.2).min().unwrap_or_default());
        let server = self.server_version();
        let has = |name: &str| raws[0].1.extensions.contains_key(name);
        let write_order = decide(self.cfg.write_order, &server, has);
        // In offset order a file's writes all go over one channel: more would sit idle.
        let n = match self.cfg.channels {
            Some(n) => n,
            None if write_order.is_sequential() => base,
            None => channels_for(rtt).max(base),
        };
        let (negotiated, more) = tokio::join!(
            self.negotiate(&raws[0].0, &raws[0].1),
            futures::future::try_join_all((base..n).map(|_| open_one()))
        );
        raws.extend(more?);
        let (ext, write_len, read_len) = negotiated;
        let sessions = raws
            .into_iter()
            .map(|(mut raw, version, _)| {
                if version.extensions.contains_key("limits@openssh.com") {
                    // Keep the raw session's own limit checks in line with the server's.
                    raw.set_limits(Limits {
                        write_len: Some(write_len as u64),
                        read_len: Some(read_len as u64),
                        ..Default::default()
                    });
                }
                Arc::new(raw)
            })
            .collect();
        let how = if self.cfg.channels.is_some() {
            "as configured"
        } else {
            "for the round-trip time"
        };
        tracing::debug!(
            channels = n,
            rtt_ms = format!("{:.1}", rtt.as_secs_f64() * 1000.0),
            write_len,
            read_len,
            ?ext,
            "SFTP ready ({n} channels {how})"
        );
        tracing::debug!(
            "writes in {} order: {}",
            write_order.order_name(),
            write_order.why
        );
        Ok(Sftp {
            sessions,
            ext,
            write_len,
            read_len,
            in_flight: self.cfg.requests_in_flight.max(1),
            lost: self.lost.clone(),
            write_order,
            remote_name: self.cfg.name.clone(),
            limit: Limit::of_sftp(&self.cfg),
            addr,
            uploads: Default::default(),
        })
    }

    /// `None` where the server does not answer within PING_WAIT (it must, RFC 4254 4).
    async fn ping(&self) -> Option<Duration> {
        let asked = Instant::now();
        match tokio::time::timeout(PING_WAIT, self.handle.send_ping()).await {
            Ok(Ok(())) => Some(asked.elapsed()),
            _ => None,
        }
    }

    async fn open_channel(&self, addr: &str) -> Result<Channel, RemoteError> {
        self.handle
            .channel_open_session()
            .await
            .map_err(|e| ssh_error(addr, e))
    }

    /// The extensions the first channel's server offers, and the request sizes it takes.
    async fn negotiate(
        &self,
        raw: &RawSftpSession,
        version: &Version,
    ) -> (Extensions, usize, usize) {
        let has = |name: &str| version.extensions.contains_key(name);
        let ext = Extensions {
            posix_rename: has("posix-rename@openssh.com"),
            fsync: has("fsync@openssh.com"),
            statvfs: has("statvfs@openssh.com"),
        };
        let (mut write_len, mut read_len) = (SAFE_WRITE, SAFE_IO);
        if has("limits@openssh.com")
            && let Ok(l) = raw.limits().await
        {
            if l.max_write_len > 0 {
                write_len = (l.max_write_len as usize).min(MAX_WRITE);
            }
            if l.max_read_len > 0 {
                read_len = (l.max_read_len as usize).min(MAX_READ);
            }
        }
        (ext, write_len, read_len)
    }
}

/// Starts SFTP on an open channel: the subsystem, then the version exchange, timed (where the
/// server ignores the ping, the quickest of these stands for the round trip).
async fn start(
    channel: Channel,
    addr: &str,
) -> Result<(RawSftpSession, Version, Duration), RemoteError> {
    channel
        .request_subsystem(true, "sftp")
        .await
        .map_err(|e| ssh_error(addr, e))?;
    let cfg = russh_sftp::client::Config {
        max_packet_len: 512 * 1024,
        request_timeout_secs: REQUEST_TIMEOUT_SECS,
        ..Default::default()
    };
    let raw = RawSftpSession::new_with_config(channel.into_stream(), cfg);
    let asked = Instant::now();
    let version = raw.init().await.map_err(|e| status_error("start", "", e))?;
    Ok((raw, version, asked.elapsed()))
}

fn ssh_error(addr: &str, e: russh::Error) -> RemoteError {
    RemoteError::op(
        ErrorKind::Transient,
        "open SFTP channel",
        addr,
        e.to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_links_keep_three_channels_long_ones_get_enough_windows() {
        let ms = |m: u64| channels_for(Duration::from_millis(m));
        // Loopback and LAN: as before.
        assert_eq!(ms(0), 3);
        assert_eq!(ms(5), 3);
        // 20 ms: 6 MB in flight carries 300 MB/s.
        assert_eq!(ms(20), 3);
        assert_eq!(ms(30), 5);
        // 50 ms: 15 MB in flight needs 8 windows of 2 MiB.
        assert_eq!(ms(50), 8);
        // Never more than the memory bound allows.
        assert_eq!(ms(300), 8);
    }
}
