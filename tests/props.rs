//! Property tests: the charset decoder, the extractor, the section parser
//! and the differ never panic on arbitrary input, and keep their basic
//! promises (a document compared with itself has no changes; an edit is
//! found where it was made; the diff stays within its deadline).

use std::time::{Duration, Instant};

use bulletin_watch::decode;
use bulletin_watch::diff;
use bulletin_watch::extract;
use bulletin_watch::model::ExtractOptions;
use bulletin_watch::model::{Block, Document, Section};
use bulletin_watch::sections;
use bulletin_watch::text::comparable;
use proptest::prelude::*;

/// `BULLETIN_WATCH_PROP_SCALE=100 cargo test --release --test integration props::` runs a
/// long fuzzing session; the default keeps `cargo test` quick.
fn config(cases: u32) -> ProptestConfig {
    let scale: u32 = std::env::var("BULLETIN_WATCH_PROP_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    ProptestConfig {
        cases: cases.saturating_mul(scale.max(1)),
        max_global_rejects: 1024u32.saturating_mul(scale.max(1)),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

const CONTENT_TYPES: &[&str] = &[
    "text/html",
    "text/html; charset=utf-8",
    "text/html; charset=GBK",
    "text/html;charset=\"gb2312\"",
    "text/html; charset=iso-8859-1",
    "text/html; charset=utf-16",
    "text/html; charset=",
    "text/html; charset=no-such",
    ";;=;",
    "application/pdf",
];

/// Pieces of real pages: fixture text split at tag boundaries.
fn fragments() -> Vec<String> {
    let mut out = Vec::new();
    for f in [
        "shanghai/article.v1.html",
        "jiangsu/article.v1.html",
        "zhejiang/list.v1.html",
    ] {
        let text = String::from_utf8_lossy(&crate::common::fixture(f)).into_owned();
        out.extend(text.split_inclusive('>').map(str::to_string));
    }
    out.extend(
        [
            "<div class=\"TRS_Editor\">",
            "<div id=\"zoom\">",
            "</div>",
            "<p>",
            "</p>",
            "<br>",
            "<strong>",
            "</strong>",
            "<table><tr><td>",
            "</td></tr></table>",
            "<script>",
            "</script>",
            "<!--",
            "-->",
            "<![CDATA[",
            "<title>",
            "</title>",
            "<meta charset=\"gbk\">",
            "一、",
            "（一）",
            "1.",
            "(1)",
            "第一章",
            "第十二条",
            "页面维护中",
            "&nbsp;",
            "&#13;&#10;",
            "&amp;",
            "\u{3000}",
            "\u{FEFF}",
            "\0",
            "<<",
            ">>",
            "<a href=\"javascript:alert(1)\">",
            "<h1>",
        ]
        .map(str::to_string),
    );
    out
}

fn html_ish() -> impl Strategy<Value = String> {
    let frags = fragments();
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(frags),
            1 => "[a-z<>/\"= 一二三（）、。．]{0,12}".prop_map(|s| s),
        ],
        0..120,
    )
    .prop_map(|v| v.concat())
}

const LABELS: &[&str] = &[
    "一、",
    "二、",
    "三、",
    "十、",
    "十一、",
    "（一）",
    "（二）",
    "(三)",
    "1.",
    "2．",
    "１．",
    "3、",
    "（1）",
    "(2)",
    "第一章",
    "第二章",
    "第一节",
    "第一条",
    "第二条",
    "第十二条",
    "二〇二五年",
    "",
    "",
    "",
];

const TEXTS: &[&str] = &[
    "坚持安全第一、预防为主。",
    "要强化责任落实，",
    "全力防范化解重大安全风险",
    "会议指出",
    "2025年",
    "。",
    "",
    "\u{3000}\u{3000}",
    "a",
];

fn block() -> impl Strategy<Value = Block> {
    (
        prop::sample::select(LABELS),
        prop::collection::vec(prop::sample::select(TEXTS), 0..4),
        any::<bool>(),
    )
        .prop_map(|(label, texts, strong)| Block {
            text: format!("{label}{}", texts.concat()),
            emphasized_prefix: (strong && !label.is_empty()).then(|| label.to_string()),
        })
}

fn document() -> impl Strategy<Value = Document> {
    (
        prop::collection::vec(block(), 0..30),
        prop::sample::select(TEXTS),
    )
        .prop_map(|(blocks, title)| {
            let parsed = sections::parse(&blocks);
            Document {
                title: title.to_string(),
                published: None,
                encoding: "UTF-8".into(),
                preamble: parsed.preamble,
                sections: parsed.sections,
            }
        })
}

