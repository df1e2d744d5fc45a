//! Listing pages → candidate article links. A listing ("工作动态", "通知公告")
//! is where a newly published deployment first appears; this module finds its
//! items, including those that Hanweb sites keep in a `<script type="text/xml">`
//! datastore of CDATA records.
//!
//! Only the listing's own items count: navigation, side menus, pagination
//! and footer links would otherwise look like "new articles" whenever a site
//! reorders its menu.

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;
use scraper::{ElementRef, Html, Node, Selector};
use url::Url;

use crate::text;

/// One item of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingItem {
    /// Absolute URL, resolved against the page URL.
    pub url: Url,
    /// The link text, display-normalised.
    pub text: String,
    /// The `title` attribute, which often holds the untruncated title.
    pub title_attr: Option<String>,
}

impl ListingItem {
    /// The best available title: the `title` attribute when the link text
    /// was truncated, the link text otherwise.
    pub fn title(&self) -> &str {
        match &self.title_attr {
            Some(t) if !t.is_empty() => t,
            _ => &self.text,
        }
    }
}

type NodeRef<'a> = <ElementRef<'a> as std::ops::Deref>::Target;

/// Link texts shorter than this are menu entries, not article titles
/// (used only when no dated list is found).
const MIN_TITLE_CHARS: usize = 6;

/// More links than this in one entry means it is not a single list item.
const MAX_ANCHORS_PER_ITEM: usize = 3;

static DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^\d])(?:19|20)\d{2}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}")
        .unwrap_or_else(|e| panic!("static regex: {e}"))
});

static DATE_ONLY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^[\[【(（]?\s*(?:19|20)\d{2}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?\s*[\]】)）]?$",
    )
    .unwrap_or_else(|e| panic!("static regex: {e}"))
});

static RECORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?is)<record[^>]*>\s*<!\[CDATA\[(.*?)\]\]>\s*</record>")
        .unwrap_or_else(|e| panic!("static regex: {e}"))
});

/// All article-like links of a listing page in page order, with `javascript:`
/// and `#` links dropped and duplicates removed.
pub fn items(html: &str, base: &Url) -> Vec<ListingItem> {
    let doc = Html::parse_document(html);

    // Each candidate group is a list of (item anchor, item is dated).
    let mut best: Option<(usize, Vec<ListingItem>)> = None;
    let mut consider = |score: usize, group: Vec<ListingItem>| {
        if score > 0 && best.as_ref().is_none_or(|(s, _)| score > *s) {
            best = Some((score, group));
        }
    };

    for el in doc.root_element().descendent_elements() {
        if el.children().nth(1).is_none() || in_noise(*el) {
            continue;
        }
        let (score, group) = dated_children(el.child_elements(), base);
        consider(score, group);
    }

    for (score, group) in datastores(&doc, base) {
        consider(score, group);
    }

    if let Some((_, group)) = best {
        return dedupe(group);
    }
    dedupe(undated_fallback(&doc, base))
}

/// Scores a run of sibling items: how many hold a link and a date.
fn dated_children<'a>(
    children: impl Iterator<Item = ElementRef<'a>>,
    base: &Url,
) -> (usize, Vec<ListingItem>) {
    let mut score = 0;
    let mut group = Vec::new();
    for child in children {
        // A list entry holds one date and a link or two; a wrapper around
        // the whole list (or a footer with a timestamp) does not qualify.
        if anchors_in(child).nth(MAX_ANCHORS_PER_ITEM).is_some() {
            continue;
        }
        let Some(anchor) = main_anchor(child) else {
            continue;
        };
        let dates = DATE.find_iter(&subtree_text(*child)).count();
        if !(1..=2).contains(&dates) {
            continue;
        }
        score += 1;
        if let Some(item) = to_item(anchor, base) {
            group.push(item);
        }
    }
    (score, group)
}

