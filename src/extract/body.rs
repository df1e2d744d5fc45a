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
    if let Some((el, sel_text)) = known_container(doc) {
        return (
            Some(el),
            format!("a known CMS content container ({sel_text})"),
        );
    }
    (
        densest(doc),
        "the densest text block (no known CMS container)".into(),
    )
}

/// The first of [`KNOWN_CONTENT`], in list order, that matches a container
/// outside the page's chrome with some text, and the first such container
/// (in the order `Html::select` visits them). One pass over the page
/// instead of one per selector; a selector is only tried on an element
/// whose `id` and `class` attributes contain the names it requires.
fn known_container(doc: &Html) -> Option<(ElementRef<'_>, &'static str)> {
    let known = known_content();
    // Selectors after the best found so far no longer matter.
    let mut best = known.len();
    let mut found = None;
    let mut names = String::new();
    for node in doc.tree.nodes() {
        if best == 0 {
            break;
        }
        let Some(el) = ElementRef::wrap(node).filter(|el| el.parent().is_some()) else {
            continue;
        };
        let (id, class) = (el.value().attr("id"), el.value().attr("class"));
        if id.is_none() && class.is_none() {
            continue;
        }
        names.clear();
        names.push_str(id.unwrap_or_default());
        names.push(' ');
        names.push_str(class.unwrap_or_default());
        names.make_ascii_lowercase();
        for (i, k) in known.iter().enumerate().take(best) {
            if k.names.iter().all(|n| names.contains(n.as_str()))
                && k.selector.matches(&el)
                && !in_noise(*el)
                && has_text_chars(*el, MIN_BODY_CHARS)
            {
                found = Some((el, k.text));
                best = i;
                break;
            }
        }
    }
    found
}

/// One of [`KNOWN_CONTENT`], parsed.
struct Known {
    text: &'static str,
    selector: Selector,
    /// The ids and classes (ASCII lower-cased) that the element it picks
    /// carries: where they do not all occur in an element's `id` and
    /// `class` (compared without ASCII case, as a quirks-mode page compares
    /// them), it cannot match.
    names: Vec<String>,
}

/// The ids and classes the last compound of a selector names (`div.a.b`,
/// `x #c`), lower-cased.
fn required_names(sel: &str) -> Vec<String> {
    let subject = sel.rsplit([' ', '>', '+', '~']).next().unwrap_or(sel);
    subject
        .split(['#', '.'])
        .skip(1)
        .filter_map(|n| n.split(['[', ':']).next())
        .filter(|n| !n.is_empty())
        .map(|n| n.to_ascii_lowercase())
        .collect()
}

/// [`KNOWN_CONTENT`], parsed once per process (in order; a selector that
/// does not parse is left out, which a unit test rules out).
fn known_content() -> &'static [Known] {
    static PARSED: LazyLock<Vec<Known>> = LazyLock::new(|| {
        KNOWN_CONTENT
            .iter()
            .filter_map(|t| {
                Selector::parse(t).ok().map(|selector| Known {
                    text: t,
                    selector,
                    names: required_names(t),
                })
            })
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

/// Whether the text [`subtree_text`] gathers from `node` (noise left out)
/// holds at least `min` characters of content: the same walk, counting
/// as it goes and stopping there, without collecting the text.
pub(super) fn has_text_chars(node: NodeRef<'_>, min: usize) -> bool {
    let mut n = 0;
    walk(node, |d, open| {
        if !open || n >= min {
            return false;
        }
        match d.value() {
            Node::Text(t) => {
                for c in t.chars() {
                    if !text::is_space(c) {
                        n += 1;
                        if n >= min {
                            break;
                        }
                    }
                }
                false
            }
            Node::Element(el) => !(is_hard_skip(el.name()) || (d != node && is_noise(el))),
            _ => d == node,
        }
    });
    n >= min
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The early-stopping count agrees with counting the whole text, on
    /// either side of the threshold, with noise, scripts and spaces around.
    /// [`known_container`] tries a selector only where the names it
    /// requires occur: every selector of the list requires one.
    #[test]
    fn every_known_selector_requires_an_id_or_a_class() {
        assert_eq!(
            required_names("div.view.TRS_UEDITOR"),
            ["view", "trs_ueditor"]
        );
        assert_eq!(required_names("article .content"), ["content"]);
        assert_eq!(required_names("#content.article"), ["content", "article"]);
        for sel in KNOWN_CONTENT {
            assert!(!required_names(sel).is_empty(), "{sel}");
        }
    }

    /// The one pass finds what a `select` per selector, in list order,
    /// finds: the first selector with a container that qualifies wins.
    #[test]
    fn known_container_is_the_first_selector_that_qualifies() {
        let pages = [
            // #zoom comes before div.article-content in the list.
            r#"<div class="article-content"><p>一二三四五六七八九十甲乙</p></div>
               <div id="zoom"><p>一二三四五六七八九十丙丁</p></div>"#,
            // A match too short, or in the chrome, does not count.
            r#"<div class="TRS_Editor">短</div><nav><div class="TRS_Editor">一二三四五六七八九十</div></nav>
               <div id="zoom"><p>一二三四五六七八九十丙丁</p></div><div class="TRS_Editor">一二三四五六七八九十戊</div>"#,
            r#"<article><div class="content"><p>一二三四五六七八九十己</p></div></article>"#,
            r#"<div class="other"><p>一二三四五六七八九十庚</p></div>"#,
            // Without a doctype the page is in quirks mode, where classes
            // and ids compare without ASCII case.
            r#"<div class="trs_editor x"><p>一二三四五六七八九十辛</p></div>"#,
            r#"<!DOCTYPE html><div class="trs_editor"><p>一二三四五六七八九十壬</p></div><div id=ZOOM>一二三四五六七八九十癸</div>"#,
        ];
        for page in pages {
            let doc = Html::parse_document(page);
            let mut expected = None;
            for k in known_content() {
                if let Some(el) = doc.select(&k.selector).find(|el| {
                    !in_noise(**el) && text_len(&subtree_text(**el, true)) >= MIN_BODY_CHARS
                }) {
                    expected = Some((el, k.text));
                    break;
                }
            }
            assert_eq!(known_container(&doc), expected, "{page}");
        }
        let doc = Html::parse_document(pages[1]);
        let found =
            known_container(&doc).map(|(el, s)| (subtree_text(*el, true).trim().to_string(), s));
        assert_eq!(
            found,
            Some(("一二三四五六七八九十戊".to_string(), "div.TRS_Editor"))
        );
    }

    #[test]
    fn has_text_chars_agrees_with_the_whole_count() {
        let pages = [
            "<div id=c><p>一二三 四五</p><script>六七八九十甲乙</script></div>",
            "<div id=c><p>一二三 四五</p><div class=share>六七八九十</div>六七八九十</div>",
            "<div id=c> \u{3000}<p>一二三四五六七八九</p> <b>十</b></div>",
            "<div id=c><nav>一二三四五六七八九十</nav><p>甲乙</p></div>",
            "<div id=c><p>a b c d e f g h i j k</p></div>",
            "<div id=c></div>",
        ];
        let sel = Selector::parse("#c").unwrap();
        for page in pages {
            let doc = Html::parse_document(page);
            let el = doc.select(&sel).next().unwrap();
            let whole = text_len(&subtree_text(*el, true));
            for min in [1, 5, 9, 10, 11, 30] {
                assert_eq!(has_text_chars(*el, min), whole >= min, "{page} {min}");
            }
        }
    }
}
