//! The markdown messages of WeCom (`markdown`: headings, bold, links,
//! quotes, `<font color="info|comment|warning">`) and DingTalk (`markdown`:
//! title + text; no tables, no code blocks), and the escaping that keeps
//! page text from being read as markup, links or mentions.

use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::model::{ChangeKind, Span};

use super::{beijing_time, ChatAlert, ChatKind, ChatSection};

/// What a robot adds to every message it sends.
#[derive(Debug, Clone, Copy)]
pub(super) struct Decor<'a> {
    pub keyword: Option<&'a str>,
    pub mention_mobiles: &'a [String],
    pub mention_all: bool,
}

/// Page text made inert for the markdown of both apps: markup characters
/// become their full-width forms, `@` cannot mention anyone, and bare URLs
/// and domain names are broken with a zero-width space so that the app
/// does not turn them into links. Control characters other than a line
/// break are dropped, a tab becomes a space.
pub(super) fn escape(text: &str) -> String {
    escape_with(text, true)
}

/// The same for plain-text elements (Feishu `post` text): only what the
/// app would still act on there, `<`, `>`, `@` and links.
pub(super) fn escape_plain(text: &str) -> String {
    escape_with(text, false)
}

const ZWSP: char = '\u{200B}';

fn escape_with(text: &str, markdown: bool) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    let mut line_start = true;
    for (i, &c) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).and_then(|p| chars.get(p)).copied();
        let next = chars.get(i + 1).copied();
        match c {
            '\n' => {
                out.push('\n');
                line_start = true;
                continue;
            }
            '\t' => out.push(' '),
            c if c.is_control() => continue,
            '<' => out.push('＜'),
            '>' => out.push('＞'),
            '@' => out.push('＠'),
            ':' if next == Some('/') && chars.get(i + 2) == Some(&'/') => {
                out.push(':');
                out.push(ZWSP);
            }
            '.' if prev.is_some_and(|p| p.is_ascii_alphanumeric())
                && next.is_some_and(|n| n.is_ascii_alphabetic()) =>
            {
                out.push('.');
                out.push(ZWSP);
            }
            '\\' if markdown => out.push('＼'),
            '*' if markdown => out.push('＊'),
            '_' if markdown => out.push('＿'),
            '`' if markdown => out.push('｀'),
            '[' if markdown => out.push('［'),
            ']' if markdown => out.push('］'),
            '#' if markdown => out.push('＃'),
            '~' if markdown => out.push('～'),
            '|' if markdown => out.push('｜'),
            '&' if markdown => out.push('＆'),
            '-' if markdown && line_start => out.push('－'),
            '+' if markdown && line_start => out.push('＋'),
            '=' if markdown && line_start => out.push('＝'),
            c => out.push(c),
        }
        line_start = line_start && c.is_whitespace();
    }
    out
}

/// A URL safe to put in `[text](url)`: http(s) only, percent-encoded, no
/// parentheses. `None` when it is not such a URL (then it is shown as
/// escaped text instead).
pub(super) fn link_target(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url.trim()).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return None;
    }
    Some(parsed.as_str().replace('(', "%28").replace(')', "%29"))
}

/// `【keyword】内容变更 · 江苏省（1/3）`: the first line of every part.
pub(super) fn headline(
    alert: &ChatAlert,
    numbering: Option<(usize, usize)>,
    decor: Decor,
) -> String {
    let mut line = String::new();
    if let Some(k) = decor.keyword {
        let _ = write!(line, "【{k}】");
    }
    line.push_str(alert.kind.label());
    if !alert.province.is_empty() {
        let _ = write!(line, " · {}", alert.province);
    }
    if let Some((i, n)) = numbering {
        let _ = write!(line, "（{i}/{n}）");
    }
    line
}

pub(super) fn change_label(section: &ChatSection) -> &'static str {
    match section.change {
        Some(ChangeKind::Added) => "新增",
        Some(ChangeKind::Removed) => "删除",
        Some(ChangeKind::Modified) => "修改",
        Some(ChangeKind::Renumbered) => "重编号",
        None => "",
    }
}

