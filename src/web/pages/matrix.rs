//! The matrix page: provinces × terms over the latest deployments, each
//! cell with its hit count and links to the sections.

use std::fmt::Write as _;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::super::layout::page;
use super::super::{blocking, html, seg, Fail, WebState};
use crate::config::Region;
use crate::model::{MatrixFormat, MatrixRequest};
use crate::present::path_label;
use crate::search::{matrix_table, parse_query, SectionRef};
use crate::text::escape_html as esc;

pub(crate) fn matrix_html(st: &WebState, query: Option<&str>) -> Result<String, Fail> {
    let mut terms: Vec<String> = Vec::new();
    let mut region: Option<String> = None;
    let mut year: Option<i16> = None;
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*k {
            // One term per line or per `terms=`; spaces inside a term stay.
            "terms" => terms.extend(
                v.lines()
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_string),
            ),
            "region" => region = Region::parse(v.trim()).map(|r| r.name().to_string()),
            "year" => year = v.trim().parse().ok(),
            _ => {}
        }
    }
    let mut body = String::from("<h1>对比 Matrix</h1>");
    let region_options: String = std::iter::once(("", "全部 all"))
        .chain(Region::ALL.iter().map(|r| (r.name(), r.name())))
        .map(|(v, label)| {
            format!(
                "<option value=\"{v}\"{}>{label}</option>",
                if region.as_deref() == Some(v) {
                    " selected"
                } else {
                    ""
                }
            )
        })
        .collect();
    let _ = write!(
        body,
        "<form class=\"cmp\" action=\"/matrix\" method=\"get\">\
         <textarea name=\"terms\" rows=\"3\" cols=\"30\" placeholder=\"每行一个词 one term per line\">{}</textarea>\
         <select name=\"region\">{region_options}</select>\
         <input name=\"year\" size=\"5\" placeholder=\"2025\" value=\"{}\">\
         <button>对比 Compare</button></form>",
        esc(&terms.join("\n")),
        year.map(|y| y.to_string()).unwrap_or_default()
    );
    if terms.is_empty() {
        return Ok(page("对比 Matrix", &body));
    }
    for t in &terms {
        if let Err(e) = parse_query(t) {
            let _ = write!(
                body,
                "<p class=\"err\">{}: {}</p>",
                esc(t),
                esc(&e.to_string())
            );
            return Ok(page("对比 Matrix", &body));
        }
    }
    let Some(index) = &st.search else {
        body.push_str(
            "<p class=\"err\">搜索索引不可用 The search index is not available here.</p>",
        );
        return Ok(page("对比 Matrix", &body));
    };
    let m = index
        .matrix(&MatrixRequest {
            terms: terms.clone(),
            region,
            year,
            format: MatrixFormat::Html,
        })
        .map_err(|e| Fail::Internal(e.to_string()))?;
    let link = |s: &SectionRef| {
        let anchor = if s.path.starts_with('_') {
            String::new()
        } else {
            format!("#{}", seg(&s.path))
        };
        format!(
            "<a href=\"/source/{}/v/{}{anchor}\">{}</a>",
            seg(&s.source),
            s.version,
            esc(&path_label(&s.path))
        )
    };
    body.push_str(
        "<style>table.matrix{border-collapse:collapse;margin:.6rem 0}table.matrix th,table.matrix td\
         {border:1px solid var(--line);padding:.2rem .5rem;text-align:left;vertical-align:top}\
         td.none{color:var(--muted)}.secs{font-size:.85em}</style>",
    );
    if m.rows.is_empty() {
        body.push_str("<p>没有符合条件的最新版本。No latest version matches the filters.</p>");
    } else {
        body.push_str(&matrix_table(&m, &link));
    }
    Ok(page(&format!("对比 {}", terms.join(" · ")), &body))
}

pub(crate) async fn matrix_page(State(st): State<WebState>, RawQuery(query): RawQuery) -> Response {
    blocking(move || Ok(html(StatusCode::OK, matrix_html(&st, query.as_deref())?))).await
}
