//! The overview: every watched source by region and province, with the
//! articles found on each listing under it and what the store still holds
//! that the configuration no longer names — filtered and paginated, so the
//! page stays small at any number of sources.
//!
//! `/?region=华东&province=上海市&status=failing&q=会议&page=2`: each
//! parameter optional. `status` is `ok`, `failing`, `retired`, `over`
//! (the source's host has more checks due than its pacing allows) or
//! `changed` (a new version in the last 7 days). A page shows
//! [`PAGE_SIZE`] sources in the usual order, under their region and
//! province; the counts per province link to the province's own list.
//! Source links (`/source/ID`) do not depend on the page.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use jiff::Timestamp;

use super::super::layout::page;
use super::super::{blocking, html, seg, short, WebState, ERROR_CHARS};
use super::{bj, bj_opt, kind_badge, status_badge, Entry};
use crate::catalog::{Catalog, SourceEntry};
use crate::config::{Config, Region};
use crate::schedule::HostBudget;
use crate::standing::{board, Board, Standing};
use crate::store::{Store, StoreError, Tracked};
use crate::text::escape_html as esc;

/// Sources per page: about 70 KB of cards.
pub const PAGE_SIZE: usize = 100;
/// "Changed recently": a new version within this many days.
const RECENT_DAYS: i64 = 7;

/// The `retired` and `over budget` badges and the schedule line of a card
/// (empty where the store records no schedule).
pub(crate) fn schedule_badges(st: Option<&Standing>, over: Option<&HostBudget>) -> String {
    let mut s = String::new();
    if st.is_some_and(|st| st.retired) {
        s.push_str("<span class=\"badge b-warn\">已停止检查 retired</span>");
    }
    if over.is_some() {
        s.push_str("<span class=\"badge b-warn\">主机超出配额 over budget</span>");
    }
    s
}

/// `下次检查 next 06-01 14:30 · every 3h (base 1h)`, where known.
pub(crate) fn schedule_line(st: Option<&Standing>) -> String {
    match st {
        Some(st) if st.known && !st.retired => format!(
            "<span>下次检查 next {} · {}</span>",
            st.next_check.map_or_else(|| "—".to_string(), bj),
            esc(&st.every())
        ),
        _ => String::new(),
    }
}

pub(crate) fn entry_card(
    e: &Entry,
    nested: bool,
    st: Option<&Standing>,
    over: Option<&HostBudget>,
) -> String {
    let versions = e.latest.as_ref().map_or(0, |r| r.version);
    let mut s = format!(
        "<li class=\"src{}\" id=\"src-{}\"><div class=\"row\"><span class=\"grow\">\
         <a href=\"/source/{}\"><strong>{}</strong></a> {}</span>{}{}</div>{}\
         <div class=\"row muted\"><span>检查 checked {}</span>{}{}<code>{}</code></div>",
        if nested { " nested" } else { "" },
        esc(&e.id),
        seg(&e.id),
        esc(&e.name),
        kind_badge(e.kind),
        status_badge(e),
        schedule_badges(st, over),
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
        schedule_line(st),
        esc(&e.id),
    );
    if let (true, Some(err)) = (e.state.consecutive_failures > 0, &e.state.last_error) {
        let _ = write!(s, "<p class=\"err\">{}</p>", esc(&short(err, ERROR_CHARS)));
    }
    s.push_str("</li>");
    s
}

/// What the overview shows of a status filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    Failing,
    Retired,
    Over,
    Changed,
}

impl Status {
    const ALL: [Status; 5] = [
        Status::Ok,
        Status::Failing,
        Status::Retired,
        Status::Over,
        Status::Changed,
    ];

    fn key(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failing => "failing",
            Status::Retired => "retired",
            Status::Over => "over",
            Status::Changed => "changed",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Status::Ok => "正常 OK",
            Status::Failing => "失败 failing",
            Status::Retired => "已停止检查 retired",
            Status::Over => "主机超出配额 over budget",
            Status::Changed => "近 7 天有变更 changed recently",
        }
    }
}

/// The overview's filters, from its query string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Filter {
    region: Option<Region>,
    province: Option<String>,
    status: Option<Status>,
    text: Option<String>,
    /// 1-based.
    page: usize,
}

