//! Unix signals turned into [`Control`] messages: SIGHUP reloads, SIGTERM and SIGINT stop.

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use super::supervisor::Control;

/// Installs the handlers now (so a signal that arrives during start-up is not lost) and
/// forwards them for as long as the receiver lives.
pub fn listen() -> std::io::Result<mpsc::Receiver<Control>> {
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let (tx, rx) = mpsc::channel(8);
    tokio::spawn(async move {
        loop {
            let msg = tokio::select! {
                _ = hup.recv() => Control::Reload,
                _ = term.recv() => Control::Shutdown,
                _ = int.recv() => Control::Shutdown,
            };
            if tx.send(msg).await.is_err() {
                return;
            }
        }
    });
    Ok(rx)
}
