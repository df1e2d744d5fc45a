//! Alerts: rendering a change or a newly published deployment into an e-mail
//! that reads well on a phone, and delivering it over SMTP (lettre) or, when
//! no SMTP server is configured, as `.eml` files in `<store>/mail/`.
//!
//! Durability lives elsewhere: an alert is written to the store's outbox in
//! the same transaction as the version that caused it, rendered from the
//! store by [`crate::alert`] and only then handed to a [`Mailer`]. The stable
//! Message-ID makes a retried delivery recognisable as the same message.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use jiff::tz::{self, TimeZone};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::AsyncSmtpTransportBuilder;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::{Deserialize, Serialize};

use crate::config::MailConfig;
use crate::model::{AlertKind, ChangeKind, DocDiff, Document, SectionChange, Span, PREAMBLE};
use crate::text::{escape_html, prefix_chars};

/// A fully rendered message, ready to send as is, any number of times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Stable Message-ID (without angle brackets), e.g. `alert-42.jiangsu@bulletin-watch`.
    pub message_id: String,
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
}

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

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("invalid mail address {0:?}: {1}")]
    Address(String, String),
    #[error("invalid SMTP URL {url:?}: {reason}")]
    SmtpUrl { url: String, reason: String },
    #[error("could not build message: {0}")]
    Build(String),
    #[error("SMTP delivery failed: {0}")]
    Smtp(String),
    /// The server answered with a permanent (5xx) refusal: retrying soon
    /// will not help, a person must look (recipient, relay rules).
    #[error("SMTP server refused the message permanently: {0}")]
    Rejected(String),
    #[error("writing {path}: {source}")]
    File {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

impl NotifyError {
    /// Whether retrying the same message cannot succeed without someone
    /// changing the configuration (a refused or invalid recipient).
    pub fn is_permanent(&self) -> bool {
        matches!(self, NotifyError::Rejected(_) | NotifyError::Address(..))
    }
}

// ---------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------

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

/// Readers are in China and think in Beijing time, whatever the server's zone.
const READER_TZ: &str = "Asia/Shanghai";

/// Subject and both bodies of an alert, before addressing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub kind: AlertKind,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Message {
    /// Addresses a rendered alert. `message_id` must stay the same for every
    /// delivery attempt of this alert (see [`alert_message_id`]).
    pub fn new(
        message_id: impl Into<String>,
        from: impl Into<String>,
        to: Vec<String>,
        rendered: Rendered,
    ) -> Message {
        Message {
            message_id: message_id.into(),
            from: from.into(),
            to,
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
        }
    }

    /// The message exactly as it goes on the wire (RFC 5322, CRLF line ends).
    pub fn formatted(&self) -> Result<Vec<u8>, NotifyError> {
        Ok(build_email(self)?.formatted())
    }
}

/// A Message-ID that is stable per outbox entry and safe as a file name:
/// `alert-<id>.<source>@bulletin-watch`.
pub fn alert_message_id(alert_id: u64, source_id: &str) -> String {
    let mut source: String = source_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if source.is_empty() {
        source.push_str("source");
    }
    format!("alert-{alert_id}.{source}@bulletin-watch")
}

