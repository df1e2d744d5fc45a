//! Volatile text learned by itself. A visit counter, a "generated at" stamp
//! or a rotating token inside the article body changes on every request,
//! and every request would look like an edit. When a check finds a change,
//! the checker fetches the page once more; text that differs between the
//! two back-to-back fetches is volatile, and [`learn`] turns it into a
//! [`Mask`] for that source: patterns that blank exactly those runs (a
//! literal context before them and the run's character class). A real edit
//! is the same in both fetches, so it is never learned.

use std::time::{Duration, Instant};

use regex::Regex;
use similar::{capture_diff_slices_deadline, Algorithm, DiffTag};

use crate::model::{Document, VolatileMask};
use crate::text;

/// The mask [`learn`] builds and [`apply`] uses.
pub type Mask = VolatileMask;

/// How many characters of unchanged text before a volatile run anchor it.
const CONTEXT_CHARS: usize = 6;
/// More patterns than this for one source means the page is not volatile
/// in a few places but unstable throughout: nothing is learned.
const MAX_PATTERNS: usize = 16;
/// Longest volatile run (characters): a changed sentence is not a counter.
const MAX_RUN_CHARS: usize = 40;
const DIFF_DEADLINE: Duration = Duration::from_millis(100);

/// The mask's patterns, compiled. A pattern that no longer compiles (this
/// module wrote it, so only a damaged store holds one) is skipped.
pub fn rules(mask: &Mask) -> Vec<Regex> {
    mask.patterns
        .iter()
        .filter_map(|p| Regex::new(p).ok())
        .collect()
}

/// Blanks every masked run in the document's text, keeping the context.
pub fn apply(doc: &mut Document, rules: &[Regex]) {
    replace_all(doc, rules, "${1}");
}

/// Replaces every match of `rules` in the document's compared text with
/// `with` (a regex replacement: `${1}` keeps the first group). Shared with
/// the source's `ignore` rules, which blank their matches.
pub(crate) fn replace_all(doc: &mut Document, rules: &[Regex], with: &str) {
    if rules.is_empty() {
        return;
    }
    doc.map_text(|s| {
        for r in rules {
            if r.is_match(s) {
                *s = r.replace_all(s, with).into_owned();
            }
        }
    });
}

/// The mask that explains every difference between two fetches of the same
/// page, or `None` when they differ in a way no mask should hide: other
/// sections, or runs that are not counters, stamps or tokens.
pub fn learn(a: &Document, b: &Document) -> Option<Mask> {
    if a.sections.len() != b.sections.len()
        || a.sections
            .iter()
            .zip(&b.sections)
            .any(|(x, y)| x.path != y.path)
    {
        return None;
    }
    let mut fields: Vec<(&str, &str)> = vec![(&a.title, &b.title), (&a.preamble, &b.preamble)];
    for (x, y) in a.sections.iter().zip(&b.sections) {
        fields.push((&x.heading, &y.heading));
        fields.push((&x.text, &y.text));
    }
    let mut mask = Mask::default();
    for (x, y) in fields {
        if x != y {
            for p in runs(x, y)? {
                if !mask.patterns.contains(&p) {
                    mask.patterns.push(p);
                }
            }
        }
    }
    if mask.patterns.len() > MAX_PATTERNS {
        return None;
    }
    // The mask must make the two fetches the same, or it explains nothing.
    let rules = rules(&mask);
    let (mut a2, mut b2) = (a.clone(), b.clone());
    apply(&mut a2, &rules);
    apply(&mut b2, &rules);
    (crate::store::fingerprint(&a2) == crate::store::fingerprint(&b2)).then_some(mask)
}

/// The kind of characters a volatile run is made of.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Digits, with the separators of dates and times between them.
    Number,
    /// ASCII letters and digits (session tokens, hashes).
    Token,
}

fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || ('０'..='９').contains(&c)
}

fn in_class(c: char, class: Class) -> bool {
    match class {
        Class::Number => {
            is_digit(c)
                || matches!(
                    c,
                    ':' | '：' | '-' | '/' | '.' | ' ' | '年' | '月' | '日' | '时' | '分' | '秒'
                )
        }
        Class::Token => c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '/' | '='),
    }
}

