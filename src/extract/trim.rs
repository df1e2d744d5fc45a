//! The edges of the body. CMS templates print the headline again, a
//! breadcrumb, the info line (来源 发布时间 浏览次数 字号), a 文号 or a photo
//! caption above the article, and 附件 lists, print/close links, the
//! editor's name and the issuing office's sign-off below it. None of it is
//! the article, and the counters in it change on every request; this is
//! where they are taken off, before the sections are read.

use std::sync::LazyLock;

use regex::Regex;

use crate::model::Block;
use crate::text;

/// What was taken off, for `--explain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trimmed {
    /// Why the line was left out (e.g. `info line`).
    pub reason: &'static str,
    pub text: String,
}

/// The patterns spell out their classes (`[0-9]`, CJK's basic block, the
/// spaces pages use) instead of Unicode's `\d`, `\s` and `\p{Han}`, which
/// compile into large automata: extraction runs once per process in `parse`
/// and the page text is display-normalised already.
fn re(p: &str) -> Regex {
    Regex::new(p).unwrap_or_else(|e| panic!("static regex: {e}"))
}

static BREADCRUMB: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^(?:当前位置|您的位置|您现在的位置|您所在的位置|所在位置|位置)[ \t\x{3000}]*[:：]")
});

/// Labels of the article's info line.
static INFO_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"(?:发布时间|发布日期|发文日期|成文日期|日期|时间|文章来源|信息来源|来源|作者|记者|",
        r"编辑|责任编辑|浏览次数|浏览量|浏览|点击数|点击量|点击|阅读量|阅读|访问量|访问次数|",
        r"字号|字体|发布机构|发布者)[ \t\x{3000}]*[:：]"
    ))
});

static DOC_NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^[\x{4E00}-\x{9FFF}]{1,10}[〔\[［【(（][0-9]{4}[〕\]］】)）][ \t\x{3000}]*[0-9]{1,5}[ \t\x{3000}]*号$",
    )
});

static CAPTION: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^(?:图为|图：|图片：|\[图\]|▲)|[（(][\x{4E00}-\x{9FFF}]{1,10}[ \t\x{3000}]*摄[）)]$|摄影[:：][\x{4E00}-\x{9FFF}]{2,4}$",
    )
});

static SECTION_START: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^(?:[一二三四五六七八九十]+[ \t\x{3000}]*[、.．]|[（(][一二三四五六七八九十[0-9]]+[)）]|[0-9]+[ \t\x{3000}]*[.．、]|第[一二三四五六七八九十百[0-9]]+[章节条])",
    )
});

static ATTACHMENTS: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^(?:相关)?附[ \t\x{3000}]*件(?:下载)?[ \t\x{3000}]*(?:[0-9]+)?[ \t\x{3000}]*[:：]?")
});

static PRINT_CLOSE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:打印本页|打印页面|打印此页|关闭窗口|关闭页面|关闭本页|【打印】|【关闭】|\[打印\]|\[关闭\]|^打印[ \t\x{3000}]*[|｜/]?[ \t\x{3000}]*关闭$|扫一扫|手机打开|分享到|返回顶部)",
    )
});

static EDITOR: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^[（(\[【]?[ \t\x{3000}]*(?:责任编辑|编辑|审核|审校|校对|初审|复审|终审|信息来源|稿件来源|来源)[ \t\x{3000}]*[:：][^。]{0,30}[)）\]】]?$",
    )
});

static SIGNOFF_DATE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^[0-9]{4}[ \t\x{3000}]*年[ \t\x{3000}]*[0-9]{1,2}[ \t\x{3000}]*月[ \t\x{3000}]*[0-9]{1,2}[ \t\x{3000}]*日$",
    )
});

static ORGANISATION: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^[\x{4E00}-\x{9FFF}][\x{4E00}-\x{9FFF}（）()、 \t\x{3000}]{2,40}(?:厅|局|委员会|政府|办公室|办公厅|中心|委|部|院|会|所|站|队|处|署|办)$",
    )
});

/// Lines longer than this are prose, whatever labels they contain.
const INFO_MAX_CHARS: usize = 90;
/// How many lines at either edge are looked at.
const EDGE_LINES: usize = 8;

