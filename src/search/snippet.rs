//! Excerpts of a hit's text with every match marked 【like this】: found in
//! the folded form, marked in the text as stored, so that a query for
//! (一) marks the page's own （一）.

use super::fold::fold_mapped;
use crate::text::one_line;

/// Characters of context kept before the first match.
const BEFORE: usize = 30;
/// Longest excerpt, in characters of the original text.
const LONGEST: usize = 140;

/// `text` cut around its first match, with every match of `terms`
/// (folded) marked. A text without matches (a hit on its title, say) is
/// cut from its start.
pub fn snippet<'a>(text: &str, terms: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for (t, marked) in parts(text, terms) {
        if marked {
            out.push('【');
            out.push_str(&t);
            out.push('】');
        } else {
            out.push_str(&t);
        }
    }
    out
}

/// [`snippet`] as pieces, each marked or not (for HTML, where the page's
/// own 【】 must not read as a match).
pub fn parts<'a>(text: &str, terms: impl Iterator<Item = &'a str>) -> Vec<(String, bool)> {
    let folded = fold_mapped(text);
    let chars: Vec<char> = folded.iter().map(|(c, _, _)| *c).collect();
    // Byte ranges of the original text that match.
    let mut marks: Vec<(usize, usize)> = Vec::new();
    for term in terms {
        let t: Vec<char> = term.chars().collect();
        if t.is_empty() || t.len() > chars.len() {
            continue;
        }
        for i in 0..=chars.len() - t.len() {
            if chars[i..i + t.len()] == t[..] {
                marks.push((folded[i].1, folded[i + t.len() - 1].2));
            }
        }
    }
    marks.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (s, e) in marks {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    // The window, in original bytes, on character boundaries.
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    let first = merged.first().map_or(0, |m| m.0);
    let first_char = bounds.partition_point(|b| *b < first);
    let start_char = first_char.saturating_sub(BEFORE);
    let end_char = (start_char + LONGEST).min(bounds.len() - 1);
    let (start, end) = (bounds[start_char], bounds[end_char]);
    let mut out: Vec<(String, bool)> = Vec::new();
    let mut plain = String::new();
    if start > 0 {
        plain.push('…');
    }
    let mut at = start;
    for (s, e) in merged {
        if e <= start || s >= end {
            continue;
        }
        let (s, e) = (s.max(start), e.min(end));
        plain.push_str(&text[at..s]);
        if !plain.is_empty() {
            out.push((one_line(&std::mem::take(&mut plain)), false));
        }
        out.push((one_line(&text[s..e]), true));
        at = e;
    }
    plain.push_str(&text[at..end]);
    if end < text.len() {
        plain.push('…');
    }
    if !plain.is_empty() {
        out.push((one_line(&plain), false));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_matches_in_the_original_form() {
        assert_eq!(
            snippet("（一）压实安全生产责任。", ["(一)", "安全"].into_iter()),
            "【（一）】压实【安全】生产责任。"
        );
        assert_eq!(
            snippet("２０２５年", ["2025"].into_iter()),
            "【２０２５】年"
        );
        let long = format!("{}安全{}", "甲".repeat(100), "乙".repeat(200));
        let s = snippet(&long, ["安全"].into_iter());
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.contains("【安全】"));
        assert!(s.chars().count() < 150);
        assert_eq!(snippet("无关", ["安全"].into_iter()), "无关");
    }
}
