//! The numbered hierarchy of a Chinese official document:
//! `一、` → `（一）` → `1.` → `（1）`, and `第一章`/`第一条`.
//!
//! Input is the article body as text blocks (paragraphs or `<br>`-separated
//! lines); output is the preamble plus a flat list of sections, each with its
//! canonical label and full label path, in document order.

use crate::model::{Block, Parsed, Section};
use crate::text::{comparable, is_space};

/// Longest first sentence (in characters) still read as the section's
/// heading; beyond this it is body text that merely starts the section.
const HEADING_MAX_CHARS: usize = 40;

/// How many consecutive numbers may be missing before a label is too
/// suspicious to be a heading. Deleting a section without renumbering the
/// rest leaves such gaps, so they must be tolerated.
const MAX_SKIP: u32 = 4;
/// An emphasised label is strong evidence on its own; tolerate larger gaps.
const MAX_SKIP_EMPHASIZED: u32 = 30;
/// How far ahead to look for a missing number before accepting a gap.
const LOOKAHEAD_BLOCKS: usize = 200;

/// The numbering styles of Chinese official documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Style {
    /// `第一章`
    Chapter,
    /// `第一节`
    Part,
    /// `第一条` — numbered through the whole document, not per chapter.
    Article,
    /// `一、`
    CnComma,
    /// `（一）` / `(一)`
    CnParen,
    /// `1.` / `1．` / `１．` / `1、`
    ArabicDot,
    /// `（1）` / `(1)`
    ArabicParen,
}

/// A label found at the very start of a block.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Label {
    style: Style,
    number: u32,
    canonical: String,
    raw: String,
    /// Byte offset in the block text where the text after the label starts.
    rest_start: usize,
}

fn cn_digit(c: char) -> Option<u32> {
    Some(match c {
        '零' | '〇' => 0,
        '一' => 1,
        '二' | '两' => 2,
        '三' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        _ => return None,
    })
}

fn is_cn_numeral(c: char) -> bool {
    cn_digit(c).is_some() || matches!(c, '十' | '百')
}

/// Value of a Chinese numeral such as `十二` or `一百零一`. Digit runs like
/// `二〇二五` (a year, not a label number) are refused.
fn cn_value(s: &str) -> Option<u32> {
    let mut total = 0u32;
    let mut cur = 0u32;
    let mut prev_digit = false;
    for c in s.chars() {
        if let Some(d) = cn_digit(c) {
            if prev_digit && cur != 0 {
                return None;
            }
            cur = d;
            prev_digit = true;
        } else {
            let unit = match c {
                '十' => 10,
                '百' => 100,
                _ => return None,
            };
            total = total.checked_add(cur.max(1).checked_mul(unit)?)?;
            cur = 0;
            prev_digit = false;
        }
    }
    let v = total.checked_add(cur)?;
    (v > 0).then_some(v)
}

/// ASCII or full-width decimal digit.
fn digit_value(c: char) -> Option<u32> {
    match c {
        '0'..='9' => c.to_digit(10),
        '０'..='９' => Some(c as u32 - '０' as u32),
        _ => None,
    }
}

/// Takes the longest prefix of `s` whose chars satisfy `pred`, up to `max`
/// chars; returns it and the byte length consumed.
fn take_while_max(s: &str, max: usize, pred: impl Fn(char) -> bool) -> (&str, usize) {
    let mut end = 0;
    for (n, (i, c)) in s.char_indices().enumerate() {
        if n >= max || !pred(c) {
            return (&s[..i], i);
        }
        end = i + c.len_utf8();
    }
    (&s[..end], end)
}

fn arabic_value(s: &str) -> Option<u32> {
    let mut v = 0u32;
    for c in s.chars() {
        v = v.checked_mul(10)?.checked_add(digit_value(c)?)?;
    }
    (v > 0).then_some(v)
}