/// Takes the page furniture off both edges of the body. `title` is the
/// headline found so far; `title_parts` the segments of `<title>` (site
/// and column names included), so that a headline printed again as the
/// body's first line is recognised even when `<title>` carried the site
/// name. Returns what was taken off, and the headline when the body's first
/// line turned out to be a better one than `title`.
pub fn edges(
    blocks: &mut Vec<Block>,
    title: &str,
    title_parts: &[String],
) -> (Vec<Trimmed>, Option<String>) {
    let mut out = Vec::new();
    let mut better_title = None;
    let title_cmp = text::comparable(title);
    let is_title_part = |c: &str| title_parts.iter().any(|p| text::comparable(p) == c);
    let mut i = 0;
    while i < blocks.len().min(EDGE_LINES) && blocks.len() - i > 1 {
        let t = blocks[i].text.as_str();
        let c = text::comparable(t);
        let n = c.chars().count();
        let next_long = blocks
            .get(i + 1)
            .is_some_and(|b| text::comparable(&b.text).chars().count() >= 40);
        let reason = if BREADCRUMB.is_match(t) && n <= INFO_MAX_CHARS {
            Some("breadcrumb")
        } else if !c.is_empty()
            && (c == title_cmp
                || (n >= 4 && title_cmp.contains(&c))
                || (n >= 2 && is_title_part(&c) && next_long))
        {
            // A headline that was read off a `<title>` still carrying the
            // site and column names: the body's own first line is the
            // headline itself.
            if c != title_cmp && title_parts.len() >= 2 && is_title_part(&c) {
                better_title.get_or_insert_with(|| t.to_string());
            }
            Some("headline repeated")
        } else if n <= INFO_MAX_CHARS && is_info_line(t) {
            Some("info line")
        } else if DOC_NUMBER.is_match(&c) {
            Some("document number")
        } else if n <= 80 && CAPTION.is_match(t.trim()) && next_long {
            Some("photo caption")
        } else if next_long && is_lead_heading(&blocks[i], &c) {
            Some("lead heading")
        } else if n <= 30 && PRINT_CLOSE.is_match(t) {
            Some("print/close links")
        } else {
            None
        };
        match reason {
            Some(reason) => out.push(Trimmed {
                reason,
                text: blocks.remove(i).text,
            }),
            None => i += 1,
        }
        // Only the lines before the first kept one are the top edge.
        if i > 0 {
            break;
        }
    }

    // Bottom edge, from the last line up.
    let mut tail: Vec<Trimmed> = Vec::new();
    if let Some(at) = attachment_list(blocks) {
        for b in blocks.drain(at..).rev() {
            tail.push(Trimmed {
                reason: "attachment list",
                text: b.text,
            });
        }
    }
    for _ in 0..EDGE_LINES {
        if blocks.len() <= 1 {
            break;
        }
        let last = blocks.len() - 1;
        let t = blocks[last].text.trim();
        let c = text::comparable(t);
        let n = c.chars().count();
        let reason = if n <= 40 && PRINT_CLOSE.is_match(t) {
            Some("print/close links")
        } else if n <= 40 && EDITOR.is_match(t) {
            Some("editor")
        } else if n <= INFO_MAX_CHARS && is_info_line(t) && INFO_LABEL.find_iter(t).count() >= 2 {
            Some("info line")
        } else if SIGNOFF_DATE.is_match(&c)
            && last >= 1
            && ORGANISATION.is_match(blocks[last - 1].text.trim())
            && blocks.len() > 2
        {
            tail.push(Trimmed {
                reason: "sign-off",
                text: blocks.remove(last).text,
            });
            Some("sign-off")
        } else {
            None
        };
        match reason {
            Some(reason) => {
                let b = blocks.remove(blocks.len() - 1);
                tail.push(Trimmed {
                    reason,
                    text: b.text,
                });
            }
            None => break,
        }
    }
    tail.reverse();
    out.extend(tail);
    (out, better_title)
}

/// An info line: at least two of its labels, or one label that opens a
/// short line (`来源：人民网`).
fn is_info_line(t: &str) -> bool {
    let labels = INFO_LABEL.find_iter(t).count();
    labels >= 2
        || (labels == 1
            && INFO_LABEL.find(t).is_some_and(|m| m.start() == 0)
            && t.chars().count() <= 40)
}

/// A short line above the article that reads as a heading, not as its
/// first sentence: set in bold as a whole, or a few characters with no
/// punctuation; never a numbered section's label.
fn is_lead_heading(b: &Block, c: &str) -> bool {
    let n = c.chars().count();
    if n == 0 || n > 30 || SECTION_START.is_match(c) {
        return false;
    }
    if c.chars()
        .any(|ch| matches!(ch, '。' | '，' | '；' | '：' | ':' | ',' | ';'))
    {
        return false;
    }
    let bold = b
        .emphasized_prefix
        .as_deref()
        .is_some_and(|e| text::comparable(e) == c);
    bold || n <= 8
}

/// Where a trailing 附件 list starts: a line that opens with 附件 among the
/// last lines, followed only by short lines (file names, links).
fn attachment_list(blocks: &[Block]) -> Option<usize> {
    let from = blocks.len().saturating_sub(EDGE_LINES + 4);
    let at = (from..blocks.len())
        .rev()
        .find(|&i| ATTACHMENTS.is_match(blocks[i].text.trim()))?;
    // A body that is nothing but an empty 附件 heading has no text at all.
    if at == 0
        && !(blocks.len() == 1
            && ATTACHMENTS
                .find(blocks[0].text.trim())
                .is_some_and(|m| m.end() == blocks[0].text.trim().len()))
    {
        return None;
    }
    let head = text::comparable(&blocks[at].text).chars().count();
    let rest_short = blocks[at + 1..]
        .iter()
        .all(|b| text::comparable(&b.text).chars().count() <= 80);
    (head <= 120 && rest_short).then_some(at)
}
