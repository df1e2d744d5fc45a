//! The one form text is searched in: NFKC (which also folds full-width
//! ASCII and digits to half-width: （一） → (一), ２０２５ → 2025), lower
//! case, and no whitespace at all — the rule [`crate::text::comparable`]
//! applies to decide whether two versions differ, taken one character at a
//! time so that every folded character remembers where it came from. The
//! index, the query and the match check all use [`fold`]; snippets use
//! [`fold_mapped`] to mark the original text.

use unicode_normalization::UnicodeNormalization;

use crate::text::is_space;

fn fold_char(c: char, mut push: impl FnMut(char)) {
    if is_space(c) {
        return;
    }
    if c.is_ascii() {
        push(c.to_ascii_lowercase());
        return;
    }
    // CJK ideographs are NFKC-stable and have no case.
    if matches!(c as u32, 0x4E00..=0x9FFF | 0x3400..=0x4DBF) {
        push(c);
        return;
    }
    for n in std::iter::once(c).nfkc() {
        if is_space(n) {
            continue;
        }
        for l in n.to_lowercase() {
            push(l);
        }
    }
}

/// `s` in search form.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        fold_char(c, |f| out.push(f));
    }
    out
}

/// `s` in search form, as characters, each with the byte range of the
/// original character it came from.
pub fn fold_mapped(s: &str) -> Vec<(char, usize, usize)> {
    let mut out = Vec::with_capacity(s.len() / 2);
    for (i, c) in s.char_indices() {
        let end = i + c.len_utf8();
        fold_char(c, |f| out.push((f, i, end)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn width_and_compatibility_forms_meet() {
        assert_eq!(fold("（一）"), fold("(一)"));
        assert_eq!(fold("２０２５年"), "2025年");
        assert_eq!(fold("应急〔2025〕12号"), "应急〔2025〕12号");
        assert_eq!(fold(" 安全\u{3000}生产 "), "安全生产");
        assert_eq!(fold("ＡＢＣ abc"), "abcabc");
        let m = fold_mapped("（一）安全");
        assert_eq!(m[0], ('(', 0, 3));
        assert_eq!(m.last().map(|x| x.0), Some('全'));
    }
}
