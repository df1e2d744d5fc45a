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

use std::fmt::Write as _;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use axum::extract::rejection::PathRejection;
use axum::extract::{Path as UrlPath, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use jiff::tz::{self, TimeZone};
use jiff::Timestamp;
use sha2::{Digest, Sha256};

use crate::alert::{AlertConfig, Renderer};
use crate::audit::{self, AuditError};
use crate::config::{Config, Region, Source, SourceKind};
use crate::model::{sha256_hex, ChangeKind, DocDiff, SectionChange, Span, PREAMBLE};
use crate::store::{
    DeliveryState, FetchState, OutboxEntry, Store, StoreError, Tracked, VersionRecord,
};
use crate::text::{escape_html as esc, prefix_chars};

/// Name of the cookie that remembers a token given once in `?token=`.
const COOKIE: &str = "bw_token";
/// Short tokens can be guessed by anyone who can reach the port.
pub const MIN_TOKEN_CHARS: usize = 16;
/// The feed is for "what happened lately", not an archive (`bulletin-watch
/// outbox` lists everything).
const FEED_ENTRIES: usize = 200;
/// Delivered alerts the outbox page shows, newest first (every waiting one
/// is shown).
const OUTBOX_DELIVERED_SHOWN: usize = 200;
/// Error texts can be whole HTML pages; a list stays readable with less.
const ERROR_CHARS: usize = 600;

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
}

impl WebState {
    pub fn new(store: Arc<Store>, config: impl Into<ConfigHandle>) -> Self {
        WebState {
            store,
            config: config.into(),
            token: None,
        }
    }

    pub fn with_token(mut self, token: Option<String>) -> Self {
        self.token = token;
        self
    }
}

/// The access token from `--token-file` (preferred) or the environment
/// variable's value. Surrounding whitespace is dropped because token files
/// usually end in a newline; an empty variable counts as unset.
pub fn load_token(env: Option<String>, file: Option<&Path>) -> Result<Option<String>, WebError> {
    let (token, origin) = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| WebError::TokenFile {
                path: path.to_path_buf(),
                source,
            })?;
            (text.trim().to_string(), path.display().to_string())
        }
        None => match env.map(|t| t.trim().to_string()) {
            Some(t) if !t.is_empty() => (t, "BULLETIN_WATCH_TOKEN".to_string()),
            _ => return Ok(None),
        },
    };
    if token.chars().count() < MIN_TOKEN_CHARS {
        return Err(WebError::WeakToken { origin });
    }
    Ok(Some(token))
}

/// Whether the view may listen on `addr` with this token: loopback is
/// always fine, anything else (including 0.0.0.0) needs a token.
pub fn check_exposure(addr: SocketAddr, token: Option<&str>) -> Result<(), WebError> {
    let loopback = addr.ip().to_canonical().is_loopback();
    if loopback || token.is_some_and(|t| !t.is_empty()) {
        Ok(())
    } else {
        Err(WebError::TokenRequired { addr })
    }
}

/// The whole view, to serve on its own or to mount in another server.
pub fn router(state: WebState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/source/{id}", get(source_page))
        .route("/source/{id}/v/{version}", get(version_page))
        .route("/source/{id}/v/{version}/raw", get(raw_bytes))
        .route("/source/{id}/diff", get(diff_page))
        .route("/outbox", get(outbox_page))
        .route("/feed.xml", get(feed))
        .fallback(unknown_page)
        .layer(middleware::from_fn_with_state(state.clone(), guard))
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

// ----- access and headers ----------------------------------------------------

/// Equality whose time does not depend on where (or whether) the inputs
/// differ: both sides are hashed first, so even their lengths stay hidden.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    let (ha, hb) = (Sha256::digest(a), Sha256::digest(b));
    ha.iter()
        .zip(hb.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// The cookie holds a hash of the token, never the token itself.
fn cookie_value(token: &str) -> String {
    sha256_hex(format!("bulletin-watch cookie\n{token}").as_bytes())
}

enum Access {
    Granted,
    /// Granted through `?token=`: remember it in a cookie.
    GrantedByQuery,
    Denied,
}

fn access(headers: &HeaderMap, query: Option<&str>, token: &str) -> Access {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        });
    if bearer.is_some_and(|b| same_secret(b.trim().as_bytes(), token.as_bytes())) {
        return Access::Granted;
    }
    let expected = cookie_value(token);
    let cookie_ok = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .any(|v| same_secret(v.as_bytes(), expected.as_bytes()));
    if cookie_ok {
        return Access::Granted;
    }
    let by_query = query.is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .any(|(k, v)| k == "token" && same_secret(v.as_bytes(), token.as_bytes()))
    });
    if by_query {
        Access::GrantedByQuery
    } else {
        Access::Denied
    }
}

async fn guard(State(state): State<WebState>, req: Request, next: Next) -> Response {
    let mut set_cookie = None;
    if let Some(token) = state.token.as_deref() {
        match access(req.headers(), req.uri().query(), token) {
            Access::Granted => {}
            Access::GrantedByQuery if req.method() == axum::http::Method::GET => {
                // Remember it in a cookie and take the token out of the
                // address bar (and so out of the browser's history).
                let rest: Vec<&str> = req
                    .uri()
                    .query()
                    .unwrap_or_default()
                    .split('&')
                    .filter(|kv| !kv.is_empty() && !kv.starts_with("token="))
                    .collect();
                let path = req.uri().path();
                // `//host` would be another site: never redirect there.
                let path = if path.starts_with("//") { "/" } else { path };
                let location = if rest.is_empty() {
                    path.to_string()
                } else {
                    format!("{path}?{}", rest.join("&"))
                };
                let mut res = StatusCode::SEE_OTHER.into_response();
                if let Ok(v) = HeaderValue::from_str(&location) {
                    res.headers_mut().insert(header::LOCATION, v);
                }
                let cookie = format!(
                    "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
                    cookie_value(token)
                );
                if let Ok(v) = HeaderValue::from_str(&cookie) {
                    res.headers_mut().append(header::SET_COOKIE, v);
                }
                security_headers(&mut res);
                return res;
            }
            Access::GrantedByQuery => set_cookie = Some(cookie_value(token)),
            Access::Denied => {
                let mut res = html(
                    StatusCode::UNAUTHORIZED,
                    page(
                        "需要访问令牌 Access token required",
                        "<h1>需要访问令牌 Access token required</h1>\
                         <p>此监测视图受令牌保护。请使用带 <code>?token=…</code> 的链接打开，\
                         或在请求中附带 <code>Authorization: Bearer …</code>。</p>\
                         <p class=muted>This view is protected by an access token: open the link \
                         you were given (with <code>?token=…</code>) or send \
                         <code>Authorization: Bearer …</code>.</p>",
                    ),
                );
                res.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"bulletin-watch\""),
                );
                security_headers(&mut res);
                return res;
            }
        }
    }
    let mut res = next.run(req).await;
    if let Some(v) = set_cookie {
        let cookie = format!("{COOKIE}={v}; Path=/; HttpOnly; SameSite=Strict");
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    security_headers(&mut res);
    res
}

