//! A tiny static web site on loopback: `bulletin-watch demo` serves its
//! bundled sample pages with it, and the tests use it as the real HTTP
//! server that the pipeline fetches from.
//!
//! It speaks just enough HTTP/1.1 for that: GET, `Content-Length`, ETag and
//! `If-None-Match` (so conditional GET can be observed), one request per
//! connection. Pages can be replaced while it runs, which is how a page
//! "changes over time".

use crate::model::sha256_hex;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One page the site serves.
#[derive(Debug, Clone)]
pub struct Page {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
    /// Send an ETag (derived from the body) and honour If-None-Match.
    pub etag: bool,
    pub headers: Vec<(String, String)>,
}

impl Page {
    pub fn html(content_type: &str, body: impl Into<Vec<u8>>) -> Page {
        Page {
            status: 200,
            content_type: content_type.to_string(),
            body: body.into(),
            etag: true,
            headers: Vec::new(),
        }
    }

    pub fn status(status: u16, body: &str) -> Page {
        Page {
            status,
            content_type: "text/html; charset=utf-8".into(),
            body: body.as_bytes().to_vec(),
            etag: false,
            headers: Vec::new(),
        }
    }
}

#[derive(Default)]
struct State {
    pages: HashMap<String, Page>,
    /// Requests per path: (full responses, 304 responses).
    hits: HashMap<String, (u32, u32)>,
    /// Paths answered only after a pause (a slow server).
    delays: HashMap<String, Duration>,
    /// Paths whose body changes on every request: `{hits}` becomes the
    /// request count, `{stamp}` a time that moves with it.
    volatile: std::collections::HashSet<String>,
}

/// A running site. It stops serving when dropped... eventually: the accept
/// thread ends at the next connection after `stop`.
#[derive(Clone)]
pub struct Site {
    port: u16,
    state: Arc<Mutex<State>>,
}

impl Site {
    /// Starts serving on 127.0.0.1 on a free port.
    pub fn start() -> std::io::Result<Site> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        std::thread::Builder::new()
            .name("site".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    let Ok(conn) = conn else { continue };
                    let st = st.clone();
                    let _ = std::thread::Builder::new().spawn(move || {
                        let _ = serve(conn, &st);
                    });
                }
            })?;
        Ok(Site { port, state })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// Serves `page` at `path` from now on.
    pub fn set(&self, path: &str, page: Page) {
        self.lock().pages.insert(path.to_string(), page);
    }

    /// Answers requests for `path` only after `pause` (the request is
    /// counted in [`Site::hits`] as soon as it arrives).
    pub fn delay(&self, path: &str, pause: Duration) {
        self.lock().delays.insert(path.to_string(), pause);
    }

    pub fn remove(&self, path: &str) {
        self.lock().pages.remove(path);
    }

    /// Makes `path`'s page change on every request, as a visit counter and
    /// a "generated at" stamp do: `{hits}` in its body becomes the number
    /// of requests so far, `{stamp}` a time of day that moves with it.
    pub fn volatile(&self, path: &str) {
        self.lock().volatile.insert(path.to_string());
    }

    /// (full responses, 304 responses) served for `path` so far.
    pub fn hits(&self, path: &str) -> (u32, u32) {
        self.lock().hits.get(path).copied().unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn etag_of(body: &[u8]) -> String {
    format!("\"{}\"", &sha256_hex(body)[..16])
}

fn serve(conn: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    let mut if_none_match = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.trim().eq_ignore_ascii_case("if-none-match") {
                if_none_match = Some(v.trim().to_string());
            }
        }
    }
    let page = {
        let st = state.lock().unwrap_or_else(|p| p.into_inner());
        st.pages.get(&path).cloned()
    };
    let mut page = page
        .unwrap_or_else(|| Page::status(404, "<html><body><h1>404 Not Found</h1></body></html>"));
    {
        let st = state.lock().unwrap_or_else(|p| p.into_inner());
        if st.volatile.contains(&path) {
            let n = st.hits.get(&path).map_or(0, |h| h.0 + h.1) + 1;
            let body = String::from_utf8_lossy(&page.body)
                .replace("{hits}", &(1000 + n * 7).to_string())
                .replace(
                    "{stamp}",
                    &format!(
                        "2025-03-01 {:02}:{:02}:{:02}",
                        8 + n / 3600,
                        n / 60 % 60,
                        n % 60
                    ),
                );
            page.body = body.into_bytes();
        }
    }
    let etag = page.etag.then(|| etag_of(&page.body));
    let not_modified = etag.is_some() && etag == if_none_match;
    let delay = {
        let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
        let delay = st.delays.get(&path).copied();
        let h = st.hits.entry(path).or_default();
        if not_modified {
            h.1 += 1;
        } else {
            h.0 += 1;
        }
        delay
    };
    if let Some(pause) = delay {
        std::thread::sleep(pause);
    }
    let mut out = conn;
    let (status, body): (u16, &[u8]) = if not_modified {
        (304, b"")
    } else {
        (page.status, &page.body)
    };
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        reason(status),
        page.content_type,
        body.len()
    );
    if let Some(e) = &etag {
        head.push_str(&format!("ETag: {e}\r\n"));
    }
    for (k, v) in &page.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    out.write_all(body)?;
    out.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        304 => "Not Modified",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