/// The spans of a section as lines of marked-up text: `mark(kind, text)`
/// wraps one escaped piece of an inserted or deleted span; a line break in
/// the page text starts a new line, markup never crosses one.
pub(super) fn span_lines(
    spans: &[Span],
    esc: fn(&str) -> String,
    mark: impl Fn(Mark, &str) -> String,
) -> Vec<String> {
    let mut lines = vec![String::new()];
    for span in spans {
        let (kind, text) = match span {
            Span::Equal(t) => (Mark::Equal, t.as_str()),
            Span::Insert(t) => (Mark::Insert, t.as_str()),
            Span::Delete(t) => (Mark::Delete, t.as_str()),
            Span::Gap => (Mark::Gap, "…"),
        };
        for (n, piece) in text.split('\n').enumerate() {
            if n > 0 {
                lines.push(String::new());
            }
            if piece.is_empty() {
                continue;
            }
            let escaped = if kind == Mark::Gap {
                piece.to_string()
            } else {
                esc(piece)
            };
            if let Some(line) = lines.last_mut() {
                line.push_str(&mark(kind, &escaped));
            }
        }
    }
    lines.retain(|l| !l.trim().is_empty());
    lines
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mark {
    Equal,
    Insert,
    Delete,
    Gap,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Wecom,
    Dingtalk,
}

fn markdown_text(
    flavor: Flavor,
    alert: &ChatAlert,
    sections: &[ChatSection],
    numbering: Option<(usize, usize)>,
    decor: Decor,
    mentions: bool,
) -> String {
    // WeCom breaks lines at "\n"; DingTalk wants a blank line between
    // paragraphs.
    let (nl, gap) = match flavor {
        Flavor::Wecom => ("\n", "\n"),
        Flavor::Dingtalk => ("\n\n", ""),
    };
    let mark = |kind: Mark, text: &str| match (flavor, kind) {
        (_, Mark::Equal | Mark::Gap) => text.to_string(),
        (Flavor::Wecom, Mark::Insert) => format!("<font color=\"info\">[+{text}+]</font>"),
        (Flavor::Wecom, Mark::Delete) => format!("<font color=\"warning\">[-{text}-]</font>"),
        (Flavor::Dingtalk, Mark::Insert) => format!("**[+{text}+]**"),
        (Flavor::Dingtalk, Mark::Delete) => format!("[-{text}-]"),
    };
    let mut t = String::new();
    let _ = write!(t, "### {}{nl}", headline(alert, numbering, decor));
    let _ = write!(t, "**{}**{nl}", escape(&alert.title));
    let _ = write!(t, "> 版本：{}{nl}", escape(&alert.version));
    let _ = write!(t, "> 抓取：{}{nl}", beijing_time(alert.fetched_at));
    if let Some(summary) = &alert.summary {
        for line in summary.lines().filter(|l| !l.trim().is_empty()) {
            let _ = write!(t, "> {}{nl}", escape(line));
        }
    }
    for section in sections {
        t.push_str(gap);
        let _ = write!(t, "**{}**", escape(&section.heading));
        let label = change_label(section);
        if !label.is_empty() {
            let _ = write!(t, "（{label}）");
        }
        if section.continued {
            t.push_str("（续）");
        }
        t.push_str(nl);
        for line in span_lines(&section.spans, escape, mark) {
            let _ = write!(t, "> {line}{nl}");
        }
    }
    t.push_str(gap);
    match link_target(&alert.url) {
        Some(url) => {
            let _ = write!(t, "[原文链接]({url})");
        }
        None => {
            let _ = write!(t, "原文链接：{}", escape(&alert.url));
        }
    }
    if let Some(diff) = alert.diff_url.as_deref().and_then(link_target) {
        let _ = write!(t, " · [差异页]({diff})");
    }
    t.push_str(nl);
    if alert.kind == ChatKind::Changed && !sections.is_empty() {
        let legend = match flavor {
            Flavor::Wecom => "<font color=\"comment\">标记：[+新增+] [-删除-] …省略未变内容</font>",
            Flavor::Dingtalk => "标记：**[+新增+]** [-删除-] …省略未变内容",
        };
        let _ = write!(t, "{legend}{nl}");
    }
    if mentions && flavor == Flavor::Dingtalk {
        let at: Vec<String> = decor
            .mention_mobiles
            .iter()
            .map(|m| format!("@{m}"))
            .collect();
        if !at.is_empty() {
            let _ = write!(t, "{}{nl}", at.join(" "));
        }
    }
    t
}

/// WeCom `markdown` content (the part WeCom counts against 4,096 bytes).
pub(super) fn wecom_content(
    alert: &ChatAlert,
    sections: &[ChatSection],
    numbering: Option<(usize, usize)>,
    decor: Decor,
) -> String {
    markdown_text(Flavor::Wecom, alert, sections, numbering, decor, false)
}

pub(super) fn wecom_markdown(content: String) -> Value {
    json!({"msgtype": "markdown", "markdown": {"content": content}})
}

/// WeCom's markdown cannot mention by mobile number, only its `text`
/// message can: with mentions configured, a short `text` follows the parts.
pub(super) fn wecom_mention(alert: &ChatAlert, decor: Decor) -> Option<Value> {
    if decor.mention_mobiles.is_empty() && !decor.mention_all {
        return None;
    }
    let mut mobiles: Vec<String> = decor.mention_mobiles.to_vec();
    if decor.mention_all {
        mobiles.push("@all".to_string());
    }
    let content = format!(
        "{}：{}",
        headline(alert, None, decor),
        escape_plain(&alert.title)
    );
    Some(json!({
        "msgtype": "text",
        "text": {"content": content, "mentioned_mobile_list": mobiles},
    }))
}

/// DingTalk `markdown` body; mentions go on the first part only.
pub(super) fn dingtalk_body(
    alert: &ChatAlert,
    sections: &[ChatSection],
    numbering: Option<(usize, usize)>,
    decor: Decor,
    mentions: bool,
) -> Value {
    let text = markdown_text(
        Flavor::Dingtalk,
        alert,
        sections,
        numbering,
        decor,
        mentions,
    );
    let mut body = json!({
        "msgtype": "markdown",
        "markdown": {"title": headline(alert, numbering, decor), "text": text},
    });
    if mentions && (!decor.mention_mobiles.is_empty() || decor.mention_all) {
        body["at"] = json!({"atMobiles": decor.mention_mobiles, "isAtAll": decor.mention_all});
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_markup_links_and_mentions() {
        let e = escape("**粗** [链](http://x.cn) <font> #标题 @所有人 a_b `c` ~d~ |e| \\f &amp;");
        for bad in [
            "*", "[", "]", "<", ">", "#", "@", "_", "`", "~", "|", "\\", "&", "http://",
        ] {
            assert!(!e.contains(bad), "{bad:?} left in {e}");
        }
        assert!(e.contains("粗") && e.contains("标题"));
        assert_eq!(
            escape("见www.mem.gov.cn"),
            "见www.\u{200B}mem.\u{200B}gov.\u{200B}cn"
        );
        assert_eq!(escape("1.5亿元"), "1.5亿元");
        assert_eq!(
            escape("- 列表\n+ 加\n=== 标题"),
            "－ 列表\n＋ 加\n＝== 标题"
        );
        assert_eq!(escape("a - b"), "a - b");
        assert_eq!(escape("\u{7}x\ty"), "x y");
        assert_eq!(
            escape_plain("a*b <at> https://x.cn"),
            "a*b ＜at＞ https:\u{200B}//x.\u{200B}cn"
        );
    }

    #[test]
    fn link_targets_are_http_and_cannot_close_the_link() {
        assert_eq!(
            link_target("https://yjt.jiangsu.gov.cn/a(1).html").as_deref(),
            Some("https://yjt.jiangsu.gov.cn/a%281%29.html")
        );
        assert_eq!(link_target("javascript:alert(1)"), None);
        assert_eq!(link_target("not a url"), None);
    }

    #[test]
    fn span_lines_never_carry_markup_across_a_line_break() {
        let spans = vec![
            Span::Equal("甲".into()),
            Span::Insert("乙\n丙".into()),
            Span::Gap,
            Span::Delete("丁".into()),
        ];
        let lines = span_lines(&spans, escape, |k, t| match k {
            Mark::Insert => format!("<i>{t}</i>"),
            Mark::Delete => format!("<d>{t}</d>"),
            _ => t.to_string(),
        });
        assert_eq!(lines, vec!["甲<i>乙</i>", "<i>丙</i>…<d>丁</d>"]);
    }
}