fn security_headers(res: &mut Response) {
    let h = res.headers_mut();
    // No script runs on these pages at all; styles are inline.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
             form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // A token in the address bar must not travel on to linked sites.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

// ----- plumbing --------------------------------------------------------------

/// Why a page could not be shown, as the person asking should read it.
enum Fail {
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

fn unknown_source(id: &str) -> Fail {
    Fail::NotFound {
        title: "未找到来源 Unknown source".into(),
        body: format!(
            "<p>没有 id 为 <code>{}</code> 的来源。No source with this id is configured or stored; \
             the overview lists every known source.</p>",
            esc(id)
        ),
    }
}

fn unknown_version(id: &str, version: &str, latest: u32) -> Fail {
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

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

/// Runs a page builder off the async threads: sled reads and diffs block.
async fn blocking<F>(f: F) -> Response
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
fn seg(s: &str) -> String {
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

fn parse_version(s: &str) -> Option<u32> {
    s.strip_prefix('v').unwrap_or(s).parse().ok()
}

/// Readers think in Beijing time; China has had no DST since 1991, so a
/// fixed offset is exact and needs no time-zone database.
fn bj(ts: Timestamp) -> String {
    ts.to_zoned_datetime(TimeZone::fixed(tz::offset(8)))
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}

fn bj_opt(ts: Option<Timestamp>) -> String {
    ts.map_or_else(|| "—".to_string(), bj)
}

fn short(s: &str, n: usize) -> String {
    let p = prefix_chars(s, n);
    if p.len() < s.len() {
        format!("{p}…")
    } else {
        p.to_string()
    }
}

// ----- layout ----------------------------------------------------------------

const CSS: &str = r#"
:root{--fg:#1d232a;--muted:#5c6670;--line:#d8dee4;--soft:#f4f6f8;--accent:#0b5cad;--bad:#b3261e;--ok:#1e7b34;--warn:#8a5a00}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;color:var(--fg);background:#fff;font-size:16px;line-height:1.7;
font-family:"PingFang SC","Hiragino Sans GB","Noto Sans CJK SC","Source Han Sans SC","WenQuanYi Zen Hei","WenQuanYi Micro Hei","Microsoft YaHei",system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header.top{background:#12324f;color:#fff;padding:.4rem 1rem;display:flex;flex-wrap:wrap;gap:.2rem 1.2rem;align-items:center}
header.top a{color:#fff;text-decoration:none}
header.top .brand{font-weight:700;margin-right:auto}
main{max-width:72rem;margin:0 auto;padding:1rem}
h1{font-size:1.35rem;line-height:1.45;margin:.4rem 0 .6rem}
h2{font-size:1.15rem;margin:1.4rem 0 .4rem;border-bottom:2px solid var(--line)}
h3{font-size:1.02rem;margin:1rem 0 .3rem}
a{color:var(--accent)}
code,.hash{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85em;overflow-wrap:anywhere}
.muted{color:var(--muted);font-size:.9em}
.badge{display:inline-block;padding:0 .45em;border-radius:.3em;font-size:.8em;line-height:1.6;white-space:nowrap;background:var(--soft);color:var(--muted)}
.b-ok{background:#e3f4e7;color:var(--ok)}.b-bad{background:#fde0e0;color:var(--bad)}.b-warn{background:#fff1d0;color:var(--warn)}
ul.cards{list-style:none;padding:0;margin:0}
ul.cards>li{border:1px solid var(--line);border-radius:.5rem;padding:.5rem .75rem;margin:.5rem 0;overflow-wrap:anywhere}
ul.cards>li.nested{margin-left:1.2rem;border-style:dashed}
.row{display:flex;flex-wrap:wrap;gap:.1rem .9rem;align-items:baseline}
.row .grow{flex:1 1 12rem;min-width:0}
.err{color:var(--bad);font-size:.85em;white-space:pre-wrap;overflow-wrap:anywhere;margin:.2rem 0 0}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:.5rem 0}
dl.meta dt{color:var(--muted)}dl.meta dd{margin:0;min-width:0;overflow-wrap:anywhere}
.text{white-space:pre-wrap;overflow-wrap:anywhere;margin:.2rem 0}
section.sec{margin:.6rem 0;padding-left:.6rem;border-left:3px solid var(--line)}
section.l2{margin-left:1rem}section.l3{margin-left:2rem}section.l4{margin-left:3rem}
.label{font-weight:700}
ins{background:#d5f5dc;color:#0b4d1c;text-decoration:none;border-bottom:2px solid #2da44e}
del{background:#fde0e0;color:#82071e;text-decoration:line-through}
.change{border:1px solid var(--line);border-radius:.5rem;padding:.4rem .75rem;margin:.7rem 0}
.change h3{margin:.2rem 0}
.side{display:grid;grid-template-columns:1fr 1fr;gap:.5rem}
.side>div{background:var(--soft);border-radius:.4rem;padding:.3rem .5rem;min-width:0}
.cap{font-size:.8em;color:var(--muted)}
.toggle a{display:inline-block;padding:.1rem .7rem;border:1px solid var(--accent);border-radius:1rem;text-decoration:none;margin:.1rem .2rem .1rem 0}
.toggle a.on{background:var(--accent);color:#fff}
form.cmp{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;background:var(--soft);padding:.5rem .75rem;border-radius:.5rem}
select,button{font:inherit;padding:.2rem .4rem}
@media (max-width:34rem){main{padding:.6rem}.side{grid-template-columns:1fr}
dl.meta{grid-template-columns:1fr}dl.meta dd{margin-bottom:.3rem}
section.l2{margin-left:.5rem}section.l3{margin-left:1rem}section.l4{margin-left:1.5rem}h1{font-size:1.2rem}}
"#;

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <title>{} · bulletin-watch</title>\n\
         <link rel=\"alternate\" type=\"application/atom+xml\" title=\"告警 Alerts\" href=\"/feed.xml\">\n\
         <style>{CSS}</style>\n</head>\n<body>\n\
         <header class=\"top\"><a class=\"brand\" href=\"/\">bulletin-watch 应急管理部署监测</a>\
         <a href=\"/\">来源 Sources</a><a href=\"/outbox\">告警 Alerts</a><a href=\"/feed.xml\">Atom</a></header>\n\
         <main>\n{body}\n</main>\n</body>\n</html>\n",
        esc(title)
    )
}

// ----- sources and their status --------------------------------------------

/// One line of the overview: a configured source, an article found on a
/// listing, or a source only the store still remembers.
struct Entry {
    id: String,
    name: String,
    province: String,
    region: Option<Region>,
    kind: &'static str,
    url: String,
    listing: Option<String>,
    state: FetchState,
    latest: Option<VersionRecord>,
}

fn kind_name(k: SourceKind) -> &'static str {
    match k {
        SourceKind::Article => "article",
        SourceKind::Listing => "listing",
    }
}

fn entry_of_source(store: &Store, s: &Source) -> Result<Entry, StoreError> {
    Ok(Entry {
        id: s.id.clone(),
        name: s.name.clone(),
        province: s.province.clone(),
        region: Some(s.region),
        kind: kind_name(s.kind),
        url: s.url.to_string(),
        listing: None,
        state: store.fetch_state(&s.id)?,
        latest: store.latest(&s.id)?,
    })
}

fn entry_of_tracked(store: &Store, config: &Config, t: &Tracked) -> Result<Entry, StoreError> {
    let listing = config.source(&t.listing);
    Ok(Entry {
        id: t.id.clone(),
        name: if t.title.is_empty() {
            listing.map_or_else(|| t.listing.clone(), |l| l.name.clone())
        } else {
            t.title.clone()
        },
        province: listing.map_or_else(String::new, |l| l.province.clone()),
        region: listing.map(|l| l.region),
        kind: "discovered",
        url: t.url.clone(),
        listing: Some(t.listing.clone()),
        state: store.fetch_state(&t.id)?,
        latest: store.latest(&t.id)?,
    })
}

fn entry_of_stored(store: &Store, id: &str) -> Result<Entry, StoreError> {
    let latest = store.latest(id)?;
    Ok(Entry {
        id: id.to_string(),
        name: latest
            .as_ref()
            .map_or_else(String::new, |r| r.title.clone()),
        province: String::new(),
        region: None,
        kind: "stored",
        url: latest.as_ref().map_or_else(String::new, |r| r.url.clone()),
        listing: None,
        state: store.fetch_state(id)?,
        latest,
    })
}

/// Finds a source by id among configured, discovered and stored ones.
fn find_entry(store: &Store, config: &Config, id: &str) -> Result<Option<Entry>, StoreError> {
    if let Some(s) = config.source(id) {
        return Ok(Some(entry_of_source(store, s)?));
    }
    if let Some(t) = store.tracked()?.iter().find(|t| t.id == id) {
        return Ok(Some(entry_of_tracked(store, config, t)?));
    }
    if store.latest(id)?.is_some() {
        return Ok(Some(entry_of_stored(store, id)?));
    }
    Ok(None)
}

fn status_badge(e: &Entry) -> String {
    let st = &e.state;
    if st.consecutive_failures > 0 {
        format!(
            "<span class=\"badge b-bad\">失败 failing ×{}</span>",
            st.consecutive_failures
        )
    } else if st.last_checked.is_none() && e.latest.is_none() {
        "<span class=\"badge b-warn\">未检查 not checked</span>".to_string()
    } else {
        "<span class=\"badge b-ok\">正常 OK</span>".to_string()
    }
}

fn kind_badge(kind: &str) -> &'static str {
    match kind {
        "listing" => "<span class=\"badge\">栏目 listing</span>",
        "discovered" => "<span class=\"badge\">发现 discovered</span>",
        "stored" => "<span class=\"badge b-warn\">未配置 not configured</span>",
        _ => "<span class=\"badge\">文章 article</span>",
    }
}

fn entry_card(e: &Entry, nested: bool) -> String {
    let versions = e.latest.as_ref().map_or(0, |r| r.version);
    let mut s = format!(
        "<li class=\"src{}\" id=\"src-{}\"><div class=\"row\"><span class=\"grow\">\
         <a href=\"/source/{}\"><strong>{}</strong></a> {}</span>{}</div>{}\
         <div class=\"row muted\"><span>检查 checked {}</span>{}<code>{}</code></div>",
        if nested { " nested" } else { "" },
        esc(&e.id),
        seg(&e.id),
        esc(&e.name),
        kind_badge(e.kind),
        status_badge(e),
        // The article's own title, when the configured name does not say it.
        e.latest
            .as_ref()
            .filter(|r| r.title != e.name)
            .map_or_else(String::new, |r| format!("<div>{}</div>", esc(&r.title))),
        bj_opt(e.state.last_checked),
        // Listings keep no versions of their own: what they found is listed under them.
        if e.kind == "listing" {
            String::new()
        } else {
            format!(
                "<span>变更 changed {}</span><span>{versions} 个版本 versions</span>",
                bj_opt(e.latest.as_ref().map(|r| r.fetched_at))
            )
        },
        esc(&e.id),
    );
    if let (true, Some(err)) = (e.state.consecutive_failures > 0, &e.state.last_error) {
        let _ = write!(s, "<p class=\"err\">{}</p>", esc(&short(err, ERROR_CHARS)));
    }
    s.push_str("</li>");
    s
}

fn index_html(store: &Store, config: &Config) -> Result<String, StoreError> {
    let tracked = store.tracked()?;
    let mut listed: std::collections::HashSet<String> = Default::default();
    let mut body = String::from("<h1>监测来源 Watched sources</h1>");
    let (mut total, mut failing) = (0usize, 0usize);
    let mut sections = String::new();
    for region in Region::ALL {
        let mut provinces: Vec<&str> = Vec::new();
        for s in config.sources.iter().filter(|s| s.region == region) {
            if !provinces.contains(&s.province.as_str()) {
                provinces.push(&s.province);
            }
        }
        if provinces.is_empty() {
            continue;
        }
        let _ = write!(sections, "<h2>{}</h2>", esc(region.name()));
        for province in provinces {
            let _ = write!(sections, "<h3>{}</h3><ul class=\"cards\">", esc(province));
            let in_province = config
                .sources
                .iter()
                .filter(|s| s.region == region && s.province == province);
            for s in in_province {
                let e = entry_of_source(store, s)?;
                total += 1;
                failing += usize::from(e.state.consecutive_failures > 0);
                sections.push_str(&entry_card(&e, false));
                listed.insert(s.id.clone());
                for t in tracked.iter().filter(|t| t.listing == s.id) {
                    let e = entry_of_tracked(store, config, t)?;
                    total += 1;
                    failing += usize::from(e.state.consecutive_failures > 0);
                    sections.push_str(&entry_card(&e, true));
                    listed.insert(t.id.clone());
                }
            }
            sections.push_str("</ul>");
        }
    }
    // What the store holds but the current configuration no longer names:
    // auditors still need to reach that history.
    let mut others = String::new();
    let orphans: Vec<&Tracked> = tracked.iter().filter(|t| !listed.contains(&t.id)).collect();
    for t in orphans {
        others.push_str(&entry_card(&entry_of_tracked(store, config, t)?, false));
        listed.insert(t.id.clone());
    }
    for id in store.source_ids()? {
        if !listed.contains(&id) {
            others.push_str(&entry_card(&entry_of_stored(store, &id)?, false));
        }
    }
    if !others.is_empty() {
        let _ = write!(
            sections,
            "<h2>其他 Other</h2><p class=muted>存储中有、但当前配置未列出的来源。In the store, not in the current configuration.</p>\
             <ul class=\"cards\">{others}</ul>"
        );
    }
    let _ = write!(
        body,
        "<p class=\"muted\">{total} 个来源 sources · {failing} 个失败 failing · 时间为北京时间 times are Beijing time (UTC+8)</p>{sections}"
    );
    if total == 0 && others.is_empty() {
        body.push_str("<p>尚未配置任何来源。No sources are configured yet.</p>");
    }
    Ok(page("监测来源 Sources", &body))
}

async fn index(State(st): State<WebState>) -> Response {
    blocking(move || {
        let config = st.config.current();
        Ok(html(StatusCode::OK, index_html(&st.store, &config)?))
    })
    .await
}

// ----- one source --------------------------------------------------------------

fn source_html(store: &Store, config: &Config, id: &str) -> Result<String, Fail> {
    let entry = find_entry(store, config, id)?.ok_or_else(|| unknown_source(id))?;
    let versions = store.versions(id)?;
    let title = format!("{} {}", entry.province, entry.name);
    let mut b = format!(
        "<p class=\"muted\">{} {}</p><h1>{}</h1>",
        esc(entry.region.map_or("", |r| r.name())),
        esc(&entry.province),
        esc(&entry.name)
    );
    let _ = write!(
        b,
        "<dl class=\"meta\"><dt>状态 Status</dt><dd>{} {}</dd>\
         <dt>来源 id</dt><dd><code>{}</code></dd>\
         <dt>原文链接 URL</dt><dd><a href=\"{}\" rel=\"noopener noreferrer\">{}</a></dd>\
         <dt>最近检查 Last check</dt><dd>{}</dd>\
         <dt>最近成功 Last success</dt><dd>{}</dd>\
         <dt>最近变更 Last change</dt><dd>{}</dd>\
         <dt>版本数 Versions</dt><dd>{}</dd>",
        kind_badge(entry.kind),
        status_badge(&entry),
        esc(&entry.id),
        esc(&entry.url),
        esc(&entry.url),
        bj_opt(entry.state.last_checked),
        bj_opt(entry.state.last_success),
        bj_opt(versions.last().map(|r| r.fetched_at)),
        versions.len(),
    );
    if let Some(listing) = &entry.listing {
        let _ = write!(
            b,
            "<dt>发现于栏目 Found on</dt><dd><a href=\"/source/{}\">{}</a></dd>",
            seg(listing),
            esc(listing)
        );
    }
    if entry.state.consecutive_failures > 0 {
        let _ = write!(
            b,
            "<dt>连续失败 Failures</dt><dd>{}</dd><dt>最近错误 Last error</dt><dd class=\"err\">{}</dd>",
            entry.state.consecutive_failures,
            esc(entry.state.last_error.as_deref().unwrap_or("—"))
        );
    }
    b.push_str("</dl>");

    if entry.kind == "listing" {
        let found: Vec<Tracked> = store
            .tracked()?
            .into_iter()
            .filter(|t| t.listing == id)
            .collect();
        let _ = write!(
            b,
            "<h2>发现的文章 Discovered articles ({})</h2>",
            found.len()
        );
        if found.is_empty() {
            b.push_str("<p class=muted>尚未发现匹配的文章。Nothing matching found yet.</p>");
        } else {
            b.push_str("<ul class=\"cards\">");
            for t in &found {
                let _ = write!(
                    b,
                    "<li><a href=\"/source/{}\">{}</a><div class=muted>发现 found {}</div></li>",
                    seg(&t.id),
                    esc(if t.title.is_empty() { &t.id } else { &t.title }),
                    bj(t.discovered_at)
                );
            }
            b.push_str("</ul>");
        }
    }

    if versions.is_empty() {
        if entry.kind != "listing" {
            b.push_str("<p>尚无存档版本。No version archived yet.</p>");
        }
        return Ok(page(&title, &b));
    }
    if versions.len() > 1 {
        let latest = versions.last().map_or(1, |r| r.version);
        let options = |selected: u32| {
            versions
                .iter()
                .rev()
                .map(|r| {
                    format!(
                        "<option value=\"{0}\"{1}>v{0}</option>",
                        r.version,
                        if r.version == selected {
                            " selected"
                        } else {
                            ""
                        }
                    )
                })
                .collect::<String>()
        };
        let _ = write!(
            b,
            "<h2>比较 Compare</h2><form class=\"cmp\" method=\"get\" action=\"/source/{}/diff\">\
             <label>从 from <select name=\"from\">{}</select></label>\
             <label>到 to <select name=\"to\">{}</select></label>\
             <label><input type=\"radio\" name=\"mode\" value=\"inline\" checked> 逐段 inline</label>\
             <label><input type=\"radio\" name=\"mode\" value=\"side\"> 并排 side by side</label>\
             <button type=\"submit\">比较 Compare</button></form>",
            seg(id),
            options(latest - 1),
            options(latest)
        );
    }
    let _ = write!(
        b,
        "<h2>版本历史 History ({})</h2><ul class=\"cards\">",
        versions.len()
    );
    for r in versions.iter().rev() {
        let _ = write!(
            b,
            "<li><div class=\"row\"><span class=\"grow\"><a href=\"/source/{id}/v/{v}\"><strong>v{v}</strong></a> {t}</span>\
             <span class=\"muted\">{when}</span></div>\
             <div class=\"row muted\"><span>{secs} 节 sections</span><span>{bytes} B</span>\
             <span class=\"hash\">sha256 {hash}…</span></div><div class=\"row\">\
             <a href=\"/source/{id}/v/{v}\">章节 Sections</a>",
            id = seg(id),
            v = r.version,
            t = esc(&r.title),
            when = bj(r.fetched_at),
            secs = r.sections,
            bytes = r.byte_len,
            hash = esc(prefix_chars(&r.raw_hash, 16)),
        );
        if r.version > 1 {
            let _ = write!(
                b,
                "<a class=\"diff-link\" href=\"/source/{id}/diff?from={p}&amp;to={v}\">与 v{p} 比较 Diff</a>",
                id = seg(id),
                p = r.version - 1,
                v = r.version
            );
        }
        let _ = write!(
            b,
            "<a href=\"/source/{}/v/{}/raw\">原始字节 Raw</a></div></li>",
            seg(id),
            r.version
        );
    }
    b.push_str("</ul>");
    Ok(page(&title, &b))
}

async fn source_page(
    State(st): State<WebState>,
    id: Result<UrlPath<String>, PathRejection>,
) -> Response {
    let Ok(UrlPath(id)) = id else {
        return unknown_source("?").into_response();
    };
    blocking(move || {
        let config = st.config.current();
        Ok(html(StatusCode::OK, source_html(&st.store, &config, &id)?))
    })
    .await
}

// ----- one version -------------------------------------------------------------

/// The record of `id` version `v`, with all versions for navigation; a
/// helpful 404 for anything that does not exist.
fn lookup(store: &Store, id: &str, v: &str) -> Result<(VersionRecord, Vec<VersionRecord>), Fail> {
    let versions = store.versions(id)?;
    if versions.is_empty() {
        return Err(unknown_source(id));
    }
    let latest = versions.last().map_or(0, |r| r.version);
    let rec = parse_version(v)
        .and_then(|n| versions.iter().find(|r| r.version == n).cloned())
        .ok_or_else(|| unknown_version(id, v, latest))?;
    Ok((rec, versions))
}

fn version_html(store: &Store, config: &Config, id: &str, v: &str) -> Result<String, Fail> {
    let (rec, versions) = lookup(store, id, v)?;
    let doc = store.document(&rec)?;
    let raw = store.raw(&rec)?;
    let actual = sha256_hex(&raw);
    let province = find_entry(store, config, id)?.map_or_else(String::new, |e| e.province);
    let n = rec.version;
    let latest = versions.last().map_or(n, |r| r.version);
    let mut b = format!(
        "<p class=\"muted\"><a href=\"/source/{}\">← {} {}</a></p><h1>{}</h1>",
        seg(id),
        esc(&province),
        esc(id),
        esc(&doc.title)
    );
    b.push_str("<p class=\"row\">");
    if n > 1 {
        let _ = write!(
            b,
            "<a href=\"/source/{}/v/{}\">← v{}</a>",
            seg(id),
            n - 1,
            n - 1
        );
        let _ = write!(
            b,
            "<a class=\"diff-link\" href=\"/source/{}/diff?from={}&amp;to={n}\">与上一版比较 Diff with v{}</a>",
            seg(id),
            n - 1,
            n - 1
        );
    }
    let _ = write!(b, "<strong>v{n} / {latest}</strong>");
    if n < latest {
        let _ = write!(
            b,
            "<a href=\"/source/{}/v/{}\">v{} →</a>",
            seg(id),
            n + 1,
            n + 1
        );
    }
    b.push_str("</p>");
    let check = if actual == rec.raw_hash {
        "<span class=\"badge b-ok\">✓ 与存档字节一致 matches the stored bytes</span>"
    } else {
        "<span class=\"badge b-bad\">✗ 与存档字节不一致 does NOT match the stored bytes — run verify</span>"
    };
    let _ = write!(
        b,
        "<dl class=\"meta\"><dt>抓取时间 Fetched</dt><dd>{} 北京时间</dd>\
         <dt>发布日期 Published</dt><dd>{}</dd>\
         <dt>原文链接 URL</dt><dd><a href=\"{}\" rel=\"noopener noreferrer\">{}</a></dd>\
         <dt>HTTP</dt><dd>{} · {} · {} · {} B</dd>\
         <dt>原始字节 Raw</dt><dd><a href=\"/source/{}/v/{n}/raw\" download>下载 Download</a> \
         <span class=\"hash\">SHA-256 {}</span> {check}</dd>\
         <dt>内容哈希 Content</dt><dd class=\"hash\">{}</dd>\
         <dt>记录哈希 Record</dt><dd class=\"hash\">{}</dd>\
         <dt>前一记录 Previous</dt><dd class=\"hash\">{}</dd></dl>",
        bj(rec.fetched_at),
        doc.published
            .map_or_else(|| "—".to_string(), |d| d.to_string()),
        esc(&rec.final_url),
        esc(&rec.final_url),
        rec.status,
        esc(rec.content_type.as_deref().unwrap_or("—")),
        esc(&rec.encoding),
        rec.byte_len,
        seg(id),
        esc(&rec.raw_hash),
        esc(&rec.content_hash),
        esc(&rec.record_hash),
        esc(rec.prev_hash.as_deref().unwrap_or("—")),
    );
    if !doc.preamble.is_empty() {
        let _ = write!(
            b,
            "<h2>导语 Preamble</h2><p class=\"text\">{}</p>",
            esc(&doc.preamble)
        );
    }
    let _ = write!(b, "<h2>章节 Sections ({})</h2>", doc.sections.len());
    for s in &doc.sections {
        let _ = write!(
            b,
            "<section class=\"sec l{}\" id=\"{}\"><h3><span class=\"label\">{}</span> {}</h3>",
            s.level.clamp(1, 4),
            esc(&s.path_str()),
            esc(&s.raw_label),
            esc(&s.heading)
        );
        if !s.text.is_empty() {
            let _ = write!(b, "<p class=\"text\">{}</p>", esc(&s.text));
        }
        b.push_str("</section>");
    }
    Ok(page(&format!("{} v{n}", doc.title), &b))
}

async fn version_page(
    State(st): State<WebState>,
    p: Result<UrlPath<(String, String)>, PathRejection>,
) -> Response {
    let Ok(UrlPath((id, v))) = p else {
        return unknown_source("?").into_response();
    };
    blocking(move || {
        let config = st.config.current();
        Ok(html(
            StatusCode::OK,
            version_html(&st.store, &config, &id, &v)?,
        ))
    })
    .await
}

/// A file name that every browser and file system takes as is.
fn download_name(id: &str, rec: &VersionRecord) -> String {
    let base: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let ext = match rec.content_type.as_deref() {
        Some(ct) if ct.to_ascii_lowercase().contains("html") => "html",
        _ => "bin",
    };
    format!("{base}-v{}.{ext}", rec.version)
}

async fn raw_bytes(
    State(st): State<WebState>,
    p: Result<UrlPath<(String, String)>, PathRejection>,
) -> Response {
    let Ok(UrlPath((id, v))) = p else {
        return unknown_source("?").into_response();
    };
    blocking(move || {
        let (rec, _) = lookup(&st.store, &id, &v)?;
        // Exactly the archived bytes: never decoded, re-encoded or sniffed.
        let bytes = st.store.raw(&rec)?;
        let sha = sha256_hex(&bytes);
        let disposition = format!("attachment; filename=\"{}\"", download_name(&id, &rec));
        let mut res = (StatusCode::OK, bytes).into_response();
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        if let Ok(v) = HeaderValue::from_str(&disposition) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
        if let Ok(v) = HeaderValue::from_str(&sha) {
            h.insert("x-content-sha256", v);
        }
        Ok(res)
    })
    .await
}

// ----- diff --------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Inline,
    Side,
}

fn spans_html(spans: &[Span], keep: impl Fn(&Span) -> bool) -> String {
    let mut s = String::new();
    for sp in spans.iter().filter(|sp| keep(sp)) {
        match sp {
            Span::Equal(t) => s.push_str(&esc(t)),
            Span::Insert(t) => {
                let _ = write!(s, "<ins>{}</ins>", esc(t));
            }
            Span::Delete(t) => {
                let _ = write!(s, "<del>{}</del>", esc(t));
            }
            Span::Gap => s.push_str("<span class=\"muted\"> … </span>"),
        }
    }
    s
}

fn path_label(p: &str) -> String {
    if p == PREAMBLE {
        "导语 Preamble".to_string()
    } else {
        p.to_string()
    }
}

fn change_html(c: &SectionChange, mode: Mode, from: u32, to: u32, id: &str) -> String {
    let (kind, class) = match c.kind {
        ChangeKind::Added => ("新增 added", "b-ok"),
        ChangeKind::Removed => ("删除 removed", "b-bad"),
        ChangeKind::Modified => ("修改 modified", "b-warn"),
        ChangeKind::Renumbered => ("重新编号 renumbered", ""),
    };
    let (anchor_v, anchor) = if c.kind == ChangeKind::Removed {
        (from, &c.path)
    } else {
        (to, &c.path)
    };
    let path = match (&c.old_path, c.kind) {
        (Some(old), ChangeKind::Renumbered) => {
            format!("{} → {}", esc(&path_label(old)), esc(&path_label(&c.path)))
        }
        _ => esc(&path_label(&c.path)),
    };
    let mut s = format!(
        "<div class=\"change\"><h3><span class=\"badge {class}\">{kind}</span> \
         <a class=\"path\" href=\"/source/{}/v/{anchor_v}#{}\">{path}</a> {}</h3>",
        seg(id),
        seg(anchor),
        esc(&c.heading)
    );
    if c.inline.is_empty() {
        s.push_str("<p class=\"muted\">内容未变 Text unchanged.</p>");
    } else if mode == Mode::Side {
        let old = spans_html(&c.inline, |sp| !matches!(sp, Span::Insert(_)));
        let new = spans_html(&c.inline, |sp| !matches!(sp, Span::Delete(_)));
        let or_dash = |t: String| if t.is_empty() { "—".to_string() } else { t };
        let _ = write!(
            s,
            "<div class=\"side\"><div><div class=\"cap\">旧 v{from}</div><p class=\"text\">{}</p></div>\
             <div><div class=\"cap\">新 v{to}</div><p class=\"text\">{}</p></div></div>",
            or_dash(old),
            or_dash(new)
        );
    } else {
        let _ = write!(
            s,
            "<p class=\"text\">{}</p>",
            spans_html(&c.inline, |_| true)
        );
    }
    s.push_str("</div>");
    s
}

fn diff_body(id: &str, a: &VersionRecord, b: &VersionRecord, d: &DocDiff, mode: Mode) -> String {
    let link = |m: &str, label: &str, on: bool| {
        format!(
            "<a{} href=\"/source/{}/diff?from={}&amp;to={}&amp;mode={m}\">{label}</a>",
            if on { " class=\"on\"" } else { "" },
            seg(id),
            a.version,
            b.version
        )
    };
    let mut s = format!(
        "<p class=\"toggle\">{}{}</p><p class=\"muted\">v{} ({}) → v{} ({}) · 北京时间</p>",
        link("inline", "逐段 Inline", mode == Mode::Inline),
        link("side", "并排 Side by side", mode == Mode::Side),
        a.version,
        bj(a.fetched_at),
        b.version,
        bj(b.fetched_at)
    );
    if d.is_empty() {
        s.push_str("<p><strong>无变化 No changes.</strong></p>");
        return s;
    }
    let _ = write!(
        s,
        "<p>{} 处变化 changes: {} 修改 modified, {} 新增 added, {} 删除 removed, {} 重新编号 renumbered</p>",
        d.changes.len() + usize::from(d.title_changed.is_some()) + usize::from(d.date_changed.is_some()),
        d.changed().len(),
        d.added().len(),
        d.removed().len(),
        d.renumbered().len()
    );
    if let Some((old, new)) = &d.title_changed {
        let _ = write!(
            s,
            "<div class=\"change\"><h3><span class=\"badge b-warn\">标题 Title</span></h3>\
             <p class=\"text\"><del>{}</del> → <ins>{}</ins></p></div>",
            esc(old),
            esc(new)
        );
    }
    if let Some((old, new)) = &d.date_changed {
        let f = |d: &Option<jiff::civil::Date>| d.map_or("—".to_string(), |d| d.to_string());
        let _ = write!(
            s,
            "<div class=\"change\"><h3><span class=\"badge b-warn\">日期 Date</span></h3>\
             <p><del>{}</del> → <ins>{}</ins></p></div>",
            f(old),
            f(new)
        );
    }
    for c in &d.changes {
        s.push_str(&change_html(c, mode, a.version, b.version, id));
    }
    s
}

fn diff_html(
    store: &Store,
    config: &Config,
    id: &str,
    query: Option<&str>,
) -> Result<String, Fail> {
    let entry = find_entry(store, config, id)?.ok_or_else(|| unknown_source(id))?;
    let mut from = None;
    let mut to = None;
    let mut mode = Mode::Inline;
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "from" | "to" if !v.is_empty() => {
                let latest = store.latest(id)?.map_or(0, |r| r.version);
                let n = parse_version(&v).ok_or_else(|| unknown_version(id, &v, latest))?;
                if k == "from" {
                    from = Some(n);
                } else {
                    to = Some(n);
                }
            }
            "mode" if v == "side" => mode = Mode::Side,
            _ => {}
        }
    }
    let head = format!(
        "<p class=\"muted\"><a href=\"/source/{}\">← {} {}</a></p>",
        seg(id),
        esc(&entry.province),
        esc(&entry.name)
    );
    let (a, b, d) = match audit::diff_pair(store, id, from, to) {
        Ok(t) => t,
        Err(AuditError::NothingToCompare(_)) => {
            let body = format!(
                "{head}<h1>无可比较 Nothing to compare</h1><p>该来源只有一个版本。This source has a single version: \
                 <a href=\"/source/{}/v/1\">v1</a>.</p>",
                seg(id)
            );
            return Ok(page("Nothing to compare", &body));
        }
        Err(e) => return Err(e.into()),
    };
    let title = format!("{} v{} → v{}", entry.province, a.version, b.version);
    let body = format!(
        "{head}<h1>{} · v{} → v{}</h1><p>{}</p>{}",
        esc(&entry.province),
        a.version,
        b.version,
        esc(&b.title),
        diff_body(id, &a, &b, &d, mode)
    );
    Ok(page(&title, &body))
}

async fn diff_page(
    State(st): State<WebState>,
    id: Result<UrlPath<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Response {
    let Ok(UrlPath(id)) = id else {
        return unknown_source("?").into_response();
    };
    blocking(move || {
        let config = st.config.current();
        Ok(html(
            StatusCode::OK,
            diff_html(&st.store, &config, &id, query.as_deref())?,
        ))
    })
    .await
}

// ----- alerts ------------------------------------------------------------------

fn delivery(e: &OutboxEntry) -> (&'static str, &'static str) {
    match (e.state, &e.last_error) {
        (DeliveryState::Delivered, _) => ("已送达 delivered", "b-ok"),
        (DeliveryState::Pending, Some(_)) => ("失败 failing", "b-bad"),
        (DeliveryState::Pending, None) => ("待发送 pending", "b-warn"),
    }
}

/// Where an alert points: the change it reports, or the source.
fn alert_target(e: &OutboxEntry) -> String {
    match e.version {
        Some(v) if v > 1 => format!("/source/{}/diff?from={}&to={v}", seg(&e.source), v - 1),
        Some(v) => format!("/source/{}/v/{v}", seg(&e.source)),
        None => format!("/source/{}", seg(&e.source)),
    }
}

fn outbox_html(store: &Store, config: &AlertConfig) -> Result<String, StoreError> {
    let mut entries = store.outbox()?;
    entries.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.key.cmp(&a.key)));
    let renderer = Renderer::new(store, config);
    let count = |label: &str| entries.iter().filter(|e| delivery(e).0 == label).count();
    let mut b = format!(
        "<h1>告警 Alerts</h1><p class=\"muted\">{} 待发送 pending · {} 失败 failing · {} 已送达 delivered · \
         <a href=\"/feed.xml\">Atom feed</a></p><ul class=\"cards\">",
        count("待发送 pending"),
        count("失败 failing"),
        count("已送达 delivered"),
    );
    if entries.is_empty() {
        b.push_str("<li class=muted>没有告警。No alerts yet.</li>");
    }
    // Each alert is rendered from the store to be shown, so a long history
    // is cut: every alert still waiting, and the newest delivered ones.
    let mut delivered_shown = 0;
    let mut hidden = 0;
    for e in &entries {
        if e.state == DeliveryState::Delivered {
            if delivered_shown == OUTBOX_DELIVERED_SHOWN {
                hidden += 1;
                continue;
            }
            delivered_shown += 1;
        }
        let (state, class) = delivery(e);
        let message = renderer.render(e)?;
        let _ = write!(
            b,
            "<li><div class=\"row\"><span class=\"badge {class}\">{state}</span>\
             <span class=\"badge\">{}</span><span class=\"grow\"><a href=\"{}\">{}</a></span></div>\
             <div class=\"row muted\"><span>创建 created {}</span><span>尝试 attempts {}</span>\
             <span>送达 delivered {}</span><a href=\"/source/{}\">{}</a><code>{}</code></div>",
            esc(&format!("{:?}", e.kind).to_lowercase()),
            esc(&alert_target(e)),
            esc(&message.subject),
            bj(e.created_at),
            e.attempts,
            bj_opt(e.delivered_at),
            seg(&e.source),
            esc(&e.source),
            esc(&message.message_id),
        );
        if let (DeliveryState::Pending, Some(err)) = (e.state, &e.last_error) {
            let _ = write!(
                b,
                "<p class=\"err\">最近错误 last error: {}</p><div class=\"muted\">下次尝试 next attempt {}</div>",
                esc(&short(err, ERROR_CHARS)),
                bj(e.next_attempt)
            );
        }
        b.push_str("</li>");
    }
    b.push_str("</ul>");
    if hidden > 0 {
        let _ = write!(
            b,
            "<p class=\"muted\">另有 {hidden} 条较早的已送达告警未显示。{hidden} older delivered alerts \
             are not shown; <code>bulletin-watch outbox</code> lists them all.</p>"
        );
    }
    Ok(page("告警 Alerts", &b))
}

async fn outbox_page(State(st): State<WebState>) -> Response {
    blocking(move || {
        let config = AlertConfig::from_config(&st.config.current());
        Ok(html(StatusCode::OK, outbox_html(&st.store, &config)?))
    })
    .await
}

/// Escapes for XML, dropping the control characters XML 1.0 cannot carry
/// at all (a scraped title can contain them).
fn xml(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
        .collect();
    esc(&cleaned)
}

/// The address the reader used to reach us, for the feed's absolute links.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .unwrap_or("localhost");
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    format!("{}://{host}", if https { "https" } else { "http" })
}

fn feed_xml(store: &Store, config: &AlertConfig, base: &str) -> Result<String, StoreError> {
    let mut entries = store.outbox()?;
    entries.reverse();
    entries.truncate(FEED_ENTRIES);
    let renderer = Renderer::new(store, config);
    let updated_of = |e: &OutboxEntry| e.delivered_at.unwrap_or(e.created_at);
    let updated = entries
        .iter()
        .map(updated_of)
        .max()
        .unwrap_or_else(Timestamp::now);
    let mut x = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"zh-CN\">\n\
         <id>urn:bulletin-watch:{}:alerts</id>\n\
         <title>bulletin-watch 告警 Alerts</title>\n\
         <updated>{updated}</updated>\n\
         <author><name>bulletin-watch</name></author>\n\
         <generator version=\"{}\">bulletin-watch</generator>\n\
         <link rel=\"self\" type=\"application/atom+xml\" href=\"{}/feed.xml\"/>\n\
         <link rel=\"alternate\" type=\"text/html\" href=\"{}/outbox\"/>\n",
        xml(store.instance_id()),
        env!("CARGO_PKG_VERSION"),
        xml(base),
        xml(base),
    );
    for e in &entries {
        let message = renderer.render(e)?;
        // A Message-ID as an IRI is a `mid:` URL (RFC 2392).
        let _ = write!(
            x,
            "<entry>\n<id>mid:{}</id>\n<title>{}</title>\n\
             <link rel=\"alternate\" type=\"text/html\" href=\"{base_x}/source/{}\"/>\n\
             <updated>{}</updated>\n<published>{}</published>\n\
             <category term=\"{}\"/>\n<content type=\"html\">{}</content>\n</entry>\n",
            xml(&message.message_id),
            xml(&message.subject),
            xml(&seg(&e.source)),
            updated_of(e),
            e.created_at,
            xml(&format!("{:?}", e.kind).to_lowercase()),
            xml(&message.html),
            base_x = xml(base),
        );
    }
    x.push_str("</feed>\n");
    Ok(x)
}