/// Hanweb `<script type="text/xml"><datastore><record><![CDATA[…]]>` lists,
/// which a browser renders with JavaScript; every record is one item.
fn datastores(doc: &Html, base: &Url) -> Vec<(usize, Vec<ListingItem>)> {
    let Ok(sel) = Selector::parse("script") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for script in doc.select(&sel) {
        let is_xml = script
            .value()
            .attr("type")
            .is_some_and(|t| t.to_ascii_lowercase().contains("xml"));
        if !is_xml {
            continue;
        }
        let body: String = script.text().collect();
        let frags: Vec<Html> = RECORD
            .captures_iter(&body)
            .filter_map(|c| c.get(1))
            .map(|m| {
                let f = m.as_str();
                // Table rows only survive parsing inside a table.
                if f.trim_start().to_ascii_lowercase().starts_with("<tr") {
                    Html::parse_fragment(&format!("<table>{f}</table>"))
                } else {
                    Html::parse_fragment(f)
                }
            })
            .collect();
        if frags.is_empty() {
            continue;
        }
        let (score, group) = dated_children(frags.iter().map(|f| f.root_element()), base);
        out.push((score, group));
    }
    out
}

/// When no list carries dates: the container whose children most often
/// hold exactly one title-length link.
fn undated_fallback(doc: &Html, base: &Url) -> Vec<ListingItem> {
    let mut best: (usize, Vec<ListingItem>) = (0, Vec::new());
    for el in doc.root_element().descendent_elements() {
        if in_noise(*el) {
            continue;
        }
        let mut group = Vec::new();
        let mut score = 0;
        for child in el.child_elements() {
            let anchors: Vec<_> = anchors_in(child).collect();
            if anchors.len() != 1 {
                continue;
            }
            let a = anchors[0];
            let t = text::display(&anchor_text(a));
            if t.chars().count() < MIN_TITLE_CHARS {
                continue;
            }
            score += 1;
            if let Some(item) = to_item(a, base) {
                group.push(item);
            }
        }
        if score > best.0 {
            best = (score, group);
        }
    }
    best.1
}

