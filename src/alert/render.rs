//! Rendering an alert event into the subject, plain text and HTML of an
//! e-mail that reads well on a phone: a change with its inline diff, a
//! newly published deployment with its sections, a failing or recovered
//! source. Page text is cleaned of control characters and escaped here;
//! the words, times, links and diff markup come from [`crate::present`].

use std::fmt::Write as _;

use crate::model::{AlertKind, ChangeKind, DocDiff, Document, SectionChange, Span};
use crate::present::{self, diff_html, Marks, Side, Tone, PREAMBLE_LABEL};
use crate::text::{escape_html, prefix_chars};

mod anchor;
pub use anchor::render_anchor_notice;

/// What an alert is about, for rendering.
#[derive(Debug, Clone)]
pub struct AlertContext {
    pub source_id: String,
    pub source_name: String,
    /// e.g. `江苏省`.
    pub province: String,
    /// The article title (latest version).
    pub title: String,
    /// The original article URL (原文链接).
    pub url: String,
    /// Version compared against (None for a first/published version).
    pub from_version: Option<u32>,
    pub to_version: u32,
    pub fetched_at: jiff::Timestamp,
}

/// Every subject starts with this tag so that mail rules can file alerts.
pub const SUBJECT_TAG: &str = "[bulletin-watch]";

/// Titles of these deployments run long; a phone shows ~40 characters of a
/// subject, and the full title is in the body anyway.
const SUBJECT_TITLE_CHARS: usize = 60;
const SUBJECT_NAME_CHARS: usize = 30;
/// A rewritten document must not turn into a 5 MB e-mail: past these limits
/// the reader is pointed at the original and the audit trail instead.
const MAX_CHANGES_SHOWN: usize = 60;
const MAX_CHANGE_CHARS: usize = 1200;
const MAX_SECTIONS_LISTED: usize = 80;
const EXCERPT_CHARS: usize = 80;
const MAX_ERROR_CHARS: usize = 1000;

/// Subject and both bodies of an alert, before addressing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub kind: AlertKind,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The one line under a change's title: `3 节变更`, `标题变更`, ….
pub fn changed_summary(diff: &DocDiff) -> String {
    if !diff.changes.is_empty() {
        format!("{} 节变更", diff.changes.len())
    } else if diff.title_changed.is_some() {
        "标题变更".to_string()
    } else if diff.date_changed.is_some() {
        "日期变更".to_string()
    } else {
        "内容变更".to_string()
    }
}

/// Alert for a new version of a watched article.
pub fn render_changed(ctx: &AlertContext, diff: &DocDiff) -> Rendered {
    let summary = changed_summary(diff);
    let subject = subject(ctx, &summary, &ctx.title);

    let mut text = text_header(ctx, &summary);
    let mut html = String::new();
    html_header(&mut html, ctx, &subject, &summary, ACCENT_CHANGED);

    if let Some((old, new)) = &diff.title_changed {
        let _ = writeln!(
            text,
            "标题变更 Title changed:\n  [-{}-]\n  [+{}+]\n",
            clean_block(old),
            clean_block(new)
        );
        let _ = write!(
            html,
            "<p style=\"margin:0 0 12px;\"><b>标题变更 Title changed</b><br>{}<br>{}</p>",
            del_html(old),
            ins_html(new)
        );
    }
    if let Some((old, new)) = &diff.date_changed {
        let show = present::date_or_dash;
        let _ = writeln!(
            text,
            "发布日期变更 Date changed: {} → {}\n",
            show(old),
            show(new)
        );
        let _ = write!(
            html,
            "<p style=\"margin:0 0 12px;\"><b>发布日期变更 Date changed</b><br>{} → {}</p>",
            escape_html(&show(old)),
            escape_html(&show(new))
        );
    }

    let _ = writeln!(text, "── 变更 Changes ({}) ──\n", diff.changes.len());
    let _ = write!(
        html,
        "<h2 style=\"{H2}\">变更 Changes ({})</h2>",
        diff.changes.len()
    );
    if diff.changes.is_empty() {
        text.push_str("各节内容未变 No section changed.\n\n");
        html.push_str("<p style=\"margin:0 0 12px;\">各节内容未变 No section changed.</p>");
    }
    for change in diff.changes.iter().take(MAX_CHANGES_SHOWN) {
        change_text(&mut text, change);
        change_html(&mut html, change);
    }
    if diff.changes.len() > MAX_CHANGES_SHOWN {
        let rest = diff.changes.len() - MAX_CHANGES_SHOWN;
        let _ = writeln!(
            text,
            "……另有 {rest} 节变更未列出 {rest} more changes not shown; see the original.\n"
        );
        let _ = write!(
            html,
            "<p style=\"margin:0 0 12px;color:#6b7280;\">……另有 {rest} 节变更未列出 {rest} more changes not shown; see the original.</p>"
        );
    }
    text.push_str(
        "标记 Legend: [+新增 inserted+] [-删除 deleted-] … 省略未变内容 unchanged text omitted\n",
    );
    html.push_str("<p style=\"margin:16px 0 0;font-size:13px;color:#6b7280;\">标记 Legend: ");
    html.push_str(&ins_html("新增 inserted"));
    html.push(' ');
    html.push_str(&del_html("删除 deleted"));
    html.push_str(" … 省略未变内容 unchanged text omitted</p>");

    finish(ctx, AlertKind::Changed, subject, text, html)
}