impl Filter {
    fn parse(query: Option<&str>) -> Filter {
        let mut f = Filter {
            page: 1,
            ..Filter::default()
        };
        for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let v = v.trim();
            if v.is_empty() {
                continue;
            }
            match &*k {
                "region" => f.region = Region::parse(v),
                "province" => f.province = Some(v.to_string()),
                "status" => f.status = Status::ALL.into_iter().find(|s| s.key() == v),
                "q" => f.text = Some(v.to_lowercase()),
                "page" => f.page = v.parse().unwrap_or(1).max(1),
                _ => {}
            }
        }
        f
    }

    /// The query string of this filter at `page` (`?` included).
    fn href(&self, page: usize) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        if let Some(r) = self.region {
            q.append_pair("region", r.name());
        }
        if let Some(p) = &self.province {
            q.append_pair("province", p);
        }
        if let Some(s) = self.status {
            q.append_pair("status", s.key());
        }
        if let Some(t) = &self.text {
            q.append_pair("q", t);
        }
        if page > 1 {
            q.append_pair("page", &page.to_string());
        }
        let q = q.finish();
        if q.is_empty() {
            "/".to_string()
        } else {
            format!("/?{q}")
        }
    }

    fn is_empty(&self) -> bool {
        self.region.is_none()
            && self.province.is_none()
            && self.status.is_none()
            && self.text.is_none()
    }
}

/// Where a row is listed: under a region and province, or among the
/// sources the configuration no longer names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Group {
    At(Region, String),
    Other,
}

/// One source of the overview, before its fetch status is read.
struct Row {
    who: SourceEntry,
    nested: bool,
    group: Group,
}

impl Row {
    fn matches_text(&self, text: &str, tracked: Option<&Tracked>) -> bool {
        let hit = |s: &str| s.to_lowercase().contains(text);
        hit(&self.who.id)
            || hit(&self.who.name)
            || hit(&self.who.url)
            || hit(&self.who.province)
            || tracked.is_some_and(|t| hit(&t.title))
    }
}

/// Every source in the overview's order: each configured source with the
/// articles found on it, then what only the store still holds.
fn rows(
    store: &Store,
    config: &Config,
    catalog: &Catalog,
    tracked: &[Tracked],
) -> Result<Vec<Row>, StoreError> {
    let entries = catalog.entries();
    let configured: HashMap<&str, &SourceEntry> =
        entries.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut by_listing: HashMap<&str, Vec<&Tracked>> = HashMap::new();
    for t in tracked {
        by_listing.entry(t.listing.as_str()).or_default().push(t);
    }
    let mut listed: std::collections::HashSet<String> = Default::default();
    let mut out = Vec::new();
    for region in Region::ALL {
        let mut provinces: Vec<&str> = Vec::new();
        for s in config.sources.iter().filter(|s| s.region == region) {
            if !provinces.contains(&s.province.as_str()) {
                provinces.push(&s.province);
            }
        }
        for province in provinces {
            let group = Group::At(region, province.to_string());
            let in_province = config
                .sources
                .iter()
                .filter(|s| s.region == region && s.province == province);
            for s in in_province {
                let Some(who) = configured.get(s.id.as_str()) else {
                    continue;
                };
                listed.insert(s.id.clone());
                out.push(Row {
                    who: (*who).clone(),
                    nested: false,
                    group: group.clone(),
                });
                for t in by_listing.get(s.id.as_str()).into_iter().flatten() {
                    listed.insert(t.id.clone());
                    out.push(Row {
                        who: who.discovered_on(&t.id, &t.url, &t.title),
                        nested: true,
                        group: group.clone(),
                    });
                }
            }
        }
    }
    // What the store holds but the current configuration no longer names:
    // auditors still need to reach that history.
    let orphans: Vec<&Tracked> = tracked.iter().filter(|t| !listed.contains(&t.id)).collect();
    for t in orphans {
        if let Some(who) = catalog.resolve(&t.id, Some(t), None) {
            out.push(Row {
                who,
                nested: false,
                group: Group::Other,
            });
        }
        listed.insert(t.id.clone());
    }
    for id in store.source_ids()? {
        if !listed.contains(&id) {
            if let Some(who) = catalog.find(store, &id)? {
                out.push(Row {
                    who,
                    nested: false,
                    group: Group::Other,
                });
            }
        }
    }
    Ok(out)
}

/// Whether `row` passes the status filter.
fn has_status(
    store: &Store,
    row: &Row,
    status: Status,
    board: &Board,
    failures: &HashMap<&str, u32>,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let id = row.who.id.as_str();
    let st = board.by_id.get(id);
    let retired = st.is_some_and(|s| s.retired);
    let failing = failures.get(id).is_some_and(|n| *n > 0);
    Ok(match status {
        Status::Ok => !failing && !retired,
        Status::Failing => failing,
        Status::Retired => retired,
        Status::Over => board.over_budget(&row.who.url).is_some(),
        Status::Changed => {
            let since = now.as_second() - RECENT_DAYS * 86400;
            store
                .latest(id)?
                .is_some_and(|r| r.fetched_at.as_second() >= since)
        }
    })
}

