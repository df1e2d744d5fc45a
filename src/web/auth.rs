//! Who may see the view: the access token (from a file or the
//! environment), where the view may listen without one, and the guard
//! every request passes — bearer header, the cookie a `?token=` link sets,
//! or a 401 page.

use std::net::SocketAddr;
use std::path::Path;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::layout::{page, security_headers};
use super::{html, WebError, WebState};
use crate::model::sha256_hex;

/// Name of the cookie that remembers a token given once in `?token=`.
pub(crate) const COOKIE: &str = "bw_token";
/// Short tokens can be guessed by anyone who can reach the port.
pub const MIN_TOKEN_CHARS: usize = 16;

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

/// Equality whose time does not depend on where (or whether) the inputs
/// differ: both sides are hashed first, so even their lengths stay hidden.
pub(crate) fn same_secret(a: &[u8], b: &[u8]) -> bool {
    let (ha, hb) = (Sha256::digest(a), Sha256::digest(b));
    ha.iter()
        .zip(hb.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// The cookie holds a hash of the token, never the token itself.
pub(crate) fn cookie_value(token: &str) -> String {
    sha256_hex(format!("bulletin-watch cookie\n{token}").as_bytes())
}

pub(crate) enum Access {
    Granted,
    /// Granted through `?token=`: remember it in a cookie.
    GrantedByQuery,
    Denied,
}

pub(crate) fn access(headers: &HeaderMap, query: Option<&str>, token: &str) -> Access {
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

pub(crate) async fn guard(State(state): State<WebState>, req: Request, next: Next) -> Response {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