/// Alert for a new version of a watched article.
pub fn render_changed(ctx: &AlertContext, diff: &DocDiff) -> Rendered {
    let summary = if !diff.changes.is_empty() {
        format!("{} 节变更", diff.changes.len())
    } else if diff.title_changed.is_some() {
        "标题变更".to_string()
    } else if diff.date_changed.is_some() {
        "日期变更".to_string()
    } else {
        "内容变更".to_string()
    };
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
        let show =
            |d: &Option<jiff::civil::Date>| d.map_or_else(|| "—".to_string(), |d| d.to_string());
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
        let _ = writeln!(text, "导语 Preamble: {excerpt}\n");
        let _ = write!(
            html,
            "<p style=\"margin:0 0 12px;color:#374151;\"><b>导语 Preamble</b><br>{}</p>",
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

const ACCENT_CHANGED: &str = "#b45309";
const ACCENT_PUBLISHED: &str = "#1d4ed8";
const ACCENT_FAILING: &str = "#b91c1c";
const ACCENT_RECOVERED: &str = "#047857";
const H2: &str =
    "margin:20px 0 10px;padding-bottom:4px;font-size:17px;border-bottom:1px solid #e5e7eb;";
const INS_STYLE: &str = "background:#dcfce7;color:#166534;text-decoration:underline;";
const DEL_STYLE: &str = "background:#fee2e2;color:#991b1b;text-decoration:line-through;";

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

/// Beijing time, labelled with its offset so nobody has to guess.
pub fn reader_time(ts: jiff::Timestamp) -> String {
    let zoned = ts
        .in_tz(READER_TZ)
        .unwrap_or_else(|_| ts.to_zoned_datetime(TimeZone::fixed(tz::offset(8))));
    format!(
        "{} 北京时间 (UTC+08:00)",
        zoned.strftime("%Y-%m-%d %H:%M:%S")
    )
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
        ("抓取时间 Fetched", reader_time(ctx.fetched_at)),
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

/// Only http(s) URLs become links: a page could carry `javascript:` or a
/// `data:` URL, and the link is what a hurried reader taps.
fn link_html(url: &str) -> String {
    let shown = escape_html(&clean_line(url));
    match url::Url::parse(url.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {
            format!(
                "<a href=\"{}\" style=\"color:#1d4ed8;\">{shown}</a>",
                escape_html(u.as_str())
            )
        }
        _ => shown,
    }
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
    match kind {
        ChangeKind::Added => ("新增 Added", "#166534"),
        ChangeKind::Removed => ("删除 Removed", "#991b1b"),
        ChangeKind::Modified => ("修改 Modified", "#b45309"),
        ChangeKind::Renumbered => ("重新编号 Renumbered", "#1d4ed8"),
    }
}

fn path_label(path: &str) -> String {
    if path == PREAMBLE {
        "导语 Preamble".to_string()
    } else {
        clean_line(path)
    }
}

fn change_location(change: &SectionChange) -> String {
    match (&change.old_path, change.kind) {
        (Some(old), _) if *old != change.path => {
            format!("{} → {}", path_label(old), path_label(&change.path))
        }
        _ => path_label(&change.path),
    }
}

/// One piece of an inline diff after the size budget was applied.
enum Piece {
    Equal(String),
    Insert(String),
    Delete(String),
    Gap,
    Truncated,
}

fn budgeted(spans: &[Span]) -> Vec<Piece> {
    let mut left = MAX_CHANGE_CHARS;
    let mut out = Vec::new();
    for span in spans {
        let (text, make): (&str, fn(String) -> Piece) = match span {
            Span::Gap => {
                out.push(Piece::Gap);
                continue;
            }
            Span::Equal(t) => (t, Piece::Equal),
            Span::Insert(t) => (t, Piece::Insert),
            Span::Delete(t) => (t, Piece::Delete),
        };
        let text = clean_line(text);
        let n = text.chars().count();
        if n > left {
            out.push(make(prefix_chars(&text, left).to_string()));
            out.push(Piece::Truncated);
            return out;
        }
        left -= n;
        out.push(make(text));
    }
    out
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
        for piece in budgeted(&change.inline) {
            match piece {
                Piece::Equal(s) => t.push_str(&s),
                Piece::Insert(s) => {
                    let _ = write!(t, "[+{s}+]");
                }
                Piece::Delete(s) => {
                    let _ = write!(t, "[-{s}-]");
                }
                Piece::Gap => t.push('…'),
                Piece::Truncated => t.push_str(TRUNCATED),
            }
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
        for piece in budgeted(&change.inline) {
            match piece {
                Piece::Equal(s) => h.push_str(&escape_html(&s)),
                Piece::Insert(s) => h.push_str(&ins_html(&s)),
                Piece::Delete(s) => h.push_str(&del_html(&s)),
                Piece::Gap => h.push_str("<span style=\"color:#9ca3af;\">…</span>"),
                Piece::Truncated => {
                    let _ = write!(h, "<span style=\"color:#6b7280;\">{TRUNCATED}</span>");
                }
            }
        }
        h.push_str("</p>");
    }
    h.push_str("</div>\n");
}

fn ins_html(s: &str) -> String {
    format!(
        "<ins style=\"{INS_STYLE}\">{}</ins>",
        escape_html(&clean_line(s))
    )
}

fn del_html(s: &str) -> String {
    format!(
        "<del style=\"{DEL_STYLE}\">{}</del>",
        escape_html(&clean_line(s))
    )
}

/// Characters that can break a header, a line, or the visual order of text:
/// C0/C1 controls, Unicode line/paragraph separators and bidi overrides
/// (which can make a subject read differently from what it is).
fn is_hostile(c: char) -> bool {
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

// ---------------------------------------------------------------------------
// Delivery
// ---------------------------------------------------------------------------

/// Per SMTP command (connect, greeting, each reply).
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);
/// For a whole delivery: a server that answers slowly but never finishes must
/// not hold up the check loop.
const SEND_DEADLINE: Duration = Duration::from_secs(120);

/// Where alerts go.
#[derive(Debug)]
pub enum Mailer {
    Smtp(Box<SmtpMailer>),
    /// `.eml` files in this directory, one per Message-ID.
    Files(PathBuf),
}

/// An SMTP relay. The lettre transport (with its connection pool) is built on
/// first use, because building it spawns a tokio task and configuration is
/// loaded before the runtime exists.
pub struct SmtpMailer {
    builder: AsyncSmtpTransportBuilder,
    transport: OnceLock<AsyncSmtpTransport<Tokio1Executor>>,
    /// The URL without its password, for logs and errors.
    shown: String,
    /// Strings that must never appear in anything this mailer reports.
    secrets: Vec<String>,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("url", &self.shown)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// No `smtp_url` means files in `<store>/mail/`: alerts are kept, not lost,
    /// on a machine that has no relay yet.
    pub fn from_config(mail: &MailConfig, store_dir: &Path) -> Result<Mailer, NotifyError> {
        match mail.smtp_url.as_deref().map(str::trim) {
            None | Some("") => Ok(Mailer::Files(store_dir.join("mail"))),
            Some(url) => SmtpMailer::new(url, mail.username.as_deref(), mail.password.as_deref())
                .map(|s| Mailer::Smtp(Box::new(s))),
        }
    }

    /// For logs; never contains a password.
    pub fn describe(&self) -> String {
        match self {
            Mailer::Smtp(s) => format!("SMTP {}", s.shown),
            Mailer::Files(dir) => format!(".eml files in {}", dir.display()),
        }
    }

    /// Delivers one message. Sending the same message again is safe for the
    /// file mailer (one file per Message-ID) and recognisable for SMTP
    /// readers (same Message-ID).
    pub async fn send(&self, msg: &Message) -> Result<(), NotifyError> {
        let email = build_email(msg)?;
        match self {
            Mailer::Smtp(s) => s.send(email).await,
            Mailer::Files(dir) => {
                let dir = dir.clone();
                let id = msg.message_id.clone();
                let bytes = email.formatted();
                let target = dir.clone();
                tokio::task::spawn_blocking(move || write_eml(&dir, &id, &bytes))
                    .await
                    .map_err(|e| NotifyError::File {
                        path: target,
                        source: std::io::Error::other(e.to_string()),
                    })?
            }
        }
    }
}

impl SmtpMailer {
    fn new(
        url: &str,
        username: Option<&str>,
        password: Option<&str>,
    ) -> Result<SmtpMailer, NotifyError> {
        let parsed = url::Url::parse(url).map_err(|e| NotifyError::SmtpUrl {
            url: redact_unparsed(url),
            reason: e.to_string(),
        })?;
        let shown = redact(&parsed);
        if !matches!(parsed.scheme(), "smtp" | "smtps") {
            return Err(NotifyError::SmtpUrl {
                url: shown,
                reason: "scheme must be smtp:// or smtps://".into(),
            });
        }
        let mut secrets = Vec::new();
        if let Some(p) = parsed.password() {
            secrets.push(p.to_string());
            secrets.push(percent_decode(p));
        }
        if let Some(p) = password {
            secrets.push(p.to_string());
        }
        secrets.retain(|s| !s.is_empty());

        let scrub = |s: String| scrub_secrets(s, &secrets);
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| NotifyError::SmtpUrl {
                url: shown.clone(),
                reason: scrub(e.to_string()),
            })?
            .timeout(Some(SMTP_TIMEOUT));
        let mut shown = shown;
        if let (Some(user), Some(pass)) = (username, password) {
            builder = builder.credentials(Credentials::new(user.to_string(), pass.to_string()));
            let _ = write!(shown, " (user {user})");
        }
        Ok(SmtpMailer {
            builder,
            transport: OnceLock::new(),
            shown,
            secrets,
        })
    }

    async fn send(&self, email: lettre::Message) -> Result<(), NotifyError> {
        let transport = self.transport.get_or_init(|| self.builder.clone().build());
        match tokio::time::timeout(SEND_DEADLINE, transport.send(email)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if e.is_permanent() => Err(NotifyError::Rejected(scrub_secrets(
                format!("{}: {e}", self.shown),
                &self.secrets,
            ))),
            Ok(Err(e)) => Err(NotifyError::Smtp(scrub_secrets(
                format!("{}: {e}", self.shown),
                &self.secrets,
            ))),
            Err(_) => Err(NotifyError::Smtp(format!(
                "{}: not finished after {} s",
                self.shown,
                SEND_DEADLINE.as_secs()
            ))),
        }
    }
}

/// `scheme://user@host:port/path?query` — the password, if any, dropped.
fn redact(u: &url::Url) -> String {
    let mut u = u.clone();
    if u.password().is_some() {
        let _ = u.set_password(None);
    }
    u.to_string()
}

/// An unparseable URL may still hold `user:password@`: keep only the scheme
/// and what follows the last `@`.
fn redact_unparsed(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        (None, Some(at)) => format!("***{}", &url[at..]),
        _ => url.to_string(),
    }
}

fn scrub_secrets(mut s: String, secrets: &[String]) -> String {
    for secret in secrets {
        if !secret.is_empty() && s.contains(secret.as_str()) {
            s = s.replace(secret.as_str(), "***");
        }
    }
    s
}

/// The Message-ID doubles as a file name, so it is held to a strict subset
/// of RFC 5322's `id-left@id-right`.
fn check_message_id(id: &str) -> Result<(), NotifyError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+' | '=');
    let valid = match id.split_once('@') {
        Some((left, right)) => {
            !left.is_empty()
                && !right.is_empty()
                && id.len() <= 200
                && !id.starts_with('.')
                && left.chars().all(ok_char)
                && right.chars().all(ok_char)
        }
        None => false,
    };
    if valid {
        Ok(())
    } else {
        Err(NotifyError::Build(format!(
            "unusable Message-ID {id:?}: expected left@right of [A-Za-z0-9._+=-]"
        )))
    }
}

