//! `parse --explain` and `sources explain`: how a page was read, in words an
//! admin can act on before reaching for selectors — the element taken as
//! the article and the scores behind it, where the title and the date came
//! from, what was left out, and each section boundary with its rule.

use std::fmt;

use crate::model::{Article, EncodingSource};
use crate::sections;

use super::{Candidate, Trimmed};

/// How a page was read: which element was taken as the article and why,
/// where the title and the date came from, what was left out. `parse
/// --explain` and `sources explain` print it for an admin tuning a new site.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// WHATWG name of the encoding and where the decision came from.
    pub encoding: String,
    pub encoding_source: EncodingSource,
    /// How the body was found (`the configured content selector`, `a known
    /// CMS container (#zoom)`, `the densest text block`).
    pub body_rule: String,
    /// The element taken as the body, e.g. `body > div.main > div#zoom`.
    pub body_element: Option<String>,
    /// The leading candidates of the density heuristic, best first.
    pub candidates: Vec<Candidate>,
    /// The headline and publish date, also when the page has no body.
    pub title: Option<String>,
    pub published: Option<jiff::civil::Date>,
    pub title_from: &'static str,
    pub date_from: &'static str,
    /// Lines taken off the body's edges, with the reason.
    pub left_out: Vec<Trimmed>,
    /// Each label-shaped block start and what became of it.
    pub boundaries: Vec<sections::Boundary>,
    /// The article, when the page has one.
    pub article: Option<Article>,
    /// Why the page yields no version, when it does not.
    pub error: Option<String>,
}

/// Characters of a left-out line or a block shown before it is cut.
const SHOWN_CHARS: usize = 60;

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match self.encoding_source {
            EncodingSource::Override => "the source's `encoding`",
            EncodingSource::Header => "the HTTP Content-Type",
            EncodingSource::Bom => "a byte-order mark",
            EncodingSource::Meta => "the page's <meta charset>",
            EncodingSource::Sniffed => "the bytes themselves (no usable declaration)",
        };
        writeln!(f, "encoding   {} (from {source})", self.encoding)?;
        writeln!(
            f,
            "body       {}",
            self.body_element.as_deref().unwrap_or("(none found)")
        )?;
        writeln!(f, "           found by {}", self.body_rule)?;
        if !self.candidates.is_empty() {
            writeln!(f, "candidates score  points  chars  links  punct.  element")?;
            for c in self.candidates.iter().take(5) {
                writeln!(
                    f,
                    "         {} {:>6.1} {:>7.1} {:>6} {:>5.0}% {:>7}  {}",
                    if c.chosen { "▶" } else { " " },
                    c.score,
                    c.points,
                    c.text_chars,
                    c.link_density * 100.0,
                    c.punctuation,
                    c.element
                )?;
            }
        }
        writeln!(
            f,
            "title      {}",
            self.title.as_deref().unwrap_or("(none)")
        )?;
        writeln!(f, "           from {}", self.title_from)?;
        writeln!(
            f,
            "date       {}",
            self.published
                .map(|d| d.to_string())
                .unwrap_or_else(|| "(none)".into())
        )?;
        writeln!(f, "           from {}", self.date_from)?;
        if let Some(art) = &self.article {
            if !art.metadata.is_empty() {
                writeln!(f, "metadata   (a disclosure table, kept out of the body)")?;
                for (k, v) in &art.metadata {
                    writeln!(f, "           {k}: {v}")?;
                }
            }
        }
        if self.left_out.is_empty() {
            writeln!(f, "left out   nothing at the body's edges")?;
        } else {
            writeln!(f, "left out")?;
            for t in &self.left_out {
                writeln!(f, "           {:<18} {}", t.reason, cut(&t.text))?;
            }
        }
        if let Some(art) = &self.article {
            writeln!(f, "sections   (block: label → path, rule)")?;
            if self.boundaries.is_empty() {
                writeln!(f, "           none: no block opens with a numbering label")?;
            }
            for b in &self.boundaries {
                let text = art
                    .blocks
                    .get(b.block)
                    .map(|x| x.text.as_str())
                    .unwrap_or("");
                match &b.path {
                    Some(p) => {
                        writeln!(f, "  {:>4}     {} → {p}: {}", b.block + 1, b.label, b.rule)?
                    }
                    None => writeln!(
                        f,
                        "  {:>4}     {} (not a heading): {}",
                        b.block + 1,
                        b.label,
                        b.rule
                    )?,
                }
                writeln!(f, "           {}", cut(text))?;
            }
            writeln!(f, "blocks     {} in the body", art.blocks.len())?;
        }
        if let Some(e) = &self.error {
            writeln!(f, "result     no version: {e}")?;
        }
        Ok(())
    }
}

fn cut(s: &str) -> String {
    let mut out: String = s.chars().take(SHOWN_CHARS).collect();
    if s.chars().count() > SHOWN_CHARS {
        out.push('…');
    }
    out
}
