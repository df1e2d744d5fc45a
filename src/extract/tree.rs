//! Walking the parsed page: which elements are chrome (navigation, share
//! widgets, counters, hidden copies) and what text a subtree shows a reader.

use scraper::{Html, Node, Selector};

use super::NodeRef;

/// Depth-first walk without recursion (hostile pages can nest deeply).
/// `visit(node, true)` is called on entry and decides whether to descend;
/// `visit(node, false)` is called on exit of every node that was descended.
pub(super) fn walk<'a>(root: NodeRef<'a>, mut visit: impl FnMut(NodeRef<'a>, bool) -> bool) {
    let mut node = root;
    'outer: loop {
        if visit(node, true) {
            if let Some(c) = node.first_child() {
                node = c;
                continue;
            }
            visit(node, false);
        }
        loop {
            if node == root {
                return;
            }
            if let Some(s) = node.next_sibling() {
                node = s;
                continue 'outer;
            }
            match node.parent() {
                Some(p) => {
                    node = p;
                    visit(node, false);
                }
                None => return,
            }
        }
    }
}

/// Elements whose content is never article text.
pub(super) fn is_hard_skip(name: &str) -> bool {
    matches!(
        name,
        "script"
            | "style"
            | "noscript"
            | "template"
            | "iframe"
            | "object"
            | "embed"
            | "svg"
            | "canvas"
            | "select"
            | "option"
            | "button"
            | "input"
            | "textarea"
            | "head"
            | "title"
    )
}

/// Structural boilerplate: navigation, headers, footers, forms.
pub(super) fn is_chrome_tag(name: &str) -> bool {
    matches!(
        name,
        "nav" | "header" | "footer" | "aside" | "form" | "menu"
    )
}

/// Class/id tokens of boilerplate widgets, matched on `-`/`_`/space separated
/// tokens so that e.g. `bt_content` is not mistaken for `bt`.
pub(super) fn is_chrome_token(tok: &str) -> bool {
    const PREFIX: &[&str] = &[
        "nav",
        "menu",
        "foot",
        "header",
        "crumb",
        "breadcrumb",
        "share",
        "bdshare",
        "fenxiang",
        "toolbar",
        "fontsize",
        "sidebar",
        "copyright",
        "banner",
        "search",
        "pagination",
        "pager",
        "comment",
        "related",
        "xgwz",
        "xgxx",
        "gentime",
        "updatetime",
    ];
    const EXACT: &[&str] = &[
        "head", "topbar", "topbg", "side", "fx", "tools", "position", "location", "dqwz", "pages",
        "logo", "hits", "vcount", "counter", "gen", "gxsj", "print",
    ];
    // ASCII-case-insensitive, without a lower-cased copy per token: this
    // runs for every class and id of every element a walk passes.
    EXACT.iter().any(|e| tok.eq_ignore_ascii_case(e))
        || PREFIX.iter().any(|p| {
            tok.as_bytes()
                .get(..p.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(p.as_bytes()))
        })
}

/// A selector of the extractor's own, parsed once per process. `None` only
/// if it does not parse, which the unit tests rule out.
pub(super) fn fixed_selector(
    cell: &'static std::sync::OnceLock<Option<Selector>>,
    text: &str,
) -> Option<&'static Selector> {
    cell.get_or_init(|| Selector::parse(text).ok()).as_ref()
}

pub(super) fn tokens(el: &scraper::node::Element) -> impl Iterator<Item = &str> {
    el.id()
        .into_iter()
        .chain(el.classes())
        .flat_map(|s| s.split(['-', '_', ' ']))
        .filter(|t| !t.is_empty())
}

pub(super) fn is_hidden(el: &scraper::node::Element) -> bool {
    el.attr("hidden").is_some()
        || el.attr("style").is_some_and(|s| {
            let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
            let s = s.to_ascii_lowercase();
            s.contains("display:none") || s.contains("visibility:hidden")
        })
}

/// True for elements that are boilerplate wherever they appear.
pub(super) fn is_noise(el: &scraper::node::Element) -> bool {
    let name = el.name();
    is_hard_skip(name) || is_chrome_tag(name) || is_hidden(el) || tokens(el).any(is_chrome_token)
}

pub(super) fn in_noise(node: NodeRef<'_>) -> bool {
    std::iter::once(node)
        .chain(node.ancestors())
        .filter_map(|n| n.value().as_element())
        .any(is_noise)
}

/// Text of a subtree, skipping scripts, styles and (if `skip_noise`)
/// boilerplate widgets.
pub(super) fn subtree_text(node: NodeRef<'_>, skip_noise: bool) -> String {
    let mut out = String::new();
    walk(node, |n, open| {
        if !open {
            return false;
        }
        match n.value() {
            Node::Text(t) => {
                out.push_str(t);
                false
            }
            Node::Element(el) => {
                if el.name() == "br" || is_block_tag(el.name()) {
                    out.push(' ');
                }
                !(is_hard_skip(el.name()) || (skip_noise && n != node && is_noise(el)))
            }
            _ => n == node,
        }
    });
    out
}

pub(super) fn is_block_tag(name: &str) -> bool {
    matches!(
        name,
        "p" | "div"
            | "section"
            | "article"
            | "main"
            | "blockquote"
            | "pre"
            | "center"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "ul"
            | "ol"
            | "li"
            | "dl"
            | "dt"
            | "dd"
            | "table"
            | "tbody"
            | "thead"
            | "tfoot"
            | "tr"
            | "td"
            | "th"
            | "caption"
            | "hr"
            | "address"
            | "figure"
            | "figcaption"
            | "details"
            | "summary"
            | "header"
            | "footer"
            | "nav"
            | "aside"
            | "form"
            | "fieldset"
            | "legend"
            | "body"
            | "html"
    )
}

/// An element as a short CSS-like path (`body > div.main > div#zoom`), so
/// that an admin can write a `content` selector from it.
pub(super) fn describe(node: NodeRef<'_>) -> String {
    let mut parts: Vec<String> = node
        .ancestors()
        .chain(std::iter::once(node))
        .filter_map(|n| n.value().as_element().map(|e| (n, e)))
        .filter(|(_, e)| e.name() != "html")
        .map(|(_, e)| {
            let mut p = e.name().to_string();
            if let Some(id) = e.id() {
                p.push('#');
                p.push_str(id);
            }
            for c in e.classes() {
                p.push('.');
                p.push_str(c);
            }
            p
        })
        .collect();
    // ancestors() runs upwards; the chain put `node` last.
    let last = parts.pop();
    parts.reverse();
    parts.extend(last);
    if parts.len() > 5 {
        let keep = parts.split_off(parts.len() - 4);
        parts = vec![parts[0].clone(), "…".into()];
        parts.extend(keep);
    }
    if parts.is_empty() {
        return "html".into();
    }
    parts.join(" > ")
}

/// The content of the first `<meta name=…>` (or `property=…`) among `names`
/// that has one, in the order given.
pub(super) fn meta_content<'a>(doc: &'a Html, names: &[&str]) -> Option<&'a str> {
    static META: std::sync::OnceLock<Option<Selector>> = std::sync::OnceLock::new();
    let sel = fixed_selector(&META, "meta")?;
    for name in names {
        let found = doc.select(sel).find_map(|m| {
            let el = m.value();
            let key = el.attr("name").or_else(|| el.attr("property"))?;
            if key.eq_ignore_ascii_case(name) {
                el.attr("content").filter(|c| !c.trim().is_empty())
            } else {
                None
            }
        });
        if found.is_some() {
            return found;
        }
    }
    None
}