async fn feed(State(st): State<WebState>, headers: HeaderMap) -> Response {
    let base = base_url(&headers);
    blocking(move || {
        let config = AlertConfig::from_config(&st.config.current());
        let body = feed_xml(&st.store, &config, &base)?;
        Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
            body,
        )
            .into_response())
    })
    .await
}

async fn unknown_page() -> Response {
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
    use crate::model::AlertKind;

    /// Every alert is rendered to be shown, so the page keeps every waiting
    /// alert and only the newest delivered ones.
    #[test]
    fn the_outbox_page_shows_waiting_alerts_and_the_newest_delivered() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut delivered = Vec::new();
        for i in 0..OUTBOX_DELIVERED_SHOWN + 3 {
            let key = format!("recovered/s{i:04}/1");
            let mut e = OutboxEntry::new(key, AlertKind::Recovered, &format!("s{i:04}"), None);
            store.enqueue(&e).unwrap();
            e.state = DeliveryState::Delivered;
            e.delivered_at = Some(e.created_at);
            delivered.push(e);
        }
        store.update_entries(&delivered).unwrap();
        let waiting = OutboxEntry::new("failing/old/1".into(), AlertKind::Failing, "old", None);
        store.enqueue(&waiting).unwrap();
        let html = outbox_html(&store, &AlertConfig::default()).unwrap();
        assert_eq!(html.matches("<li>").count(), OUTBOX_DELIVERED_SHOWN + 1);
        assert!(html.contains("/source/old"), "the waiting alert is shown");
        let newest = format!("/source/s{:04}\"", OUTBOX_DELIVERED_SHOWN + 2);
        assert!(
            html.contains(&newest),
            "the newest delivered alert is shown"
        );
        assert!(!html.contains("/source/s0000\""), "the oldest is not");
        assert!(
            html.contains("3 older delivered alerts"),
            "{}",
            &html[..400]
        );
    }

    #[test]
    fn exposure_needs_a_token_off_loopback() {
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(check_exposure(a("127.0.0.1:8080"), None).is_ok());
        assert!(check_exposure(a("[::1]:8080"), None).is_ok());
        assert!(check_exposure(a("[::ffff:127.0.0.1]:8080"), None).is_ok());
        for addr in ["0.0.0.0:8080", "[::]:8080", "192.0.2.7:80"] {
            let err = check_exposure(a(addr), None).unwrap_err();
            assert!(err.to_string().contains("BULLETIN_WATCH_TOKEN"), "{err}");
            assert!(check_exposure(a(addr), Some("")).is_err());
            assert!(check_exposure(a(addr), Some("0123456789abcdef")).is_ok());
        }
    }

    #[test]
    fn tokens_load_trimmed_and_must_be_long() {
        assert!(load_token(None, None).unwrap().is_none());
        assert!(load_token(Some("  ".into()), None).unwrap().is_none());
        assert!(matches!(
            load_token(Some("short".into()), None),
            Err(WebError::WeakToken { .. })
        ));
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("token");
        std::fs::write(&f, "0123456789abcdefXYZ\n").unwrap();
        // The file wins over the environment.
        assert_eq!(
            load_token(Some("ignored-ignored-ignored".into()), Some(&f))
                .unwrap()
                .as_deref(),
            Some("0123456789abcdefXYZ")
        );
        assert!(matches!(
            load_token(None, Some(&dir.path().join("missing"))),
            Err(WebError::TokenFile { .. })
        ));
    }

    #[test]
    fn secrets_compare_by_content_only() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"abcd"));
        assert!(!same_secret(b"", b"a"));
    }

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
