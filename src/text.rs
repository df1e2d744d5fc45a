//! Text normalisation shared by every stage.
//!
//! Two different notions of "the same text" are needed:
//! * [`display`] keeps what a reader should see (full-width punctuation and
//!   all) but folds the whitespace noise that CMS templates add;
//! * [`comparable`] is the fixture manifest's rule — NFKC, then no whitespace
//!   at all — and is what decides whether two versions differ. Two texts with
//!   the same `comparable` form are the same content.

use unicode_normalization::UnicodeNormalization;

/// True for every character that counts as layout rather than content:
/// ASCII and Unicode whitespace, NBSP, the ideographic space U+3000, and
/// zero-width characters that editors paste in by accident.
pub fn is_space(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{00A0}'
                | '\u{3000}'
                | '\u{200B}'
                | '\u{200C}'
                | '\u{200D}'
                | '\u{2060}'
                | '\u{FEFF}'
        )
}

/// The manifest's comparison form: NFKC, then every whitespace character removed.
///
/// CJK unified ideographs are "stable code points" under NFKC (UAX #15,
/// §9): they map to themselves, and no reordering or composition reaches
/// across them. So only the runs between them are normalised — the same
/// result as normalising the whole text, at a fraction of the cost on
/// Chinese text, where normalisation was the largest part of computing a
/// page's fingerprint.
pub fn comparable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut run = 0;
    for (i, c) in s.char_indices() {
        if is_stable_ideograph(c) {
            if run < i {
                push_nfkc(&mut out, &s[run..i]);
            }
            out.push(c);
            run = i + c.len_utf8();
        }
    }
    if run < s.len() {
        push_nfkc(&mut out, &s[run..]);
    }
    out
}

/// `run` in NFKC without whitespace. A run the quick check finds already
/// normalised (most punctuation and ASCII between ideographs) is copied as
/// it is: NFKC would give it back unchanged.
fn push_nfkc(out: &mut String, run: &str) {
    if run.chars().all(|c| simple_nfkc(c).is_some()) {
        out.extend(
            run.chars()
                .filter_map(simple_nfkc)
                .filter(|c| !is_space(*c)),
        );
        return;
    }
    if unicode_normalization::is_nfkc_quick(run.chars()) == unicode_normalization::IsNormalized::Yes
    {
        out.extend(run.chars().filter(|c| !is_space(*c)));
    } else {
        out.extend(run.nfkc().filter(|c| !is_space(*c)));
    }
}

/// The NFKC form of the characters that make up nearly everything between
/// ideographs on a Chinese page — ASCII, full-width ASCII, the CJK
/// punctuation and quotes, the ideographic space — when it is a single
/// character, a starter that composes with none of the others. A run made
/// only of these normalises character by character; anything else (a
/// combining mark, say) sends its run through the full algorithm.
fn simple_nfkc(c: char) -> Option<char> {
    match c as u32 {
        0..=0x7F => Some(c),
        0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0),
        0x3000 | 0x00A0 => Some(' '),
        0x3001..=0x3003
        | 0x3008..=0x3011
        | 0x3014..=0x301F
        | 0x2014
        | 0x2018
        | 0x2019
        | 0x201C
        | 0x201D
        | 0x00B7 => Some(c),
        _ => None,
    }
}

/// CJK Unified Ideographs and Extension A: no decomposition, combining
/// class 0, and part of no composition.
fn is_stable_ideograph(c: char) -> bool {
    matches!(c as u32, 0x4E00..=0x9FFF | 0x3400..=0x4DBF)
}

/// Text as a reader should see it: whitespace runs collapsed to one ASCII
/// space, and dropped entirely where it separates CJK characters (Chinese
/// has no spaces between words; a space there is only layout).
pub fn display(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    // Where the current run of non-space characters began: runs are copied
    // whole when they end, not a character at a time.
    let mut run: Option<usize> = None;
    for (i, c) in s.char_indices() {
        if is_space(c) {
            if let Some(start) = run.take() {
                out.push_str(&s[start..i]);
            }
            pending_space = !out.is_empty();
            continue;
        }
        if run.is_none() {
            if pending_space {
                let prev = out.chars().next_back();
                if !(prev.is_some_and(is_cjk_like) || is_cjk_like(c)) {
                    out.push(' ');
                }
                pending_space = false;
            }
            run = Some(i);
        }
    }
    if let Some(start) = run {
        out.push_str(&s[start..]);
    }
    out
}