/// Recognises a numbering label at the start of `text`. Only the shape is
/// checked here; whether it is really a heading also depends on the
/// sequence around it (see [`Outline::plausible`]).
fn detect_label(text: &str) -> Option<Label> {
    let lead = text.len() - text.trim_start_matches(is_space).len();
    let t = &text[lead..];
    let first = t.chars().next()?;
    let label = |style, number, canonical: String, raw_len: usize| {
        let raw = t[..raw_len].to_string();
        let after = &t[raw_len..];
        let rest_start = lead + raw_len + (after.len() - after.trim_start_matches(is_space).len());
        Some(Label {
            style,
            number,
            canonical,
            raw,
            rest_start,
        })
    };
    let next_char = |at: usize| t[at..].trim_start_matches(is_space).chars().next();

    if first == '第' {
        let body = &t['第'.len_utf8()..];
        let (num, n_len) = if body.starts_with(|c: char| digit_value(c).is_some()) {
            take_while_max(body, 3, |c| digit_value(c).is_some())
        } else {
            take_while_max(body, 6, is_cn_numeral)
        };
        let value = arabic_value(num).or_else(|| cn_value(num))?;
        let kind = body[n_len..].chars().next()?;
        let style = match kind {
            '章' => Style::Chapter,
            '节' => Style::Part,
            '条' => Style::Article,
            _ => return None,
        };
        let raw_len = '第'.len_utf8() + n_len + kind.len_utf8();
        // 第１条 and 第1条 are the same label: digits canonicalise to ASCII,
        // Chinese numerals stay as written (第一章, as in the manifest).
        let canonical = match arabic_value(num) {
            Some(v) => format!("第{v}{kind}"),
            None => format!("第{num}{kind}"),
        };
        return label(style, value, canonical, raw_len);
    }

    if first == '（' || first == '(' {
        let body = &t[first.len_utf8()..];
        let (cn, cn_len) = take_while_max(body, 4, is_cn_numeral);
        let (style, value, n_len, canonical_num) = if cn_len > 0 {
            (Style::CnParen, cn_value(cn)?, cn_len, cn.to_string())
        } else {
            let (ar, ar_len) = take_while_max(body, 3, |c| digit_value(c).is_some());
            let v = arabic_value(ar)?;
            (Style::ArabicParen, v, ar_len, v.to_string())
        };
        let close = body[n_len..].chars().next()?;
        if close != '）' && close != ')' {
            return None;
        }
        let raw_len = first.len_utf8() + n_len + close.len_utf8();
        return label(style, value, format!("({canonical_num})"), raw_len);
    }

    if is_cn_numeral(first) {
        let (cn, cn_len) = take_while_max(t, 4, is_cn_numeral);
        if !t[cn_len..].starts_with('、') {
            return None;
        }
        let raw_len = cn_len + '、'.len_utf8();
        // `一、二级响应` enumerates numbers inside a sentence.
        if next_char(raw_len).is_some_and(|c| is_cn_numeral(c) || digit_value(c).is_some()) {
            return None;
        }
        return label(Style::CnComma, cn_value(cn)?, format!("{cn}、"), raw_len);
    }

    if digit_value(first).is_some() {
        let (ar, ar_len) = take_while_max(t, 3, |c| digit_value(c).is_some());
        let delim = t[ar_len..].chars().next()?;
        if !matches!(delim, '.' | '．' | '、') {
            return None;
        }
        let raw_len = ar_len + delim.len_utf8();
        // `1.5亿元`, `1、2月`: a number, not a label.
        if next_char(raw_len).is_some_and(|c| digit_value(c).is_some()) {
            return None;
        }
        let value = arabic_value(ar)?;
        return label(Style::ArabicDot, value, format!("{value}."), raw_len);
    }
    None
}

/// The open headings while walking the document, and what numbers each
/// style has reached in the current scope.
#[derive(Default)]
struct Outline {
    /// Styles in order of first appearance: index + 1 is the level.
    styles: Vec<Style>,
    /// Open headings, outermost first: (style, canonical label).
    stack: Vec<(Style, String)>,
    /// Last accepted number per style in the current scope.
    last: Vec<(Style, u32)>,
}

