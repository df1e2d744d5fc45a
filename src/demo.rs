//! `bulletin-watch demo`: a self-contained tour for someone trying the tool
//! on a laptop with no mail server and no internet.
//!
//! It serves bundled sample pages (a Shanghai article and a Jiangsu GBK
//! listing) on loopback with [`crate::site`], writes a `sources.toml` into a
//! folder of its own, and runs the real pipeline through a first check, an
//! edit and a newly published deployment. Alerts land as `.eml` files; the
//! tour ends by printing the history and diff a person would look at next.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::check::{Checker, Outcome};
use crate::config;
use crate::delivery::Mailer;
use crate::site::{Page, Site};
use crate::store::Store;
use crate::{audit, outbox};

const SH_V1: &[u8] = include_bytes!("../tests/fixtures/shanghai/article.v1.html");
const SH_V2: &[u8] = include_bytes!("../tests/fixtures/shanghai/article.v2-edit.html");
const JS_LIST_V1: &[u8] = include_bytes!("../tests/fixtures/jiangsu/list.v1.html");
const JS_LIST_V2: &[u8] = include_bytes!("../tests/fixtures/jiangsu/list.v2.html");
const JS_ARTICLE: &[u8] = include_bytes!("../tests/fixtures/jiangsu/article.v1.html");
const JS_NEW: &[u8] = include_bytes!("../tests/fixtures/jiangsu/new-article.html");

/// One round of checks over every configured source, as printable lines.
async fn step(checker: &Checker, title: &str) -> String {
    let mut lines = format!("== {title}\n");
    for s in &checker.config.sources {
        let r = checker.check_source(s).await;
        let what = match &r.outcome {
            Outcome::Stored { version, alerted } => {
                format!(
                    "stored version {version}{}",
                    if *alerted { ", alert queued" } else { "" }
                )
            }
            Outcome::Unchanged { .. } | Outcome::NotModified => "unchanged".to_string(),
            Outcome::Listing {
                matching,
                discovered,
                ..
            } => {
                format!("{matching} matching links, {discovered} new article(s)")
            }
            Outcome::Failed { error } => format!("failed: {error}"),
        };
        let _ = writeln!(lines, "   {:<10} {what}", s.id);
    }
    lines
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{0} already exists and is not empty; pick another --dir")]
    NotEmpty(PathBuf),
    #[error("{0}")]
    Setup(String),
}

fn setup<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> DemoError + '_ {
    move |e| DemoError::Setup(format!("{what}: {e}"))
}

/// Runs the tour in `dir` (created; must be empty), printing as it goes.
pub async fn run(dir: &Path, out: &mut dyn std::io::Write) -> Result<(), DemoError> {
    if dir.exists()
        && std::fs::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(DemoError::NotEmpty(dir.to_path_buf()));
    }
    std::fs::create_dir_all(dir).map_err(setup("creating the demo folder"))?;
    let site = Site::start().map_err(setup("starting the sample site"))?;
    let utf8 = "text/html; charset=UTF-8";
    site.set("/shanghai/article.html", Page::html(utf8, SH_V1));
    site.set("/jiangsu/list.v1.html", Page::html("text/html", JS_LIST_V1));
    site.set(
        "/jiangsu/article.v1.html",
        Page::html("text/html", JS_ARTICLE),
    );
    site.set("/jiangsu/new-article.html", Page::html("text/html", JS_NEW));

    let sources = format!(
        r#"# Written by `bulletin-watch demo`: two sources on a sample site on loopback.
[settings]
store = "store"
interval = "30m"
host_interval = "10ms"
host_concurrency = 2

[[source]]
id = "shanghai"
name = "上海市应急管理局 · 工作会议（示例）"
province = "上海市"
region = "华东"
url = "{}"
kind = "article"

[[source]]
id = "jiangsu"
name = "江苏省应急管理厅 · 应急要闻（示例）"
province = "江苏省"
region = "华东"
url = "{}"
kind = "listing"
link_pattern = "应急管理工作会议|应急管理厅.*一席谈"
"#,
        site.url("/shanghai/article.html"),
        site.url("/jiangsu/list.v1.html")
    );
    let config_path = dir.join("sources.toml");
    std::fs::write(&config_path, sources).map_err(setup("writing sources.toml"))?;
    let config = Arc::new(config::load(&config_path).map_err(setup("loading sources.toml"))?);
    let store = Arc::new(Store::open(&config.settings.store).map_err(setup("opening the store"))?);
    let checker =
        Checker::new(config.clone(), store.clone()).map_err(setup("building the HTTP client"))?;
    let mailer =
        Mailer::from_config(&config.mail, &config.settings.store).map_err(setup("mail"))?;

    let say = |out: &mut dyn std::io::Write, s: String| {
        let _ = writeln!(out, "{s}");
    };
    say(
        out,
        format!(
            "Sample site on {}  ·  folder {}\n",
            site.url("/"),
            dir.display()
        ),
    );

    let l = step(
        &checker,
        "1. first check: everything already published is recorded silently",
    )
    .await;
    say(out, l);
    site.set("/shanghai/article.html", Page::html(utf8, SH_V2));
    let l = step(&checker, "2. Shanghai edits one sentence of section （一）").await;
    say(out, l);
    site.set("/jiangsu/list.v1.html", Page::html("text/html", JS_LIST_V2));
    let l = step(
        &checker,
        "3. Jiangsu publishes its 2026 deployment on its listing",
    )
    .await;
    say(out, l);

    let drained = outbox::drain(&store, &config, &mailer, true)
        .await
        .map_err(setup("delivering alerts"))?;
    let mail_dir = config.settings.store.join("mail");
    say(
        out,
        format!(
            "== alerts: {} written as .eml files into {}",
            drained.sent,
            mail_dir.display()
        ),
    );
    if let Ok(rd) = std::fs::read_dir(&mail_dir) {
        let mut names: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        names.sort();
        for n in names {
            say(out, format!("   {}", n.display()));
        }
    }
    say(out, String::new());
    if let Ok(h) = audit::history(&store, Some("shanghai"), false) {
        say(out, format!("== bulletin-watch history shanghai\n{h}"));
    }
    if let Ok(d) = audit::diff_output(&store, "shanghai", None, None, false) {
        say(out, format!("== bulletin-watch diff shanghai\n{d}"));
    }
    let cfg = config_path.display();
    say(
        out,
        format!(
            "Next, try:\n   bulletin-watch --config {cfg} history\n   bulletin-watch --config {cfg} show shanghai --version 2\n   bulletin-watch --config {cfg} diff shanghai 1 2 --json\n   bulletin-watch --config {cfg} verify\n   bulletin-watch --config {cfg} compile --region 华东\n   bulletin-watch --config {cfg} serve   (then open http://127.0.0.1:8080/)\n(The sample site stops with this command; the store keeps everything.)"
        ),
    );
    store.flush().map_err(setup("flushing the store"))?;
    Ok(())
}
