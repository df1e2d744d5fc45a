//! Finding the article body: a known CMS content container, else the
//! densest text block, and turning it into paragraph blocks with
//! boilerplate lines left out.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use scraper::{ElementRef, Html, Node, Selector};

use crate::model::Block;
use crate::text;

use super::tree::{describe, in_noise, is_block_tag, is_hard_skip, is_noise, subtree_text, walk};
use super::{NodeRef, KNOWN_CONTENT, MIN_BODY_CHARS};

/// The article body and how it was found: a known CMS content container,
/// else the densest text block.
pub(super) fn find_body(doc: &Html) -> (Option<ElementRef<'_>>, String) {
    for (sel_text, sel) in known_content() {
        if let Some(el) = doc
            .select(sel)
            .find(|el| !in_noise(**el) && text_len(&subtree_text(**el, true)) >= MIN_BODY_CHARS)
        {
            return (
                Some(el),
                format!("a known CMS content container ({sel_text})"),
            );
        }
    }
    (
        densest(doc),
        "the densest text block (no known CMS container)".into(),
    )
}

/// [`KNOWN_CONTENT`], parsed once per process (in order; a selector that
/// does not parse is left out, which a unit test rules out).
fn known_content() -> &'static [(&'static str, Selector)] {
    static PARSED: LazyLock<Vec<(&'static str, Selector)>> = LazyLock::new(|| {
        KNOWN_CONTENT
            .iter()
            .filter_map(|t| Selector::parse(t).ok().map(|s| (*t, s)))
            .collect()
    });
    &PARSED
}

#[cfg(test)]
pub(super) fn known_content_len() -> usize {
    known_content().len()
}

/// One contender of the density heuristic, as `--explain` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The element, e.g. `body > div.main > div.content`.
    pub element: String,
    /// Points from the paragraphs it holds: 1 + punctuation marks + length
    /// (up to 3) per paragraph, half for a grandchild's.
    pub points: f64,
    /// Characters of visible text.
    pub text_chars: usize,
    /// Share of that text inside links.
    pub link_density: f64,
    /// Punctuation marks (，、。；) in its text.
    pub punctuation: usize,
    /// `points × (1 − link_density)`: the highest wins.
    pub score: f64,
    /// Whether it is the element taken as the body.
    pub chosen: bool,
}

/// The leading density candidates, best first, and which one is the body.
pub(super) fn candidates(doc: &Html, chosen: Option<ElementRef<'_>>) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = scored(doc)
        .into_iter()
        .map(|(n, points, density)| {
            let text = subtree_text(n, true);
            Candidate {
                element: describe(n),
                points,
                text_chars: text_len(&text),
                link_density: density,
                punctuation: text
                    .chars()
                    .filter(|c| matches!(c, '，' | '、' | '。' | '；' | ','))
                    .count(),
                score: points * (1.0 - density),
                chosen: chosen.is_some_and(|c| *c == n),
            }
        })
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out
}

/// Characters that count as content (no whitespace).
pub(super) fn text_len(s: &str) -> usize {
    s.chars().filter(|c| !text::is_space(*c)).count()
}

/// Share of `el`'s visible text that sits inside links. Navigation and
/// "related articles" boxes are mostly links; article bodies are not.
pub(super) fn link_density(el: NodeRef<'_>) -> f64 {
    let total = text_len(&subtree_text(el, true));
    if total == 0 {
        return 1.0;
    }
    let mut linked = 0;
    for d in el.descendants() {
        if let Some(e) = d.value().as_element() {
            if e.name() == "a" && !in_noise(d) {
                linked += text_len(&subtree_text(d, true));
            }
        }
    }
    (linked as f64 / total as f64).min(1.0)
}

/// Text-density scoring: every paragraph-like element gives points for its
/// own text to its parent (and half to its grandparent); the container with
/// the most points, discounted by its link density, is the body.
pub(super) fn densest(doc: &Html) -> Option<ElementRef<'_>> {
    scored(doc)
        .into_iter()
        .filter_map(|(n, s, density)| Some((ElementRef::wrap(n)?, s * (1.0 - density))))
        .filter(|(_, s)| *s > 0.0)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(el, _)| el)
}