impl Outline {
    fn level_of(&self, style: Style) -> usize {
        self.styles
            .iter()
            .position(|s| *s == style)
            .unwrap_or(self.styles.len())
            + 1
    }

    fn last_number(&self, style: Style) -> u32 {
        self.last
            .iter()
            .find(|(s, _)| *s == style)
            .map_or(0, |(_, n)| *n)
    }

    /// Sequence sanity: numbers of a style must increase within a scope. A
    /// few missing numbers are tolerated because deleted sections are
    /// usually not renumbered — unless a missing number turns up later in
    /// the same scope, which means this label is out of order (a
    /// cross-reference or quotation that happens to start a paragraph).
    fn plausible(&self, label: &Label, emphasized: bool, later: &[Option<Label>]) -> bool {
        let last = self.last_number(label.style);
        let max_skip = if emphasized {
            MAX_SKIP_EMPHASIZED
        } else {
            MAX_SKIP
        };
        if label.number <= last || label.number - last - 1 > max_skip {
            return false;
        }
        if label.number == last + 1 {
            return true;
        }
        let level = self.level_of(label.style);
        for next in later.iter().take(LOOKAHEAD_BLOCKS).flatten() {
            if next.style == label.style {
                if next.number > last && next.number < label.number {
                    return false;
                }
            } else if self.styles.contains(&next.style) && self.level_of(next.style) < level {
                break;
            }
        }
        true
    }

    /// Records an accepted heading and returns its level and path.
    fn accept(&mut self, label: &Label) -> (u8, Vec<String>) {
        let level = self.level_of(label.style);
        if level > self.styles.len() {
            self.styles.push(label.style);
        }
        let styles = &self.styles;
        let level_of = |s: Style| {
            styles
                .iter()
                .position(|x| *x == s)
                .map_or(usize::MAX, |p| p + 1)
        };
        self.stack.retain(|(s, _)| level_of(*s) < level);
        self.stack.push((label.style, label.canonical.clone()));
        // A new heading opens a fresh scope for every deeper style, except
        // articles, which run through the whole document.
        self.last
            .retain(|(s, _)| *s != label.style && (level_of(*s) < level || *s == Style::Article));
        self.last.push((label.style, label.number));
        let path = self.stack.iter().map(|(_, c)| c.clone()).collect();
        (u8::try_from(level).unwrap_or(u8::MAX), path)
    }
}

fn is_sentence_end(c: char) -> bool {
    matches!(c, '。' | '！' | '？' | '!' | '?')
}

/// Splits the text after a label into heading and the rest of the block.
fn split_heading<'a>(rest: &'a str, emphasized_after_label: Option<&'a str>) -> (&'a str, &'a str) {
    if let Some(emph) = emphasized_after_label {
        let n = emph.chars().count();
        if n > 0 && n <= HEADING_MAX_CHARS && rest.starts_with(emph) {
            return (emph, &rest[emph.len()..]);
        }
    }
    match rest.char_indices().find(|(_, c)| is_sentence_end(*c)) {
        Some((i, c)) => {
            let end = i + c.len_utf8();
            if rest[..end].chars().count() <= HEADING_MAX_CHARS {
                (&rest[..end], &rest[end..])
            } else {
                ("", rest)
            }
        }
        // A short line without a full stop is a title line.
        None if rest.chars().count() <= HEADING_MAX_CHARS => (rest, ""),
        None => ("", rest),
    }
}

/// The part of the emphasised prefix that follows the label, when the
/// emphasis covers the label (the usual `<strong>一、总体要求</strong>`).
fn emphasized_after_label<'a>(block: &'a Block, label: &Label) -> Option<&'a str> {
    let emph = block.emphasized_prefix.as_deref()?.trim_matches(is_space);
    let after = emph.strip_prefix(label.raw.as_str())?;
    let after = after.trim_start_matches(is_space);
    (!after.is_empty()).then_some(after)
}

