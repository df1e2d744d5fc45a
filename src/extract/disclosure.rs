//! 政府信息公开 metadata: the table (or list) of 索引号, 发布机构, 成文日期,
//! 文号, 主题分类 … that disclosure pages print above a document. Its fields
//! are facts about the document, not its text: they are read here as
//! metadata, and the table is kept out of the body.

use std::sync::LazyLock;

use regex::Regex;
use scraper::Html;

use crate::text;

use super::tree::subtree_text;
use super::NodeRef;

/// The labels of disclosure metadata, as printed (spaces and full-width
/// spaces removed before matching).
static LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^(索取号|索引号|信息索引号|发布机构|发文机关|公开机构|成文日期|发文日期|发布日期|",
        r"生成日期|印发日期|文号|发文字号|主题分类|主题词|公开方式|公开范围|公开时限|有效性|体裁分类|",
        r"服务对象|信息分类|组配分类|所属主题|标题|名称)[:：]?$"
    ))
    .unwrap_or_else(|e| panic!("static regex: {e}"))
});

/// Labels of which a metadata table holds at least two; checked before
/// its cells are read.
const QUICK: &[&str] = &[
    "索引号",
    "索取号",
    "发布机构",
    "成文日期",
    "发文日期",
    "文号",
    "主题分类",
    "生成日期",
    "公开方式",
];

/// A block counts as a metadata table when at least this many of its cells
/// are metadata labels.
const MIN_LABELS: usize = 3;
/// ... and it is no longer than this (comparable characters): a document
/// whose text happens to hold a table of labels is not one.
const MAX_CHARS: usize = 600;

/// Whether `node` (a table or definition list) is a disclosure metadata
/// block.
pub(super) fn is_metadata_block(node: NodeRef<'_>) -> bool {
    let Some(el) = node.value().as_element() else {
        return false;
    };
    if !matches!(el.name(), "table" | "dl") {
        return false;
    }
    // Cheap tests first: most tables are layout, not metadata, and large.
    let Some(text) = short_text(node, MAX_CHARS * 3 * 4) else {
        return false;
    };
    let squashed = text::comparable(&text);
    if squashed.chars().count() > MAX_CHARS
        || QUICK.iter().filter(|l| squashed.contains(*l)).count() < 2
    {
        return false;
    }
    fields(node).len() >= MIN_LABELS
}

/// The label/value pairs of a metadata block: every cell that is a label,
/// with the text of the next cell (or the rest of its own cell after the
/// colon).
fn fields(node: NodeRef<'_>) -> Vec<(String, String)> {
    let cells: Vec<String> = node
        .descendants()
        .filter(|d| {
            d.value()
                .as_element()
                .is_some_and(|e| matches!(e.name(), "td" | "th" | "dt" | "dd" | "li" | "span"))
                && !d.children().any(|c| {
                    c.value().as_element().is_some_and(|e| {
                        matches!(e.name(), "td" | "th" | "dt" | "dd" | "li" | "span")
                    })
                })
        })
        .map(|d| text::display(&subtree_text(d, true)))
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < cells.len() {
        let squashed: String = text::comparable(&cells[i]);
        if LABEL.is_match(&squashed) {
            let label = squashed.trim_end_matches([':', '：']).to_string();
            let value = cells.get(i + 1).cloned().unwrap_or_default();
            if !LABEL.is_match(&text::comparable(&value)) {
                out.push((label, value));
                i += 2;
                continue;
            }
            out.push((label, String::new()));
        } else if let Some((l, v)) = squashed.split_once(['：', ':']) {
            if LABEL.is_match(l) {
                let value = cells[i]
                    .split_once(['：', ':'])
                    .map(|(_, v)| text::display(v))
                    .unwrap_or_else(|| v.to_string());
                out.push((l.to_string(), value));
            }
        }
        i += 1;
    }
    out
}

/// Every metadata block's fields, in page order.
pub(super) fn metadata(doc: &Html) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for n in doc.root_element().descendants() {
        if is_metadata_block(n) && !n.ancestors().any(is_metadata_block) {
            out.extend(fields(n));
        }
    }
    out
}

/// The document's date from its metadata: when it was published, else
/// when it was issued or written.
pub(super) fn date(fields: &[(String, String)]) -> Option<jiff::civil::Date> {
    ["发布日期", "发文日期", "印发日期", "成文日期", "生成日期"]
        .iter()
        .find_map(|want| {
            fields
                .iter()
                .filter(|(l, _)| l == want)
                .find_map(|(_, v)| super::date::parse_date(v))
        })
}

/// The text under `node`, or `None` as soon as it passes `limit` bytes:
/// a layout table holding the whole page is refused without reading it.
fn short_text(node: NodeRef<'_>, limit: usize) -> Option<String> {
    let mut out = String::new();
    for d in node.descendants() {
        if let scraper::Node::Text(t) = d.value() {
            out.push_str(t);
            if out.len() > limit {
                return None;
            }
        }
    }
    Some(out)
}