/// Alert for a newly discovered article.
pub fn render_published(ctx: &AlertContext, doc: &Document) -> Rendered {
    let summary = "新发布".to_string();
    let subject = subject(ctx, &summary, &ctx.title);
    let mut text = text_header(ctx, &summary);
    let mut html = String::new();
    html_header(&mut html, ctx, &subject, &summary, ACCENT_PUBLISHED);

    if let Some(date) = doc.published {
        let _ = writeln!(text, "发布日期 Published: {date}\n");
        let _ = write!(
            html,
            "<p style=\"margin:0 0 12px;\"><b>发布日期 Published</b> {}</p>",
            escape_html(&date.to_string())
        );
    }
    let preamble = clean_line(&doc.preamble);
    if !preamble.is_empty() {
        let excerpt = excerpt(&preamble, EXCERPT_CHARS * 2);
        let _ = writeln!(text, "{PREAMBLE_LABEL}: {excerpt}\n");
        let _ = write!(
            html,
            "<p style=\"margin:0 0 12px;color:#374151;\"><b>{PREAMBLE_LABEL}</b><br>{}</p>",
            escape_html(&excerpt)
        );
    }

    let _ = writeln!(text, "── 各节 Sections ({}) ──\n", doc.sections.len());
    let _ = write!(
        html,
        "<h2 style=\"{H2}\">各节 Sections ({})</h2>",
        doc.sections.len()
    );
    for s in doc.sections.iter().take(MAX_SECTIONS_LISTED) {
        let depth = usize::from(s.level.saturating_sub(1)).min(4);
        let label = clean_line(&s.raw_label);
        let heading = clean_line(&s.heading);
        let body = excerpt(&clean_line(&s.text), EXCERPT_CHARS);
        let _ = writeln!(text, "{}{label} {heading}", "  ".repeat(depth));
        if !body.is_empty() {
            let _ = writeln!(text, "{}  {body}", "  ".repeat(depth));
        }
        let _ = write!(
            html,
            "<p style=\"margin:0 0 10px;padding-left:{}px;\"><b>{}</b> {}",
            depth * 14,
            escape_html(&label),
            escape_html(&heading)
        );
        if !body.is_empty() {
            let _ = write!(
                html,
                "<br><span style=\"color:#4b5563;font-size:14px;\">{}</span>",
                escape_html(&body)
            );
        }
        html.push_str("</p>");
    }
    if doc.sections.len() > MAX_SECTIONS_LISTED {
        let rest = doc.sections.len() - MAX_SECTIONS_LISTED;
        let _ = writeln!(text, "……另有 {rest} 节 {rest} more sections");
        let _ = write!(
            html,
            "<p style=\"margin:0 0 12px;color:#6b7280;\">……另有 {rest} 节 {rest} more sections</p>"
        );
    }
    text.push('\n');
    finish(ctx, AlertKind::Published, subject, text, html)
}

