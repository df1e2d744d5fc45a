//! Shared test support: the fixture manifest, a real loopback site serving
//! the fixtures, and configuration files written into temporary folders.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bulletin_watch::check::Checker;
use bulletin_watch::config::{self, Config};
use bulletin_watch::model::{AlertKind, Block, Document};
use bulletin_watch::site::{Page, Site};
use bulletin_watch::store::Store;
use serde::Deserialize;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

#[derive(Debug, Deserialize)]
pub struct Manifest {
    #[serde(rename = "article")]
    pub articles: Vec<ArticleExp>,
    #[serde(rename = "listing")]
    pub listings: Vec<ListingExp>,
}

#[derive(Debug, Deserialize, Clone)]
pub struct ArticleExp {
    pub file: String,
    pub province: String,
    pub province_name: Option<String>,
    pub version: String,
    pub title: String,
    pub publish_date: String,
    pub encoding: String,
    pub http_content_type: String,
    pub preamble_prefix: String,
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
    #[serde(default)]
    pub sections: Vec<SectionExp>,
}

#[derive(Debug, Deserialize, Clone)]
pub struct SectionExp {
    pub label: String,
    pub raw_label: String,
    pub level: u8,
    pub path: String,
    pub text_prefix: String,
}

#[derive(Debug, Deserialize, Clone)]
pub struct ListingExp {
    pub file: String,
    pub province: String,
    pub version: String,
    pub url: String,
    pub http_content_type: String,
    pub article_url: Option<String>,
    pub article_title: Option<String>,
    #[serde(default)]
    pub new_links: Vec<String>,
    #[serde(default)]
    pub new_titles: Vec<String>,
    #[serde(default)]
    pub links: Vec<String>,
}

pub fn manifest() -> Manifest {
    let text = std::fs::read_to_string(fixtures().join("manifest.toml")).expect("manifest.toml");
    toml::from_str(&text).expect("manifest parses")
}

impl Manifest {
    pub fn article(&self, file: &str) -> &ArticleExp {
        self.articles
            .iter()
            .find(|a| a.file == file)
            .unwrap_or_else(|| panic!("{file} not in manifest"))
    }
    pub fn provinces(&self) -> Vec<String> {
        let mut p: Vec<String> = self.articles.iter().map(|a| a.province.clone()).collect();
        p.dedup();
        p
    }
}

/// Bytes of a fixture file.
pub fn fixture(file: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// The body blocks the real extractor finds in a fixture article, served
/// with the manifest's Content-Type.
pub fn article_blocks(a: &ArticleExp) -> Vec<Block> {
    let decoded =
        bulletin_watch::decode::decode(&fixture(&a.file), Some(&a.http_content_type), None)
            .unwrap_or_else(|e| panic!("{}: {e}", a.file));
    bulletin_watch::extract::article(&decoded.text, &Default::default())
        .unwrap_or_else(|e| panic!("{}: {e}", a.file))
        .blocks
}

/// The document `check` would store for a fixture article.
pub fn article_document(a: &ArticleExp) -> Document {
    bulletin_watch::extract::document(
        &fixture(&a.file),
        Some(&a.http_content_type),
        &Default::default(),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", a.file))
    .0
}

/// A page serving fixture `file` with the manifest's Content-Type.
pub fn fixture_page(m: &Manifest, file: &str) -> Page {
    let ct = m
        .articles
        .iter()
        .find(|a| a.file == file)
        .map(|a| a.http_content_type.clone())
        .or_else(|| {
            m.listings
                .iter()
                .find(|l| l.file == file)
                .map(|l| l.http_content_type.clone())
        })
        .unwrap_or_else(|| "text/html".into());
    Page::html(&ct, fixture(file))
}

/// A site serving every fixture file at `/<file>`.
pub fn fixture_site(m: &Manifest) -> Site {
    let site = Site::start().expect("site starts");
    for a in &m.articles {
        site.set(&format!("/{}", a.file), fixture_page(m, &a.file));
    }
    for l in &m.listings {
        site.set(&format!("/{}", l.file), fixture_page(m, &l.file));
    }
    site
}

/// A temporary project folder with a `sources.toml` and its store.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new(sources_toml: &str) -> Project {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("sources.toml"), sources_toml).expect("write sources.toml");
        Project { dir }
    }
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("sources.toml")
    }
    pub fn store_path(&self) -> PathBuf {
        self.dir.path().join("store")
    }
    pub fn config(&self) -> Config {
        config::load(&self.config_path()).expect("config loads")
    }
    pub fn checker(&self) -> Checker {
        let config = Arc::new(self.config());
        let store = Arc::new(Store::open(&config.settings.store).expect("store opens"));
        Checker::new(config, store).expect("checker")
    }
    /// Runs the real binary with `args` in this project.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_bulletin-watch"))
            .arg("--config")
            .arg(self.config_path())
            .args(args)
            .env_remove("BULLETIN_WATCH_STORE")
            .output()
            .expect("binary runs")
    }
}

/// Settings fast enough for tests against loopback.
pub const FAST_SETTINGS: &str = "[settings]\ninterval = \"1s\"\nhost_interval = \"1ms\"\nhost_concurrency = 4\ntimeout = \"5s\"\nretries = 0\n";

pub fn article_source(id: &str, province_name: &str, url: &str) -> String {
    format!("\n[[source]]\nid = \"{id}\"\nname = \"{province_name} test\"\nprovince = \"{province_name}\"\nregion = \"华东\"\nurl = \"{url}\"\nkind = \"article\"\n")
}

pub fn listing_source(id: &str, province_name: &str, url: &str, pattern: &str) -> String {
    format!("\n[[source]]\nid = \"{id}\"\nname = \"{province_name} listing\"\nprovince = \"{province_name}\"\nregion = \"华东\"\nurl = \"{url}\"\nkind = \"listing\"\nlink_pattern = \"{pattern}\"\n")
}

/// The kinds of every alert in the checker's outbox, oldest first.
pub fn alert_kinds(checker: &Checker) -> Vec<AlertKind> {
    checker
        .store
        .outbox()
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

pub fn rt() -> tokio::runtime::Runtime {
    bulletin_watch::fetch::install_crypto();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}
