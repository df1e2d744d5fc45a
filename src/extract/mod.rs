//! HTML → article. Finds the article body (configured CSS selector or a
//! main-content heuristic), its title and publish date, and leaves out the
//! site's boilerplate: scripts, styles, navigation, share widgets, footers and
//! visit counters.
//!
//! Everything that changes on every request (counters, "page generated at"
//! stamps, tokens, navigation order) must stay out of the blocks, or every
//! fetch would look like an edit.

use scraper::{ElementRef, Html, Selector};

use crate::decode::{self, DecodeError};
use crate::model::{Article, Block};
use crate::model::{Document, EncodingSource, ExtractOptions};
use crate::sections;
use crate::text;

mod body;
mod date;
mod disclosure;
mod explain;
mod title;
mod tree;
mod trim;

pub use body::Candidate;
use body::{body_blocks, find_body, text_len};
use date::find_date;
pub use explain::Explanation;
use title::{find_title, page_title_parts};
use tree::subtree_text;
pub use trim::Trimmed;

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
pub(super) type NodeRef<'a> = <ElementRef<'a> as std::ops::Deref>::Target;

/// Bodies shorter than this (comparable characters) are not articles.
pub(super) const MIN_BODY_CHARS: usize = 10;

/// Error-template phrases only count when the body is shorter than this: a
/// real article may well mention "系统维护" in passing.
pub(super) const ERROR_PAGE_MAX_BODY_CHARS: usize = 150;

/// Phrases of CMS error and maintenance templates.
pub(super) const ERROR_PHRASES: &[&str] = &[
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
pub(super) const KNOWN_CONTENT: &[&str] = &[
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
    read(html, opts)
}

/// Reads a page and says how, whether or not it yields an article.
pub fn explain(
    bytes: &[u8],
    content_type: Option<&str>,
    opts: &ExtractOptions,
) -> Result<Explanation, ExtractError> {
    let decoded = decode::decode(bytes, content_type, opts.encoding.as_deref())?;
    let mut ex = Explanation {
        encoding: decoded.encoding.to_string(),
        encoding_source: decoded.source,
        body_rule: String::new(),
        body_element: None,
        candidates: Vec::new(),
        title: None,
        published: None,
        title_from: "",
        date_from: "",
        left_out: Vec::new(),
        boundaries: Vec::new(),
        article: None,
        error: None,
    };
    match read_noting(&decoded.text, opts, Some(&mut ex)) {
        Ok(art) => {
            ex.boundaries = sections::explain(&art.blocks);
            ex.article = Some(art);
        }
        Err(e @ ExtractError::Decode(_)) => return Err(e),
        Err(e) => ex.error = Some(e.to_string()),
    }
    Ok(ex)
}

fn read(html: &str, opts: &ExtractOptions) -> Result<Article, ExtractError> {
    read_noting(html, opts, None)
}

fn read_noting(
    html: &str,
    opts: &ExtractOptions,
    mut ex: Option<&mut Explanation>,
) -> Result<Article, ExtractError> {
    let doc = Html::parse_document(html);

    let (body, rule) = match opts.content.as_deref() {
        Some(sel) => {
            let sel = parse_selector(sel, "content")?;
            let found = doc.select(&sel).next();
            if found.is_none() {
                return Err(error_page(&doc, &[]).unwrap_or_else(|| {
                    ExtractError::NoArticle(" (content selector matched nothing)".into())
                }));
            }
            (found, "the configured content selector".to_string())
        }
        None => find_body(&doc),
    };
    if let Some(ex) = ex.as_deref_mut() {
        ex.body_rule = rule;
        ex.body_element = body.map(|b| tree::describe(*b));
        if opts.content.is_none() {
            ex.candidates = body::candidates(&doc, body);
        }
    }
    let blocks = body.map(body_blocks).unwrap_or_default();

    // Only compared with the two thresholds below, so counted no further
    // than the larger one: a long body is not normalised twice.
    let mut body_chars = 0;
    for b in &blocks {
        if body_chars >= ERROR_PAGE_MAX_BODY_CHARS {
            break;
        }
        body_chars += text::comparable(&b.text).chars().count();
    }
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

    let (title, title_el, mut title_from) = find_title(&doc, opts, body)?;
    let metadata = disclosure::metadata(&doc);
    let (published, date_from) = match disclosure::date(&metadata) {
        Some(d) if opts.date.is_none() => (Some(d), "the disclosure metadata table"),
        _ => find_date(&doc, opts, title_el, body)?,
    };
    let mut blocks = blocks;
    let (trimmed, better) = trim::edges(&mut blocks, &title, &page_title_parts(&doc));
    let title = match better {
        Some(t) if opts.title.is_none() => {
            title_from = "the body's first line (<title> carries the site's name)";
            t
        }
        _ => title,
    };
    if let Some(ex) = ex {
        ex.title_from = title_from;
        ex.date_from = date_from;
        ex.left_out = trimmed;
        ex.title = Some(title.clone());
        ex.published = published;
    }
    if blocks.is_empty() {
        return Err(ExtractError::NoArticle(
            " (the body holds only page furniture)".into(),
        ));
    }
    Ok(Article {
        title,
        published,
        blocks,
        metadata,
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

pub(super) fn parse_selector(sel: &str, what: &str) -> Result<Selector, ExtractError> {
    Selector::parse(sel)
        .map_err(|e| ExtractError::NoArticle(format!(" (invalid {what} selector {sel:?}: {e})")))
}

// ---------------------------------------------------------------------------
// Error pages

/// Classifies a page without article text as an error/maintenance template
/// when its title, main heading or (short) body carries an error phrase.
pub(super) fn error_page(doc: &Html, blocks: &[Block]) -> Option<ExtractError> {
    let mut places: Vec<String> = Vec::new();
    static HEADINGS: std::sync::OnceLock<Option<Selector>> = std::sync::OnceLock::new();
    if let Some(sel) = tree::fixed_selector(&HEADINGS, "title, h1, h2, h3") {
        places.extend(doc.select(sel).map(|e| subtree_text(*e, false)));
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

#[cfg(test)]
mod tests {
    use super::body::densest;
    use super::date::parse_date;
    use super::title::clean_page_title;
    use super::*;
    use jiff::civil::Date;

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
    fn chrome_tokens_ignore_ascii_case() {
        for t in ["nav", "NavBar", "FOOTER", "Hits", "bdshare_box", "PRINT"] {
            assert!(tree::is_chrome_token(t), "{t}");
        }
        for t in ["bt", "content", "导航", "导航nav", "printer", "zoom", "HIT"] {
            assert!(!tree::is_chrome_token(t), "{t}");
        }
    }

    /// The selectors parsed once per process all parse.
    #[test]
    fn fixed_selectors_parse() {
        for s in KNOWN_CONTENT
            .iter()
            .chain(&["title", "meta", "title, h1, h2, h3"])
        {
            assert!(Selector::parse(s).is_ok(), "{s}");
        }
        assert_eq!(body::known_content_len(), KNOWN_CONTENT.len());
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
                let known = find_body(&doc).0.unwrap();
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
