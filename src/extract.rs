//! HTML → article. Finds the article body (configured CSS selector or a
//! main-content heuristic), its title and publish date, and leaves out the
//! site's boilerplate: scripts, styles, navigation, share widgets, footers and
//! visit counters.
//!
//! Everything that changes on every request (counters, "page generated at"
//! stamps, tokens, navigation order) must stay out of the blocks, or every
//! fetch would look like an edit.

use std::collections::HashMap;
use std::sync::LazyLock;

use jiff::civil::Date;
use regex::Regex;
use scraper::{ElementRef, Html, Node, Selector};

use crate::decode::{self, DecodeError};
use crate::model::{Article, Block, Document, EncodingSource};
use crate::sections;
use crate::text;

/// Per-source extraction hints from `sources.toml` (CSS selectors as text;
/// they were validated when the configuration was loaded).
#[derive(Debug, Clone, Default)]
pub struct ExtractOptions {
    pub content: Option<String>,
    pub title: Option<String>,
    pub date: Option<String>,
    pub encoding: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("no article body found{0}")]
    NoArticle(String),
    #[error("page is a maintenance or error page ({0:?})")]
    ErrorPage(String),
}

/// A node of the parsed tree. `ego_tree` is not a direct dependency, so the
/// type is named through `scraper`'s `ElementRef`.
type NodeRef<'a> = <ElementRef<'a> as std::ops::Deref>::Target;

/// Bodies shorter than this (comparable characters) are not articles.
const MIN_BODY_CHARS: usize = 10;

/// Error-template phrases only count when the body is shorter than this: a
/// real article may well mention "系统维护" in passing.
const ERROR_PAGE_MAX_BODY_CHARS: usize = 150;

/// Phrases of CMS error and maintenance templates.
const ERROR_PHRASES: &[&str] = &[
    "页面维护中",
    "网站维护中",
    "系统维护中",
    "系统维护",
    "网站正在维护",
    "系统升级维护",
    "您访问的页面不存在",
    "您访问的页面已删除",
    "页面不存在",
    "该页面不存在",
    "信息不存在",
    "文章不存在",
    "页面已删除",
    "页面找不到",
    "找不到页面",
    "抱歉，您访问的页面",
    "404NotFound",
    "404错误",
    "403Forbidden",
    "500InternalServerError",
    "502BadGateway",
    "503ServiceUnavailable",
    "服务器错误",
    "访问出错",
];

/// Content containers of the CMS products used by provincial sites, most
/// specific first. Tried before the density heuristic because they are
/// unambiguous when present.
const KNOWN_CONTENT: &[&str] = &[
    "div.TRS_Editor",
    "div.TRS_UEDITOR",
    "#UCAP-CONTENT",
    "#ivs_content",
    "#zoom",
    "#Zoom",
    "div.article-content",
    "div.article_content",
    "div.Article_content",
    "div.wzcon",
    "div.view.TRS_UEDITOR",
    "#js_content",
    "#content.article",
    "article .content",
];

/// Finds title, date and body blocks in decoded HTML.
pub fn article(html: &str, opts: &ExtractOptions) -> Result<Article, ExtractError> {
    let doc = Html::parse_document(html);

    let body = match opts.content.as_deref() {
        Some(sel) => {
            let sel = parse_selector(sel, "content")?;
            let found = doc.select(&sel).next();
            if found.is_none() {
                return Err(error_page(&doc, &[]).unwrap_or_else(|| {
                    ExtractError::NoArticle(" (content selector matched nothing)".into())
                }));
            }
            found
        }
        None => find_body(&doc),
    };
    let blocks = body.map(body_blocks).unwrap_or_default();

    let body_chars: usize = blocks
        .iter()
        .map(|b| text::comparable(&b.text).chars().count())
        .sum();
    if body_chars < ERROR_PAGE_MAX_BODY_CHARS {
        if let Some(e) = error_page(&doc, &blocks) {
            return Err(e);
        }
    }
    if body.is_none() || body_chars < MIN_BODY_CHARS {
        return Err(ExtractError::NoArticle(match body {
            None => " (no content container)".into(),
            Some(_) => format!(" (body has only {body_chars} characters of text)"),
        }));
    }

    let (title, title_el) = find_title(&doc, opts, body)?;
    let published = find_date(&doc, opts, title_el, body)?;
    Ok(Article {
        title,
        published,
        blocks,
    })
}