/// CJK ideographs and the full-width punctuation that surrounds them.
pub fn is_cjk_like(c: char) -> bool {
    matches!(c as u32,
        0x2E80..=0x2FFF      // radicals
        | 0x3000..=0x303F    // CJK symbols and punctuation
        | 0x3040..=0x30FF    // kana
        | 0x3400..=0x4DBF    // ext A
        | 0x4E00..=0x9FFF    // unified ideographs
        | 0xF900..=0xFAFF    // compatibility ideographs
        | 0xFF00..=0xFFEF    // full-width forms
        | 0x20000..=0x2FFFF  // ext B..
        | 0x201C..=0x201D | 0x2018..=0x2019 | 0x2014 | 0x2026 | 0x00B7)
}

/// Page text made safe for one terminal line: control characters (escape
/// sequences, CR/LF) become spaces.
pub fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The first `n` characters of `s` (not bytes: Chinese is multi-byte).
pub fn prefix_chars(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Characters that exercise NFKC around ideographs: full-width forms,
    /// combining marks, Hangul jamo, compatibility ideographs, spaces.
    fn tricky() -> impl Strategy<Value = String> {
        let chars: Vec<char> = "中文一二（）：，。、《》“”—·～a1Ａ１ｶ\u{0301}\u{0323}\u{3099}\u{1100}\u{1161}\u{11A8}\u{F900}\u{FA10}\u{2F00}\u{3000} \u{00A0}é\u{212B}ﬁ①㈱\u{3400}\u{9FFF}"
            .chars()
            .collect();
        proptest::collection::vec(proptest::sample::select(chars), 0..24)
            .prop_map(|v| v.into_iter().collect())
    }

    proptest! {
        #[test]
        fn comparable_equals_nfkc_of_the_whole_text(s in tricky()) {
            let whole: String = s.nfkc().filter(|c| !is_space(*c)).collect();
            prop_assert_eq!(comparable(&s), whole);
        }
    }

    /// Each character [`simple_nfkc`] maps is its own NFKC form, alone and
    /// next to an ASCII letter on either side (no composition, no
    /// reordering).
    #[test]
    fn simple_characters_are_their_own_nfkc() {
        let mut n = 0;
        for c in (0..0x1_0000u32).filter_map(char::from_u32) {
            let Some(m) = simple_nfkc(c) else { continue };
            n += 1;
            assert_eq!(
                c.to_string().nfkc().collect::<String>(),
                m.to_string(),
                "{c:?}"
            );
            let around = format!("a{c}b");
            assert_eq!(around.nfkc().collect::<String>(), format!("a{m}b"), "{c:?}");
        }
        assert!(n > 200, "{n}");
    }

    #[test]
    fn comparable_folds_width_and_space() {
        assert_eq!(
            comparable("1月15日，上海\u{3000} 市\u{a0}2025"),
            "1月15日,上海市2025"
        );
        assert_ne!(comparable("起数和伤亡人数"), comparable("起数和死亡人数"));
    }

    /// [`display`] as it was written first, a character at a time: the
    /// run-copying version must agree with it.
    fn display_by_char(s: &str) -> String {
        let mut out = String::new();
        let mut pending_space = false;
        for c in s.chars() {
            if is_space(c) {
                pending_space = !out.is_empty();
                continue;
            }
            if pending_space {
                let prev = out.chars().next_back();
                if !(prev.is_some_and(is_cjk_like) || is_cjk_like(c)) {
                    out.push(' ');
                }
                pending_space = false;
            }
            out.push(c);
        }
        out
    }

    proptest! {
        #[test]
        fn display_agrees_with_the_char_by_char_rule(s in tricky()) {
            prop_assert_eq!(display(&s), display_by_char(&s));
        }
    }

    #[test]
    fn display_drops_space_between_cjk_but_keeps_latin() {
        assert_eq!(
            display("  会议\u{3000}指出 ，\n要 hello   world 2025 年 "),
            "会议指出，要hello world 2025年"
        );
    }

    #[test]
    fn escape_and_prefix() {
        assert_eq!(
            escape_html("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(prefix_chars("坚持稳中求进", 3), "坚持稳");
        assert_eq!(prefix_chars("ab", 5), "ab");
        assert_eq!(one_line("a\x1b[31mb\r\nc"), "a [31mb  c");
    }
}