fn parse_mailbox(addr: &str) -> Result<Mailbox, NotifyError> {
    addr.parse::<Mailbox>()
        .map_err(|e| NotifyError::Address(addr.to_string(), e.to_string()))
}

fn build_email(msg: &Message) -> Result<lettre::Message, NotifyError> {
    check_message_id(&msg.message_id)?;
    if msg.to.is_empty() {
        return Err(NotifyError::Build("no recipients".into()));
    }
    // The subject is sanitised again here: a Message is plain data, and not
    // every one is built by the renderers above.
    let mut builder = lettre::Message::builder()
        .from(parse_mailbox(&msg.from)?)
        .subject(
            msg.subject
                .chars()
                .map(|c| if is_hostile(c) { ' ' } else { c })
                .collect::<String>(),
        )
        .date_now()
        .message_id(Some(format!("<{}>", msg.message_id)))
        .user_agent("bulletin-watch".to_string());
    for to in &msg.to {
        builder = builder.to(parse_mailbox(to)?);
    }
    builder
        .multipart(MultiPart::alternative_plain_html(
            msg.text.clone(),
            msg.html.clone(),
        ))
        .map_err(|e| NotifyError::Build(e.to_string()))
}

/// Crash-safe and idempotent: the file appears complete or not at all, and
/// an existing `<id>.eml` is never replaced (a pickup process that already
/// forwarded it must not see a "new" file).
fn write_eml(dir: &Path, message_id: &str, bytes: &[u8]) -> Result<(), NotifyError> {
    use std::io::Write;
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| NotifyError::File { path, source }
    };

    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(io_err(dir))?;

    let target = dir.join(format!("{message_id}.eml"));
    if target.exists() {
        return Ok(());
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = dir.join(format!(".{message_id}.{}.{nanos}.tmp", std::process::id()));

    let result = (|| {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut file = opts.open(&tmp).map_err(io_err(&tmp))?;
        file.write_all(bytes).map_err(io_err(&tmp))?;
        file.sync_all().map_err(io_err(&tmp))?;
        drop(file);
        // A hard link fails if the target exists, where rename would replace
        // it: that keeps two concurrent deliveries of one alert to one file.
        match std::fs::hard_link(&tmp, &target) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(_) => std::fs::rename(&tmp, &target).map_err(io_err(&target)),
        }
    })();
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) if result.is_ok() => return Err(io_err(&tmp)(e)),
        Err(_) => {}
    }
    result?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