/// Alert after repeated fetch failures of one source. The count is `None`
/// for an alert queued by a version that did not record it.
pub fn render_failing(
    ctx: &AlertContext,
    error: &str,
    consecutive_failures: Option<u32>,
) -> Rendered {
    let summary = "抓取失败".to_string();
    let subject = subject(ctx, &summary, &ctx.source_name);
    let mut text = text_header(ctx, &summary);
    let mut html = String::new();
    html_header(&mut html, ctx, &subject, &summary, ACCENT_FAILING);
    let error = excerpt(&clean_block(error), MAX_ERROR_CHARS);
    let consecutive_failures =
        consecutive_failures.map_or_else(|| "未记录 not recorded".to_string(), |n| n.to_string());
    let _ = writeln!(
        text,
        "连续失败 Consecutive failures: {consecutive_failures}\n错误 Error:\n{error}\n\n\
         恢复后会另发通知 A recovery notice follows the next successful fetch.\n"
    );
    let _ = write!(
        html,
        "<p style=\"margin:0 0 8px;\"><b>连续失败 Consecutive failures:</b> {consecutive_failures}</p>\
         <p style=\"margin:0 0 4px;\"><b>错误 Error</b></p>\
         <p style=\"margin:0 0 12px;padding:8px;background:#f9fafb;border:1px solid #e5e7eb;\
         font-family:monospace;font-size:13px;white-space:pre-wrap;\">{}</p>\
         <p style=\"margin:0 0 12px;color:#6b7280;\">恢复后会另发通知 A recovery notice follows the next successful fetch.</p>",
        escape_html(&error)
    );
    finish(ctx, AlertKind::Failing, subject, text, html)
}

/// Alert for a new version whose stored content cannot be read back: the
/// event is still announced, with the reason, and the reader pointed at the
/// original and at `verify`.
pub fn render_unavailable(ctx: &AlertContext, kind: AlertKind, error: &str) -> Rendered {
    let summary = match kind {
        AlertKind::Published => "新发布",
        _ => "内容变更",
    }
    .to_string();
    let subject = subject(ctx, &summary, &ctx.title);
    let mut text = text_header(ctx, &summary);
    let mut html = String::new();
    html_header(&mut html, ctx, &subject, &summary, ACCENT_FAILING);
    let error = excerpt(&clean_block(error), MAX_ERROR_CHARS);
    let _ = writeln!(
        text,
        "{UNAVAILABLE}\n错误 Error:\n{error}\n\n{UNAVAILABLE_HINT}\n"
    );
    let _ = write!(
        html,
        "<p style=\"margin:0 0 8px;\"><b>{UNAVAILABLE}</b></p>\
         <p style=\"margin:0 0 4px;\"><b>错误 Error</b></p>\
         <p style=\"margin:0 0 12px;padding:8px;background:#f9fafb;border:1px solid #e5e7eb;\
         font-family:monospace;font-size:13px;white-space:pre-wrap;\">{}</p>\
         <p style=\"margin:0 0 12px;color:#6b7280;\">{UNAVAILABLE_HINT}</p>",
        escape_html(&error)
    );
    finish(ctx, kind, subject, text, html)
}

const UNAVAILABLE: &str =
    "存档版本无法读取，内容与差异暂不可用 The stored version cannot be read; its content and diff are unavailable.";
const UNAVAILABLE_HINT: &str =
    "请查看原文链接，并运行 bulletin-watch verify 检查存档 See the original, and run `bulletin-watch verify` on the store.";

/// Alert that a previously failing source can be fetched again.
pub fn render_recovered(ctx: &AlertContext) -> Rendered {
    let summary = "已恢复".to_string();
    let subject = subject(ctx, &summary, &ctx.source_name);
    let mut text = text_header(ctx, &summary);
    let mut html = String::new();
    html_header(&mut html, ctx, &subject, &summary, ACCENT_RECOVERED);
    text.push_str("抓取已恢复正常 Fetching works again.\n\n");
    html.push_str("<p style=\"margin:0 0 12px;\">抓取已恢复正常 Fetching works again.</p>");
    finish(ctx, AlertKind::Recovered, subject, text, html)
}

/// Notice that delivery channel `channel` refused an alert for good
/// (`DeliveryFailing`, with the platform's answer), or accepts messages
/// again (`DeliveryRecovered`).
pub fn render_delivery_notice(
    ctx: &AlertContext,
    kind: AlertKind,
    channel: &str,
    refusal: Option<&str>,
) -> Rendered {
    let failing = kind == AlertKind::DeliveryFailing;
    let summary = if failing {
        "推送失败"
    } else {
        "推送恢复"
    }
    .to_string();
    let channel = clean_line(channel);
    let subject = subject(ctx, &summary, &channel);
    let mut text = text_header(ctx, &summary);
    let mut html = String::new();
    let accent = if failing {
        ACCENT_FAILING
    } else {
        ACCENT_RECOVERED
    };
    html_header(&mut html, ctx, &subject, &summary, accent);
    let line = if failing {
        "渠道拒收告警 The channel refuses alerts; they are kept in the outbox and retried \
         (bulletin-watch outbox retry)."
    } else {
        "渠道已恢复接收 The channel accepts alerts again."
    };
    let _ = writeln!(text, "渠道 Channel: {channel}\n{line}");
    let _ = write!(
        html,
        "<p style=\"margin:0 0 8px;\"><b>渠道 Channel:</b> {}</p><p style=\"margin:0 0 12px;\">{line}</p>",
        escape_html(&channel)
    );
    if let Some(r) = refusal {
        let r = excerpt(&clean_block(r), MAX_ERROR_CHARS);
        let _ = writeln!(text, "回复 Answer:\n{r}");
        let _ = write!(
            html,
            "<p style=\"margin:0 0 12px;font-family:monospace;\">{}</p>",
            escape_html(&r)
        );
    }
    text.push('\n');
    finish(ctx, kind, subject, text, html)
}

