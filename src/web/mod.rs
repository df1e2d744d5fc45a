//! A read-only web view of the archive, for monitoring staff who want to see
//! at a glance which provinces are watched and failing, and for auditors who
//! must read any version, compare any two and take the raw bytes away as
//! evidence.
//!
//! The view never writes to the store and never holds it across an await:
//! every read runs in [`tokio::task::spawn_blocking`], so a slow page can
//! not stall the checks of a daemon that mounts the same [`router`].
//!
//! Everything a page needs (CSS included) is served by the binary itself —
//! monitoring rooms often have no route to a CDN, and a page that pulls in
//! nothing from elsewhere cannot leak who is looking at what.
//!
//! Access: on a loopback address the view is open to local users; anywhere
//! else [`serve`] refuses to start without an access token, which every
//! request must then present (see [`WebState::token`]).
//!
//! The rooms: this file holds the router, the state and the plumbing every
//! page shares (errors as pages, blocking reads); `auth` the token, cookie,
//! guard and exposure check; `layout` the page shell, CSS and security
//! headers; `pages/` one file per page (overview, source, version and raw
//! bytes, diff, alerts, Atom feed).

mod auth;
mod layout;
mod pages;

use std::fmt::Write as _;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use axum::http::{header, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::audit::AuditError;
use crate::config::Config;
use crate::store::{Store, StoreError};
use crate::text::{escape_html as esc, prefix_chars};

pub use auth::{check_exposure, load_token, MIN_TOKEN_CHARS};
use layout::page;

/// Error texts can be whole HTML pages; a list stays readable with less.
pub(crate) const ERROR_CHARS: usize = 600;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error(
        "refusing to serve on {addr}: that address is reachable from other machines and no \
         access token is set.\n  Set BULLETIN_WATCH_TOKEN or pass --token-file PATH (at least \
         {MIN_TOKEN_CHARS} characters), or listen on a loopback address such as 127.0.0.1:8080"
    )]
    TokenRequired { addr: SocketAddr },
    #[error("access token from {origin} is shorter than {MIN_TOKEN_CHARS} characters; use a long random one (e.g. `openssl rand -hex 24`)")]
    WeakToken { origin: String },
    #[error("cannot read access token file {path}: {source}")]
    TokenFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("web server: {0}")]
    Io(#[from] std::io::Error),
}

/// Where the view gets the configuration from. The daemon swaps its
/// configuration on reload; the view asks for the current one on every
/// request, so groups and names follow without a restart.
#[derive(Clone)]
pub struct ConfigHandle(Arc<dyn Fn() -> Arc<Config> + Send + Sync>);

impl ConfigHandle {
    pub fn from_fn(f: impl Fn() -> Arc<Config> + Send + Sync + 'static) -> Self {
        ConfigHandle(Arc::new(f))
    }

    pub fn current(&self) -> Arc<Config> {
        (self.0)()
    }
}

impl From<Arc<Config>> for ConfigHandle {
    fn from(c: Arc<Config>) -> Self {
        ConfigHandle::from_fn(move || c.clone())
    }
}

impl From<Config> for ConfigHandle {
    fn from(c: Config) -> Self {
        Arc::new(c).into()
    }
}

impl From<Arc<RwLock<Arc<Config>>>> for ConfigHandle {
    fn from(lock: Arc<RwLock<Arc<Config>>>) -> Self {
        // A writer that panicked still left a whole `Arc<Config>` behind.
        ConfigHandle::from_fn(move || lock.read().unwrap_or_else(|e| e.into_inner()).clone())
    }
}

/// What the view reads from. Cheap to clone.
#[derive(Clone)]
pub struct WebState {
    pub store: Arc<Store>,
    pub config: ConfigHandle,
    /// When set, every request must carry it (`Authorization: Bearer`, or
    /// `?token=` once, which sets an HttpOnly cookie), wherever the view is
    /// bound.
    pub token: Option<String>,
    /// The search index, for the search and matrix pages.
    pub search: Option<Arc<crate::search::SearchIndex>>,
}

impl WebState {
    pub fn new(store: Arc<Store>, config: impl Into<ConfigHandle>) -> Self {
        WebState {
            store,
            config: config.into(),
            token: None,
            search: None,
        }
    }

    pub fn with_search(mut self, index: Arc<crate::search::SearchIndex>) -> Self {
        self.search = Some(index);
        self
    }

    pub fn with_token(mut self, token: Option<String>) -> Self {
        self.token = token;
        self
    }
}

