//! Documents made from the archive for people outside the terminal.
//!
//! * [`export`] hands the whole history to other tools or to an auditor's
//!   browser: JSON Lines and CSV for scripts and spreadsheets, and a
//!   self-contained HTML report that shows each version beside its
//!   predecessor, so a reviewer can read what changed without the store.
//! * [`compile`] assembles the regional compilation that editors otherwise
//!   copy together by hand from the latest deployment of every province.
//!
//! Everything here reads the store only and writes its output as it goes
//! (or returns it as a string), so the same bytes come from the CLI and
//! from the daemon's control socket.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::civil::Date;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalog::{Catalog, Origin};
use crate::config::Region;
use crate::diff;
use crate::model::{ChangeKind, Document, Section};
use crate::present::diff_html::{self, Marks, Side};
use crate::present::document::document_json;
use crate::present::{
    beijing_date, beijing_minutes, change_label, change_location, date_or_dash, safe_href,
    spans_html,
};
use crate::store::{Store, StoreError, VersionRecord};
use crate::text::escape_html;

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no source {0:?} in the store (see `bulletin-watch history` for known ids)")]
    UnknownSource(String),
    #[error("{source_id} v{version}: {source}")]
    Json {
        source_id: String,
        version: u32,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot write the output")]
    Write(#[source] std::io::Error),
}

pub type Result<T> = std::result::Result<T, ReportError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Jsonl,
    Csv,
    Html,
}

impl std::str::FromStr for ExportFormat {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "jsonl" => Ok(ExportFormat::Jsonl),
            "csv" => Ok(ExportFormat::Csv),
            "html" => Ok(ExportFormat::Html),
            _ => Err(format!("unknown format {s:?} (jsonl, csv or html)")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CompileFormat {
    Markdown,
    Html,
}

impl std::str::FromStr for CompileFormat {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "markdown" | "md" => Ok(CompileFormat::Markdown),
            "html" => Ok(CompileFormat::Html),
            _ => Err(format!("unknown format {s:?} (markdown or html)")),
        }
    }
}

