//! The headline: from a configured selector, the page's own heading near the
//! body, or `<title>` with the site's name taken off.

use scraper::{ElementRef, Html, Node, Selector};

use crate::text;

use super::body::link_density;
use super::tree::{
    in_noise, is_block_tag, is_hard_skip, is_noise, meta_content, subtree_text, walk,
};
use super::{parse_selector, ExtractError, ExtractOptions, NodeRef};

/// `<title>` without the site suffix: `标题_栏目_站名`, `标题 - 站名`,
/// `标题-站名`, `标题 站名`.
pub(super) fn clean_page_title(raw: &str, site: Option<&str>) -> String {
    text::display(&strip_site_suffix(raw, site))
}

pub(super) fn strip_site_suffix(raw: &str, site: Option<&str>) -> String {
    // Spaces are kept (collapsed) until the end: between CJK text a space
    // is the only separator some templates use.
    let mut t = raw
        .split(text::is_space)
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if let Some(site) = site.map(text::display).filter(|s| !s.is_empty()) {
        if let Some(rest) = t.strip_suffix(site.as_str()) {
            let rest = rest.trim_end_matches(|c: char| {
                text::is_space(c) || matches!(c, '_' | '-' | '|' | '｜' | '—' | '–' | '·' | '丨')
            });
            if !rest.is_empty() {
                t = rest.to_string();
            }
        }
    }
    if let Some((first, _)) = t.split_once('_') {
        if !first.trim().is_empty() {
            return first.trim().to_string();
        }
    }
    for sep in [" - ", " | ", " — ", "|", "｜", "丨", "—", "-", " "] {
        if let Some((head, tail)) = t.rsplit_once(sep) {
            if !head.trim().is_empty() && looks_like_site_name(tail.trim()) {
                return head.trim().to_string();
            }
        }
    }
    t
}

pub(super) fn looks_like_site_name(s: &str) -> bool {
    const MARKERS: &[&str] = &[
        "厅",
        "局",
        "政府",
        "网",
        "委员会",
        "办公室",
        "门户",
        "中心",
        "部",
        "人民",
        "委",
    ];
    let n = s.chars().count();
    (2..=24).contains(&n) && MARKERS.iter().any(|m| s.contains(m))
}

pub(super) fn is_title_candidate(el: &scraper::node::Element) -> bool {
    matches!(el.name(), "h1" | "h2" | "h3")
        || el.id().into_iter().chain(el.classes()).any(|c| {
            // ASCII-case-insensitive, without a lower-cased copy of
            // every class of every element.
            c.as_bytes()
                .windows(3)
                .any(|w| w.eq_ignore_ascii_case(b"tit"))
        })
}

