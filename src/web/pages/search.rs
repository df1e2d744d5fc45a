//! The search page: a query over every section, with marked snippets,
//! section paths, links to the version and its diff, and facets for
//! region, province and year.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::super::layout::page;
use super::super::{blocking, html, seg, Fail, WebState};
use crate::model::SearchRequest;
use crate::present::path_label;
use crate::search::{parse_query, Hit, SearchError};
use crate::text::escape_html as esc;

/// Hits shown on one page.
const SHOWN: usize = 50;

/// The page's parameters: `q`, `region`, `province`, `year`, `source`, `all`.
#[derive(Debug, Default, Clone)]
pub(crate) struct Params {
    pub q: String,
    pub region: Option<String>,
    pub province: Option<String>,
    pub year: Option<i16>,
    pub source: Option<String>,
    pub all: bool,
}

impl Params {
    pub(crate) fn parse(query: Option<&str>) -> Params {
        let mut p = Params::default();
        for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let v = v.trim().to_string();
            let some = || (!v.is_empty()).then(|| v.clone());
            match &*k {
                "q" => p.q = v.clone(),
                "region" => p.region = some(),
                "province" => p.province = some(),
                "year" => p.year = v.parse().ok(),
                "source" => p.source = some(),
                "all" => p.all = v == "1",
                _ => {}
            }
        }
        p
    }

    /// This page's address with one parameter set (or, `None`, removed).
    fn with(&self, key: &str, value: Option<&str>) -> String {
        let mut pairs: Vec<(&str, String)> = vec![("q", self.q.clone())];
        let mut push = |k: &'static str, v: Option<String>| {
            if k == key {
                if let Some(v) = value {
                    pairs.push((k, v.to_string()));
                }
            } else if let Some(v) = v {
                pairs.push((k, v));
            }
        };
        push("region", self.region.clone());
        push("province", self.province.clone());
        push("year", self.year.map(|y| y.to_string()));
        push("source", self.source.clone());
        push("all", self.all.then(|| "1".to_string()));
        let q: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        format!("/search?{q}")
    }
}

/// The search form (also in every page's header, in short).
fn form(p: &Params) -> String {
    format!(
        "<form class=\"cmp\" action=\"/search\" method=\"get\" role=\"search\">\
         <input type=\"search\" name=\"q\" value=\"{}\" size=\"40\" placeholder=\"安全 &quot;治本攻坚&quot; 燃气 OR 电动自行车 -火灾\">\
         <label><input type=\"checkbox\" name=\"all\" value=\"1\"{}> 含历史版本 all versions</label>\
         <button>搜索 Search</button></form>\
         <p class=\"muted\">空格 = 同时包含 (AND)，\"引号\" = 短语，OR = 任一，-词 = 排除。</p>",
        esc(&p.q),
        if p.all { " checked" } else { "" }
    )
}

fn hit_html(h: &Hit) -> String {
    let mut snippet = String::new();
    for (t, marked) in &h.parts {
        if *marked {
            let _ = write!(snippet, "<mark>{}</mark>", esc(t));
        } else {
            snippet.push_str(&esc(t));
        }
    }
    let who = if h.province.is_empty() {
        &h.source
    } else {
        &h.province
    };
    let anchor = if h.path.starts_with('_') {
        String::new()
    } else {
        format!("#{}", seg(&h.path))
    };
    let diff = if h.version > 1 {
        format!(
            " · <a href=\"/source/{}/diff?from={}&amp;to={}\">对比上一版 diff</a>",
            seg(&h.source),
            h.version - 1,
            h.version
        )
    } else {
        String::new()
    };
    format!(
        "<li><div class=\"row\"><span class=\"badge\">{}</span>\
         <a class=\"grow\" href=\"/source/{}/v/{}{anchor}\">{}</a>\
         <code>{}</code> <span class=\"muted\">v{}{}</span></div>\
         <p class=\"text\">{snippet}</p></li>",
        esc(who),
        seg(&h.source),
        h.version,
        esc(&h.title),
        esc(&path_label(&h.path)),
        h.version,
        diff
    )
}