/// Notice that the checks due on `host` exceed what its pacing allows
/// (`HostOverBudget`, with the figures in `line`), or fit again
/// (`HostWithinBudget`).
pub fn render_host_notice(
    ctx: &AlertContext,
    kind: AlertKind,
    host: &str,
    line: Option<&str>,
) -> Rendered {
    let over = kind == AlertKind::HostOverBudget;
    let summary = if over {
        "检查超出主机配额"
    } else {
        "主机配额恢复"
    }
    .to_string();
    let host = clean_line(host);
    let subject = subject(ctx, &summary, &host);
    let mut text = text_header(ctx, &summary);
    let mut html = String::new();
    let accent = if over {
        ACCENT_FAILING
    } else {
        ACCENT_RECOVERED
    };
    html_header(&mut html, ctx, &subject, &summary, accent);
    let what = if over {
        "到期的检查超过该主机的访问节奏所允许的次数：栏目和新文章优先，较旧的文章检查推迟。         More checks are due on this host than its pacing allows: listings and fresh          articles go first, older articles are checked later."
    } else {
        "该主机的检查又能按时完成。The checks due on this host fit its pacing again."
    };
    let _ = writeln!(
        text,
        "主机 Host: {host}
{what}"
    );
    let _ = write!(
        html,
        "<p style=\"margin:0 0 8px;\"><b>主机 Host:</b> {}</p><p style=\"margin:0 0 12px;\">{what}</p>",
        escape_html(&host)
    );
    if let Some(l) = line {
        let l = clean_line(l);
        let _ = writeln!(text, "{l}");
        let _ = write!(
            html,
            "<p style=\"margin:0 0 12px;font-family:monospace;\">{}</p>",
            escape_html(&l)
        );
    }
    text.push('\n');
    finish(ctx, kind, subject, text, html)
}

const ACCENT_CHANGED: &str = "#b45309";
const ACCENT_PUBLISHED: &str = "#1d4ed8";
const ACCENT_FAILING: &str = "#b91c1c";
const ACCENT_RECOVERED: &str = "#047857";
const H2: &str =
    "margin:20px 0 10px;padding-bottom:4px;font-size:17px;border-bottom:1px solid #e5e7eb;";
macro_rules! ins_style {
    () => {
        "background:#dcfce7;color:#166534;text-decoration:underline;"
    };
}
macro_rules! del_style {
    () => {
        "background:#fee2e2;color:#991b1b;text-decoration:line-through;"
    };
}
#[cfg(test)]
const INS_STYLE: &str = ins_style!();
#[cfg(test)]
const DEL_STYLE: &str = del_style!();
/// Mail clients drop style sheets: the diff marks carry their styles.
const EMAIL_MARKS: Marks = Marks {
    ins: concat!("<ins style=\"", ins_style!(), "\">"),
    del: concat!("<del style=\"", del_style!(), "\">"),
    gap: "<span style=\"color:#9ca3af;\">…</span>",
};

fn subject(ctx: &AlertContext, summary: &str, topic: &str) -> String {
    let province = truncate(&clean_line(&ctx.province), SUBJECT_NAME_CHARS);
    let limit = if topic == ctx.source_name {
        SUBJECT_NAME_CHARS
    } else {
        SUBJECT_TITLE_CHARS
    };
    let topic = truncate(&clean_line(topic), limit);
    let mut s = String::from(SUBJECT_TAG);
    for part in [province.as_str(), summary, topic.as_str()] {
        if part.is_empty() {
            continue;
        }
        s.push_str(if s == SUBJECT_TAG { " " } else { " · " });
        s.push_str(part);
    }
    s
}

fn version_str(ctx: &AlertContext) -> String {
    match ctx.from_version {
        Some(from) => format!("v{from} → v{}", ctx.to_version),
        None => format!("v{}", ctx.to_version),
    }
}