/// The whole transform for one fetched page, exactly as `check` and `parse`
/// both run it: decode, extract, split into sections.
pub fn document(
    bytes: &[u8],
    content_type: Option<&str>,
    opts: &ExtractOptions,
) -> Result<(Document, EncodingSource), ExtractError> {
    let decoded = decode::decode(bytes, content_type, opts.encoding.as_deref())?;
    let art = article(&decoded.text, opts)?;
    let parsed = sections::parse(&art.blocks);
    Ok((
        Document {
            title: art.title,
            published: art.published,
            encoding: decoded.encoding.to_string(),
            preamble: parsed.preamble,
            sections: parsed.sections,
        },
        decoded.source,
    ))
}

fn parse_selector(sel: &str, what: &str) -> Result<Selector, ExtractError> {
    Selector::parse(sel)
        .map_err(|e| ExtractError::NoArticle(format!(" (invalid {what} selector {sel:?}: {e})")))
}

// ---------------------------------------------------------------------------
// Tree walking

/// Depth-first walk without recursion (hostile pages can nest deeply).
/// `visit(node, true)` is called on entry and decides whether to descend;
/// `visit(node, false)` is called on exit of every node that was descended.
fn walk<'a>(root: NodeRef<'a>, mut visit: impl FnMut(NodeRef<'a>, bool) -> bool) {
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
fn is_hard_skip(name: &str) -> bool {
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
fn is_chrome_tag(name: &str) -> bool {
    matches!(
        name,
        "nav" | "header" | "footer" | "aside" | "form" | "menu"
    )
}

/// Class/id tokens of boilerplate widgets, matched on `-`/`_`/space separated
/// tokens so that e.g. `bt_content` is not mistaken for `bt`.
fn is_chrome_token(tok: &str) -> bool {
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
    let t = tok.to_ascii_lowercase();
    EXACT.contains(&t.as_str()) || PREFIX.iter().any(|p| t.starts_with(p))
}

fn tokens(el: &scraper::node::Element) -> impl Iterator<Item = &str> {
    el.id()
        .into_iter()
        .chain(el.classes())
        .flat_map(|s| s.split(['-', '_', ' ']))
        .filter(|t| !t.is_empty())
}

fn is_hidden(el: &scraper::node::Element) -> bool {
    el.attr("hidden").is_some()
        || el.attr("style").is_some_and(|s| {
            let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
            let s = s.to_ascii_lowercase();
            s.contains("display:none") || s.contains("visibility:hidden")
        })
}

/// True for elements that are boilerplate wherever they appear.
fn is_noise(el: &scraper::node::Element) -> bool {
    let name = el.name();
    is_hard_skip(name) || is_chrome_tag(name) || is_hidden(el) || tokens(el).any(is_chrome_token)
}

fn in_noise(node: NodeRef<'_>) -> bool {
    std::iter::once(node)
        .chain(node.ancestors())
        .filter_map(|n| n.value().as_element())
        .any(is_noise)
}

/// Text of a subtree, skipping scripts, styles and (if `skip_noise`)
/// boilerplate widgets.
fn subtree_text(node: NodeRef<'_>, skip_noise: bool) -> String {
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

fn is_block_tag(name: &str) -> bool {
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

// ---------------------------------------------------------------------------
// Body

fn find_body(doc: &Html) -> Option<ElementRef<'_>> {
    for sel in KNOWN_CONTENT {
        let Ok(sel) = Selector::parse(sel) else {
            continue;
        };
        if let Some(el) = doc
            .select(&sel)
            .find(|el| !in_noise(**el) && text_len(&subtree_text(**el, true)) >= MIN_BODY_CHARS)
        {
            return Some(el);
        }
    }
    densest(doc)
}

/// Characters that count as content (no whitespace).
fn text_len(s: &str) -> usize {
    s.chars().filter(|c| !text::is_space(*c)).count()
}

/// Share of `el`'s visible text that sits inside links. Navigation and
/// "related articles" boxes are mostly links; article bodies are not.
fn link_density(el: NodeRef<'_>) -> f64 {
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
fn densest(doc: &Html) -> Option<ElementRef<'_>> {
    let mut scores: Vec<(NodeRef<'_>, f64)> = Vec::new();
    let mut index = HashMap::new();
    for n in doc.root_element().descendants() {
        let Some(el) = n.value().as_element() else {
            continue;
        };
        if !matches!(el.name(), "p" | "pre" | "td" | "div" | "li" | "section") {
            continue;
        }
        // Only the text this element holds directly (or in inline children)
        // counts; nested blocks score on their own.
        let own: String = n
            .children()
            .filter_map(|c| match c.value() {
                Node::Text(t) => Some(t.to_string()),
                Node::Element(e) if !is_block_tag(e.name()) && !is_hard_skip(e.name()) => {
                    Some(subtree_text(c, true))
                }
                _ => None,
            })
            .collect();
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
        .filter_map(|(n, s)| Some((ElementRef::wrap(n)?, s * (1.0 - link_density(n)))))
        .filter(|(_, s)| *s > 0.0)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(el, _)| el)
}

#[derive(Default, PartialEq)]
enum Emph {
    #[default]
    NotStarted,
    Capturing,
    Done,
}

#[derive(Default)]
struct Blocks {
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
fn body_blocks(body: ElementRef<'_>) -> Vec<Block> {
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
            if open && n != root && is_noise(el) {
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

static BOILERPLATE: LazyLock<Regex> = LazyLock::new(|| {
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
fn is_boilerplate_line(s: &str) -> bool {
    s.chars().count() <= 60 && BOILERPLATE.is_match(s.trim())
}

// ---------------------------------------------------------------------------
// Error pages

/// Classifies a page without article text as an error/maintenance template
/// when its title, main heading or (short) body carries an error phrase.
fn error_page(doc: &Html, blocks: &[Block]) -> Option<ExtractError> {
    let mut places: Vec<String> = Vec::new();
    if let Ok(sel) = Selector::parse("title, h1, h2, h3") {
        places.extend(doc.select(&sel).map(|e| subtree_text(*e, false)));
    }
    places.extend(blocks.iter().take(5).map(|b| b.text.clone()));
    let visible = subtree_text(*doc.root_element(), true);
    if text_len(&visible) < 600 {
        places.push(visible);
    }
    places.iter().find_map(|p| {
        let c = text::comparable(p);
        let lower = c.to_lowercase();
        ERROR_PHRASES
            .iter()
            .find(|ph| lower.contains(&text::comparable(ph).to_lowercase()))
            .map(|ph| ExtractError::ErrorPage((*ph).to_string()))
    })
}

// ---------------------------------------------------------------------------
// Title

fn meta_content<'a>(doc: &'a Html, names: &[&str]) -> Option<&'a str> {
    let sel = Selector::parse("meta").ok()?;
    for name in names {
        let found = doc.select(&sel).find_map(|m| {
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

/// `<title>` without the site suffix: `标题_栏目_站名`, `标题 - 站名`,
/// `标题-站名`, `标题 站名`.
fn clean_page_title(raw: &str, site: Option<&str>) -> String {
    text::display(&strip_site_suffix(raw, site))
}

fn strip_site_suffix(raw: &str, site: Option<&str>) -> String {
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

fn looks_like_site_name(s: &str) -> bool {
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

fn is_title_candidate(el: &scraper::node::Element) -> bool {
    matches!(el.name(), "h1" | "h2" | "h3")
        || el
            .id()
            .into_iter()
            .chain(el.classes())
            .any(|c| c.to_ascii_lowercase().contains("tit"))
}

/// The article title and the element it came from (which anchors the
/// search for the publish date).
fn find_title<'a>(
    doc: &'a Html,
    opts: &ExtractOptions,
    body: Option<ElementRef<'a>>,
) -> Result<(String, Option<ElementRef<'a>>), ExtractError> {
    if let Some(sel) = opts.title.as_deref() {
        let sel = parse_selector(sel, "title")?;
        if let Some(el) = doc
            .select(&sel)
            .find(|e| !text::display(&subtree_text(**e, true)).is_empty())
        {
            return Ok((text::display(&subtree_text(*el, true)), Some(el)));
        }
    }
    let site = meta_content(doc, &["SiteName"]);
    let page_title = Selector::parse("title")
        .ok()
        .and_then(|s| doc.select(&s).next())
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
        return Ok((mt, anchor));
    }

    if !page_cmp.is_empty() {
        if let Some((el, t)) = candidates
            .iter()
            .find(|(_, t)| text::comparable(t) == page_cmp)
        {
            return Ok((t.clone(), Some(*el)));
        }
        let related = candidates
            .iter()
            .filter(|(_, t)| {
                let c = text::comparable(t);
                c.chars().count() >= 4 && (page_cmp.contains(&c) || c.contains(&page_cmp))
            })
            .max_by_key(|(_, t)| text::comparable(t).chars().count());
        if let Some((el, t)) = related {
            return Ok((t.clone(), Some(*el)));
        }
    }
    if let Some((el, t)) = candidates.iter().find(|(e, _)| e.value().name() == "h1") {
        return Ok((t.clone(), Some(*el)));
    }
    if let Some((el, t)) = candidates.first() {
        return Ok((t.clone(), Some(*el)));
    }
    Ok((page_title, None))
}

// ---------------------------------------------------------------------------
// Date

static DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})(?:\s*日)?")
        .unwrap_or_else(|e| panic!("static regex: {e}"))
});

/// Labels that introduce a page-generation stamp rather than the article's
/// date; dates right after them are ignored.
static STAMP_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(更新|生成|刷新|当前时间|今天是|generated|updated|update)[^\d]{0,8}$")
        .unwrap_or_else(|e| panic!("static regex: {e}"))
});

static PUB_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(发布时间|发布日期|发文日期|成文日期|日期|时间|发表于|发布于)\s*[:：]?\s*$")
        .unwrap_or_else(|e| panic!("static regex: {e}"))
});

/// All plausible dates in `s`, each with the text that precedes it.
fn dates_in(s: &str) -> impl Iterator<Item = (Date, &str)> {
    DATE.captures_iter(s).filter_map(move |c| {
        let whole = c.get(0)?;
        let y: i16 = c.get(1)?.as_str().parse().ok()?;
        let m: i8 = c.get(2)?.as_str().parse().ok()?;
        let d: i8 = c.get(3)?.as_str().parse().ok()?;
        if !(1990..=2100).contains(&y) {
            return None;
        }
        // Reject digits glued to a longer number (ids, phone numbers).
        let before = &s[..whole.start()];
        if before
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_digit())
        {
            return None;
        }
        let date = Date::new(y, m, d).ok()?;
        Some((date, before))
    })
}

/// The first publish date in free text, ignoring generation stamps.
pub fn parse_date(s: &str) -> Option<Date> {
    dates_in(s)
        .find(|(_, before)| !STAMP_LABEL.is_match(tail_chars(before, 12)))
        .map(|(d, _)| d)
}

fn tail_chars(s: &str, n: usize) -> &str {
    match s.char_indices().rev().nth(n.saturating_sub(1)) {
        Some((i, _)) => &s[i..],
        None => s,
    }
}

fn find_date(
    doc: &Html,
    opts: &ExtractOptions,
    title: Option<ElementRef<'_>>,
    body: Option<ElementRef<'_>>,
) -> Result<Option<Date>, ExtractError> {
    if let Some(sel) = opts.date.as_deref() {
        let sel = parse_selector(sel, "date")?;
        if let Some(d) = doc
            .select(&sel)
            .find_map(|e| parse_date(&subtree_text(*e, false)))
        {
            return Ok(Some(d));
        }
    }
    if let Some(d) = meta_content(
        doc,
        &[
            "PubDate",
            "publishdate",
            "pubdate",
            "firstpublishedtime",
            "article:published_time",
            "dc.date",
        ],
    )
    .and_then(parse_date)
    {
        return Ok(Some(d));
    }

    // The info line between the title and the body is where CMS templates
    // print the date; read the page text in order, marking that zone.
    let mut zone = String::new();
    let mut outside = String::new();
    let mut state = if title.is_some() { 0 } else { 1 };
    let root = *doc.root_element();
    let body_node = body.map(|b| *b);
    let title_node = title.map(|t| *t);
    walk(root, |n, open| {
        if Some(n) == title_node {
            if !open {
                state = 1;
            }
            return true;
        }
        if Some(n) == body_node {
            if open {
                state = 2;
            }
            return false;
        }
        match n.value() {
            Node::Text(t) if open => {
                if state == 1 && title_node.is_some() {
                    zone.push_str(t);
                } else {
                    outside.push_str(t);
                }
                false
            }
            Node::Element(el) if open => {
                if el.name() == "br" || is_block_tag(el.name()) {
                    zone.push(' ');
                    outside.push(' ');
                }
                !(is_hard_skip(el.name())
                    || is_chrome_tag(el.name())
                    || (n != root && is_footerish(el)))
            }
            Node::Element(_) => true,
            _ => n == root,
        }
    });
    if let Some(d) = parse_date(&zone) {
        return Ok(Some(d));
    }
    // Otherwise only a labelled date anywhere outside the body and footer.
    let labelled = dates_in(&outside)
        .find(|(_, before)| {
            let tail = tail_chars(before, 12);
            PUB_LABEL.is_match(tail) && !STAMP_LABEL.is_match(tail)
        })
        .map(|(d, _)| d);
    Ok(labelled)
}

fn is_footerish(el: &scraper::node::Element) -> bool {
    tokens(el).any(|t| {
        let t = t.to_ascii_lowercase();
        t.starts_with("foot") || t.starts_with("copyright") || t.starts_with("bottom")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i16, m: i8, day: i8) -> Option<Date> {
        Date::new(y, m, day).ok()
    }

    #[test]
    fn date_formats() {
        assert_eq!(parse_date("发布时间：2025-01-15"), d(2025, 1, 15));
        assert_eq!(parse_date("发布日期：2025年01月24日 09:32"), d(2025, 1, 24));
        assert_eq!(parse_date("发布时间：2025年1月17日 10:15"), d(2025, 1, 17));
        assert_eq!(parse_date("2025/01/27 10:05　来源"), d(2025, 1, 27));
        assert_eq!(parse_date("2025-01-20 16:05　来源：福建省"), d(2025, 1, 20));
        assert_eq!(parse_date("时间：2025.3.8"), d(2025, 3, 8));
        assert_eq!(parse_date("2025-02-30"), None);
        assert_eq!(parse_date("编号 120250115"), None);
        assert_eq!(parse_date("页面更新时间：2025-01-15 16:20:12"), None);
        assert_eq!(parse_date("本页生成时间：2025-02-11 08:03:57"), None);
        assert_eq!(
            parse_date("最后更新：2025-02-11 发布日期：2025-01-10"),
            d(2025, 1, 10)
        );
    }

    #[test]
    fn title_suffixes() {
        assert_eq!(
            clean_page_title("标题甲_工作动态_上海市应急管理局", None),
            "标题甲"
        );
        assert_eq!(
            clean_page_title("标题乙 - 江西省应急管理厅", None),
            "标题乙"
        );
        assert_eq!(clean_page_title("标题丙-福建省应急管理厅", None), "标题丙");
        assert_eq!(clean_page_title("标题丁 江苏省应急管理厅", None), "标题丁");
        assert_eq!(
            clean_page_title("2025-2027年行动方案", None),
            "2025-2027年行动方案"
        );
        assert_eq!(clean_page_title("某标题｜某站", Some("某站")), "某标题");
    }

    #[test]
    fn blocks_split_on_br_and_record_strong() {
        let html =
            "<html><body><div id=\"zoom\"><p><strong>（一）</strong>要深化改革，完善机制。</p>\
            <p>第一行<br>第二行<br/><b>第三</b>行</p><div class=\"share\">分享到：微信</div>\
            <p>浏览次数：123</p><p>　　</p><script>var x=1;</script></div></body></html>";
        let art = article(html, &ExtractOptions::default()).unwrap();
        let texts: Vec<_> = art.blocks.iter().map(|b| b.text.as_str()).collect();
        assert_eq!(
            texts,
            ["（一）要深化改革，完善机制。", "第一行", "第二行", "第三行"]
        );
        assert_eq!(art.blocks[0].emphasized_prefix.as_deref(), Some("（一）"));
        assert_eq!(art.blocks[1].emphasized_prefix, None);
        assert_eq!(art.blocks[3].emphasized_prefix.as_deref(), Some("第三"));
    }

    #[test]
    fn configured_selectors_are_used() {
        let html = "<html><head><title>站点</title></head><body><div class=\"t\">真正的标题</div>\
            <span class=\"d\">2024-03-05</span><div class=\"x\"><p>第一段正文内容很长很长。</p></div>\
            <div class=\"y\"><p>另一个容器里的正文，不应被选中，尽管它更长更长更长更长更长。</p></div></body></html>";
        let opts = ExtractOptions {
            content: Some("div.x".into()),
            title: Some(".t".into()),
            date: Some(".d".into()),
            encoding: None,
        };
        let art = article(html, &opts).unwrap();
        assert_eq!(art.title, "真正的标题");
        assert_eq!(art.published, d(2024, 3, 5));
        assert_eq!(art.blocks.len(), 1);
        let missing = ExtractOptions {
            content: Some("div.nope".into()),
            ..ExtractOptions::default()
        };
        assert!(matches!(
            article(html, &missing),
            Err(ExtractError::NoArticle(_))
        ));
    }

    /// The density heuristic alone (without the known CMS selectors) must
    /// find the same text as the known containers on every fixture layout.
    #[test]
    fn density_heuristic_agrees_with_known_containers() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
        let mut checked = 0;
        for p in [
            "shanghai", "jiangsu", "anhui", "zhejiang", "jiangxi", "shandong", "fujian",
        ] {
            let mut files: Vec<_> = std::fs::read_dir(format!("{dir}/{p}"))
                .unwrap()
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.file_name()
                        .is_some_and(|n| !n.to_string_lossy().starts_with("list"))
                })
                .collect();
            files.sort();
            for f in files {
                let p = f.display();
                checked += 1;
                let bytes = std::fs::read(&f).unwrap();
                let text = decode::decode(&bytes, None, None).unwrap().text;
                let doc = Html::parse_document(&text);
                let known = find_body(&doc).unwrap();
                let dense = densest(&doc).unwrap();
                let joined = |el| {
                    body_blocks(el)
                        .iter()
                        .map(|b| text::comparable(&b.text))
                        .collect::<String>()
                };
                assert_eq!(joined(known), joined(dense), "{p}");
            }
        }
        assert!(checked >= 40, "{checked}");
    }
}