/// `export [--source ID] --format jsonl|csv|html`, as one string (see
/// [`export_to`]).
pub fn export(store: &Store, source: Option<&str>, format: ExportFormat) -> Result<String> {
    let mut out = Vec::new();
    export_to(store, source, format, &mut out)?;
    Ok(String::from_utf8(out)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// `export`, written to `out` as it is made, with one source's version
/// records in memory at once: JSON Lines and CSV one version at a time, the
/// HTML report one source at a time after its table of contents.
pub fn export_to(
    store: &Store,
    source: Option<&str>,
    format: ExportFormat,
    out: &mut dyn std::io::Write,
) -> Result<()> {
    let ids = match source {
        Some(s) => vec![s.to_string()],
        None => store.source_ids()?,
    };
    if format == ExportFormat::Html {
        return export_html(store, &ids, out);
    }
    // The header comes after the one named source is known to exist, so an
    // unknown source writes nothing.
    let mut header = format == ExportFormat::Csv;
    let mut line = String::new();
    for id in &ids {
        let versions = store.versions(id)?;
        if versions.is_empty() {
            return Err(ReportError::UnknownSource(id.clone()));
        }
        if std::mem::take(&mut header) {
            put(out, csv_header().as_bytes())?;
        }
        for rec in &versions {
            line.clear();
            match format {
                ExportFormat::Csv => csv_row(&mut line, rec),
                _ => jsonl_line(&mut line, store, rec)?,
            }
            put(out, line.as_bytes())?;
        }
    }
    if header {
        put(out, csv_header().as_bytes())?;
    }
    if format == ExportFormat::Jsonl {
        export_anchors_jsonl(store, &ids, out)?;
    }
    Ok(())
}

fn put(out: &mut dyn std::io::Write, bytes: &[u8]) -> Result<()> {
    out.write_all(bytes).map_err(ReportError::Write)
}

/// One version as a JSON line, its document included.
fn jsonl_line(out: &mut String, store: &Store, rec: &VersionRecord) -> Result<()> {
    let doc = store.document(rec)?;
    let mut line = serde_json::to_value(rec).map_err(|source| ReportError::Json {
        source_id: rec.source.clone(),
        version: rec.version,
        source,
    })?;
    if let Value::Object(map) = &mut line {
        map.insert("document".into(), document_json(&doc));
    }
    let _ = write!(out, "{line}");
    out.push('\n');
    Ok(())
}

/// The anchors, one line each (`"record": "anchor"`), after the versions
/// of a whole-store export; a store without anchors adds nothing.
fn export_anchors_jsonl(store: &Store, ids: &[String], out: &mut dyn std::io::Write) -> Result<()> {
    for a in store.anchors()? {
        // A one-source export carries the anchors that cover that source.
        if !a.heads.iter().any(|h| ids.contains(&h.source)) {
            continue;
        }
        let mut line = serde_json::to_value(&a).unwrap_or_default();
        if let Value::Object(map) = &mut line {
            map.insert("record".into(), Value::from("anchor"));
        }
        put(out, format!("{line}\n").as_bytes())?;
    }
    Ok(())
}

/// One CSV field, quoted when it must be (RFC 4180).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub const CSV_HEADER: &str =
    "source,version,fetched_at,url,title,published,sections,content_hash,prev_hash,record_hash";

fn csv_header() -> String {
    format!("{CSV_HEADER}\r\n")
}

/// One version as a CSV row.
fn csv_row(out: &mut String, r: &VersionRecord) {
    let fields = [
        r.source.clone(),
        r.version.to_string(),
        r.fetched_at.to_string(),
        r.url.clone(),
        r.title.clone(),
        r.published.map(|d| d.to_string()).unwrap_or_default(),
        r.sections.to_string(),
        r.content_hash.clone(),
        r.prev_hash.clone().unwrap_or_default(),
        r.record_hash.clone(),
    ];
    let row: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
    out.push_str(&row.join(","));
    out.push_str("\r\n");
}

/// Shared by the report and the compilation: readable on a phone, printable,
/// no external resources.
const CSS: &str = "
body{font-family:-apple-system,'PingFang SC','Microsoft YaHei','Noto Sans CJK SC',sans-serif;line-height:1.7;margin:0 auto;max-width:72rem;padding:1rem;color:#222;background:#fff}
h1{font-size:1.5rem}h2{font-size:1.25rem;border-bottom:2px solid #c00;padding-bottom:.2rem;margin-top:2.5rem}
h3{font-size:1.1rem;margin-top:1.8rem}h4{font-size:1rem}
a{color:#05c;word-break:break-all}
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{border:1px solid #ccc;padding:.25rem .4rem;text-align:left;vertical-align:top}
.scroll{overflow-x:auto}
code,.hash{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.8rem;word-break:break-all}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.1rem .8rem;font-size:.85rem}dl.meta dt{color:#666}dl.meta dd{margin:0;word-break:break-all}
.version{border-top:1px solid #ddd;margin-top:1.5rem}
.change{margin:.8rem 0;border:1px solid #ddd;border-radius:4px}
.change .path{background:#f4f4f4;padding:.2rem .5rem;font-weight:600}
.sides{display:grid;grid-template-columns:1fr 1fr}
.sides>div{padding:.4rem .6rem;white-space:pre-wrap;overflow-wrap:anywhere}
.sides .old{border-right:1px solid #ddd;background:#fffafa}.sides .new{background:#fafffa}
.side-label{display:block;font-size:.75rem;color:#888}
ins{background:#c8f0c8;text-decoration:none}del{background:#f6c6c6}
.section-label{font-weight:600}
.note{background:#fff8e0;border-left:4px solid #e0a800;padding:.5rem .8rem}
.src{font-size:.9rem;color:#444}
@media (max-width:640px){.sides{grid-template-columns:1fr}.sides .old{border-right:none;border-bottom:1px solid #ddd}body{padding:.6rem}}
@media print{a{color:#000}}
";

fn html_head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        escape_html(title)
    )
}

fn china_time(t: &Timestamp) -> String {
    beijing_minutes(*t)
}

/// An element id from a source id (ids are ASCII in practice; anything else
/// is replaced so the fragment stays valid).
fn anchor(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn link_html(url: &str, text: &str) -> String {
    crate::present::link_html(url, text, "")
        .unwrap_or_else(|| format!("{} ({})", escape_html(text), escape_html(url)))
}

/// The HTML report: the table of contents names every source first (its
/// latest title and how many versions it has), so the records are read
/// twice: once for the contents, then each source's again for its part.
fn export_html(store: &Store, ids: &[String], out: &mut dyn std::io::Write) -> Result<()> {
    let mut contents = Vec::with_capacity(ids.len());
    for id in ids {
        let versions = store.versions(id)?;
        let Some(last) = versions.last() else {
            return Err(ReportError::UnknownSource(id.clone()));
        };
        contents.push((id, last.title.clone(), versions.len()));
    }
    let title = match ids {
        [id] => format!("版本档案 {id} · Version report"),
        _ => "版本档案 · Version report".to_string(),
    };
    let mut buf = html_head(&title);
    let _ = writeln!(
        buf,
        "<header><h1>{}</h1><p class=\"src\">生成于 Generated {} (UTC+8) · 每个版本与前一版本对照：{} {}</p>",
        escape_html(&title),
        china_time(&Timestamp::now()),
        diff_html::del("删除", &MARKS),
        diff_html::ins("新增", &MARKS)
    );
    buf.push_str("<nav><ul>\n");
    for (id, last_title, n) in &contents {
        let _ = writeln!(
            buf,
            "<li><a href=\"#src-{}\">{}</a> — {} · {} 个版本 versions</li>",
            anchor(id),
            escape_html(id),
            escape_html(last_title),
            n
        );
    }
    drop(contents);
    buf.push_str("</ul></nav></header>\n");
    for id in ids {
        put(out, buf.as_bytes())?;
        buf.clear();
        let versions = store.versions(id)?;
        if versions.is_empty() {
            return Err(ReportError::UnknownSource(id.clone()));
        }
        source_html(store, &mut buf, id, &versions)?;
    }
    buf.push_str("</body>\n</html>\n");
    put(out, buf.as_bytes())
}

fn source_html(
    store: &Store,
    out: &mut String,
    id: &str,
    versions: &[VersionRecord],
) -> Result<()> {
    let a = anchor(id);
    let _ = writeln!(
        out,
        "<section id=\"src-{a}\">\n<h2>{}</h2>\n<p class=\"src\">{}</p>",
        escape_html(id),
        link_html(&versions[0].url, &versions[0].url)
    );
    out.push_str("<div class=\"scroll\"><table><thead><tr><th>版本</th><th>抓取时间 (UTC+8)</th><th>标题</th><th>节</th><th>content_hash</th></tr></thead><tbody>\n");
    for r in versions {
        let _ = writeln!(
            out,
            "<tr><td><a href=\"#src-{a}-v{v}\">v{v}</a></td><td>{}</td><td>{}</td><td>{}</td><td class=\"hash\">{}</td></tr>",
            china_time(&r.fetched_at),
            escape_html(&r.title),
            r.sections,
            escape_html(crate::text::prefix_chars(&r.content_hash, 16)),
            v = r.version,
        );
    }
    out.push_str("</tbody></table></div>\n");
    let mut prev: Option<Document> = None;
    for r in versions {
        let doc = store.document(r)?;
        let _ = writeln!(
            out,
            "<article class=\"version\" id=\"src-{a}-v{}\">\n<h3>v{} · {}</h3>",
            r.version,
            r.version,
            escape_html(&r.title)
        );
        out.push_str("<dl class=\"meta\">");
        let meta: [(&str, String); 9] = [
            (
                "抓取时间",
                format!("{} (UTC+8) · {}", china_time(&r.fetched_at), r.fetched_at),
            ),
            ("发布日期", date_or_dash(&r.published)),
            (
                "状态 / 编码",
                format!("HTTP {} · {} · {} B", r.status, r.encoding, r.byte_len),
            ),
            ("URL", r.url.clone()),
            ("最终 URL", r.final_url.clone()),
            ("content_hash", r.content_hash.clone()),
            ("raw_hash", r.raw_hash.clone()),
            (
                "prev_hash",
                r.prev_hash.clone().unwrap_or_else(|| "—".into()),
            ),
            ("record_hash", r.record_hash.clone()),
        ];
        for (k, v) in meta {
            let _ = write!(out, "<dt>{k}</dt><dd>{}</dd>", escape_html(&v));
        }
        out.push_str("</dl>\n");
        match &prev {
            None => out.push_str("<p>首个版本 First version.</p>\n"),
            Some(p) => {
                let _ = writeln!(
                    out,
                    "<h4>与 v{} 对照 Changes from v{}</h4>",
                    r.version - 1,
                    r.version - 1
                );
                diff_html(out, p, &doc);
            }
        }
        let _ = writeln!(
            out,
            "<details><summary>全文 Full text ({} 节)</summary>",
            doc.sections.len()
        );
        document_html(out, &doc);
        out.push_str("</details>\n</article>\n");
        prev = Some(doc);
    }
    out.push_str("</section>\n");
    Ok(())
}

fn document_html(out: &mut String, doc: &Document) {
    if !doc.preamble.is_empty() {
        let _ = writeln!(out, "<p>{}</p>", escape_html(&doc.preamble));
    }
    for s in &doc.sections {
        let _ = writeln!(out, "<p>{}</p>", section_html(s));
    }
}

fn section_html(s: &Section) -> String {
    let mut p = format!(
        "<span class=\"section-label\">{}",
        escape_html(&display_label(s))
    );
    if !s.heading.is_empty() {
        p.push_str(&escape_html(&s.heading));
    }
    p.push_str("</span>");
    p.push_str(&escape_html(&s.text));
    p
}

/// The report's diff marks: its style sheet styles `<ins>`/`<del>`.
const MARKS: Marks = Marks {
    ins: "<ins>",
    del: "<del>",
    gap: "…",
};

/// One side of an inline diff: equal text, plus this side's edits.
fn side_html(spans: &[crate::model::Span], new_side: bool) -> String {
    spans_html(spans, if new_side { Side::New } else { Side::Old }, &MARKS)
}

fn sides_html(out: &mut String, path: &str, old: &str, new: &str) {
    let _ = writeln!(
        out,
        "<div class=\"change\"><div class=\"path\">{}</div><div class=\"sides\"><div class=\"old\"><span class=\"side-label\">旧 old</span>{old}</div><div class=\"new\"><span class=\"side-label\">新 new</span>{new}</div></div></div>",
        escape_html(path)
    );
}

fn diff_html(out: &mut String, old: &Document, new: &Document) {
    let d = diff::diff(old, new);
    if d.is_empty() {
        out.push_str("<p>无内容变化 No content change (only the raw page differs).</p>\n");
        return;
    }
    if let Some((o, n)) = &d.title_changed {
        let o = diff_html::del(o, &MARKS);
        let n = diff_html::ins(n, &MARKS);
        sides_html(out, "标题 Title", &o, &n);
    }
    if let Some((o, n)) = &d.date_changed {
        sides_html(
            out,
            "发布日期 Date",
            &diff_html::del(&date_or_dash(o), &MARKS),
            &diff_html::ins(&date_or_dash(n), &MARKS),
        );
    }
    for c in &d.changes {
        let title = format!("{} [{}]", change_location(c), change_label(c.kind));
        let (o, n) = match c.kind {
            ChangeKind::Added => ("（无）".to_string(), side_html(&c.inline, true)),
            ChangeKind::Removed => (side_html(&c.inline, false), "（无）".to_string()),
            _ if c.inline.is_empty() => {
                let h = escape_html(&c.heading);
                (h.clone(), h)
            }
            _ => (side_html(&c.inline, false), side_html(&c.inline, true)),
        };
        sides_html(out, &title, &o, &n);
    }
}

// ----- compilation ---------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompileRequest {
    /// The configured sources (where each belongs, its place in the file).
    pub sources: Catalog,
    pub region: Option<Region>,
    pub year: Option<i16>,
    pub format: CompileFormat,
}

/// The article chosen for one province.
struct Entry {
    province: String,
    region: Region,
    order: usize,
    rec: VersionRecord,
    doc: Document,
}

/// The date an article counts under: its publish date, else the day it was
/// first fetched (UTC+8).
fn article_date(rec: &VersionRecord, doc: &Document) -> Date {
    doc.published
        .unwrap_or_else(|| beijing_date(rec.fetched_at))
}

/// Picks, for every province, the latest stored version of its newest
/// article that matches the filters. When a province has several (the
/// 2025 deployment and, later, a 2026 one found on its listing), the one
/// published last wins — it is the deployment in force; `year` selects an
/// earlier one. Ties go to the one fetched last.
fn entries(store: &Store, req: &CompileRequest) -> Result<Vec<Entry>> {
    let tracked: BTreeMap<String, crate::store::Tracked> = store
        .tracked()?
        .into_iter()
        .map(|t| (t.id.clone(), t))
        .collect();
    let mut chosen: BTreeMap<String, Entry> = BTreeMap::new();
    for id in store.source_ids()? {
        // Configured, or found on a configured listing; what the
        // configuration no longer names is left out.
        let Some(src) = req.sources.resolve(&id, tracked.get(&id), None) else {
            continue;
        };
        let Some(region) = src.region.filter(|_| src.origin != Origin::Stored) else {
            continue;
        };
        if req.region.is_some_and(|r| r != region) {
            continue;
        }
        let Some(rec) = store.latest(&id)? else {
            continue;
        };
        let doc = store.document(&rec)?;
        let date = article_date(&rec, &doc);
        if req.year.is_some_and(|y| date.year() != y) {
            continue;
        }
        let order = req
            .sources
            .sources
            .iter()
            .filter(|s| s.province == src.province)
            .map(|s| s.order)
            .min()
            .unwrap_or(src.order);
        let better = match chosen.get(&src.province) {
            None => true,
            Some(e) => (date, rec.fetched_at) > (article_date(&e.rec, &e.doc), e.rec.fetched_at),
        };
        if better {
            chosen.insert(
                src.province.clone(),
                Entry {
                    province: src.province.clone(),
                    region,
                    order,
                    rec,
                    doc,
                },
            );
        }
    }
    let mut list: Vec<Entry> = chosen.into_values().collect();
    list.sort_by_key(|e| (e.region, e.order));
    Ok(list)
}

/// 1 → 一, 10 → 十, 21 → 二十一 (enough for the provinces of a region).
pub fn chinese_number(n: usize) -> String {
    const D: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    match n {
        0..=9 => D[n].to_string(),
        10..=19 => format!("十{}", if n == 10 { "" } else { D[n - 10] }),
        20..=99 => format!(
            "{}十{}",
            D[n / 10],
            if n % 10 == 0 { "" } else { D[n % 10] }
        ),
        _ => n.to_string(),
    }
}

/// A section's label as printed, with half-width brackets shown full-width
/// so that every province's items read alike: `(一)` → `（一）`.
fn display_label(s: &Section) -> String {
    let l = s.raw_label.trim();
    let l = if l.is_empty() { s.label.as_str() } else { l };
    l.replace('(', "（").replace(')', "）")
}

fn compile_title(req: &CompileRequest) -> String {
    let mut t = String::new();
    if let Some(y) = req.year {
        let _ = write!(t, "{y}年");
    }
    t.push_str("各地应急管理工作会议工作部署汇编");
    if let Some(r) = req.region {
        let _ = write!(t, "（{}地区）", r.name());
    }
    t
}

/// Placeholder the editor replaces before publication.
pub const EDITORS_NOTE: &str = "【编者按】（请在此填写编者按）";

/// `compile`: the regional compilation. Regions come in the fixed order
/// 华东 华北 华中 华南 西南 西北 东北 (only those with articles); provinces
/// are numbered 一、二、… within each region, in the order of the sources
/// file; each lists its deployment sections and where they came from.
pub fn compile(store: &Store, req: &CompileRequest) -> Result<String> {
    let list = entries(store, req)?;
    let title = compile_title(req);
    let mut regions: Vec<(Region, Vec<&Entry>)> = Vec::new();
    for e in &list {
        match regions.last_mut() {
            Some((r, v)) if *r == e.region => v.push(e),
            _ => regions.push((e.region, vec![e])),
        }
    }
    Ok(match req.format {
        CompileFormat::Markdown => compile_markdown(&title, &regions),
        CompileFormat::Html => compile_html(&title, &regions),
    })
}

/// Page text in Markdown: HTML-significant characters as entities (a
/// Markdown renderer passes raw HTML through) and Markdown's own markup
/// characters escaped, so page text can never become markup.
fn md_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '*' | '_' | '`' | '[' | ']' | '#' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("  \n"),
            _ => out.push(c),
        }
    }
    out
}

fn md_link(url: &str, text: &str) -> String {
    match safe_href(url) {
        Some(h) => format!(
            "[{}](<{}>)",
            md_text(text),
            h.replace('<', "%3C")
                .replace('>', "%3E")
                .replace(' ', "%20")
        ),
        None => format!("{} ({})", md_text(text), md_text(url)),
    }
}

fn source_line(e: &Entry) -> String {
    format!(
        "版本 v{} · 抓取于 {} (UTC+8)",
        e.rec.version,
        china_time(&e.rec.fetched_at)
    )
}

fn compile_markdown(title: &str, regions: &[(Region, Vec<&Entry>)]) -> String {
    let mut out = format!("# {title}\n\n{EDITORS_NOTE}\n\n");
    if regions.is_empty() {
        out.push_str("（没有符合条件的已存档文章）\n");
    }
    for (region, entries) in regions {
        let _ = writeln!(out, "## {}地区\n", region.name());
        for (i, e) in entries.iter().enumerate() {
            let _ = writeln!(
                out,
                "### {}、{}\n",
                chinese_number(i + 1),
                md_text(&e.province)
            );
            for s in &e.doc.sections {
                // The bold heading ends its line: CommonMark does not close
                // `**` between a full-width stop and the next character.
                let label = display_label(s);
                let text = md_text(&s.text);
                if s.heading.is_empty() {
                    let _ = writeln!(out, "{}{text}\n", md_text(&label));
                } else {
                    let head = md_text(&format!("{label}{}", s.heading));
                    let sep = if text.is_empty() { "" } else { "  \n" };
                    let _ = writeln!(out, "**{head}**{sep}{text}\n");
                }
            }
            let _ = writeln!(
                out,
                "原文链接：{}  \n{}\n",
                md_link(&e.rec.url, &e.doc.title),
                source_line(e)
            );
        }
    }
    out
}

fn compile_html(title: &str, regions: &[(Region, Vec<&Entry>)]) -> String {
    let mut out = html_head(title);
    let _ = writeln!(
        out,
        "<h1>{}</h1>\n<p class=\"note\">{}</p>",
        escape_html(title),
        escape_html(EDITORS_NOTE)
    );
    if regions.is_empty() {
        out.push_str("<p>（没有符合条件的已存档文章）</p>\n");
    }
    for (region, entries) in regions {
        let _ = writeln!(out, "<section>\n<h2>{}地区</h2>", region.name());
        for (i, e) in entries.iter().enumerate() {
            let _ = writeln!(
                out,
                "<h3>{}、{}</h3>",
                chinese_number(i + 1),
                escape_html(&e.province)
            );
            for s in &e.doc.sections {
                let _ = writeln!(out, "<p>{}</p>", section_html(s));
            }
            let _ = writeln!(
                out,
                "<p class=\"src\">原文链接：{}<br>{}</p>",
                link_html(&e.rec.url, &e.doc.title),
                escape_html(&source_line(e))
            );
        }
        out.push_str("</section>\n");
    }
    out.push_str("</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_chinese() {
        let got: Vec<String> = [1, 2, 9, 10, 11, 20, 34]
            .iter()
            .map(|n| chinese_number(*n))
            .collect();
        assert_eq!(got, ["一", "二", "九", "十", "十一", "二十", "三十四"]);
    }

    #[test]
    fn csv_quotes_only_when_needed() {
        assert_eq!(csv_field("abc"), "abc");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\"\nbye"), "\"say \"\"hi\"\"\nbye\"");
    }

    #[test]
    fn markdown_text_cannot_become_markup() {
        assert_eq!(
            md_text("<script>alert(1)</script> *x* [a](b)"),
            "&lt;script&gt;alert(1)&lt;/script&gt; \\*x\\* \\[a\\](b)"
        );
        assert_eq!(
            md_link("javascript:alert(1)", "t"),
            "t (javascript:alert(1))"
        );
        assert_eq!(md_link("http://a/b c", "t"), "[t](<http://a/b%20c>)");
    }
}
