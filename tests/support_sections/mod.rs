//! Test-only stand-in for the HTML extractor, so the section parser and the
//! differ can be checked against the real fixture pages before
//! `extract::article` exists. It knows only what the manifest tells it (the
//! encoding and the body container) and is deliberately minimal: `<p>`
//! elements, `<br>`-separated lines, and a leading `<strong>`/`<b>` run.
#![allow(dead_code)]

use std::path::PathBuf;

use bulletin_watch::extract::{Block, Document};
use bulletin_watch::sections;
use bulletin_watch::text::display;
use scraper::{ElementRef, Html, Node, Selector};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Manifest {
    pub article: Vec<Article>,
}

#[derive(Debug, Deserialize)]
pub struct Article {
    pub file: String,
    pub title: String,
    pub publish_date: String,
    pub encoding: String,
    pub body_container: String,
    pub preamble_prefix: String,
    #[serde(default)]
    pub sections: Vec<ExpectedSection>,
    pub baseline: Option<String>,
    pub expected_alert: Option<String>,
    #[serde(default)]
    pub changed: Vec<String>,
    #[serde(default)]
    pub added: Vec<String>,
    #[serde(default)]
    pub removed: Vec<String>,
    #[serde(default)]
    pub renumbered: Vec<toml::Value>,
    pub note: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ExpectedSection {
    pub label: String,
    pub raw_label: String,
    pub level: u8,
    pub path: String,
    pub text_prefix: String,
}

pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn manifest() -> Manifest {
    let path = fixtures_dir().join("manifest.toml");
    let text = std::fs::read_to_string(&path).expect("read manifest.toml");
    toml::from_str(&text).expect("parse manifest.toml")
}

/// Decodes a fixture as the manifest says it is encoded (a BOM wins).
pub fn decode(article: &Article) -> String {
    let bytes = std::fs::read(fixtures_dir().join(&article.file)).expect("read fixture");
    let enc = encoding_rs::Encoding::for_label(article.encoding.as_bytes())
        .expect("manifest encoding is a known label");
    let (text, _, _) = enc.decode(&bytes);
    text.into_owned()
}

fn is_emphasis(name: &str) -> bool {
    matches!(name, "strong" | "b")
}

#[derive(Default)]
struct Line {
    text: String,
    emphasized: String,
    /// Still inside the leading emphasised run.
    leading: bool,
}

/// Splits one element into lines at `<br>`, tracking the leading emphasis.
fn lines_of(el: ElementRef) -> Vec<Block> {
    let mut lines = vec![Line {
        leading: true,
        ..Line::default()
    }];
    for node in el.descendants() {
        match node.value() {
            Node::Element(e) if e.name() == "br" => lines.push(Line {
                leading: true,
                ..Line::default()
            }),
            Node::Text(t) => {
                let ancestors: Vec<&str> = node
                    .ancestors()
                    .take_while(|a| a.id() != el.id())
                    .filter_map(|a| a.value().as_element().map(|e| e.name()))
                    .collect();
                if ancestors.iter().any(|n| matches!(*n, "script" | "style")) {
                    continue;
                }
                let emphasized = ancestors.iter().any(|n| is_emphasis(n));
                let line = lines.last_mut().expect("at least one line");
                line.text.push_str(t);
                if line.leading {
                    if emphasized {
                        line.emphasized.push_str(t);
                    } else if !display(t).is_empty() {
                        line.leading = false;
                    }
                }
            }
            _ => {}
        }
    }
    lines
        .into_iter()
        .map(|l| Block {
            text: display(&l.text),
            emphasized_prefix: Some(display(&l.emphasized)).filter(|e| !e.is_empty()),
        })
        .filter(|b| !b.text.is_empty())
        .collect()
}

/// Body blocks: every `<p>` in the manifest's body container (or the
/// container's own lines when it has no paragraphs).
pub fn blocks(article: &Article) -> Vec<Block> {
    let html = Html::parse_document(&decode(article));
    let container_sel = Selector::parse(&article.body_container).expect("valid body_container");
    let container = html
        .select(&container_sel)
        .next()
        .unwrap_or_else(|| panic!("{}: no {}", article.file, article.body_container));
    let p = Selector::parse("p").expect("valid selector");
    let paragraphs: Vec<ElementRef> = container.select(&p).collect();
    if paragraphs.is_empty() {
        return lines_of(container);
    }
    paragraphs.into_iter().flat_map(lines_of).collect()
}

/// The document for a fixture page; title and date come from the manifest
/// because finding them is the extractor's job, not what these tests check.
pub fn document(article: &Article) -> Document {
    let parsed = sections::parse(&blocks(article));
    Document {
        title: article.title.clone(),
        published: article.publish_date.parse().ok(),
        encoding: article.encoding.clone(),
        preamble: parsed.preamble,
        sections: parsed.sections,
    }
}