fn text_header(ctx: &AlertContext, summary: &str) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "{} · {}", clean_line(&ctx.province), summary);
    let _ = writeln!(t, "{}\n", clean_line(&ctx.title));
    for (label, value) in info_rows(ctx) {
        let _ = writeln!(t, "{label}: {value}");
    }
    let _ = writeln!(t, "原文链接 Original: {}", clean_line(&ctx.url));
    t.push('\n');
    t
}

fn info_rows(ctx: &AlertContext) -> Vec<(&'static str, String)> {
    vec![
        ("省份 Province", clean_line(&ctx.province)),
        ("来源 Source", clean_line(&ctx.source_name)),
        ("版本 Version", version_str(ctx)),
        ("抓取时间 Fetched", present::reader_time(ctx.fetched_at)),
    ]
}

fn html_header(html: &mut String, ctx: &AlertContext, subject: &str, summary: &str, accent: &str) {
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title></head>\n\
         <body style=\"margin:0;padding:0;background:#f3f4f6;\">\n\
         <div style=\"max-width:640px;margin:0 auto;padding:16px;background:#ffffff;color:#1f2937;\
         font-family:-apple-system,BlinkMacSystemFont,'PingFang SC','Hiragino Sans GB','Microsoft YaHei',sans-serif;\
         font-size:16px;line-height:1.6;word-wrap:break-word;overflow-wrap:break-word;\">\n\
         <p style=\"margin:0 0 4px;font-size:14px;font-weight:bold;color:{accent};\">{} · {}</p>\n\
         <h1 style=\"margin:0 0 12px;font-size:20px;line-height:1.4;\">{}</h1>\n\
         <table role=\"presentation\" style=\"width:100%;border-collapse:collapse;font-size:14px;margin:0 0 16px;\">",
        escape_html(subject),
        escape_html(&clean_line(&ctx.province)),
        escape_html(summary),
        escape_html(&clean_line(&ctx.title)),
    );
    let mut rows = info_rows(ctx);
    rows.push(("原文链接 Original", String::new()));
    for (label, value) in rows {
        let value = if label.starts_with("原文链接") {
            link_html(&ctx.url)
        } else {
            escape_html(&value)
        };
        let _ = write!(
            html,
            "<tr><td style=\"padding:2px 10px 2px 0;color:#6b7280;white-space:nowrap;vertical-align:top;\">{label}</td>\
             <td style=\"padding:2px 0;word-break:break-all;\">{value}</td></tr>"
        );
    }
    html.push_str("</table>\n");
}

/// The original's URL, linked only when it is http(s) (see
/// [`present::safe_href`]); shown as text otherwise.
fn link_html(url: &str) -> String {
    let shown = clean_line(url);
    present::link_html(url, &shown, " style=\"color:#1d4ed8;\"")
        .unwrap_or_else(|| escape_html(&shown))
}

fn finish(
    ctx: &AlertContext,
    kind: AlertKind,
    subject: String,
    mut text: String,
    mut html: String,
) -> Rendered {
    let _ = writeln!(text, "-- \nbulletin-watch · {}", clean_line(&ctx.source_id));
    let _ = write!(
        html,
        "\n<p style=\"margin:24px 0 0;padding-top:8px;border-top:1px solid #e5e7eb;font-size:12px;color:#9ca3af;\">bulletin-watch · {}</p>\n</div>\n</body></html>\n",
        escape_html(&clean_line(&ctx.source_id))
    );
    Rendered {
        kind,
        subject,
        text,
        html,
    }
}

fn kind_label(kind: ChangeKind) -> (&'static str, &'static str) {
    let color = match Tone::of(kind) {
        Tone::Good => "#166534",
        Tone::Bad => "#991b1b",
        Tone::Warn => "#b45309",
        Tone::Info => "#1d4ed8",
    };
    (present::change_label(kind), color)
}

fn change_location(change: &SectionChange) -> String {
    present::change_location_by(change, |p| clean_line(&p))
}

/// The spans of a change within the size budget, each cleaned for one
/// line, and whether the budget cut them short.
fn budgeted(spans: &[Span]) -> (Vec<Span>, bool) {
    let mut left = MAX_CHANGE_CHARS;
    let mut out = Vec::new();
    for span in spans {
        let (text, make): (&str, fn(String) -> Span) = match span {
            Span::Gap => {
                out.push(Span::Gap);
                continue;
            }
            Span::Equal(t) => (t, Span::Equal),
            Span::Insert(t) => (t, Span::Insert),
            Span::Delete(t) => (t, Span::Delete),
        };
        let text = clean_line(text);
        let n = text.chars().count();
        if n > left {
            out.push(make(prefix_chars(&text, left).to_string()));
            return (out, true);
        }
        left -= n;
        out.push(make(text));
    }
    (out, false)
}

