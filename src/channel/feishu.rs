//! The Feishu custom bot's `post` message (zh_cn rich text): paragraphs of
//! plain `text` elements, styled where the app supports it (bold,
//! underline, line-through), links as `a` elements, and `@all` as an `at`
//! element. Text elements are not markup, so only what the app would
//! still act on is escaped.

use serde_json::{json, Value};

use super::markdown::{change_label, escape_plain, headline, link_target, span_lines, Decor, Mark};
use super::{beijing_time, ChatAlert, ChatKind, ChatSection};

fn text(t: impl Into<String>) -> Value {
    json!({"tag": "text", "text": t.into()})
}

fn styled(t: impl Into<String>, style: &[&str]) -> Value {
    json!({"tag": "text", "text": t.into(), "style": style})
}

/// The body of one part, without `timestamp`/`sign` (the client adds them
/// when it sends).
pub(super) fn post_body(
    alert: &ChatAlert,
    sections: &[ChatSection],
    numbering: Option<(usize, usize)>,
    decor: Decor,
    mentions: bool,
) -> Value {
    let title = headline(alert, numbering, decor);
    let mut lines: Vec<Value> = Vec::new();
    // The keyword goes into the text as well as the title, wherever the
    // bot looks for it.
    let mut first = Vec::new();
    if let Some(k) = decor.keyword {
        first.push(text(format!("【{k}】")));
    }
    first.push(styled(escape_plain(&alert.title), &["bold"]));
    lines.push(Value::Array(first));
    lines.push(json!([text(format!(
        "版本：{}　抓取：{}",
        escape_plain(&alert.version),
        beijing_time(alert.fetched_at)
    ))]));
    if let Some(summary) = &alert.summary {
        for line in summary.lines().filter(|l| !l.trim().is_empty()) {
            lines.push(json!([text(escape_plain(line))]));
        }
    }
    for section in sections {
        let mut head = escape_plain(&section.heading);
        let label = change_label(section);
        if !label.is_empty() {
            head.push_str(&format!("（{label}）"));
        }
        if section.continued {
            head.push_str("（续）");
        }
        lines.push(json!([styled(head, &["bold"])]));
        // span_lines joins each line's pieces into a string; for Feishu
        // the pieces must stay separate elements, so they are joined with
        // a separator that escaped text cannot contain and split again.
        const SEP: char = '\u{1F}';
        let mark = |kind: Mark, t: &str| match kind {
            Mark::Equal => format!("{SEP}={t}{SEP}"),
            Mark::Gap => format!("{SEP}={t}{SEP}"),
            Mark::Insert => format!("{SEP}+[+{t}+]{SEP}"),
            Mark::Delete => format!("{SEP}-[-{t}-]{SEP}"),
        };
        for line in span_lines(&section.spans, escape_plain, mark) {
            let elements: Vec<Value> = line
                .split(SEP)
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_at(1) {
                    ("+", t) => styled(t, &["bold", "underline"]),
                    ("-", t) => styled(t, &["lineThrough"]),
                    (_, t) => text(t),
                })
                .collect();
            lines.push(Value::Array(elements));
        }
    }
    let mut links = Vec::new();
    match link_target(&alert.url) {
        Some(href) => links.push(json!({"tag": "a", "text": "原文链接", "href": href})),
        None => links.push(text(format!("原文链接：{}", escape_plain(&alert.url)))),
    }
    if let Some(href) = alert.diff_url.as_deref().and_then(link_target) {
        links.push(text(" · "));
        links.push(json!({"tag": "a", "text": "差异页", "href": href}));
    }
    lines.push(Value::Array(links));
    if alert.kind == ChatKind::Changed && !sections.is_empty() {
        lines.push(json!([text("标记：[+新增+] [-删除-] …省略未变内容")]));
    }
    if mentions && decor.mention_all {
        lines.push(json!([{"tag": "at", "user_id": "all"}]));
    }
    json!({
        "msg_type": "post",
        "content": {"post": {"zh_cn": {"title": title, "content": lines}}},
    })
}
