//! A stored document as scripts and terminals read it: the JSON that
//! `parse --json`, `show --json` and the JSON Lines export share, and the
//! plain text `parse`/`show` print.

use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::model::Document;
use crate::present::{date_or_dash, PREAMBLE_LABEL};

/// `parse --json` / `show --json`: the document as scripts consume it.
pub fn document_json(doc: &Document) -> Value {
    json!({
        "title": doc.title,
        "published": doc.published.map(|d| d.to_string()),
        "encoding": doc.encoding,
        "preamble": doc.preamble,
        "sections": doc.sections.iter().map(|s| json!({
            "label": s.label,
            "path": s.path,
            "level": s.level,
            "heading": s.heading,
            "text": s.text,
        })).collect::<Vec<_>>(),
    })
}

/// The document as a person reads it in a terminal.
pub fn document_text(doc: &Document) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", doc.title);
    let _ = writeln!(
        out,
        "发布日期 Published: {}   编码 Encoding: {}   {} 节 sections",
        date_or_dash(&doc.published),
        doc.encoding,
        doc.sections.len()
    );
    if !doc.preamble.is_empty() {
        let _ = writeln!(out, "\n[{PREAMBLE_LABEL}]\n{}", doc.preamble);
    }
    for s in &doc.sections {
        let indent = "  ".repeat(s.level.saturating_sub(1) as usize);
        let _ = writeln!(out, "\n{indent}{} {}", s.raw_label, s.heading);
        if !s.text.is_empty() {
            for line in s.text.lines() {
                let _ = writeln!(out, "{indent}  {line}");
            }
        }
    }
    out
}