const TRUNCATED: &str = "……（已截断 truncated）";

fn change_text(t: &mut String, change: &SectionChange) {
    let (label, _) = kind_label(change.kind);
    let _ = writeln!(t, "■ {label} · {}", change_location(change));
    let heading = clean_line(&change.heading);
    if !heading.is_empty() {
        let _ = writeln!(t, "  {heading}");
    }
    if change.inline.is_empty() {
        if change.kind == ChangeKind::Renumbered {
            t.push_str("  内容未变 Text unchanged\n");
        }
    } else {
        t.push_str("  ");
        let (spans, truncated) = budgeted(&change.inline);
        for span in spans {
            match span {
                Span::Equal(s) => t.push_str(&s),
                Span::Insert(s) => {
                    let _ = write!(t, "[+{s}+]");
                }
                Span::Delete(s) => {
                    let _ = write!(t, "[-{s}-]");
                }
                Span::Gap => t.push('…'),
            }
        }
        if truncated {
            t.push_str(TRUNCATED);
        }
        t.push('\n');
    }
    t.push('\n');
}

fn change_html(h: &mut String, change: &SectionChange) {
    let (label, color) = kind_label(change.kind);
    let _ = write!(
        h,
        "<div style=\"margin:0 0 14px;padding:2px 0 2px 10px;border-left:3px solid {color};\">\
         <p style=\"margin:0;font-size:14px;\"><b style=\"color:{color};\">{label}</b> · <b>{}</b></p>",
        escape_html(&change_location(change))
    );
    let heading = clean_line(&change.heading);
    if !heading.is_empty() {
        let _ = write!(
            h,
            "<p style=\"margin:0;color:#374151;\">{}</p>",
            escape_html(&heading)
        );
    }
    if change.inline.is_empty() {
        if change.kind == ChangeKind::Renumbered {
            h.push_str("<p style=\"margin:4px 0 0;color:#6b7280;\">内容未变 Text unchanged</p>");
        }
    } else {
        h.push_str("<p style=\"margin:4px 0 0;\">");
        let (spans, truncated) = budgeted(&change.inline);
        h.push_str(&present::spans_html(&spans, Side::Both, &EMAIL_MARKS));
        if truncated {
            let _ = write!(h, "<span style=\"color:#6b7280;\">{TRUNCATED}</span>");
        }
        h.push_str("</p>");
    }
    h.push_str("</div>\n");
}

fn ins_html(s: &str) -> String {
    diff_html::ins(&clean_line(s), &EMAIL_MARKS)
}

fn del_html(s: &str) -> String {
    diff_html::del(&clean_line(s), &EMAIL_MARKS)
}