fn class_pattern(class: Class) -> &'static str {
    match class {
        Class::Number => r"[0-9０-９][0-9０-９:：\-/. 年月日时分秒]*",
        Class::Token => r"[A-Za-z0-9_\-+/=]+",
    }
}

/// Patterns for the changed runs between two versions of one field.
fn runs(x: &str, y: &str) -> Option<Vec<String>> {
    let xs: Vec<char> = x.chars().collect();
    let ys: Vec<char> = y.chars().collect();
    let ops = capture_diff_slices_deadline(
        Algorithm::Myers,
        &xs,
        &ys,
        Some(Instant::now() + DIFF_DEADLINE),
    );
    let mut out = Vec::new();
    for op in ops {
        if op.tag() == DiffTag::Equal {
            continue;
        }
        let (ox, oy) = (op.old_range(), op.new_range());
        let changed: String = xs[ox.clone()].iter().chain(&ys[oy.clone()]).collect();
        let class = if changed.chars().all(|c| in_class(c, Class::Number)) {
            Class::Number
        } else if changed.chars().all(|c| in_class(c, Class::Token)) {
            Class::Token
        } else {
            return None;
        };
        // Widen to the whole run of that class, so that 99 → 100 and
        // 09:59 → 10:00 read as one run each.
        let mut start = ox.start;
        while start > 0 && in_class(xs[start - 1], class) {
            start -= 1;
        }
        // A number run starts at a digit: a separator before it (`：`) is
        // context.
        if class == Class::Number {
            while start < ox.start && !is_digit(xs[start]) {
                start += 1;
            }
        }
        let mut end = ox.end;
        while end < xs.len() && in_class(xs[end], class) {
            end += 1;
        }
        if end - start > MAX_RUN_CHARS {
            return None;
        }
        let ctx_start = start.saturating_sub(CONTEXT_CHARS);
        let context: String = xs[ctx_start..start].iter().collect();
        if text::comparable(&context).is_empty() {
            // A run with nothing stable before it cannot be anchored.
            return None;
        }
        out.push(format!(
            "({}){}",
            regex::escape(&context),
            class_pattern(class)
        ));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Section;

    fn doc(preamble: &str, text: &str) -> Document {
        Document {
            title: "测试".into(),
            published: None,
            encoding: "UTF-8".into(),
            preamble: preamble.into(),
            sections: vec![Section {
                label: "一、".into(),
                raw_label: "一、".into(),
                path: vec!["一、".into()],
                level: 1,
                heading: "加强安全".into(),
                text: text.into(),
            }],
        }
    }

    #[test]
    fn a_counter_and_a_stamp_are_learned_and_masked() {
        let a = doc(
            "本文浏览次数：1234次。会议召开。",
            "页面生成于 2025-03-01 09:59:58，要求落实。",
        );
        let b = doc(
            "本文浏览次数：1235次。会议召开。",
            "页面生成于 2025-03-01 10:00:03，要求落实。",
        );
        let mask = learn(&a, &b).expect("volatile");
        assert_eq!(mask.patterns.len(), 2, "{:?}", mask.patterns);
        let rules = rules(&mask);
        let mut c = doc(
            "本文浏览次数：99999次。会议召开。",
            "页面生成于 2026-01-01 00:00:00，要求落实。",
        );
        apply(&mut c, &rules);
        let mut a2 = a.clone();
        apply(&mut a2, &rules);
        assert_eq!(c, a2);
        assert!(c.preamble.contains("会议召开"));
    }

    #[test]
    fn a_real_edit_is_never_learned() {
        let a = doc("会议召开。", "要求落实责任。");
        let b = doc("会议隆重召开。", "要求落实责任。");
        assert_eq!(learn(&a, &b), None);
        let c = doc("会议召开。", "要求落实2025年的责任。");
        assert_eq!(
            learn(&a, &c),
            None,
            "new digits without a stable twin are still an edit"
        );
    }

    #[test]
    fn a_mask_leaves_other_numbers_alone() {
        let a = doc("浏览次数：10", "完成投资12亿元。");
        let b = doc("浏览次数：11", "完成投资12亿元。");
        let mask = learn(&a, &b).unwrap();
        let mut c = doc("浏览次数：12", "完成投资13亿元。");
        apply(&mut c, &rules(&mask));
        assert_eq!(c.sections[0].text, "完成投资13亿元。");
    }
}