fn anchors_in(el: ElementRef<'_>) -> impl Iterator<Item = ElementRef<'_>> {
    std::iter::once(el)
        .chain(el.descendent_elements())
        .filter(|e| e.value().name() == "a" && e.value().attr("href").is_some())
}

/// The item's article link: of the links in one list entry, the one with
/// the longest title (entries sometimes add a column or "more" link).
fn main_anchor(item: ElementRef<'_>) -> Option<ElementRef<'_>> {
    anchors_in(item).max_by_key(|a| {
        let t = a
            .value()
            .attr("title")
            .map(text::display)
            .unwrap_or_default();
        let own = text::display(&anchor_text(*a));
        t.chars().count().max(own.chars().count())
    })
}

fn to_item(a: ElementRef<'_>, base: &Url) -> Option<ListingItem> {
    let href = a.value().attr("href")?.trim();
    let lower = href.to_ascii_lowercase();
    if href.is_empty()
        || href.starts_with('#')
        || lower.starts_with("javascript:")
        || lower.starts_with("mailto:")
        || lower.starts_with("tel:")
    {
        return None;
    }
    let url = base.join(href).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let title_attr = a
        .value()
        .attr("title")
        .map(text::display)
        .filter(|t| !t.is_empty());
    Some(ListingItem {
        url,
        text: text::display(&anchor_text(a)),
        title_attr,
    })
}

fn dedupe(items: Vec<ListingItem>) -> Vec<ListingItem> {
    let mut seen = HashSet::new();
    items
        .into_iter()
        .filter(|i| seen.insert(i.url.clone()))
        .collect()
}

/// Link text without child elements that only hold the item's date
/// (some templates put the date inside the `<a>`).
fn anchor_text(a: ElementRef<'_>) -> String {
    let mut out = String::new();
    for n in a.descendants() {
        if let Node::Text(t) = n.value() {
            let in_date = n
                .ancestors()
                .take_while(|p| *p != *a)
                .filter_map(ElementRef::wrap)
                .any(|e| DATE_ONLY.is_match(text::display(&subtree_text(*e)).as_str()));
            if !in_date {
                out.push_str(t);
            }
        }
    }
    out
}

fn subtree_text(node: NodeRef<'_>) -> String {
    let mut out = String::new();
    for n in node.descendants() {
        if let Node::Text(t) = n.value() {
            if !n
                .ancestors()
                .filter_map(|p| p.value().as_element())
                .any(|e| matches!(e.name(), "script" | "style"))
            {
                out.push_str(t);
                out.push(' ');
            }
        }
    }
    out
}

/// Navigation, headers, footers and side menus, by tag or class/id token.
fn in_noise(node: NodeRef<'_>) -> bool {
    std::iter::once(node)
        .chain(node.ancestors())
        .filter_map(|n| n.value().as_element())
        .any(|e| {
            matches!(
                e.name(),
                "nav" | "header" | "footer" | "aside" | "script" | "style" | "head" | "form"
            ) || e
                .id()
                .into_iter()
                .chain(e.classes())
                .flat_map(|c| c.split(['-', '_', ' ']))
                .any(|t| {
                    let t = t.to_ascii_lowercase();
                    [
                        "nav",
                        "menu",
                        "foot",
                        "crumb",
                        "breadcrumb",
                        "sidebar",
                        "pagination",
                        "pager",
                        "banner",
                    ]
                    .iter()
                    .any(|p| t.starts_with(p))
                        || matches!(
                            t.as_str(),
                            "head" | "side" | "top" | "page" | "pages" | "position" | "location"
                        )
                })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("http://example.gov.cn/col/list/index.html").unwrap()
    }

    fn urls(items: &[ListingItem]) -> Vec<&str> {
        items.iter().map(|i| i.url.as_str()).collect()
    }

    #[test]
    fn dated_list_beats_menus_and_pagination() {
        let html = r##"<html><body>
            <ul class="nav"><li><a href="/">首页</a></li><li><a href="/a/">机构概况</a></li></ul>
            <div class="side"><ul><li><a href="/x/">工作动态</a></li><li><a href="/y/">通知公告</a></li></ul></div>
            <ul class="list">
              <li><a href="./2025/a.html" title="完整标题一">截断标题…</a><span>2025-01-02</span></li>
              <li><a href="javascript:void(0);">专题</a><span>2025-01-01</span></li>
              <li><a href="#">视频</a><span>2024-12-30</span></li>
              <li><a href="../b.html">标题二</a> [2024/12/29]</li>
              <li><a href="./2025/a.html">重复</a><span>2024-12-28</span></li>
              <li><a href="https://other.example/c.shtml"><span>标题三</span><span>2024-12-27</span></a></li>
            </ul>
            <div class="pages"><a href="index_2.html">2</a><a href="index_3.html">下一页</a></div>
            </body></html>"##;
        let items = items(html, &base());
        assert_eq!(
            urls(&items),
            [
                "http://example.gov.cn/col/list/2025/a.html",
                "http://example.gov.cn/col/b.html",
                "https://other.example/c.shtml",
            ]
        );
        assert_eq!(items[0].title(), "完整标题一");
        assert_eq!(items[0].text, "截断标题…");
        assert_eq!(items[2].text, "标题三");
        assert_eq!(items[2].title(), "标题三");
    }

    #[test]
    fn datastore_records_are_items() {
        let html = r#"<html><body><table><tr><td><div id="1"><script type="text/xml"><datastore>
            <nextgroup><![CDATA[<a href="/module/next.jsp"></a>]]></nextgroup>
            <recordset>
            <record><![CDATA[<li><a href="/art/1.html" title="一号文章">一号文章</a><span>2025-03-01</span></li>]]></record>
            <record><![CDATA[
            <li><a href="/art/2.html" title="二号文章">二号文章</a><span>2025-02-01</span></li>
            ]]></record>
            </recordset></datastore></script></div></td></tr></table></body></html>"#;
        let items = items(html, &base());
        assert_eq!(
            urls(&items),
            [
                "http://example.gov.cn/art/1.html",
                "http://example.gov.cn/art/2.html"
            ]
        );
        assert_eq!(items[1].title(), "二号文章");
    }

    #[test]
    fn undated_lists_fall_back_to_title_length_links() {
        let html = r#"<html><body><div class="menu"><a href="/a">首页</a><a href="/b">概况</a></div>
            <ul><li><a href="/n1.html">关于做好安全防范工作的通知</a></li>
            <li><a href="/n2.html">全省应急管理工作会议召开</a></li>
            <li><a href="/n3.html">短</a></li></ul></body></html>"#;
        assert_eq!(
            urls(&items(html, &base())),
            [
                "http://example.gov.cn/n1.html",
                "http://example.gov.cn/n2.html"
            ]
        );
    }

    #[test]
    fn garbage_does_not_panic() {
        for html in [
            "",
            "<a href=",
            "<li><a href=\"http://[::1\">x</a>2025-01-01</li>",
            "<script type=text/xml><record><![CDATA[<tr><td><a href=/x>2025-01-01",
        ] {
            let _ = items(html, &base());
        }
    }
}