/// The ten containers with the most paragraph points, with their link
/// density.
fn scored(doc: &Html) -> Vec<(NodeRef<'_>, f64, f64)> {
    let mut scores: Vec<(NodeRef<'_>, f64)> = Vec::new();
    let mut index = HashMap::new();
    let mut own = String::new();
    for n in doc.root_element().descendants() {
        let Some(el) = n.value().as_element() else {
            continue;
        };
        if !matches!(el.name(), "p" | "pre" | "td" | "div" | "li" | "section") {
            continue;
        }
        // Only the text this element holds directly (or in inline children)
        // counts; nested blocks score on their own.
        own.clear();
        for c in n.children() {
            match c.value() {
                Node::Text(t) => own.push_str(t),
                Node::Element(e) if !is_block_tag(e.name()) && !is_hard_skip(e.name()) => {
                    own.push_str(&subtree_text(c, true));
                }
                _ => {}
            }
        }
        let len = text_len(&own);
        if len < 20 || in_noise(n) {
            continue;
        }
        let commas = own
            .chars()
            .filter(|c| matches!(c, '，' | '、' | '。' | '；' | ','))
            .count();
        let score = 1.0 + commas as f64 + (len as f64 / 100.0).min(3.0);
        let parent = n.parent();
        let grandparent = parent.and_then(|p| p.parent());
        for (target, s) in [(parent, score), (grandparent, score / 2.0)] {
            let Some(t) = target else { continue };
            let i = *index.entry(t.id()).or_insert_with(|| {
                scores.push((t, 0.0));
                scores.len() - 1
            });
            scores[i].1 += s;
        }
    }
    // Link density is the expensive part; only the leaders need it.
    scores.sort_by(|a, b| b.1.total_cmp(&a.1));
    scores.truncate(10);
    scores
        .into_iter()
        .map(|(n, s)| (n, s, link_density(n)))
        .collect()
}

#[derive(Default, PartialEq)]
pub(super) enum Emph {
    #[default]
    NotStarted,
    Capturing,
    Done,
}

#[derive(Default)]
pub(super) struct Blocks {
    out: Vec<Block>,
    cur: String,
    emph: String,
    emph_state: Emph,
    strong_depth: usize,
}

impl Blocks {
    fn push_text(&mut self, t: &str) {
        self.cur.push_str(t);
        let has_content = t.chars().any(|c| !text::is_space(c));
        match self.emph_state {
            Emph::NotStarted if has_content => {
                if self.strong_depth > 0 {
                    self.emph_state = Emph::Capturing;
                    self.emph.push_str(t);
                } else {
                    self.emph_state = Emph::Done;
                }
            }
            Emph::Capturing => {
                if self.strong_depth > 0 {
                    self.emph.push_str(t);
                } else if has_content {
                    self.emph_state = Emph::Done;
                }
            }
            _ => {}
        }
    }

    fn flush(&mut self) {
        let t = text::display(&self.cur);
        if !t.is_empty() && !is_boilerplate_line(&t) {
            let emph = text::display(&self.emph);
            self.out.push(Block {
                text: t,
                emphasized_prefix: (!emph.is_empty()).then_some(emph),
            });
        }
        self.cur.clear();
        self.emph.clear();
        self.emph_state = Emph::NotStarted;
    }
}

/// Splits the body into paragraph / line blocks.
pub(super) fn body_blocks(body: ElementRef<'_>) -> Vec<Block> {
    let mut b = Blocks::default();
    let root = *body;
    walk(root, |n, open| match n.value() {
        Node::Text(t) => {
            if open {
                b.push_text(t);
            }
            false
        }
        Node::Element(el) => {
            let name = el.name();
            if open && n != root && (is_noise(el) || super::disclosure::is_metadata_block(n)) {
                return false;
            }
            if name == "br" || name == "hr" {
                if open {
                    b.flush();
                }
                return false;
            }
            if is_block_tag(name) {
                b.flush();
            }
            if matches!(name, "strong" | "b") {
                if open {
                    b.strong_depth += 1;
                } else {
                    b.strong_depth = b.strong_depth.saturating_sub(1);
                }
            }
            true
        }
        _ => n == root,
    });
    b.flush();
    b.out
}

pub(super) static BOILERPLATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^(?:",
        r"[【\[(（]?(?:浏览|阅读|访问|点击)(?:次数|量|数|人次)?[:：]?\s*\d*\s*次?[】\])）]?",
        r"|(?:本页|页面|网页)?(?:最后)?(?:更新|生成|刷新)(?:时间|日期|于)?[:：]?\s*[\d\-/: 年月日]*",
        r"|Generated\s*[\d\-/: ]*",
        r"|[【\[]?(?:打印本页|打印|关闭窗口|关闭|返回顶部|收藏)[】\]]?(?:\s*[【\[]?(?:打印本页|打印|关闭窗口|关闭)[】\]]?)*",
        r"|分享(?:到)?[:：]?",
        r"|字[号体][:：]?\s*[\[【]?\s*大\s*中\s*小\s*[\]】]?",
        r")$"
    ))
    .unwrap_or_else(|e| panic!("static regex: {e}"))
});

/// Lines that CMS templates put inside or next to the body and that change
/// per request (counters, generation stamps) or carry no content.
pub(super) fn is_boilerplate_line(s: &str) -> bool {
    s.chars().count() <= 60 && BOILERPLATE.is_match(s.trim())
}