fn filter_form(config: &Config, f: &Filter) -> String {
    let mut s = String::from("<form class=\"cmp\" method=\"get\" action=\"/\">");
    s.push_str("<select name=\"region\" aria-label=\"地区 region\"><option value=\"\">全部地区 all regions</option>");
    for r in Region::ALL {
        let _ = write!(
            s,
            "<option{}>{}</option>",
            if f.region == Some(r) { " selected" } else { "" },
            esc(r.name())
        );
    }
    s.push_str("</select><select name=\"province\" aria-label=\"省份 province\"><option value=\"\">全部省份 all provinces</option>");
    let mut provinces: Vec<&str> = Vec::new();
    for r in Region::ALL {
        for p in config.sources.iter().filter(|s| s.region == r) {
            if !provinces.contains(&p.province.as_str()) {
                provinces.push(&p.province);
            }
        }
    }
    for p in provinces {
        let _ = write!(
            s,
            "<option{}>{}</option>",
            if f.province.as_deref() == Some(p) {
                " selected"
            } else {
                ""
            },
            esc(p)
        );
    }
    s.push_str("</select><select name=\"status\" aria-label=\"状态 status\"><option value=\"\">全部状态 any status</option>");
    for st in Status::ALL {
        let _ = write!(
            s,
            "<option value=\"{}\"{}>{}</option>",
            st.key(),
            if f.status == Some(st) {
                " selected"
            } else {
                ""
            },
            st.label()
        );
    }
    let _ = write!(
        s,
        "</select><input type=\"search\" name=\"q\" value=\"{}\" placeholder=\"名称、网址 name, URL\" aria-label=\"文字 text\">\
         <button type=\"submit\">筛选 Filter</button>{}</form>",
        esc(f.text.as_deref().unwrap_or("")),
        if f.is_empty() {
            ""
        } else {
            "<a href=\"/\">清除 clear</a>"
        }
    );
    s
}

fn pager(f: &Filter, pages: usize) -> String {
    if pages <= 1 {
        return String::new();
    }
    let mut s = String::from("<nav class=\"toggle\" aria-label=\"分页 pages\">");
    if f.page > 1 {
        let _ = write!(
            s,
            "<a href=\"{}\" rel=\"prev\">‹ 上一页 previous</a>",
            esc(&f.href(f.page - 1))
        );
    }
    let _ = write!(s, "<span> 第 {} / {pages} 页 page </span>", f.page);
    if f.page < pages {
        let _ = write!(
            s,
            "<a href=\"{}\" rel=\"next\">下一页 next ›</a>",
            esc(&f.href(f.page + 1))
        );
    }
    s.push_str("</nav>");
    s
}

