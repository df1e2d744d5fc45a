//! The overview: every watched source by region and province, with the
//! articles found on each listing under it and what the store still holds
//! that the configuration no longer names.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::super::layout::page;
use super::super::{blocking, html, seg, short, WebState, ERROR_CHARS};
use super::{bj_opt, kind_badge, status_badge, Entry};
use crate::catalog::Catalog;
use crate::config::{Config, Region};
use crate::store::{Store, StoreError, Tracked};
use crate::text::escape_html as esc;

pub(crate) fn entry_card(e: &Entry, nested: bool) -> String {
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

pub(crate) fn index_html(store: &Store, config: &Config) -> Result<String, StoreError> {
    let catalog = Catalog::from_config(config);
    let tracked = store.tracked()?;
    let of_tracked = |t: &Tracked| match catalog.resolve(&t.id, Some(t), None) {
        Some(who) => Entry::of(store, who).map(Some),
        None => Ok(None),
    };
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
                let Some(who) = catalog.configured(&s.id) else {
                    continue;
                };
                let e = Entry::of(store, who.clone())?;
                total += 1;
                failing += usize::from(e.state.consecutive_failures > 0);
                sections.push_str(&entry_card(&e, false));
                listed.insert(s.id.clone());
                for t in tracked.iter().filter(|t| t.listing == s.id) {
                    let Some(e) = of_tracked(t)? else {
                        continue;
                    };
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
        if let Some(e) = of_tracked(t)? {
            others.push_str(&entry_card(&e, false));
        }
        listed.insert(t.id.clone());
    }
    for id in store.source_ids()? {
        if !listed.contains(&id) {
            if let Some(who) = catalog.find(store, &id)? {
                others.push_str(&entry_card(&Entry::of(store, who)?, false));
            }
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

pub(crate) async fn index(State(st): State<WebState>) -> Response {
    blocking(move || {
        let config = st.config.current();
        Ok(html(StatusCode::OK, index_html(&st.store, &config)?))
    })
    .await
}
