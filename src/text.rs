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
///
/// Written out rather than as `char::is_whitespace` plus extras: the
/// White_Space property (U+0009–000D, U+0020, U+0085, U+00A0, U+1680,
/// U+2000–200A, U+2028, U+2029, U+202F, U+205F, U+3000) is fixed, and a
/// unit test checks this list against it for every character.
pub fn is_space(c: char) -> bool {
    matches!(
        c as u32,
        0x09..=0x0D
            | 0x20
            | 0x85
            | 0xA0
            | 0x1680
            | 0x2000..=0x200D
            | 0x2028
            | 0x2029
            | 0x202F
            | 0x205F
            | 0x2060
            | 0x3000
            | 0xFEFF
    )
}

/// The bytes an [`is_space`] character can start with, looked up before
/// anything else: almost every byte of Chinese text is ruled out by it.
static MAY_START_SPACE: [bool; 256] = {
    let mut t = [false; 256];
    let starts: [u8; 11] = [
        0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0xC2, 0xE1, 0xE2, 0xE3, 0xEF,
    ];
    let mut k = 0;
    while k < starts.len() {
        t[starts[k] as usize] = true;
        k += 1;
    }
    t
};

/// The UTF-8 length of the [`is_space`] character that starts at byte `i`
/// of `b`, or 0 when none does. Looks at bytes only: text is scanned this
/// way instead of decoding every character, and a continuation byte never
/// starts a match. `i` must be in bounds.
#[inline]
fn space_len_at(b: &[u8], i: usize) -> usize {
    if !MAY_START_SPACE[usize::from(b[i])] {
        return 0;
    }
    let at = |k: usize| b.get(i + k).copied().unwrap_or(0);
    match b[i] {
        0x09..=0x0D | 0x20 => 1,
        0xC2 if matches!(at(1), 0x85 | 0xA0) => 2,
        0xE1 if at(1) == 0x9A && at(2) == 0x80 => 3,
        0xE2 => match (at(1), at(2)) {
            (0x80, 0x80..=0x8D | 0xA8 | 0xA9 | 0xAF) | (0x81, 0x9F | 0xA0) => 3,
            _ => 0,
        },
        0xE3 if at(1) == 0x80 && at(2) == 0x80 => 3,
        0xEF if at(1) == 0xBB && at(2) == 0xBF => 3,
        _ => 0,
    }
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
    push_comparable(&mut out, s);
    out
}

/// [`comparable`] of `s`, appended to `out`.
///
/// Works on the bytes: runs of stable ideographs are copied whole, and
/// only the runs between them are decoded and normalised.
pub fn push_comparable(out: &mut String, s: &str) {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && stable_ideograph_at(b, i) {
            i += 3;
        }
        out.push_str(&s[start..i]);
        let run = i;
        while i < b.len() && !stable_ideograph_at(b, i) {
            i += utf8_len(b[i]);
        }
        if run < i {
            push_nfkc(out, &s[run..i]);
        }
    }
}

/// Whether a stable ideograph (U+3400–4DBF, U+4E00–9FFF) starts at byte `i` (a
/// character boundary). U+3400–9FFF is lead byte 0xE3 with a second byte
/// from 0x90, or lead bytes 0xE4–0xE9; U+4DC0–4DFF (E4 B7 xx), the Yijing
/// hexagrams, lies between the two blocks and is left out.
#[inline]
fn stable_ideograph_at(b: &[u8], i: usize) -> bool {
    match b[i] {
        0xE3 => b.get(i + 1).is_some_and(|&x| x >= 0x90),
        0xE4 => b.get(i + 1).is_some_and(|&x| x != 0xB7),
        0xE5..=0xE9 => true,
        _ => false,
    }
}

/// The length of the UTF-8 sequence a lead byte starts.
#[inline]
fn utf8_len(lead: u8) -> usize {
    match lead {
        0..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
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
/// class 0, and part of no composition. `stable_ideograph_at` is this
/// test on UTF-8 bytes (a unit test compares them on every character).
#[cfg(test)]
fn is_stable_ideograph(c: char) -> bool {
    matches!(c as u32, 0x4E00..=0x9FFF | 0x3400..=0x4DBF)
}

/// Text as a reader should see it: whitespace runs collapsed to one ASCII
/// space, and dropped entirely where it separates CJK characters (Chinese
/// has no spaces between words; a space there is only layout).
pub fn display(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    // Scanned on the bytes ([`space_len_at`]); runs of non-space characters
    // are copied whole, and only the two characters around a collapsed
    // space are decoded.
    let mut i = 0;
    while i < b.len() {
        let sp = space_len_at(b, i);
        if sp > 0 {
            pending_space = !out.is_empty();
            i += sp;
            continue;
        }
        let start = i;
        while i < b.len() {
            // A lead byte 0xE4–0xE9 (U+4000–9FFF, nearly all of Chinese
            // text) never starts a space: its character is stepped over
            // whole.
            if matches!(b[i], 0xE4..=0xE9) {
                i += 3;
            } else if space_len_at(b, i) == 0 {
                i += 1;
            } else {
                break;
            }
        }
        let run = &s[start..i];
        if pending_space {
            let prev = out.chars().next_back();
            let next = run.chars().next();
            if !(prev.is_some_and(is_cjk_like) || next.is_some_and(is_cjk_like)) {
                out.push(' ');
            }
            pending_space = false;
        }
        out.push_str(run);
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
        let chars: Vec<char> = "中文一二（）：，。、《》“”—·～a1Ａ１ｶ\u{0301}\u{0323}\u{3099}\u{1100}\u{1161}\u{11A8}\u{F900}\u{FA10}\u{2F00}\u{3000} \u{00A0}é\u{212B}ﬁ①㈱\u{3400}\u{9FFF}\u{4DC0}\u{4DBF}\u{200B}\u{FEFF}\u{2029}\u{1680}\u{85}\t\n𠀀"
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

    /// [`is_space`] is the White_Space property plus the extras, for
    /// every character; [`space_len_at`] finds exactly those characters in
    /// their UTF-8 form, and [`stable_ideograph_at`] exactly the stable
    /// ideographs.
    #[test]
    fn space_and_ideograph_tables_match_their_definitions() {
        let old = |c: char| {
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
        };
        for c in (0..=0x10_FFFFu32).filter_map(char::from_u32) {
            assert_eq!(is_space(c), old(c), "{c:?}");
            let mut buf = [0u8; 4];
            let enc = c.encode_utf8(&mut buf).as_bytes();
            let want = if old(c) { enc.len() } else { 0 };
            assert_eq!(space_len_at(enc, 0), want, "{c:?}");
            assert!(!old(c) || MAY_START_SPACE[usize::from(enc[0])], "{c:?}");
            assert_eq!(stable_ideograph_at(enc, 0), is_stable_ideograph(c), "{c:?}");
            assert_eq!(utf8_len(enc[0]), enc.len(), "{c:?}");
        }
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
