//! Loopback TCP fault injector: `client -> Proxy (127.0.0.1:port()) -> 127.0.0.1:target`.
//!
//! Each accepted connection gets two pump threads. Controls act on all live connections and
//! can be flipped while data flows:
//! - [`Proxy::cut_after`]: one-shot client->server byte budget; when spent, every live
//!   connection is shut down (later connections forward normally unless re-armed);
//! - [`Proxy::cut_now`]: shut down every live connection now;
//! - [`Proxy::stall`] / [`Proxy::resume`]: stop/restart forwarding both ways, sockets stay
//!   open so peers see silence (also applies to new connections);
//! - [`Proxy::reject_new`]: accept and immediately close new connections.
//!
//! Drop stops the accept loop, shuts every socket and joins all threads.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

struct Conn {
    client: TcpStream,
    server: TcpStream,
    closed: AtomicBool,
}

impl Conn {
    fn close(&self) {
        self.closed.store(true, SeqCst);
        let _ = self.client.shutdown(Shutdown::Both);
        let _ = self.server.shutdown(Shutdown::Both);
    }
}

#[derive(Default)]
struct State {
    stop: AtomicBool,
    stalled: AtomicBool,
    reject: AtomicBool,
    up: AtomicU64,
    down: AtomicU64,
    accepted: AtomicU64,
    /// Remaining client->server budget, if armed.
    budget: Mutex<Option<u64>>,
    conns: Mutex<Vec<Arc<Conn>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl State {
    fn cut_all(&self) {
        for c in self.conns.lock().unwrap().drain(..) {
            c.close();
        }
    }
}

/// See the module docs.
pub struct Proxy {
    port: u16,
    state: Arc<State>,
    acceptor: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Listen on 127.0.0.1 (free port) and forward to 127.0.0.1:`target_port`.
    pub fn start(target_port: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy bind");
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let state = Arc::new(State::default());
        let target = SocketAddr::from(([127, 0, 0, 1], target_port));
        let st = state.clone();
        let acceptor = std::thread::spawn(move || accept_loop(&listener, target, &st));
        Proxy {
            port,
            state,
            acceptor: Some(acceptor),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Arm a one-shot cut: after `bytes` more client->server bytes, close all connections.
    /// `cut_after(0)` cuts each connection before it forwards its first upstream byte.
    pub fn cut_after(&self, bytes: u64) {
        *self.state.budget.lock().unwrap() = Some(bytes);
    }

    /// Disarm a pending [`Self::cut_after`].
    pub fn disarm(&self) {
        *self.state.budget.lock().unwrap() = None;
    }

    /// Is a [`Self::cut_after`] budget still pending?
    pub fn armed(&self) -> bool {
        self.state.budget.lock().unwrap().is_some()
    }

    pub fn cut_now(&self) {
        self.state.cut_all();
    }

    pub fn stall(&self) {
        self.state.stalled.store(true, SeqCst);
    }

    pub fn resume(&self) {
        self.state.stalled.store(false, SeqCst);
    }

    pub fn reject_new(&self, on: bool) {
        self.state.reject.store(on, SeqCst);
    }

    /// Client->server bytes forwarded so far (all connections).
    pub fn bytes_up(&self) -> u64 {
        self.state.up.load(SeqCst)
    }

    /// Server->client bytes forwarded so far (all connections).
    pub fn bytes_down(&self) -> u64 {
        self.state.down.load(SeqCst)
    }

    /// Connections accepted so far (including rejected ones).
    pub fn connections(&self) -> u64 {
        self.state.accepted.load(SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.state.stop.store(true, SeqCst);
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
        self.state.cut_all();
        let threads: Vec<_> = self.state.threads.lock().unwrap().drain(..).collect();
        for t in threads {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, target: SocketAddr, st: &Arc<State>) {
    while !st.stop.load(SeqCst) {
        let client = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            Err(_) => continue,
        };
        st.accepted.fetch_add(1, SeqCst);
        let _ = client.set_nonblocking(false);
        if st.reject.load(SeqCst) {
            continue; // dropped: closed
        }
        let Ok(server) = TcpStream::connect(target) else {
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let (Ok(c2), Ok(s2), Ok(c3), Ok(s3)) = (
            client.try_clone(),
            server.try_clone(),
            client.try_clone(),
            server.try_clone(),
        ) else {
            continue;
        };
        let conn = Arc::new(Conn {
            client,
            server,
            closed: AtomicBool::new(false),
        });
        st.conns.lock().unwrap().push(conn.clone());
        let mut threads = st.threads.lock().unwrap();
        threads.retain(|t| !t.is_finished());
        let (a, b) = (st.clone(), st.clone());
        let (conn_a, conn_b) = (conn.clone(), conn);
        threads.push(std::thread::spawn(move || pump(c2, s2, &conn_a, &a, true)));
        threads.push(std::thread::spawn(move || pump(s3, c3, &conn_b, &b, false)));
    }
}

/// Copy `from` -> `to` until EOF/error/cut, honouring stall and (upstream) the byte budget.
fn pump(mut from: TcpStream, mut to: TcpStream, conn: &Conn, st: &State, upstream: bool) {
    let mut buf = vec![0u8; 16 * 1024];
    let wait_while_stalled = || {
        while st.stalled.load(SeqCst) && !conn.closed.load(SeqCst) && !st.stop.load(SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    loop {
        wait_while_stalled();
        if upstream && matches!(*st.budget.lock().unwrap(), Some(0)) {
            *st.budget.lock().unwrap() = None;
            st.cut_all();
        }
        if conn.closed.load(SeqCst) {
            break;
        }
        let n = match from.read(&mut buf) {
            Ok(0) => {
                let _ = to.shutdown(Shutdown::Write); // half-close, keep the other way open
                return;
            }
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        wait_while_stalled();
        let mut allowed = n;
        let mut trip = false;
        if upstream {
            let mut budget = st.budget.lock().unwrap();
            if let Some(left) = *budget {
                allowed = n.min(left as usize);
                trip = allowed as u64 == left;
                *budget = if trip {
                    None
                } else {
                    Some(left - allowed as u64)
                };
            }
        }
        if to.write_all(&buf[..allowed]).is_err() {
            break;
        }
        let counter = if upstream { &st.up } else { &st.down };
        counter.fetch_add(allowed as u64, SeqCst);
        if trip {
            st.cut_all();
            break;
        }
    }
    conn.close();
}