pub(crate) fn index_html(
    store: &Store,
    config: &Config,
    catalog: &Catalog,
    query: Option<&str>,
) -> Result<String, StoreError> {
    let now = Timestamp::now();
    let f = Filter::parse(query);
    let standings = store.standings()?;
    let board = board(config, &standings, now);
    let failures: HashMap<&str, u32> = standings
        .states
        .iter()
        .map(|(id, s)| (id.as_str(), s.failures))
        .collect();
    let tracked_by_id: HashMap<&str, &Tracked> = standings
        .tracked
        .iter()
        .map(|t| (t.id.as_str(), t))
        .collect();
    let all = rows(store, config, catalog, &standings.tracked)?;
    let total = all.len();
    let failing = all
        .iter()
        .filter(|r| failures.get(r.who.id.as_str()).is_some_and(|n| *n > 0))
        .count();
    let retired = board.by_id.values().filter(|s| s.retired).count();
    // Counts per province, each a link to the province's own list.
    let mut counts: Vec<(Region, String, usize)> = Vec::new();
    for r in &all {
        if let Group::At(region, p) = &r.group {
            match counts.last_mut() {
                Some((lr, lp, n)) if lr == region && lp == p => *n += 1,
                _ => counts.push((*region, p.clone(), 1)),
            }
        }
    }
    let mut matching = Vec::new();
    for r in all {
        let geo = match &r.group {
            Group::At(region, p) => {
                f.region.is_none_or(|fr| fr == *region)
                    && f.province.as_deref().is_none_or(|fp| fp == p)
            }
            Group::Other => f.region.is_none() && f.province.is_none(),
        };
        if !geo {
            continue;
        }
        if let Some(t) = &f.text {
            if !r.matches_text(t, tracked_by_id.get(r.who.id.as_str()).copied()) {
                continue;
            }
        }
        if let Some(st) = f.status {
            if !has_status(store, &r, st, &board, &failures, now)? {
                continue;
            }
        }
        matching.push(r);
    }
    let pages = matching.len().div_ceil(PAGE_SIZE).max(1);
    let page_no = f.page.min(pages);
    let f = Filter { page: page_no, ..f };
    let mut body = String::from("<h1>监测来源 Watched sources</h1>");
    body.push_str(&filter_form(config, &f));
    let _ = write!(
        body,
        "<p class=\"muted\">{total} 个来源 sources · {failing} 个失败 failing{} · 时间为北京时间 times are Beijing time (UTC+8)</p>",
        if retired > 0 {
            format!(" · {retired} 个已停止检查 retired")
        } else {
            String::new()
        }
    );
    // Each host with more checks due than its pacing allows, in a line.
    for b in board.budgets.iter().filter(|b| b.over) {
        let _ = write!(
            body,
            "<p class=\"err\">主机超出配额 over budget: {} — <a href=\"{}\">来源 sources</a></p>",
            esc(&b.line()),
            esc(&Filter {
                status: Some(Status::Over),
                text: Some(b.host.clone()),
                ..Filter::default()
            }
            .href(1))
        );
    }
    if counts.len() > 1 {
        body.push_str("<p class=\"muted toggle\">");
        for (region, p, n) in &counts {
            let href = Filter {
                region: Some(*region),
                province: Some(p.clone()),
                ..Filter::default()
            }
            .href(1);
            let on = f.province.as_deref() == Some(p.as_str());
            let _ = write!(
                body,
                "<a href=\"{}\"{}>{} {n}</a>",
                esc(&href),
                if on { " class=\"on\"" } else { "" },
                esc(p)
            );
        }
        body.push_str("</p>");
    }
    if !f.is_empty() {
        let _ = write!(
            body,
            "<p class=\"muted\">{} 个匹配 matching</p>",
            matching.len()
        );
    }
    let pager_html = pager(&f, pages);
    body.push_str(&pager_html);
    let start = (page_no - 1) * PAGE_SIZE;
    let mut group: Option<&Group> = None;
    let mut region: Option<Region> = None;
    let mut open = false;
    for r in matching.iter().skip(start).take(PAGE_SIZE) {
        if group != Some(&r.group) {
            if open {
                body.push_str("</ul>");
            }
            match &r.group {
                Group::At(rg, p) => {
                    if region != Some(*rg) {
                        let _ = write!(body, "<h2>{}</h2>", esc(rg.name()));
                        region = Some(*rg);
                    }
                    let _ = write!(body, "<h3>{}</h3>", esc(p));
                }
                Group::Other => {
                    body.push_str(
                        "<h2>其他 Other</h2><p class=muted>存储中有、但当前配置未列出的来源。In the store, not in the current configuration.</p>",
                    );
                    region = None;
                }
            }
            body.push_str("<ul class=\"cards\">");
            open = true;
            group = Some(&r.group);
        }
        let e = Entry::of(store, r.who.clone())?;
        body.push_str(&entry_card(
            &e,
            r.nested,
            board.by_id.get(&r.who.id),
            board.over_budget(&r.who.url),
        ));
    }
    if open {
        body.push_str("</ul>");
    }
    body.push_str(&pager_html);
    if total == 0 {
        body.push_str("<p>尚未配置任何来源。No sources are configured yet.</p>");
    } else if matching.is_empty() {
        body.push_str("<p>没有符合条件的来源。No source matches.</p>");
    }
    Ok(page("监测来源 Sources", &body))
}

pub(crate) async fn index(State(st): State<WebState>, RawQuery(query): RawQuery) -> Response {
    blocking(move || {
        let config = st.config.current();
        Ok(html(
            StatusCode::OK,
            index_html(
                &st.store,
                &config,
                &Catalog::of(config.clone()),
                query.as_deref(),
            )?,
        ))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_round_trip_through_their_links() {
        let f = Filter::parse(Some(
            "region=%E5%8D%8E%E4%B8%9C&province=%E4%B8%8A%E6%B5%B7%E5%B8%82&status=failing&q=Hui&page=3",
        ));
        assert_eq!(f.region, Some(Region::parse("华东").unwrap()));
        assert_eq!(f.province.as_deref(), Some("上海市"));
        assert_eq!(f.status, Some(Status::Failing));
        assert_eq!(f.text.as_deref(), Some("hui"), "text matches case-blind");
        assert_eq!(f.page, 3);
        let again = Filter::parse(f.href(3).strip_prefix("/?"));
        assert_eq!(again, f);
        assert_eq!(Filter::parse(Some("page=0&status=nonsense")).page, 1);
        assert_eq!(Filter::parse(None).href(1), "/");
    }
}
