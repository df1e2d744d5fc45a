//! What `search` and `matrix` print, the same from this process and from a
//! daemon answering over its control socket.

use std::fmt::Write as _;

use serde_json::json;

use super::find::{Filters, Hit};
use super::matrix::Matrix;
use super::query::parse;
use super::{Result, SearchIndex};
use crate::model::{MatrixFormat, MatrixRequest, SearchRequest};
use crate::present::path_label;
use crate::text::{escape_html as esc, one_line};

impl SearchIndex {
    /// The hits of `req`, best first (at most `req.limit`).
    pub fn search(&self, req: &SearchRequest) -> Result<Vec<Hit>> {
        let parsed = parse(&req.query)?;
        self.top(&parsed, &filters(req), req.limit)
    }

    /// Every hit of `req` (no limit), for facets.
    pub fn search_all(&self, req: &SearchRequest) -> Result<Vec<Hit>> {
        let parsed = parse(&req.query)?;
        self.all(&parsed, &filters(req))
    }

    /// `search` as printed: one block per hit, or the JSON list.
    pub fn search_output(&self, req: &SearchRequest) -> Result<String> {
        let hits = self.search(req)?;
        Ok(if req.json {
            hits_json(&hits)
        } else {
            hits_text(&hits)
        })
    }

    /// `matrix` as printed, in the requested format.
    pub fn matrix_output(&self, req: &MatrixRequest) -> Result<String> {
        let m = self.matrix(req)?;
        Ok(match req.format {
            MatrixFormat::Json => serde_json::to_string_pretty(&m).unwrap_or_default() + "\n",
            MatrixFormat::Markdown => matrix_markdown(&m),
            MatrixFormat::Html => matrix_html(&m),
        })
    }
}

fn filters(req: &SearchRequest) -> Filters<'_> {
    Filters {
        region: req.region.as_deref(),
        province: req.province.as_deref(),
        year: req.year,
        source: req.source.as_deref(),
        all_versions: req.all_versions,
    }
}

/// `search --json`.
pub fn hits_json(hits: &[Hit]) -> String {
    let list: Vec<serde_json::Value> = hits
        .iter()
        .map(|h| {
            json!({
                "source": h.source,
                "province": h.province,
                "region": h.region,
                "title": h.title,
                "url": h.url,
                "version": h.version,
                "fetched_at": h.fetched_at,
                "path": h.path,
                "snippet": h.snippet,
                "score": h.score,
            })
        })
        .collect();
    serde_json::to_string_pretty(&list).unwrap_or_default() + "\n"
}

/// `search`: province · title · path · version, then the snippet.
pub fn hits_text(hits: &[Hit]) -> String {
    let mut out = String::new();
    for (n, h) in hits.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let who = if h.province.is_empty() {
            &h.source
        } else {
            &h.province
        };
        let _ = writeln!(
            out,
            "{who} · {} · {} · v{}",
            one_line(&h.title),
            path_label(&h.path),
            h.version
        );
        let _ = writeln!(out, "  {}", h.snippet);
    }
    out
}

fn province_label(p: &str) -> &str {
    if p.is_empty() {
        "—"
    } else {
        p
    }
}

fn cell_text(c: &super::matrix::Cell) -> String {
    if c.hits == 0 {
        return "—".into();
    }
    let mut paths: Vec<String> = c.sections.iter().map(|s| path_label(&s.path)).collect();
    paths.dedup();
    format!("{} ({})", c.hits, paths.join(", "))
}

fn md_cell(s: &str) -> String {
    one_line(s).replace('|', "\\|")
}

fn matrix_markdown(m: &Matrix) -> String {
    let mut out = String::from("| 省份 Province | 区域 Region |");
    for t in &m.terms {
        let _ = write!(out, " {} |", md_cell(t));
    }
    out.push_str("\n|---|---|");
    for _ in &m.terms {
        out.push_str("---|");
    }
    out.push('\n');
    for r in &m.rows {
        let _ = write!(
            out,
            "| {} | {} |",
            md_cell(province_label(&r.province)),
            md_cell(&r.region)
        );
        for c in &r.cells {
            let _ = write!(out, " {} |", md_cell(&cell_text(c)));
        }
        out.push('\n');
    }
    out
}

/// The matrix as an HTML table (escaped; no links, so it reads anywhere).
pub fn matrix_table(m: &Matrix, link: &dyn Fn(&super::matrix::SectionRef) -> String) -> String {
    let mut out = String::from(
        "<table class=\"matrix\">\n<thead><tr><th>省份 Province</th><th>区域 Region</th>",
    );
    for t in &m.terms {
        let _ = write!(out, "<th>{}</th>", esc(t));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for r in &m.rows {
        let _ = write!(
            out,
            "<tr><th>{}</th><td>{}</td>",
            esc(province_label(&r.province)),
            esc(&r.region)
        );
        for c in &r.cells {
            if c.hits == 0 {
                out.push_str("<td class=\"none\">—</td>");
                continue;
            }
            let secs: Vec<String> = c.sections.iter().map(link).collect();
            let _ = write!(
                out,
                "<td><b>{}</b> <span class=\"secs\">{}</span></td>",
                c.hits,
                secs.join(" · ")
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

fn matrix_html(m: &Matrix) -> String {
    let title = format!("对比 Matrix: {}", m.terms.join(" · "));
    format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{}</title>\n<style>table{{border-collapse:collapse}}th,td{{border:1px solid #ccc;\
         padding:.2rem .5rem;text-align:left;vertical-align:top}}td.none{{color:#888}}\
         .secs{{font-size:.85em;color:#555}}</style>\n</head>\n<body>\n<h1>{}</h1>\n{}</body>\n</html>\n",
        esc(&title),
        esc(&title),
        matrix_table(m, &|s| esc(&path_label(&s.path)))
    )
}
