//! A deliberately misbehaving HTTP server for fault tests: raw sockets, one
//! thread per connection, and a behaviour per path that can be switched
//! while it runs (a page is good, then it hangs, then it is good again).
//!
//! Every loop here is bounded in time and bytes, so a test that fails half
//! way never leaves a thread running for long.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the server does for one path.
#[derive(Debug, Clone)]
pub enum Behavior {
    /// A normal response.
    Page {
        status: u16,
        content_type: String,
        body: Vec<u8>,
        headers: Vec<(String, String)>,
    },
    /// Reads the request, then says nothing until released (at most 60 s).
    Hang,
    /// Sends headers promising 1000 bytes, then one byte a second.
    Trickle,
    /// 200 without a length, then bytes until the client hangs up.
    Endless,
    /// A body of `len` bytes, announced with Content-Length or not.
    Huge { len: usize, content_length: bool },
    /// 302 to `location`.
    Redirect(String),
    /// These exact bytes, then close.
    Raw(Vec<u8>),
}

impl Behavior {
    pub fn html(content_type: &str, body: impl Into<Vec<u8>>) -> Behavior {
        Behavior::Page {
            status: 200,
            content_type: content_type.to_string(),
            body: body.into(),
            headers: Vec::new(),
        }
    }

    pub fn status(status: u16, headers: &[(&str, &str)]) -> Behavior {
        Behavior::Page {
            status,
            content_type: "text/html; charset=utf-8".into(),
            body: format!("<html><body><h1>{status}</h1></body></html>").into_bytes(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }
}

#[derive(Default)]
struct State {
    routes: Mutex<HashMap<String, Behavior>>,
    /// Paths requested, in order.
    hits: Mutex<Vec<String>>,
    stop: AtomicBool,
    release: AtomicBool,
}

/// A running raw server. Dropping it (or [`RawServer::stop`]) closes the
/// listening socket, so the port then refuses connections.
pub struct RawServer {
    addr: SocketAddr,
    state: Arc<State>,
}

impl RawServer {
    pub fn start() -> RawServer {
        Self::start_on("127.0.0.1").expect("bind 127.0.0.1")
    }

    /// Starts on another loopback address (e.g. `127.0.0.2`), if it binds.
    pub fn start_on(ip: &str) -> Option<RawServer> {
        let listener = TcpListener::bind((ip, 0)).ok()?;
        listener.set_nonblocking(true).ok()?;
        let addr = listener.local_addr().ok()?;
        let state = Arc::new(State::default());
        let st = state.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            while !st.stop.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(300) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let st = st.clone();
                        std::thread::spawn(move || {
                            let _ = serve(conn, &st);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Some(RawServer { addr, state })
    }

    /// `http://IP:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn set(&self, path: &str, b: Behavior) {
        lock(&self.state.routes).insert(path.to_string(), b);
    }

    /// Every path requested so far.
    pub fn hits(&self) -> Vec<String> {
        lock(&self.state.hits).clone()
    }

    pub fn hits_on(&self, path: &str) -> usize {
        lock(&self.state.hits).iter().filter(|p| *p == path).count()
    }

    /// Lets every hanging connection go (they are closed without an answer).
    pub fn release(&self) {
        self.state.release.store(true, Ordering::SeqCst);
    }

    /// Closes the listening socket (and releases hanging connections).
    pub fn stop(&self) {
        self.state.stop.store(true, Ordering::SeqCst);
        self.release();
        // The accept loop polls every 5 ms; wait until the port is closed.
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline
            && TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok()
        {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits (at most `max`) until `path` has been requested `n` times.
    pub fn wait_for_hits(&self, path: &str, n: usize, max: Duration) -> bool {
        let deadline = Instant::now() + max;
        while Instant::now() < deadline {
            if self.hits_on(path) >= n {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        self.state.release.store(true, Ordering::SeqCst);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn read_request(conn: &mut TcpStream) -> std::io::Result<String> {
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") && buf.len() < 64 * 1024 {
        if conn.read(&mut byte)? == 0 {
            break;
        }
        buf.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&buf);
    Ok(text.split_whitespace().nth(1).unwrap_or("/").to_string())
}

fn head(status: u16, fields: &[(&str, String)]) -> Vec<u8> {
    let mut h = format!("HTTP/1.1 {status} Status\r\nConnection: close\r\n");
    for (k, v) in fields {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str("\r\n");
    h.into_bytes()
}

fn serve(mut conn: TcpStream, st: &State) -> std::io::Result<()> {
    let path = read_request(&mut conn)?;
    lock(&st.hits).push(path.clone());
    let behavior = lock(&st.routes).get(&path).cloned();
    let behavior = behavior.unwrap_or_else(|| Behavior::status(404, &[]));
    let released = || st.release.load(Ordering::SeqCst) || st.stop.load(Ordering::SeqCst);
    match behavior {
        Behavior::Page {
            status,
            content_type,
            body,
            headers,
        } => {
            let mut fields = vec![
                ("Content-Type", content_type),
                ("Content-Length", body.len().to_string()),
            ];
            for (k, v) in &headers {
                fields.push((k.as_str(), v.clone()));
            }
            conn.write_all(&head(status, &fields))?;
            conn.write_all(&body)?;
        }
        Behavior::Hang => {
            let started = Instant::now();
            while !released() && started.elapsed() < Duration::from_secs(60) {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        Behavior::Trickle => {
            conn.write_all(&head(
                200,
                &[
                    ("Content-Type", "text/html; charset=utf-8".into()),
                    ("Content-Length", "1000".into()),
                ],
            ))?;
            for _ in 0..30 {
                if released() {
                    break;
                }
                conn.write_all(b"<")?;
                conn.flush()?;
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        Behavior::Endless => {
            conn.write_all(&head(
                200,
                &[("Content-Type", "text/html; charset=utf-8".into())],
            ))?;
            let chunk = "<p>无尽的内容</p>\n".repeat(512);
            let mut sent = 0usize;
            // Bounded so that a client that never stops reading cannot keep
            // this going for ever; the test's limit is far below this.
            while sent < 256 * 1024 * 1024 && !released() {
                conn.write_all(chunk.as_bytes())?;
                sent += chunk.len();
            }
        }
        Behavior::Huge {
            len,
            content_length,
        } => {
            let mut fields = vec![("Content-Type", "text/html; charset=utf-8".to_string())];
            if content_length {
                fields.push(("Content-Length", len.to_string()));
            }
            conn.write_all(&head(200, &fields))?;
            let chunk = vec![b'a'; 64 * 1024];
            let mut sent = 0;
            while sent < len && !released() {
                let n = chunk.len().min(len - sent);
                conn.write_all(&chunk[..n])?;
                sent += n;
            }
        }
        Behavior::Redirect(location) => {
            conn.write_all(&head(
                302,
                &[("Location", location), ("Content-Length", "0".into())],
            ))?;
        }
        Behavior::Raw(bytes) => conn.write_all(&bytes)?,
    }
    conn.flush()
}

/// A gzip stream of `data` made of stored (uncompressed) deflate blocks, so
/// a test can build one without a compression library.
pub fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let mut chunks = data.chunks(65535).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(c) = chunks.next() {
        out.push(u8::from(chunks.peek().is_none()));
        let len = c.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(c);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A response with `Content-Encoding: gzip` around `body`, whole or cut.
pub fn gzip_response(gz: &[u8]) -> Vec<u8> {
    let mut r = head(
        200,
        &[
            ("Content-Type", "text/html; charset=utf-8".into()),
            ("Content-Encoding", "gzip".into()),
            ("Content-Length", gz.len().to_string()),
        ],
    );
    r.extend_from_slice(gz);
    r
}