/// True when the emphasis starts with the label itself.
fn label_emphasized(block: &Block, label: &Label) -> bool {
    block.emphasized_prefix.as_deref().is_some_and(|e| {
        e.trim_start_matches(is_space)
            .starts_with(label.raw.as_str())
    })
}

struct Open {
    label: Label,
    level: u8,
    path: Vec<String>,
    heading: String,
    parts: Vec<String>,
}

impl Open {
    fn finish(self) -> Section {
        Section {
            label: self.label.canonical,
            raw_label: self.label.raw,
            path: self.path,
            level: self.level,
            heading: self.heading,
            text: self.parts.join("\n"),
        }
    }
}

/// Splits body blocks into the preamble and numbered sections.
pub fn parse(blocks: &[Block]) -> Parsed {
    parse_noting(blocks, |_| {})
}

/// Why a block that starts with a numbering label did or did not open a
/// section: what `--explain` shows an admin tuning a new site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Boundary {
    /// Index of the block in the body.
    pub block: usize,
    /// The label as printed.
    pub label: String,
    /// The section's path when it opened one; `None` when the label was
    /// read as ordinary text.
    pub path: Option<String>,
    /// The rule, in words.
    pub rule: String,
}

/// Every label-shaped block start and what became of it.
pub fn explain(blocks: &[Block]) -> Vec<Boundary> {
    let mut out = Vec::new();
    parse_noting(blocks, |b| out.push(b));
    out
}

impl Style {
    fn describe(self) -> &'static str {
        match self {
            Style::Chapter => "第一章 chapter numbering",
            Style::Part => "第一节 part numbering",
            Style::Article => "第一条 article numbering (counted through the document)",
            Style::CnComma => "一、 numbering",
            Style::CnParen => "（一） numbering",
            Style::ArabicDot => "1. numbering",
            Style::ArabicParen => "（1） numbering",
        }
    }
}

fn parse_noting(blocks: &[Block], mut note: impl FnMut(Boundary)) -> Parsed {
    let mut outline = Outline::default();
    let mut preamble: Vec<&str> = Vec::new();
    let mut sections = Vec::new();
    let mut open: Option<Open> = None;

    let candidates: Vec<Option<Label>> = blocks
        .iter()
        .map(|b| detect_label(b.text.trim_matches(is_space)))
        .collect();
    for (idx, block) in blocks.iter().enumerate() {
        let text = block.text.trim_matches(is_space);
        if text.is_empty() {
            continue;
        }
        let later = candidates.get(idx + 1..).unwrap_or_default();
        let emphasized = candidates[idx]
            .as_ref()
            .is_some_and(|l| label_emphasized(block, l));
        let heading = candidates[idx]
            .clone()
            .filter(|l| outline.plausible(l, emphasized, later));
        if let (Some(l), None) = (&candidates[idx], &heading) {
            note(Boundary {
                block: idx,
                label: l.raw.clone(),
                path: None,
                rule: format!(
                    "{} {} out of sequence here: read as text",
                    l.style.describe(),
                    l.number
                ),
            });
        }
        let Some(label) = heading else {
            match open.as_mut() {
                Some(o) => o.parts.push(text.to_string()),
                None => preamble.push(text),
            }
            continue;
        };
        if let Some(o) = open.take() {
            sections.push(o.finish());
        }
        let (level, path) = outline.accept(&label);
        note(Boundary {
            block: idx,
            label: label.raw.clone(),
            path: Some(path.join("/")),
            rule: format!(
                "{}, number {}, level {level}{}",
                label.style.describe(),
                label.number,
                if emphasized { ", set in bold" } else { "" }
            ),
        });
        let rest = text.get(label.rest_start..).unwrap_or("");
        let (head, body) = split_heading(rest, emphasized_after_label(block, &label));
        let body = body.trim_matches(is_space);
        open = Some(Open {
            level,
            path,
            heading: head.trim_end_matches(is_space).to_string(),
            parts: if body.is_empty() {
                Vec::new()
            } else {
                vec![body.to_string()]
            },
            label,
        });
    }
    if let Some(o) = open {
        sections.push(o.finish());
    }
    Parsed {
        preamble: preamble.join("\n"),
        sections,
    }
}

