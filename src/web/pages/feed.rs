//! The alerts as an Atom feed, for readers that poll.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::super::{blocking, seg, WebState};
use jiff::Timestamp;

use crate::alert::{AlertConfig, Renderer};
use crate::catalog::Catalog;
use crate::present::alert_kind_name;
use crate::store::{OutboxEntry, Store, StoreError};
use crate::text::escape_html as esc;

/// The feed is for "what happened lately", not an archive (`bulletin-watch
/// outbox` lists everything).
const FEED_ENTRIES: usize = 200;

/// Escapes for XML, dropping the control characters XML 1.0 cannot carry
/// at all (a scraped title can contain them).
pub(crate) fn xml(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
        .collect();
    esc(&cleaned)
}

/// The address the reader used to reach us, for the feed's absolute links.
pub(crate) fn base_url(headers: &HeaderMap) -> String {
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

pub(crate) fn feed_xml(
    store: &Store,
    config: &AlertConfig,
    base: &str,
) -> Result<String, StoreError> {
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
            xml(alert_kind_name(e.kind)),
            xml(&message.html),
            base_x = xml(base),
        );
    }
    x.push_str("</feed>\n");
    Ok(x)
}

pub(crate) async fn feed(State(st): State<WebState>, headers: HeaderMap) -> Response {
    let base = base_url(&headers);
    blocking(move || {
        let current = st.config.current();
        let config = AlertConfig::with_sources(&current, Catalog::of(current.clone()));
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
