//! One source: its status, what its listing found, and its version history
//! with links to compare any two.

use std::fmt::Write as _;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::super::layout::page;
use super::super::{blocking, html, seg, unknown_source, Fail, WebState};
use super::{bj, bj_opt, find_entry, kind_badge, source_link, status_badge, Entry};
use crate::config::Config;
use crate::standing::Standing;
use crate::store::{Schedule, Store, Tracked};
use crate::text::{escape_html as esc, prefix_chars};

// ----- one source --------------------------------------------------------------

/// How `entry` stands in the schedule: configured sources and the articles
/// of configured listings (`None` for what only the store remembers).
fn standing(store: &Store, config: &Config, entry: &Entry) -> Result<Option<Standing>, Fail> {
    let sched = Schedule::from(&entry.state);
    let now = jiff::Timestamp::now();
    if let Some(s) = config.source(&entry.id) {
        return Ok(Some(Standing::configured(s, &sched, now)));
    }
    let Some(listing) = entry.listing.as_deref().and_then(|l| config.source(l)) else {
        return Ok(None);
    };
    let tracked = store.tracked_one(&entry.id)?;
    Ok(tracked.map(|t| Standing::tracked(&t, listing, config, &sched, now)))
}

pub(crate) fn source_html(store: &Store, config: &Config, id: &str) -> Result<String, Fail> {
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
         <dt>原文链接 URL</dt><dd>{}</dd>\
         <dt>最近检查 Last check</dt><dd>{}</dd>\
         <dt>最近成功 Last success</dt><dd>{}</dd>\
         <dt>最近变更 Last change</dt><dd>{}</dd>\
         <dt>版本数 Versions</dt><dd>{}</dd>",
        kind_badge(entry.kind),
        status_badge(&entry),
        esc(&entry.id),
        source_link(&entry.url),
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
    if let Some(st) = standing(store, config, &entry)? {
        let _ = write!(
            b,
            "<dt>检查间隔 Interval</dt><dd>{}</dd><dt>下次检查 Next check</dt><dd>{}</dd>",
            esc(&st.every()),
            if st.retired {
                "已停止检查 retired: 超过 retire_after，不再检查，历史保留 — past retire_after, no longer checked; its history stays".to_string()
            } else {
                st.next_check.map_or_else(|| "—".to_string(), bj)
            }
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
    if !entry.state.volatile.is_empty() {
        b.push_str("<dt>易变文字 Volatile text</dt><dd>learned from two fetches that differed; never counts as a change:<ul>");
        for p in &entry.state.volatile.patterns {
            let _ = write!(b, "<li><code>{}</code></li>", esc(p));
        }
        b.push_str("</ul></dd>");
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

pub(crate) async fn source_page(
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