/// `%XX` decoding for a password taken from the URL, so that its decoded
/// form is scrubbed from error messages too.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Combines several queued alerts for the same recipients into one message
/// (digest mode): an index of their subjects, then each alert's body in turn.
/// `message_id` must be derived from the alerts it covers, so that a retried
/// digest keeps its id.
pub fn digest(message_id: String, messages: &[Message]) -> Message {
    let n = messages.len();
    let subject = format!("[bulletin-watch] 摘要 Digest · {n} 条提醒 alerts");
    let mut text = format!("{subject}\n\n");
    let mut html = String::from(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"></head>\n\
         <body style=\"margin:0;padding:0;background:#f3f4f6;\">\n\
         <div style=\"max-width:640px;margin:0 auto;padding:16px;background:#ffffff;color:#1f2937;\
         font-family:-apple-system,BlinkMacSystemFont,'PingFang SC','Hiragino Sans GB','Microsoft YaHei',sans-serif;\">\n",
    );
    let _ = write!(
        html,
        "<h1 style=\"font-size:20px;margin:0 0 12px;\">{}</h1>\n<ol style=\"padding-left:20px;\">",
        escape_html(&subject)
    );
    for (i, m) in messages.iter().enumerate() {
        // Subjects were cleaned when rendered; only keep them on one line.
        let line: String = m
            .subject
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let _ = writeln!(text, "{}. {line}", i + 1);
        let _ = write!(html, "<li>{}</li>", escape_html(&line));
    }
    html.push_str("</ol>\n</div>\n");
    for m in messages {
        let _ = write!(text, "\n{}\n\n{}", "=".repeat(40), m.text);
        // Each alert's own (already escaped) body, without its document shell.
        let inner = m
            .html
            .split_once("<body")
            .and_then(|(_, rest)| rest.split_once('>'))
            .map(|(_, body)| body.rsplit_once("</body>").map_or(body, |(b, _)| b))
            .unwrap_or("");
        html.push_str("<hr style=\"border:0;border-top:4px solid #e5e7eb;margin:0;\">\n");
        html.push_str(inner);
    }
    html.push_str("</body></html>\n");
    let mut to: Vec<String> = messages.iter().flat_map(|m| m.to.iter().cloned()).collect();
    to.sort();
    to.dedup();
    Message {
        message_id,
        from: messages.first().map(|m| m.from.clone()).unwrap_or_default(),
        to,
        subject,
        text,
        html,
    }
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
        assert!(r.text.contains("修改 Modified · 一、/(一)"), "{}", r.text);
        assert!(r
            .text
            .contains("重新编号 Renumbered · 一、/(四) → 一、/(三)"));
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

    #[test]
    fn reader_time_is_beijing() {
        let ts: jiff::Timestamp = "2024-12-31T16:05:09Z".parse().expect("timestamp literal");
        assert_eq!(reader_time(ts), "2025-01-01 00:05:09 北京时间 (UTC+08:00)");
    }

    #[test]
    fn message_ids() {
        assert_eq!(
            alert_message_id(42, "jiangsu"),
            "alert-42.jiangsu@bulletin-watch"
        );
        assert_eq!(
            alert_message_id(7, "../江苏"),
            "alert-7.-----@bulletin-watch"
        );
        assert!(check_message_id(&alert_message_id(7, "../江苏")).is_ok());
        for bad in ["", "no-at", "a/b@c", "a@b\r\nBcc: x", ".hidden@x", "a@"] {
            assert!(check_message_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn formatted_message_has_stable_id_and_no_injected_header() {
        let mut c = ctx();
        c.title = "标题\r\nBcc: evil@example.org".into();
        let msg = Message::new(
            "alert-1.jiangsu@bulletin-watch",
            "bulletin-watch <bw@example.org>",
            vec!["ops@example.org".into()],
            render_changed(&c, &two_changes()),
        );
        let raw = String::from_utf8(msg.formatted().expect("valid message")).expect("ascii");
        assert!(raw.contains("Message-ID: <alert-1.jiangsu@bulletin-watch>\r\n"));
        assert!(!raw.to_ascii_lowercase().contains("\nbcc:"), "{raw}");

        // A subject that did not come from the renderer.
        let mut raw_subject = msg.clone();
        raw_subject.subject = "plain\r\nBcc: evil@example.org".into();
        let raw = String::from_utf8(raw_subject.formatted().expect("valid")).expect("ascii");
        assert!(!raw.to_ascii_lowercase().contains("\nbcc:"), "{raw}");
    }

    #[test]
    fn bad_address_is_named() {
        let msg = Message::new(
            "a@b",
            "bw@example.org",
            vec!["ops@example.org".into(), "not an address".into()],
            render_recovered(&ctx()),
        );
        match msg.formatted() {
            Err(NotifyError::Address(a, _)) => assert_eq!(a, "not an address"),
            other => panic!("expected Address error, got {other:?}"),
        }
    }

    #[test]
    fn passwords_never_shown() {
        let mail = MailConfig {
            from: "bw@example.org".into(),
            to: vec!["ops@example.org".into()],
            smtp_url: Some("smtp://alerts:s%40cret@127.0.0.1:2525".into()),
            username: Some("alerts".into()),
            password: Some("hunter2".into()),
            ..MailConfig::default()
        };
        let m = Mailer::from_config(&mail, Path::new("/tmp/store")).expect("valid URL");
        let shown = format!("{} {m:?}", m.describe());
        assert!(shown.contains("127.0.0.1:2525"), "{shown}");
        for secret in ["s%40cret", "s@cret", "hunter2"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert_eq!(redact_unparsed("smtp://u:pw@ho st"), "smtp://***@ho st");
        assert_eq!(percent_decode("s%40cret%zz"), "s@cret%zz");
        assert_eq!(
            scrub_secrets("auth failed for hunter2".into(), &["hunter2".into()]),
            "auth failed for ***"
        );
    }

    #[test]
    fn no_smtp_url_means_files() {
        let m = Mailer::from_config(&MailConfig::default(), Path::new("/srv/bw")).expect("files");
        match m {
            Mailer::Files(dir) => assert_eq!(dir, Path::new("/srv/bw/mail")),
            other => panic!("expected Files, got {other:?}"),
        }
        let bad = MailConfig {
            smtp_url: Some("http://example.org".into()),
            ..MailConfig::default()
        };
        assert!(matches!(
            Mailer::from_config(&bad, Path::new("/srv/bw")),
            Err(NotifyError::SmtpUrl { .. })
        ));
    }

    #[test]
    fn digest_indexes_and_carries_every_alert_body() {
        let mk = |id: &str, subject: &str, body: &str, to: &str| Message {
            message_id: id.into(),
            from: "bw@example.org".into(),
            to: vec![to.into()],
            subject: subject.into(),
            text: format!("text {body}"),
            html: format!(
                "<!DOCTYPE html><html><head></head><body style=\"x\"><p>{body}</p></body></html>"
            ),
        };
        let d = digest(
            "digest.1@bulletin-watch".into(),
            &[
                mk("a", "上海市 · 1 节变更", "甲<b>", "x@example.org"),
                mk("b", "浙江省 · 2 节变更", "乙", "x@example.org"),
            ],
        );
        assert_eq!(d.message_id, "digest.1@bulletin-watch");
        assert!(d.subject.contains("2 条提醒"));
        assert_eq!(d.to, vec!["x@example.org".to_string()]);
        for part in [
            "上海市 · 1 节变更",
            "浙江省 · 2 节变更",
            "text 甲<b>",
            "text 乙",
        ] {
            assert!(d.text.contains(part), "{part}");
        }
        assert!(d.html.contains("<p>甲<b></p>") && d.html.contains("<p>乙</p>"));
        assert_eq!(d.html.matches("<body").count(), 1, "one document shell");
    }
}
