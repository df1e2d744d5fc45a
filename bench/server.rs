//! The benchmark's fast local web server (`cargo run --release --example
//! bench-server -- DIR PORT [--no-validators]`).
//!
//! It serves the static pages that `bench/gen_pages.py` wrote into DIR, over
//! HTTP/1.1 with keep-alive, on 127.0.0.1:PORT. Like nginx it derives an ETag
//! and Last-Modified from each file's size and mtime and answers
//! `If-None-Match` / `If-Modified-Since` with 304; `--no-validators` sends
//! neither header, so every check downloads and parses the whole page.
//! GBK pages (their `<meta charset="gbk">`) are served as `charset=gbk`.
//!
//! `GET /__stats` returns `requests 200s 304s body_bytes` and resets them,
//! so the harness can report the bytes each pass downloaded.
//!
//! The Python fixture server renders every page per request under the GIL,
//! which on a 2-core machine competes with the monitor being measured; this
//! one costs a file read per request.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

#[derive(Default)]
struct Stats {
    requests: AtomicU64,
    ok: AtomicU64,
    not_modified: AtomicU64,
    bytes: AtomicU64,
}

struct Server {
    dir: PathBuf,
    validators: bool,
    stats: Stats,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(dir), Some(port)) = (args.first(), args.get(1)) else {
        eprintln!("usage: bench-server DIR PORT [--no-validators]");
        std::process::exit(2);
    };
    let port: u16 = port.parse().expect("PORT is a number");
    let server = Arc::new(Server {
        dir: PathBuf::from(dir),
        validators: !args.iter().any(|a| a == "--no-validators"),
        stats: Stats::default(),
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind");
        let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
            let server = server.clone();
            async move { server.serve(&uri, &headers) }
        });
        eprintln!("bench-server on http://127.0.0.1:{port}/");
        axum::serve(listener, app).await.expect("serve");
    });
}

impl Server {
    fn serve(&self, uri: &Uri, headers: &HeaderMap) -> Response {
        let path = uri.path();
        if path == "/__stats" {
            let s = &self.stats;
            let line = format!(
                "{} {} {} {}\n",
                s.requests.swap(0, Ordering::Relaxed),
                s.ok.swap(0, Ordering::Relaxed),
                s.not_modified.swap(0, Ordering::Relaxed),
                s.bytes.swap(0, Ordering::Relaxed)
            );
            return line.into_response();
        }
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        if path.contains("..") {
            return StatusCode::NOT_FOUND.into_response();
        }
        let file = self.dir.join(path.trim_start_matches('/'));
        let (Ok(meta), Ok(body)) = (std::fs::metadata(&file), std::fs::read(&file)) else {
            return StatusCode::NOT_FOUND.into_response();
        };
        let mtime = meta.modified().unwrap_or(UNIX_EPOCH);
        let since = mtime.duration_since(UNIX_EPOCH).unwrap_or_default();
        let etag = format!("\"{:x}-{:x}\"", since.as_nanos(), body.len());
        let last_modified = jiff::Timestamp::from_second(since.as_secs() as i64)
            .map(|t| {
                jiff::fmt::rfc2822::DateTimePrinter::new()
                    .timestamp_to_rfc9110_string(&t)
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        let mut out = HeaderMap::new();
        if self.validators {
            let hv = |s: &str| HeaderValue::from_str(s).expect("ASCII header");
            out.insert(header::ETAG, hv(&etag));
            out.insert(header::LAST_MODIFIED, hv(&last_modified));
            let header = |h| headers.get(h).and_then(|v: &HeaderValue| v.to_str().ok());
            let fresh = match (
                header(header::IF_NONE_MATCH),
                header(header::IF_MODIFIED_SINCE),
            ) {
                (Some(inm), _) => inm.split(',').any(|t| t.trim() == etag),
                (None, Some(ims)) => ims == last_modified,
                _ => false,
            };
            if fresh {
                self.stats.not_modified.fetch_add(1, Ordering::Relaxed);
                return (StatusCode::NOT_MODIFIED, out).into_response();
            }
        }
        let head = &body[..body.len().min(512)];
        let gbk = head.windows(12).any(|w| w == b"charset=\"gbk");
        let ctype = if gbk {
            "text/html; charset=gbk"
        } else {
            "text/html; charset=utf-8"
        };
        out.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
        self.stats.ok.fetch_add(1, Ordering::Relaxed);
        self.stats
            .bytes
            .fetch_add(body.len() as u64, Ordering::Relaxed);
        (StatusCode::OK, out, body).into_response()
    }
}