/// The article title and the element it came from (which anchors the
/// search for the publish date).
pub(super) fn find_title<'a>(
    doc: &'a Html,
    opts: &ExtractOptions,
    body: Option<ElementRef<'a>>,
) -> Result<(String, Option<ElementRef<'a>>, &'static str), ExtractError> {
    if let Some(sel) = opts.title.as_deref() {
        let sel = parse_selector(sel, "title")?;
        if let Some(el) = doc
            .select(&sel)
            .find(|e| !text::display(&subtree_text(**e, true)).is_empty())
        {
            return Ok((
                text::display(&subtree_text(*el, true)),
                Some(el),
                "the configured title selector",
            ));
        }
    }
    let site = meta_content(doc, &["SiteName"]);
    let page_title = title_selector()
        .and_then(|s| doc.select(s).next())
        .map(|t| clean_page_title(&t.text().collect::<String>(), site))
        .unwrap_or_default();
    let page_cmp = text::comparable(&page_title);

    let in_body = |n: NodeRef<'_>| body.is_some_and(|b| n.ancestors().any(|a| a == *b));
    let mut candidates: Vec<(ElementRef<'a>, String)> = Vec::new();
    for el in doc.root_element().descendent_elements() {
        let v = el.value();
        if !is_title_candidate(v) || in_noise(*el) || in_body(*el) {
            continue;
        }
        let t = text::display(&subtree_text(*el, true));
        let n = t.chars().count();
        if !(4..=150).contains(&n) || link_density(*el) > 0.5 {
            continue;
        }
        candidates.push((el, t));
    }

    let meta_title = meta_content(doc, &["ArticleTitle", "og:title"]).map(text::display);
    if let Some(mt) = meta_title.filter(|t| !t.is_empty()) {
        let anchor = candidates
            .iter()
            .find(|(_, t)| text::comparable(t) == text::comparable(&mt))
            .map(|(e, _)| *e);
        return Ok(match anchor {
            Some(el) => (
                headline(el),
                Some(el),
                "<meta name=ArticleTitle> (og:title), its heading on the page",
            ),
            None => (mt, None, "<meta name=ArticleTitle> (og:title)"),
        });
    }

    if !page_cmp.is_empty() {
        if let Some((el, t)) = candidates
            .iter()
            .find(|(_, t)| text::comparable(t) == page_cmp)
        {
            let _ = t;
            return Ok((headline(*el), Some(*el), "the heading that matches <title>"));
        }
        let related = candidates
            .iter()
            .filter(|(_, t)| {
                let c = text::comparable(t);
                c.chars().count() >= 4 && (page_cmp.contains(&c) || c.contains(&page_cmp))
            })
            .max_by_key(|(_, t)| text::comparable(t).chars().count());
        if let Some((el, _)) = related {
            return Ok((
                headline(*el),
                Some(*el),
                "the heading that <title> contains (or that contains it)",
            ));
        }
    }
    if let Some((el, _)) = candidates.iter().find(|(e, _)| e.value().name() == "h1") {
        return Ok((headline(*el), Some(*el), "the page's first <h1>"));
    }
    if let Some((el, _)) = candidates.first() {
        return Ok((
            headline(*el),
            Some(*el),
            "the first title-like heading outside the body",
        ));
    }
    Ok((page_title, None, "<title> without the site's name"))
}

/// The headline of a title element that prints it in parts (引题, 主标题,
/// 副标题 on lines of their own, split by `<br>` or inner blocks): the main
/// title, which is the longest part. A one-line title is returned whole.
pub(super) fn headline(el: ElementRef<'_>) -> String {
    let mut lines = vec![String::new()];
    walk(*el, |n, open| match n.value() {
        Node::Text(t) => {
            if open {
                if let Some(last) = lines.last_mut() {
                    last.push_str(t);
                }
            }
            false
        }
        Node::Element(e) => {
            if n != *el && (e.name() == "br" || is_block_tag(e.name())) && open {
                lines.push(String::new());
            }
            n == *el || !(is_hard_skip(e.name()) || is_noise(e))
        }
        _ => false,
    });
    let lines: Vec<String> = lines
        .iter()
        .map(|l| text::display(l))
        .filter(|l| !l.is_empty())
        .collect();
    if lines.len() < 2 {
        return text::display(&subtree_text(*el, true));
    }
    lines
        .into_iter()
        .max_by_key(|l| text::comparable(l).chars().count())
        .unwrap_or_default()
}

/// `title`, parsed once.
fn title_selector() -> Option<&'static Selector> {
    static TITLE: std::sync::OnceLock<Option<Selector>> = std::sync::OnceLock::new();
    super::tree::fixed_selector(&TITLE, "title")
}

/// The segments of `<title>` (`标题_栏目_站名`, `站名-栏目-标题`), each
/// display-normalised: one of them may be the headline.
pub(super) fn page_title_parts(doc: &Html) -> Vec<String> {
    let Some(raw) = title_selector()
        .and_then(|s| doc.select(s).next())
        .map(|t| t.text().collect::<String>())
    else {
        return Vec::new();
    };
    raw.split(['_', '-', '|', '｜', '—', '–', '丨'])
        .map(text::display)
        .filter(|p| !p.is_empty())
        .collect()
}
