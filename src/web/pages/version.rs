//! One archived version: its sections, its hashes, and the raw bytes
//! exactly as fetched, for evidence.

use std::fmt::Write as _;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::super::layout::page;
use super::super::{
    blocking, html, parse_version, seg, unknown_source, unknown_version, Fail, WebState,
};
use super::{bj, find_entry, source_link};
use crate::config::Config;
use crate::model::sha256_hex;
use crate::present::{date_or_dash, PREAMBLE_LABEL};
use crate::store::{Store, VersionRecord};
use crate::text::escape_html as esc;

// ----- one version -------------------------------------------------------------

/// The record of `id` version `v`, with all versions for navigation; a
/// helpful 404 for anything that does not exist.
pub(crate) fn lookup(
    store: &Store,
    id: &str,
    v: &str,
) -> Result<(VersionRecord, Vec<VersionRecord>), Fail> {
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

pub(crate) fn version_html(
    store: &Store,
    config: &Config,
    id: &str,
    v: &str,
) -> Result<String, Fail> {
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
         <dt>原文链接 URL</dt><dd>{}</dd>\
         <dt>HTTP</dt><dd>{} · {} · {} · {} B</dd>\
         <dt>原始字节 Raw</dt><dd><a href=\"/source/{}/v/{n}/raw\" download>下载 Download</a> \
         <span class=\"hash\">SHA-256 {}</span> {check}</dd>\
         <dt>内容哈希 Content</dt><dd class=\"hash\">{}</dd>\
         <dt>记录哈希 Record</dt><dd class=\"hash\">{}</dd>\
         <dt>前一记录 Previous</dt><dd class=\"hash\">{}</dd></dl>",
        bj(rec.fetched_at),
        date_or_dash(&doc.published),
        source_link(&rec.final_url),
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
            "<h2>{PREAMBLE_LABEL}</h2><p class=\"text\">{}</p>",
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

pub(crate) async fn version_page(
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
pub(crate) fn download_name(id: &str, rec: &VersionRecord) -> String {
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

pub(crate) async fn raw_bytes(
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
