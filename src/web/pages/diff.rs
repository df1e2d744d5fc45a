//! Comparing two versions of a source, inline or side by side.

use std::fmt::Write as _;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::super::layout::page;
use super::super::{
    blocking, html, parse_version, seg, unknown_source, unknown_version, Fail, WebState,
};
use super::{bj, find_entry};
use crate::audit::{self, AuditError};
use crate::config::Config;
use crate::model::{ChangeKind, DocDiff, SectionChange};
use crate::present::diff_html;
use crate::present::{
    change_label, change_location_by, date_or_dash, spans_html, Side, Tone, CLASS_MARKS,
};
use crate::store::{Store, VersionRecord};
use crate::text::escape_html as esc;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Inline,
    Side,
}

pub(crate) fn change_html(c: &SectionChange, mode: Mode, from: u32, to: u32, id: &str) -> String {
    let kind = change_label(c.kind);
    let class = match Tone::of(c.kind) {
        Tone::Good => "b-ok",
        Tone::Bad => "b-bad",
        Tone::Warn => "b-warn",
        Tone::Info => "",
    };
    let (anchor_v, anchor) = if c.kind == ChangeKind::Removed {
        (from, &c.path)
    } else {
        (to, &c.path)
    };
    let path = change_location_by(c, |p| esc(&p));
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
        let old = spans_html(&c.inline, Side::Old, &CLASS_MARKS);
        let new = spans_html(&c.inline, Side::New, &CLASS_MARKS);
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
            spans_html(&c.inline, Side::Both, &CLASS_MARKS)
        );
    }
    s.push_str("</div>");
    s
}

pub(crate) fn diff_body(
    id: &str,
    a: &VersionRecord,
    b: &VersionRecord,
    d: &DocDiff,
    mode: Mode,
) -> String {
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
        "<p>{} 处变化 changes: {} {}, {} {}, {} {}, {} {}</p>",
        d.changes.len()
            + usize::from(d.title_changed.is_some())
            + usize::from(d.date_changed.is_some()),
        d.changed().len(),
        change_label(ChangeKind::Modified),
        d.added().len(),
        change_label(ChangeKind::Added),
        d.removed().len(),
        change_label(ChangeKind::Removed),
        d.renumbered().len(),
        change_label(ChangeKind::Renumbered),
    );
    if let Some((old, new)) = &d.title_changed {
        let _ = write!(
            s,
            "<div class=\"change\"><h3><span class=\"badge b-warn\">标题 Title</span></h3>\
             <p class=\"text\">{} → {}</p></div>",
            diff_html::del(old, &CLASS_MARKS),
            diff_html::ins(new, &CLASS_MARKS)
        );
    }
    if let Some((old, new)) = &d.date_changed {
        let _ = write!(
            s,
            "<div class=\"change\"><h3><span class=\"badge b-warn\">日期 Date</span></h3>\
             <p>{} → {}</p></div>",
            diff_html::del(&date_or_dash(old), &CLASS_MARKS),
            diff_html::ins(&date_or_dash(new), &CLASS_MARKS)
        );
    }
    for c in &d.changes {
        s.push_str(&change_html(c, mode, a.version, b.version, id));
    }
    s
}

pub(crate) fn diff_html(
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

pub(crate) async fn diff_page(
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