fn facet(
    p: &Params,
    title: &str,
    key: &str,
    counts: &BTreeMap<String, usize>,
    on: Option<&str>,
) -> String {
    if counts.is_empty() {
        return String::new();
    }
    let mut s = format!(
        "<div class=\"toggle\"><span class=\"muted\">{}</span> ",
        esc(title)
    );
    if on.is_some() {
        let _ = write!(s, "<a href=\"{}\">全部 all</a>", esc(&p.with(key, None)));
    }
    for (v, n) in counts {
        let class = if on == Some(v.as_str()) {
            " class=\"on\""
        } else {
            ""
        };
        let _ = write!(
            s,
            "<a{class} href=\"{}\">{} ({n})</a>",
            esc(&p.with(key, Some(v))),
            esc(if v.is_empty() { "—" } else { v })
        );
    }
    s.push_str("</div>");
    s
}

pub(crate) fn search_html(st: &WebState, p: &Params) -> Result<String, Fail> {
    let mut body = String::from("<h1>搜索 Search</h1>");
    body.push_str(&form(p));
    if p.q.trim().is_empty() {
        return Ok(page("搜索 Search", &body));
    }
    if let Err(e) = parse_query(&p.q) {
        let _ = write!(
            body,
            "<p class=\"err\">查询有误 Malformed query: {}</p>",
            esc(&e.to_string())
        );
        return Ok(page("搜索 Search", &body));
    }
    let Some(index) = &st.search else {
        body.push_str(
            "<p class=\"err\">搜索索引不可用 The search index is not available here.</p>",
        );
        return Ok(page("搜索 Search", &body));
    };
    let req = SearchRequest {
        query: p.q.clone(),
        region: p.region.clone(),
        province: p.province.clone(),
        year: p.year,
        source: p.source.clone(),
        all_versions: p.all,
        limit: SHOWN,
        json: false,
    };
    let fail = |e: SearchError| Fail::Internal(e.to_string());
    let all = index.search_all(&req).map_err(fail)?;
    let hits = index.search(&req).map_err(fail)?;
    let mut regions = BTreeMap::new();
    let mut provinces = BTreeMap::new();
    let mut years = BTreeMap::new();
    for h in &all {
        *regions.entry(h.region.clone()).or_insert(0) += 1;
        *provinces.entry(h.province.clone()).or_insert(0) += 1;
        *years.entry(h.year.to_string()).or_insert(0) += 1;
    }
    let year = p.year.map(|y| y.to_string());
    body.push_str(&facet(
        p,
        "区域 Region",
        "region",
        &regions,
        p.region.as_deref(),
    ));
    body.push_str(&facet(
        p,
        "省份 Province",
        "province",
        &provinces,
        p.province.as_deref(),
    ));
    body.push_str(&facet(p, "年份 Year", "year", &years, year.as_deref()));
    if !index.caught_up() {
        body.push_str("<p class=\"muted\">索引正在更新 The index is still catching up with the store; some versions may be missing.</p>");
    }
    let _ = write!(
        body,
        "<h2>{} 条结果 hits{}</h2>",
        all.len(),
        if all.len() > hits.len() {
            format!("，显示前 {} showing the best {}", hits.len(), hits.len())
        } else {
            String::new()
        }
    );
    if hits.is_empty() {
        body.push_str("<p>没有匹配的内容。Nothing matches.</p>");
    } else {
        body.push_str("<ul class=\"cards\">");
        for h in &hits {
            body.push_str(&hit_html(h));
        }
        body.push_str("</ul>");
    }
    Ok(page(&format!("搜索 {}", p.q), &body))
}

pub(crate) async fn search_page(State(st): State<WebState>, RawQuery(query): RawQuery) -> Response {
    blocking(move || {
        let p = Params::parse(query.as_deref());
        Ok(html(StatusCode::OK, search_html(&st, &p)?))
    })
    .await
}
