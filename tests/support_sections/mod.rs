//! The fixture manifest as the section and diff suites read it, and the
//! fixture pages run through the real transform (decode → extract →
//! sections) exactly as `check` runs it, served with the manifest's
//! Content-Type.
#![allow(dead_code)]

use std::path::PathBuf;

use bulletin_watch::decode;
use bulletin_watch::extract::{self, Block, Document, ExtractOptions};
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
    pub http_content_type: String,
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

fn bytes(article: &Article) -> Vec<u8> {
    let path = fixtures_dir().join(&article.file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The body blocks the real extractor finds in a fixture page.
pub fn blocks(article: &Article) -> Vec<Block> {
    let decoded = decode::decode(&bytes(article), Some(&article.http_content_type), None)
        .unwrap_or_else(|e| panic!("{}: {e}", article.file));
    extract::article(&decoded.text, &ExtractOptions::default())
        .unwrap_or_else(|e| panic!("{}: {e}", article.file))
        .blocks
}

/// The document `check` would store for a fixture page.
pub fn document(article: &Article) -> Document {
    extract::document(
        &bytes(article),
        Some(&article.http_content_type),
        &ExtractOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", article.file))
    .0
}