/// Characters that can break a header, a line, or the visual order of text:
/// C0/C1 controls, Unicode line/paragraph separators and bidi overrides
/// (which can make a subject read differently from what it is).
pub(crate) fn is_hostile(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// Page text for a single line (subject, labels, inline diff): every control
/// character becomes a space, then whitespace is folded as for display.
fn clean_line(s: &str) -> String {
    let spaced: String = s
        .chars()
        .map(|c| if is_hostile(c) { ' ' } else { c })
        .collect();
    crate::text::display(&spaced)
}

/// Like [`clean_line`] but keeps line breaks (error messages, preambles).
fn clean_block(s: &str) -> String {
    s.replace("\r\n", "\n")
        .split(['\n', '\r'])
        .map(clean_line)
        .collect::<Vec<_>>()
        .join("\n")
}

fn truncate(s: &str, max_chars: usize) -> String {
    if s.chars().count() > max_chars {
        format!("{}…", prefix_chars(s, max_chars.saturating_sub(1)))
    } else {
        s.to_string()
    }
}

fn excerpt(s: &str, max_chars: usize) -> String {
    truncate(s, max_chars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Section;

    fn ctx() -> AlertContext {
        AlertContext {
            source_id: "jiangsu".into(),
            source_name: "江苏省应急管理厅".into(),
            province: "江苏省".into(),
            title: "全省应急管理工作会议召开".into(),
            url: "https://yjt.jiangsu.gov.cn/art/2025/1/15/art_1.html".into(),
            from_version: Some(1),
            to_version: 2,
            fetched_at: "2025-01-15T01:30:00Z".parse().expect("timestamp literal"),
        }
    }

    fn modified(path: &str, inline: Vec<Span>) -> SectionChange {
        SectionChange {
            kind: ChangeKind::Modified,
            path: path.into(),
            old_path: None,
            heading: "加强隐患排查".into(),
            inline,
        }
    }

    fn two_changes() -> DocDiff {
        DocDiff {
            title_changed: None,
            date_changed: None,
            changes: vec![
                modified(
                    "一、/(一)",
                    vec![
                        Span::Gap,
                        Span::Equal("排查".into()),
                        Span::Delete("三".into()),
                        Span::Insert("五".into()),
                        Span::Equal("类".into()),
                        Span::Gap,
                    ],
                ),
                SectionChange {
                    kind: ChangeKind::Renumbered,
                    path: "一、/(三)".into(),
                    old_path: Some("一、/(四)".into()),
                    heading: "强化值班值守".into(),
                    inline: vec![],
                },
            ],
        }
    }

    #[test]
    fn changed_subject_counts_sections() {
        let r = render_changed(&ctx(), &two_changes());
        assert_eq!(r.kind, AlertKind::Changed);
        assert_eq!(
            r.subject,
            "[bulletin-watch] 江苏省 · 2 节变更 · 全省应急管理工作会议召开"
        );
    }

    #[test]
    fn other_subjects() {
        let c = ctx();
        let doc = Document {
            title: c.title.clone(),
            published: None,
            encoding: "utf-8".into(),
            preamble: String::new(),
            sections: vec![],
        };
        assert_eq!(
            render_published(&c, &doc).subject,
            "[bulletin-watch] 江苏省 · 新发布 · 全省应急管理工作会议召开"
        );
        assert_eq!(
            render_failing(&c, "HTTP 503", Some(3)).subject,
            "[bulletin-watch] 江苏省 · 抓取失败 · 江苏省应急管理厅"
        );
        assert_eq!(
            render_recovered(&c).subject,
            "[bulletin-watch] 江苏省 · 已恢复 · 江苏省应急管理厅"
        );
    }

    #[test]
    fn subject_has_no_control_characters_and_is_bounded() {
        let mut c = ctx();
        c.title = format!(
            "会议\r\nBcc: evil@example.org\u{0}\u{202E}{}",
            "很长的标题".repeat(40)
        );
        let s = render_changed(&c, &two_changes()).subject;
        assert!(
            !s.chars().any(|ch| ch.is_control() || ch == '\u{202E}'),
            "{s:?}"
        );
        assert!(s.contains("会议Bcc: evil@example.org"), "{s:?}");
        assert!(s.ends_with('…'), "{s:?}");
        assert!(s.chars().count() <= 100, "{} chars", s.chars().count());
    }

    #[test]
    fn text_body_renders_inline_diff_and_gaps() {
        let r = render_changed(&ctx(), &two_changes());
        assert!(r.text.contains("…排查[-三-][+五+]类…"), "{}", r.text);
        assert!(r.text.contains("修改 modified · 一、/(一)"), "{}", r.text);
        assert!(r
            .text
            .contains("重新编号 renumbered · 一、/(四) → 一、/(三)"));
        assert!(r.text.contains("版本 Version: v1 → v2"));
        assert!(r
            .text
            .contains("抓取时间 Fetched: 2025-01-15 09:30:00 北京时间"));
        assert!(r
            .text
            .contains("原文链接 Original: https://yjt.jiangsu.gov.cn/art/2025/1/15/art_1.html"));
    }

    #[test]
    fn html_body_marks_changes_with_inline_styles() {
        let r = render_changed(&ctx(), &two_changes());
        assert!(r
            .html
            .contains(&format!("<del style=\"{DEL_STYLE}\">三</del>")));
        assert!(r
            .html
            .contains(&format!("<ins style=\"{INS_STYLE}\">五</ins>")));
        assert!(r
            .html
            .contains("<span style=\"color:#9ca3af;\">…</span>排查"));
        assert!(r.html.contains("max-width:640px"));
        assert!(!r.html.contains("<style"));
        assert!(!r.html.contains("<script"));
        assert!(r
            .html
            .contains("<a href=\"https://yjt.jiangsu.gov.cn/art/2025/1/15/art_1.html\""));
    }

    #[test]
    fn page_text_is_escaped_everywhere_in_html() {
        let mut c = ctx();
        c.title = "<script>alert(1)</script>".into();
        c.source_name = "源\"名'".into();
        c.url = "https://example.org/a?x=\"><script>&y=1".into();
        let mut d = two_changes();
        d.changes[0].heading = "<b>粗</b>".into();
        d.changes[0].inline = vec![Span::Insert("<img src=x onerror=alert(1)>".into())];
        d.title_changed = Some(("<i>旧</i>".into(), "<script>alert(1)</script>".into()));
        let r = render_changed(&c, &d);
        assert!(!r.html.contains("<script>"), "{}", r.html);
        assert!(!r.html.contains("<img"));
        assert!(!r.html.contains("<b>粗"));
        assert!(!r.html.contains("<i>旧"));
        assert!(r.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(r.html.contains("源&quot;名&#39;"));
        // In the attribute the URL is the parsed, percent-encoded form, and
        // any remaining special character is escaped.
        let href_start = r.html.find("<a href=\"").expect("http(s) URL is linked") + 9;
        let href_end = href_start + r.html[href_start..].find('"').expect("closing quote");
        let href = &r.html[href_start..href_end];
        assert!(!href.contains('<') && !href.contains('>'), "{href}");
    }

    #[test]
    fn only_http_urls_are_linked() {
        let mut c = ctx();
        c.url = "javascript:alert(1)".into();
        let r = render_recovered(&c);
        assert!(!r.html.contains("<a "), "{}", r.html);
        assert!(r.html.contains("javascript:alert(1)"));
    }

    #[test]
    fn published_lists_sections_with_excerpts() {
        let section = |label: &str, level: u8, heading: &str, text: &str| Section {
            label: label.into(),
            raw_label: label.into(),
            path: vec![label.into()],
            level,
            heading: heading.into(),
            text: text.into(),
        };
        let doc = Document {
            title: "全省应急管理工作会议召开".into(),
            published: Some(jiff::civil::date(2025, 1, 15)),
            encoding: "utf-8".into(),
            preamble: "1月15日，全省应急管理工作会议在南京召开。".into(),
            sections: vec![
                section("一、", 1, "总体要求", "坚持稳中求进。"),
                section("(一)", 2, "加强隐患排查", &"排查".repeat(100)),
            ],
        };
        let mut c = ctx();
        c.from_version = None;
        c.to_version = 1;
        let r = render_published(&c, &doc);
        assert!(
            r.text.contains("一、 总体要求\n  坚持稳中求进。"),
            "{}",
            r.text
        );
        assert!(r.text.contains("  (一) 加强隐患排查\n"), "{}", r.text);
        assert!(r.text.contains(&format!("{}…", "排查".repeat(39) + "排")));
        assert!(r.text.contains("版本 Version: v1\n"));
        assert!(r.text.contains("发布日期 Published: 2025-01-15"));
        assert!(r.html.contains("<b>(一)</b> 加强隐患排查"));
        assert!(r.html.contains("padding-left:14px;"));
    }

    #[test]
    fn long_added_section_is_truncated() {
        let mut d = two_changes();
        d.changes = vec![SectionChange {
            kind: ChangeKind::Added,
            path: "二、".into(),
            old_path: None,
            heading: "新增内容".into(),
            inline: vec![Span::Insert("字".repeat(MAX_CHANGE_CHARS * 3))],
        }];
        let r = render_changed(&ctx(), &d);
        assert!(r.text.contains(TRUNCATED));
        assert!(r.text.chars().count() < MAX_CHANGE_CHARS + 1000);
    }

    #[test]
    fn failing_alert_escapes_error_and_counts() {
        let r = render_failing(&ctx(), "bad <html>\r\nline two", Some(4));
        assert!(r.text.contains("连续失败 Consecutive failures: 4"));
        assert!(r.text.contains("bad <html>\nline two"));
        assert!(r.html.contains("bad &lt;html&gt;\nline two"));
    }

    #[test]
    fn failing_alert_without_a_recorded_count_says_so() {
        let r = render_failing(&ctx(), "HTTP 503", None);
        assert!(r
            .text
            .contains("连续失败 Consecutive failures: 未记录 not recorded"));
    }

    #[test]
    fn unavailable_alert_names_the_error_escaped() {
        let r = render_unavailable(&ctx(), AlertKind::Changed, "blob <abc> is missing");
        assert_eq!(r.kind, AlertKind::Changed);
        assert_eq!(
            r.subject,
            "[bulletin-watch] 江苏省 · 内容变更 · 全省应急管理工作会议召开"
        );
        assert!(r.text.contains("cannot be read") && r.text.contains("blob <abc> is missing"));
        assert!(r.html.contains("blob &lt;abc&gt; is missing"));
        let published = render_unavailable(&ctx(), AlertKind::Published, "x");
        assert!(published.subject.contains(" · 新发布 · "));
    }
}
