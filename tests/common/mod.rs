//! Shared test support: the fixture manifest, a real loopback site serving
//! the fixtures, and configuration files written into temporary folders.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bulletin_watch::check::Checker;
use bulletin_watch::config::{self, Config};
use bulletin_watch::model::{AlertKind, Block, Document};
use bulletin_watch::site::{Page, Site};
use bulletin_watch::store::{Store, StoreError};
use serde::Deserialize;

mod daemon;
pub use daemon::{http_get, version_count, Daemon};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// `tests/fixtures/manifest.toml`, the one description of every fixture page
/// (see `tests/fixtures/README.md`); every suite reads it through [`manifest`].
#[derive(Debug, Deserialize)]
pub struct Manifest {
    pub meta: Meta,
    #[serde(rename = "article")]
    pub articles: Vec<ArticleExp>,
    #[serde(rename = "listing")]
    pub listings: Vec<ListingExp>,
}

#[derive(Debug, Deserialize, Clone)]
pub struct Meta {
    /// Written wherever a URL needs the loopback site's port (`{port}`).
    pub port_placeholder: String,
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
    #[serde(default)]
    pub bom: bool,
    /// The element holding the article body ("div#zoom", "div.TRS_Editor").
    pub body_container: Option<String>,
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
    pub links: Vec<String>,
    #[serde(default)]
    pub ignored_hrefs: Vec<String>,
    #[serde(default)]
    pub dropped_links: Vec<String>,
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
    /// `s` with the port placeholder replaced by `port`.
    pub fn at_port(&self, s: &str, port: impl std::fmt::Display) -> String {
        s.replace(&self.meta.port_placeholder, &port.to_string())
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

/// Opens a store this process closed a moment ago: sled finishes its last
/// background write, and only then releases the folder's lock.
pub fn reopen(dir: &Path) -> Store {
    retry_open(|| match Store::open(dir) {
        Err(StoreError::Locked { path }) => Err(path), // still held: retry
        other => Ok(other),
    })
    .unwrap_or_else(|e| panic!("cannot open the store {}: {e}", dir.display()))
}

/// Calls `open` until it succeeds, for at most 5 s: for anything that holds
/// the lock of a store folder closed a moment ago (`|| sled::open(dir)`).
pub fn retry_open<T, E: std::fmt::Debug>(mut open: impl FnMut() -> Result<T, E>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match open() {
            Ok(v) => return v,
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("cannot open the store: {e:?}"),
        }
    }
}

/// Standard base64 (MIME bodies, encoded words, WebDriver screenshots):
/// whitespace is skipped, decoding stops at the first `=`, and any other
/// byte outside the alphabet fails the test.
pub fn base64_decode(s: impl AsRef<[u8]>) -> Vec<u8> {
    let value = |c: u8| -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in s.as_ref() {
        if c == b'=' {
            break;
        }
        let Some(v) = value(c) else {
            assert!(c.is_ascii_whitespace(), "bad base64 byte {c:#x}");
            continue;
        };
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// A loopback port nothing listens on, for a server a test starts later (a
/// daemon's `--serve`, chromedriver, an SMTP server that comes back) or for a
/// refused connection. Taken below the kernel's ephemeral range, so no
/// connection made meanwhile can be given it as its local port, and never
/// twice in one run of this binary (its suites share one process).
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const LOW: u32 = 10_000;
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32_768)
        .min(65_536);
    if ephemeral_low < LOW + 1_000 {
        // No room below the ephemeral range: let the kernel pick.
        return std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a loopback port")
            .port();
    }
    let span = ephemeral_low - LOW;
    // Test runs in other processes start elsewhere in the range.
    let start = std::process::id() % span;
    for _ in 0..span {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = u16::try_from(LOW + (start + n) % span).expect("port below 65536");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {LOW}..{ephemeral_low}");
}

pub fn rt() -> tokio::runtime::Runtime {
    bulletin_watch::fetch::install_crypto();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}
