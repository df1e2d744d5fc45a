//! The visible half of scheduling, end to end with the real binary and a
//! loopback site: a host over budget gets one notice per streak and its
//! listing stays on time, retired articles stay in history, verify,
//! exports and the web view, an adapted interval survives a restart, and
//! the web sources index filters and paginates.

use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use bulletin_watch::config::Config;
use bulletin_watch::model::AlertKind;
use bulletin_watch::site::{Page, Site};
use bulletin_watch::store::{OutboxEntry, Store};
use bulletin_watch::web::WebState;

const PATTERN: &str = "应急管理工作会议";

/// The outbox through the CLI (from the daemon while it holds the store).
fn outbox(project: &Project) -> Vec<serde_json::Value> {
    let out = project.cli(&["outbox", "--json"]);
    if !out.status.success() {
        return Vec::new();
    }
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

fn kinds(entries: &[serde_json::Value], kind: &str) -> usize {
    entries.iter().filter(|e| e["kind"] == kind).count()
}

/// A listing linking `n` articles at `/a/N.html`, each the same fixture page.
fn site_with_articles(n: usize) -> Site {
    let m = manifest();
    let site = Site::start().expect("site starts");
    let mut links = String::new();
    for i in 0..n {
        links.push_str(&format!(
            "<li><a href=\"/a/{i}.html\">全省{PATTERN}第{i}次</a><span>2026-01-{:02}</span></li>\n",
            i % 28 + 1
        ));
        site.set(
            &format!("/a/{i}.html"),
            fixture_page(&m, "zhejiang/article.v1.html"),
        );
    }
    site.set(
        "/list.html",
        Page::html(
            "text/html; charset=utf-8",
            format!("<html><head><title>工作动态</title></head><body><ul class=\"list\">{links}</ul></body></html>"),
        ),
    );
    site
}

/// Requests served for `path`, full and 304.
fn hits(site: &Site, path: &str) -> u32 {
    let (full, not_modified) = site.hits(path);
    full + not_modified
}

fn settings(extra: &str) -> String {
    format!("[settings]\ninterval = \"2s\"\ntimeout = \"5s\"\nretries = 0\nhost_concurrency = 1\n{extra}\n")
}

#[test]
fn a_host_over_budget_gets_one_notice_per_streak_and_its_listing_stays_on_time() {
    let site = site_with_articles(30);
    let listing = listing_source("col", "浙江省", &site.url("/list.html"), PATTERN);
    // 31 checks every 2 s ask 55,800 an hour; one per 100 ms allows 36,000.
    let over = format!("{}{listing}", settings("host_interval = \"100ms\""));
    let project = Project::new(&over);
    let out = project.cli(&["check"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("discovered 30"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // `sources validate --fetch` says so before anything runs.
    let v = project.cli(&["sources", "validate", "--fetch"]);
    let text = String::from_utf8_lossy(&v.stdout);
    assert!(
        text.contains(
            "over budget: 127.0.0.1: 55,800 checks due per hour, its pacing allows 36,000"
        ),
        "{text}"
    );

    let mut daemon = Daemon::run(&project, &[]);
    daemon.wait_for("a host-over-budget notice", Duration::from_secs(20), || {
        kinds(&outbox(&project), "host-over-budget") >= 1
    });
    let listed = hits(&site, "/list.html");
    std::thread::sleep(Duration::from_secs(7));
    // The listing goes first whenever it is due: every ~2 s, not starved.
    let listed = hits(&site, "/list.html") - listed;
    assert!(listed >= 2, "listing checked {listed} times in 7 s");
    let notices = outbox(&project);
    assert_eq!(kinds(&notices, "host-over-budget"), 1, "{notices:#?}");
    assert_eq!(kinds(&notices, "host-within-budget"), 0);
    // The list says it too.
    let list = String::from_utf8_lossy(&project.cli(&["sources", "list"]).stdout).into_owned();
    assert!(
        list.contains(
            "over budget: 127.0.0.1: 55,800 checks due per hour, its pacing allows 36,000"
        ),
        "{list}"
    );
    let log = daemon.terminate();
    assert!(log.contains("host-over-budget"), "{log}");

    // A restart in the middle of the streak says nothing new.
    let mut daemon = Daemon::run(&project, &[]);
    std::thread::sleep(Duration::from_secs(3));
    let notices = outbox(&project);
    assert_eq!(kinds(&notices, "host-over-budget"), 1, "{notices:#?}");

    // Faster pacing (a reload) ends the streak: one line says so.
    let fine = format!("{}{listing}", settings("host_interval = \"10ms\""));
    std::fs::write(project.config_path(), fine).unwrap();
    daemon.signal("HUP");
    daemon.wait_for(
        "a host-within-budget notice",
        Duration::from_secs(20),
        || kinds(&outbox(&project), "host-within-budget") == 1,
    );
    daemon.terminate();
    let store = reopen(&project.store_path());
    let entries: Vec<OutboxEntry> = store.outbox().unwrap();
    let over: Vec<&OutboxEntry> = entries
        .iter()
        .filter(|e| e.kind == AlertKind::HostOverBudget)
        .collect();
    assert_eq!(over.len(), 1);
    assert_eq!(over[0].notice.as_deref(), Some("127.0.0.1"));
    assert_eq!(
        over[0].detail.as_deref(),
        Some("127.0.0.1: 55,800 checks due per hour, its pacing allows 36,000")
    );
    // Named by the configured listing, so its recipients hear of it.
    assert_eq!(over[0].source, "col");
}

#[test]
fn a_retired_article_is_not_checked_but_stays_in_history_verify_exports_and_the_web_view() {
    let site = site_with_articles(1);
    let listing = listing_source("col", "浙江省", &site.url("/list.html"), PATTERN);
    let project = Project::new(&format!("{}{listing}", settings("host_interval = \"1ms\"")));
    let out = project.cli(&["check"]);
    assert!(out.status.success());
    let store = reopen(&project.store_path());
    let id = store.tracked().unwrap()[0].id.clone();
    drop(store);
    // Discovered a moment ago; retired after one second.
    std::fs::write(
        project.config_path(),
        format!(
            "{}{listing}",
            settings("host_interval = \"1ms\"\nretire_after = \"1s\"")
        ),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(1500));

    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut daemon = Daemon::run(&project, &["--serve", &addr]);
    let article_hits = hits(&site, "/a/0.html");
    let listing_hits = hits(&site, "/list.html");
    daemon.wait_for("two listing checks", Duration::from_secs(20), || {
        hits(&site, "/list.html") >= listing_hits + 2
    });
    assert_eq!(
        hits(&site, "/a/0.html"),
        article_hits,
        "a retired article is not fetched"
    );
    // Its history stays readable and verifiable, exported and shown.
    let h = project.cli(&["history", &id]);
    assert!(h.status.success());
    assert!(String::from_utf8_lossy(&h.stdout).contains("v1"));
    let v = project.cli(&["verify", "--source", &id]);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    let e = project.cli(&["export", "--source", &id, "--format", "jsonl"]);
    assert!(e.status.success());
    assert_eq!(String::from_utf8_lossy(&e.stdout).lines().count(), 1);
    let index = http_get(port, "/?status=retired");
    assert!(index.contains(&format!("id=\"src-{id}\"")), "{index}");
    assert!(index.contains("已停止检查 retired"), "{index}");
    assert!(
        !index.contains("id=\"src-col\""),
        "the listing is not retired"
    );
    let page = http_get(port, &format!("/source/{id}"));
    assert!(page.contains("past retire_after"), "{page}");
    daemon.terminate();
    // A `check` pass leaves it out too.
    let out = project.cli(&["check"]);
    assert!(out.status.success());
    assert_eq!(hits(&site, "/a/0.html"), article_hits);
    assert!(hits(&site, "/list.html") > listing_hits + 2);
}

#[test]
fn an_adapted_interval_survives_a_restart() {
    let m = manifest();
    let site = Site::start().expect("site starts");
    site.set("/a.html", fixture_page(&m, "zhejiang/article.v1.html"));
    let source = article_source("zj", "浙江省", &site.url("/a.html"))
        + "interval = \"1s\"\nmax_interval = \"1h\"\n";
    let project = Project::new(&format!("{}{source}", settings("host_interval = \"1ms\"")));
    let before = project.cli(&["sources", "list"]);
    let before = String::from_utf8_lossy(&before.stdout).into_owned();
    assert!(!before.contains("now;"), "nothing known yet: {before}");

    let mut daemon = Daemon::run(&project, &[]);
    // 1 s, 1.5 s, 2.25 s, 3.4 s: five checks take about 8 s.
    daemon.wait_for("five checks", Duration::from_secs(30), || {
        hits(&site, "/a.html") >= 5
    });
    daemon.terminate();
    let interval = |p: &Project| {
        let store = reopen(&p.store_path());
        let ms = store.fetch_state("zj").unwrap().interval_ms;
        drop(store);
        ms.unwrap_or(0)
    };
    let grown = interval(&project);
    assert!(grown >= 3000, "grown to {grown} ms");
    let list = String::from_utf8_lossy(&project.cli(&["sources", "list"]).stdout).into_owned();
    assert!(list.contains("now; next "), "{list}");

    // A restart goes on from the grown interval instead of the base.
    let daemon = Daemon::run(&project, &[]);
    std::thread::sleep(Duration::from_secs(3));
    let log = daemon.terminate();
    assert!(log.contains("adapted intervals restored"), "{log}");
    let after = interval(&project);
    assert!(
        after >= grown,
        "{after} ms after the restart, {grown} before"
    );
}

/// A view over `config` and an empty store, served in-process.
struct View {
    port: u16,
    _stop: tokio::sync::oneshot::Sender<()>,
    _rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

fn serve(config: Config) -> View {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("store")).unwrap());
    let rt = rt();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let state = WebState::new(store, config);
    rt.spawn(async move {
        let _ = bulletin_watch::web::serve(listener, state, async {
            let _ = rx.await;
        })
        .await;
    });
    View {
        port,
        _stop: tx,
        _rt: rt,
        _dir: dir,
    }
}

/// `n` article sources spread over 31 provinces of 7 regions.
fn many_sources(n: usize) -> Config {
    const REGIONS: [&str; 7] = ["华东", "华北", "华中", "华南", "西南", "西北", "东北"];
    let mut text = String::from("[settings]\ninterval = \"1h\"\n");
    for i in 0..n {
        let p = i % 31;
        text.push_str(&format!(
            "[[source]]\nid = \"s{i:06}\"\nname = \"省{p}应急管理厅 第{i}号\"\nprovince = \"省{p:02}\"\nregion = \"{}\"\nurl = \"http://p{p:02}.example.gov.cn/art/{i}.html\"\nkind = \"article\"\n",
            REGIONS[p % 7]
        ));
    }
    bulletin_watch::config::parse(&text, std::path::Path::new("many/sources.toml"))
        .expect("generated configuration")
}

fn cards(page: &str) -> usize {
    page.matches("<li class=\"src").count()
}

#[test]
fn the_sources_index_filters_and_paginates() {
    let view = serve(many_sources(620));
    let first = http_get(view.port, "/");
    assert!(first.contains("620 个来源 sources"), "{first}");
    assert_eq!(cards(&first), 100, "one page of sources");
    assert!(first.contains("第 1 / 7 页"), "7 pages");
    assert!(first.contains("href=\"/?page=2\" rel=\"next\""));
    // The last page holds the rest; a page past the end shows the last.
    let last = http_get(view.port, "/?page=7");
    assert_eq!(cards(&last), 20);
    assert_eq!(cards(&http_get(view.port, "/?page=99")), 20);
    assert!(last.contains("rel=\"prev\""));
    // Every source is on exactly one page, each linked by its id.
    let mut seen = std::collections::HashSet::new();
    for p in 1..=7 {
        let page = http_get(view.port, &format!("/?page={p}"));
        for part in page.split("<li class=\"src").skip(1) {
            let id = part.split("id=\"src-").nth(1).unwrap();
            let id = &id[..id.find('"').unwrap()];
            assert!(seen.insert(id.to_string()), "{id} twice");
            assert!(part.contains(&format!("href=\"/source/{id}\"")));
        }
    }
    assert_eq!(seen.len(), 620);

    // Filters: a province, a region, text, a status; links keep them.
    let province = http_get(view.port, "/?province=%E7%9C%8103");
    assert_eq!(cards(&province), 20, "省03 holds 20 of 620");
    assert!(province.contains("20 个匹配 matching"));
    assert!(!province.contains("<h3>省04</h3>"));
    let region = http_get(view.port, "/?region=%E5%8D%8E%E5%8C%97");
    assert!(region.contains("<h2>华北</h2>") && !region.contains("<h2>华东</h2>"));
    let text = http_get(view.port, "/?q=%E7%AC%AC617%E5%8F%B7");
    assert_eq!(cards(&text), 1);
    assert!(text.contains("id=\"src-s000617\""));
    let by_url = http_get(view.port, "/?q=P05.EXAMPLE.GOV.CN/art/5.html");
    assert!(by_url.contains("id=\"src-s000005\""), "text is case-blind");
    // Never checked: none failing, none changed recently, all "ok".
    assert_eq!(cards(&http_get(view.port, "/?status=failing")), 0);
    assert_eq!(cards(&http_get(view.port, "/?status=changed")), 0);
    let ok = http_get(view.port, "/?status=ok&page=2");
    assert!(ok.contains("620 个匹配 matching"));
    assert!(ok.contains("href=\"/?status=ok&amp;page=3\" rel=\"next\""));
    let east = http_get(view.port, "/?status=ok&region=%E5%8D%8E%E4%B8%9C");
    assert_eq!(cards(&east), 100, "5 provinces of 20");
}

#[test]
fn the_sources_index_stays_under_200_kb_at_100000_sources() {
    let view = serve(many_sources(100_000));
    let page = http_get(view.port, "/");
    assert!(page.contains("100000 个来源 sources"));
    assert_eq!(cards(&page), 100);
    assert!(page.len() < 200 * 1024, "{} bytes", page.len());
    // The province counts link to each province's own pages.
    assert!(page.contains("省30 3225"), "counts per province");
    let p = http_get(view.port, "/?province=%E7%9C%8130&page=33");
    assert_eq!(cards(&p), 25);
    assert!(p.len() < 200 * 1024);
}