/// A whitespace- and width-insensitive key for a section's label and own
/// text, for callers that need to tell whether two sections say the same
/// thing under the same label (e.g. to deduplicate stored snapshots).
pub fn section_fingerprint(s: &Section) -> String {
    comparable(&format!("{}{}{}", s.label, s.heading, s.text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(text: &str) -> Block {
        Block {
            text: text.to_string(),
            emphasized_prefix: None,
        }
    }

    fn strong(prefix: &str, text: &str) -> Block {
        Block {
            text: text.to_string(),
            emphasized_prefix: Some(prefix.to_string()),
        }
    }

    fn summary(p: &Parsed) -> Vec<(String, u8, String)> {
        p.sections
            .iter()
            .map(|s| (s.label.clone(), s.level, s.path_str()))
            .collect()
    }

    fn owned(v: &[(&str, u8, &str)]) -> Vec<(String, u8, String)> {
        v.iter()
            .map(|(l, n, p)| (l.to_string(), *n, p.to_string()))
            .collect()
    }

    #[test]
    fn nested_hierarchy_paths_and_levels() {
        let p = parse(&[
            b("会议强调："),
            b("一、总体要求"),
            b("（一）指导思想。坚持稳中求进。"),
            b("1.加强领导。落实责任。"),
            b("（1）压实责任。细化分工。"),
            b("(2)强化考核。"),
            b("2、完善机制。"),
            b("（二）基本原则。"),
            b("二、重点任务"),
            b("（一）防汛。"),
            b("1．抓好汛前检查。"),
        ]);
        assert_eq!(p.preamble, "会议强调：");
        assert_eq!(
            summary(&p),
            owned(&[
                ("一、", 1, "一、"),
                ("(一)", 2, "一、/(一)"),
                ("1.", 3, "一、/(一)/1."),
                ("(1)", 4, "一、/(一)/1./(1)"),
                ("(2)", 4, "一、/(一)/1./(2)"),
                ("2.", 3, "一、/(一)/2."),
                ("(二)", 2, "一、/(二)"),
                ("二、", 1, "二、"),
                ("(一)", 2, "二、/(一)"),
                ("1.", 3, "二、/(一)/1."),
            ])
        );
        assert_eq!(p.sections[1].raw_label, "（一）");
        assert_eq!(p.sections[4].raw_label, "(2)");
        assert_eq!(p.sections[5].raw_label, "2、");
        assert_eq!(p.sections[9].raw_label, "1．");
        assert_eq!(p.sections[0].heading, "总体要求");
        assert_eq!(p.sections[1].heading, "指导思想。");
        assert_eq!(p.sections[1].text, "坚持稳中求进。");
    }

    #[test]
    fn levels_are_relative_to_the_styles_used() {
        let p = parse(&[b("（一）甲。"), b("1.乙。"), b("（二）丙。")]);
        assert_eq!(
            summary(&p),
            owned(&[
                ("(一)", 1, "(一)"),
                ("1.", 2, "(一)/1."),
                ("(二)", 1, "(二)")
            ])
        );
    }

    #[test]
    fn chapters_and_articles() {
        let p = parse(&[
            b("第一章 总则"),
            b("第一条 为了加强应急管理，制定本办法。"),
            b("第二条 本办法适用于全省。"),
            b("第二章 职责"),
            b("第三条 县级以上人民政府负责。"),
            b("第十一条 缺号也应当按条文处理？不，跳号过大。"),
        ]);
        assert_eq!(
            summary(&p)[..5],
            owned(&[
                ("第一章", 1, "第一章"),
                ("第一条", 2, "第一章/第一条"),
                ("第二条", 2, "第一章/第二条"),
                ("第二章", 1, "第二章"),
                ("第三条", 2, "第二章/第三条"),
            ])[..]
        );
        // 第十一条 after 第三条 skips seven numbers: not a plausible heading.
        assert_eq!(p.sections.len(), 5);
        assert!(p.sections[4].text.contains("第十一条"));
        assert_eq!(p.sections[0].heading, "总则");
        assert_eq!(p.sections[1].heading, "为了加强应急管理，制定本办法。");
    }

    #[test]
    fn articles_keep_counting_across_chapters() {
        let mut blocks = vec![b("第一章 总则")];
        for n in ["一", "二", "三", "四", "五", "六", "七"] {
            blocks.push(b(&format!("第{n}条 内容。")));
        }
        blocks.push(b("第二章 附则"));
        blocks.push(b("第八条 本办法自发布之日起施行。"));
        let p = parse(&blocks);
        assert_eq!(p.sections.len(), 10);
        assert_eq!(p.sections[9].path_str(), "第二章/第八条");
    }

    #[test]
    fn arabic_forms_are_one_style() {
        let p = parse(&[b("1、加强领导。"), b("２．完善机制。"), b("3. 强化保障。")]);
        assert_eq!(
            summary(&p),
            owned(&[("1.", 1, "1."), ("2.", 1, "2."), ("3.", 1, "3.")])
        );
        assert_eq!(p.sections[1].raw_label, "２．");
        assert_eq!(p.sections[2].heading, "强化保障。");
    }

    #[test]
    fn inline_enumerations_are_not_headings() {
        let p = parse(&[
            b("一是压实责任，二是强化监管，三是加强保障。"),
            b("第一，要提高认识。第二，要狠抓落实。"),
            b("一、二级响应期间，各地要加强值守。"),
            b("会议要求，一、要加强领导。"),
        ]);
        assert!(p.sections.is_empty(), "{:?}", p.sections);
        assert_eq!(p.preamble.lines().count(), 4);
    }

    #[test]
    fn dates_and_numbers_are_not_headings() {
        let p = parse(&[
            b("1月15日，全省应急管理工作会议召开。"),
            b("2025年是“十四五”规划收官之年。"),
            b("1.5亿元资金已下达。"),
            b("1、2月份全省安全形势平稳。"),
            b("二〇二五年一月"),
            b("（一）要加强领导。"),
            b("12.3%的企业完成整改。"),
        ]);
        assert_eq!(summary(&p), owned(&[("(一)", 1, "(一)")]));
        assert!(p.preamble.starts_with("1月15日"));
        assert_eq!(p.sections[0].text, "12.3%的企业完成整改。");
    }

    #[test]
    fn gaps_from_deleted_sections_are_accepted_but_not_regressions() {
        let p = parse(&[
            b("（二）要健全完善隐患治理机制。"),
            b("（四）要健全完善协同联动机制。"),
            b("（二）这一段编号倒退，是正文。"),
            b("（十）跳号太多，也是正文。"),
        ]);
        assert_eq!(
            summary(&p),
            owned(&[("(二)", 1, "(二)"), ("(四)", 1, "(四)")])
        );
        assert_eq!(
            p.sections[1].text,
            "（二）这一段编号倒退，是正文。\n（十）跳号太多，也是正文。"
        );
    }

    #[test]
    fn a_gap_filled_later_marks_the_label_out_of_order() {
        let p = parse(&[
            b("（一）要加强领导。"),
            b("（三）所述事项另行部署，此段不是标题。"),
            b("（二）要完善机制。"),
            b("（三）要强化保障。"),
            b("（五）要狠抓落实。"),
        ]);
        let paths: Vec<String> = p.sections.iter().map(|s| s.path_str()).collect();
        assert_eq!(paths, vec!["(一)", "(二)", "(三)", "(五)"]);
        assert!(p.sections[0].text.starts_with("（三）所述"));
    }

    #[test]
    fn a_new_parent_scope_ends_the_lookahead() {
        let p = parse(&[
            b("一、总体要求"),
            b("（二）甲。"),
            b("二、重点任务"),
            b("（一）乙。"),
        ]);
        let paths: Vec<String> = p.sections.iter().map(|s| s.path_str()).collect();
        assert_eq!(paths, vec!["一、", "一、/(二)", "二、", "二、/(一)"]);
    }

    #[test]
    fn emphasis_makes_large_gaps_acceptable_and_gives_heading() {
        let p = parse(&[
            strong("（一）", "（一）甲。"),
            strong(
                "（十）加强领导",
                "（十）加强领导要求各地落实责任，形成合力。",
            ),
        ]);
        assert_eq!(summary(&p)[1], ("(十)".to_string(), 1, "(十)".to_string()));
        assert_eq!(p.sections[1].heading, "加强领导");
        assert_eq!(p.sections[1].text, "要求各地落实责任，形成合力。");
        assert_eq!(p.sections[1].body(), "加强领导要求各地落实责任，形成合力。");
    }

    #[test]
    fn heading_and_text_split() {
        let long = "要健全完善监管执法机制，持续强化应急法治保障，聚焦法制建设不健全、执法检查精准性不足等问题，统筹兼顾。";
        let p = parse(&[
            b("前言。"),
            b("（一）主要成效。"),
            b("第一段。"),
            b("第二段。"),
            b(&format!("（二）{long}后文。")),
        ]);
        assert_eq!(p.sections[0].heading, "主要成效。");
        assert_eq!(p.sections[0].text, "第一段。\n第二段。");
        assert_eq!(p.sections[1].heading, "");
        assert_eq!(p.sections[1].text, format!("{long}后文。"));
    }

    #[test]
    fn empty_and_odd_input_does_not_panic() {
        assert_eq!(parse(&[]), Parsed::default());
        let odd = [
            "",
            "　",
            "（",
            "(",
            "第",
            "第一",
            "1",
            "1.",
            "一",
            "一、",
            "（一",
            "(1",
            "第一百零一条",
            "（１）",
            "十、",
            "百、",
            "第九九九九九九九九九九条",
            "99999999999.",
            "（一）",
        ];
        let blocks: Vec<Block> = odd.iter().map(|t| b(t)).collect();
        let p = parse(&blocks);
        for s in &p.sections {
            assert!(!s.path.is_empty());
        }
    }

    #[test]
    fn chinese_numerals() {
        assert_eq!(cn_value("一"), Some(1));
        assert_eq!(cn_value("十"), Some(10));
        assert_eq!(cn_value("十二"), Some(12));
        assert_eq!(cn_value("二十一"), Some(21));
        assert_eq!(cn_value("一百零一"), Some(101));
        assert_eq!(cn_value("二〇二五"), None);
        assert_eq!(cn_value("零"), None);
    }

    #[test]
    fn fingerprint_ignores_layout() {
        let a = parse(&[b("（一）坚持稳中求进， 统筹发展和安全。")]);
        let c = parse(&[b("(一)坚持稳中求进,统筹发展和安全。")]);
        assert_eq!(
            section_fingerprint(&a.sections[0]),
            section_fingerprint(&c.sections[0])
        );
    }

    #[test]
    fn full_width_article_numbers_are_the_same_label() {
        let b = |t: &str| Block {
            text: t.to_string(),
            emphasized_prefix: None,
        };
        let a = parse(&[b("第１条 总则。"), b("第２条 适用范围。")]);
        let h = parse(&[b("第1条 总则。"), b("第2条 适用范围。")]);
        let paths = |p: &Parsed| p.sections.iter().map(|s| s.path_str()).collect::<Vec<_>>();
        assert_eq!(paths(&a), vec!["第1条", "第2条"]);
        assert_eq!(paths(&a), paths(&h));
        let cn = parse(&[b("第一章 总则"), b("第二章 分则")]);
        assert_eq!(paths(&cn), vec!["第一章", "第二章"]);
    }
}