/// The whole view, to serve on its own or to mount in another server.
pub fn router(state: WebState) -> Router {
    Router::new()
        .route("/", get(pages::index::index))
        .route("/source/{id}", get(pages::source::source_page))
        .route(
            "/source/{id}/v/{version}",
            get(pages::version::version_page),
        )
        .route(
            "/source/{id}/v/{version}/raw",
            get(pages::version::raw_bytes),
        )
        .route("/source/{id}/diff", get(pages::diff::diff_page))
        .route("/outbox", get(pages::outbox::outbox_page))
        .route("/feed.xml", get(pages::feed::feed))
        .route("/search", get(pages::search::search_page))
        .route("/matrix", get(pages::matrix::matrix_page))
        .fallback(unknown_page)
        .layer(middleware::from_fn_with_state(state.clone(), auth::guard))
        .with_state(state)
}

/// Serves [`router`] on `listener` until `shutdown` completes. Refuses a
/// non-loopback listener without a token.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: WebState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), WebError> {
    check_exposure(listener.local_addr()?, state.token.as_deref())?;
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

// ----- plumbing --------------------------------------------------------------

/// Why a page could not be shown, as the person asking should read it.
pub(crate) enum Fail {
    NotFound { title: String, body: String },
    Internal(String),
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail::Internal(e.to_string())
    }
}

impl From<AuditError> for Fail {
    fn from(e: AuditError) -> Self {
        match e {
            AuditError::UnknownSource(id) => unknown_source(&id),
            AuditError::UnknownVersion {
                id,
                version,
                latest,
            } => unknown_version(&id, &version.to_string(), latest),
            other => Fail::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        match self {
            Fail::NotFound { title, body } => html(
                StatusCode::NOT_FOUND,
                page(
                    &title,
                    &format!(
                        "<h1>{}</h1>{body}<p><a href=\"/\">← 全部来源 All sources</a></p>",
                        esc(&title)
                    ),
                ),
            ),
            Fail::Internal(message) => {
                tracing::error!(error = %message, "web view could not read the store");
                html(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    page(
                        "读取存储失败 Store error",
                        &format!(
                            "<h1>读取存储失败 Store error</h1><p class=\"text\">{}</p>\
                             <p class=muted>Run <code>bulletin-watch verify</code> to check the store.</p>",
                            esc(&message)
                        ),
                    ),
                )
            }
        }
    }
}

pub(crate) fn unknown_source(id: &str) -> Fail {
    Fail::NotFound {
        title: "未找到来源 Unknown source".into(),
        body: format!(
            "<p>没有 id 为 <code>{}</code> 的来源。No source with this id is configured or stored; \
             the overview lists every known source.</p>",
            esc(id)
        ),
    }
}

pub(crate) fn unknown_version(id: &str, version: &str, latest: u32) -> Fail {
    let range = if latest == 0 {
        "它还没有任何版本。It has no versions yet.".to_string()
    } else {
        format!("现有版本 v1–v{latest}。It has versions 1–{latest}.")
    };
    Fail::NotFound {
        title: "未找到版本 Unknown version".into(),
        body: format!(
            "<p>来源 <code>{}</code> 没有版本 <code>{}</code>。{range}</p>\
             <p><a href=\"/source/{}\">查看该来源的历史 See its history</a></p>",
            esc(id),
            esc(version),
            seg(id)
        ),
    }
}

pub(crate) fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

/// Runs a page builder off the async threads: sled reads and diffs block.
pub(crate) async fn blocking<F>(f: F) -> Response
where
    F: FnOnce() -> Result<Response, Fail> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(res)) => res,
        Ok(Err(fail)) => fail.into_response(),
        Err(e) => Fail::Internal(format!("page builder failed: {e}")).into_response(),
    }
}

/// Percent-encodes one path segment (ids of discovered articles contain
/// dots; others may contain anything a config allows).
pub(crate) fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

pub(crate) fn parse_version(s: &str) -> Option<u32> {
    s.strip_prefix('v').unwrap_or(s).parse().ok()
}

/// Readers think in Beijing time; China has had no DST since 1991, so a
/// fixed offset is exact and needs no time-zone database.
pub(crate) fn short(s: &str, n: usize) -> String {
    let p = prefix_chars(s, n);
    if p.len() < s.len() {
        format!("{p}…")
    } else {
        p.to_string()
    }
}

pub(crate) async fn unknown_page() -> Response {
    Fail::NotFound {
        title: "未找到页面 Page not found".into(),
        body: "<p>没有这个页面。There is no such page; the overview links to everything this view shows.</p>"
            .into(),
    }
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pages::feed::xml;

    #[test]
    fn segments_and_versions_parse_safely() {
        assert_eq!(seg("zhejiang.0a1b"), "zhejiang.0a1b");
        assert_eq!(seg("a/b c"), "a%2Fb%20c");
        assert_eq!(parse_version("v3"), Some(3));
        assert_eq!(parse_version("3"), Some(3));
        assert_eq!(parse_version("-1"), None);
        assert_eq!(parse_version("99999999999"), None);
        assert_eq!(xml("a\u{1}<b>"), "a&lt;b&gt;");
    }
}