proptest! {
    #![proptest_config(config(400))]

    #[test]
    fn decode_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
        ct in prop::option::of(prop_oneof![prop::sample::select(CONTENT_TYPES).prop_map(str::to_string), ".{0,30}"]),
        over in prop::option::of(prop::sample::select(&["gbk", "utf-8", "gb18030", "big5", "nonsense"][..])),
    ) {
        let _ = decode::decode(&bytes, ct.as_deref(), over);
    }

    #[test]
    fn utf8_declared_utf8_round_trips(text in "[a-z<>/ 一二三应急管理（）、。\u{3000}]{0,200}", ct in prop::sample::select(CONTENT_TYPES)) {
        // Valid UTF-8 (no BOM, not binary) is never turned into anything else
        // by a header that says UTF-8, or by sniffing.
        for ct in [Some("text/html; charset=utf-8"), None, Some(ct)] {
            if let Ok(d) = decode::decode(text.as_bytes(), ct, None) {
                if ct.is_none() || ct == Some("text/html; charset=utf-8") {
                    prop_assert_eq!(&d.text, &text);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn extract_never_panics(html in html_ish(), selector in prop::option::of(prop::sample::select(&["div#zoom", "p", "div.TRS_Editor"][..]))) {
        let opts = ExtractOptions { content: selector.map(str::to_string), ..ExtractOptions::default() };
        let _ = extract::document(html.as_bytes(), Some("text/html; charset=utf-8"), &opts);
        let _ = extract::document(html.as_bytes(), None, &ExtractOptions::default());
        let base = url::Url::parse("http://127.0.0.1:1/list/").unwrap();
        let _ = bulletin_watch::listing::items(&html, &base);
    }
}

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn sections_never_panic_and_keep_their_shape(blocks in prop::collection::vec(block(), 0..40)) {
        let parsed = sections::parse(&blocks);
        for s in &parsed.sections {
            prop_assert!(s.level >= 1);
            // A level is the rank of a numbering style in the document, so a
            // branch that skips a style has a shorter path than its level.
            prop_assert!(!s.path.is_empty() && s.path.len() <= s.level as usize, "{:?}", s);
            prop_assert_eq!(s.path.last(), Some(&s.label));
        }
        // Nothing is lost: every character of text is in the preamble, a
        // label, a heading or a section text.
        let mut kept = parsed.preamble.clone();
        for s in &parsed.sections {
            kept.push_str(&s.raw_label);
            kept.push_str(&s.heading);
            kept.push_str(&s.text);
        }
        let all: String = blocks.iter().map(|b| b.text.as_str()).collect();
        prop_assert_eq!(comparable(&kept), comparable(&all));
    }

    #[test]
    fn diff_with_itself_is_empty(doc in document()) {
        prop_assert!(diff::diff(&doc, &doc).is_empty());
    }

    #[test]
    fn diff_never_panics(a in document(), b in document()) {
        let d = diff::diff(&a, &b);
        let back = diff::diff(&b, &a);
        prop_assert_eq!(d.is_empty(), back.is_empty());
        if a == b {
            prop_assert!(d.is_empty());
        }
    }

    #[test]
    fn one_character_edit_is_found_in_its_section(doc in document(), pick in any::<prop::sample::Index>()) {
        let candidates: Vec<usize> = (0..doc.sections.len())
            .filter(|&i| doc.sections[i].text.chars().filter(|c| !comparable(&c.to_string()).is_empty()).count() >= 6)
            .collect();
        prop_assume!(!candidates.is_empty());
        let i = candidates[pick.index(candidates.len())];
        let mut edited = doc.clone();
        let s: &mut Section = &mut edited.sections[i];
        let chars: Vec<char> = s.text.chars().collect();
        let at = chars.iter().rposition(|c| !comparable(&c.to_string()).is_empty()).unwrap();
        let mut new: Vec<char> = chars.clone();
        new[at] = if chars[at] == '某' { '甲' } else { '某' };
        s.text = new.into_iter().collect();
        let d = diff::diff(&doc, &edited);
        prop_assert!(!d.is_empty());
        prop_assert!(d.changed().contains(&doc.sections[i].path_str())
            || d.changes.iter().any(|c| c.old_path.as_deref() == Some(&doc.sections[i].path_str())),
            "{:?}", d);
    }
}

/// Long unrelated sections: the character diff gives up at its deadline
/// and still returns. The bound is generous (debug build, shared machine);
/// it only fails if the deadline is not applied at all.
#[test]
fn diff_of_long_unrelated_texts_respects_its_deadline() {
    let mut seed = 7u64;
    let mut text = |n: usize| -> String {
        let pool: Vec<char> = "应急管理安全生产防汛抗旱森林防灭火地震救援风险隐患排查整治责任落实"
            .chars()
            .collect();
        (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                pool[(seed % pool.len() as u64) as usize]
            })
            .collect()
    };
    let doc = |t: String| Document {
        title: "t".into(),
        published: None,
        encoding: "UTF-8".into(),
        preamble: String::new(),
        sections: vec![Section {
            label: "一、".into(),
            raw_label: "一、".into(),
            path: vec!["一、".into()],
            level: 1,
            heading: String::new(),
            text: t,
        }],
    };
    let (a, b) = (doc(text(60_000)), doc(text(60_000)));
    let started = Instant::now();
    let d = diff::diff(&a, &b);
    assert!(!d.is_empty());
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "diff took {:?}",
        started.elapsed()
    );
}
