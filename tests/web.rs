//! The web view over a store filled by the real pipeline from the loopback
//! fixture site, tested over HTTP the way a browser or a feed reader uses
//! it, and once in a real headless Chromium.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;
use bulletin_watch::alert::Message;
use bulletin_watch::alert::{AlertConfig, Renderer};
use bulletin_watch::config::Config;
use bulletin_watch::model::sha256_hex;
use bulletin_watch::site::{Page, Site};
use bulletin_watch::store::{DeliveryState, OutboxEntry, Store};
use bulletin_watch::web::{self, WebState};
use reqwest::header::{HeaderMap, AUTHORIZATION, CONTENT_DISPOSITION, CONTENT_TYPE, COOKIE};
use reqwest::StatusCode;

const PATTERN: &str = "应急管理工作会议|应急管理厅.*一席谈";
const TOKEN: &str = "correct-horse-battery-staple-42";
const HOSTILE: &str = "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;";

fn source(id: &str, province: &str, region: &str, url: &str, kind: &str) -> String {
    let pattern = if kind == "listing" {
        format!("link_pattern = \"{PATTERN}\"\n")
    } else {
        String::new()
    };
    format!(
        "\n[[source]]\nid = \"{id}\"\nname = \"{province}应急管理厅\"\nprovince = \"{province}\"\n\
         region = \"{region}\"\nurl = \"{url}\"\nkind = \"{kind}\"\n{pattern}"
    )
}

/// A store with real history: two provinces edited (v1 → v2-edit), a
/// listing that discovered articles, a page with a hostile title, and a
/// source that fails; the view served on loopback.
struct Fx {
    rt: tokio::runtime::Runtime,
    base: String,
    store: Arc<Store>,
    config: Arc<Config>,
    m: Manifest,
    _site: Site,
    _project: Project,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Fx {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn fill(m: &Manifest) -> (Site, Project) {
    let site = fixture_site(m);
    for p in ["shanghai", "jiangsu"] {
        site.set(
            &format!("/watched/{p}.html"),
            fixture_page(m, &format!("{p}/article.v1.html")),
        );
    }
    let sh = m.article("shanghai/article.v1.html");
    let hostile = String::from_utf8(fixture("shanghai/article.v1.html"))
        .unwrap()
        .replace(&sh.title, &format!("{HOSTILE}{}", sh.title));
    site.set(
        "/watched/hostile.html",
        Page::html("text/html; charset=utf-8", hostile),
    );
    site.set("/broken.html", Page::status(500, "<h1>Internal error</h1>"));

    let toml = format!(
        "{FAST_SETTINGS}failure_threshold = 1\n{}{}{}{}{}",
        source(
            "shanghai",
            "上海市",
            "华东",
            &site.url("/watched/shanghai.html"),
            "article"
        ),
        source(
            "jiangsu",
            "江苏省",
            "华东",
            &site.url("/watched/jiangsu.html"),
            "article"
        ),
        source(
            "zhejiang-list",
            "浙江省",
            "华东",
            &site.url("/zhejiang/list.v1.html"),
            "listing"
        ),
        source(
            "hostile",
            "河北省",
            "华北",
            &site.url("/watched/hostile.html"),
            "article"
        ),
        source(
            "broken",
            "河北省",
            "华北",
            &site.url("/broken.html"),
            "article"
        ),
    );
    let project = Project::new(&toml);
    (site, project)
}

fn fx(token: Option<&str>) -> Fx {
    let m = manifest();
    let (site, project) = fill(&m);
    let rt = rt();
    let checker = project.checker();
    let check_all = || {
        for s in checker.config.sources.clone() {
            rt.block_on(checker.check_source(&s));
        }
    };
    check_all();
    for p in ["shanghai", "jiangsu"] {
        site.set(
            &format!("/watched/{p}.html"),
            fixture_page(&m, &format!("{p}/article.v2-edit.html")),
        );
    }
    // The listing grows by one new deployment.
    site.set(
        "/zhejiang/list.v1.html",
        fixture_page(&m, "zhejiang/list.v2.html"),
    );
    check_all();

    // One alert delivered, one failing to deliver, the rest pending.
    let store = checker.store.clone();
    let mut outbox = store.outbox().unwrap();
    assert!(outbox.len() >= 4, "fixture alerts: {outbox:#?}");
    outbox[0].state = DeliveryState::Delivered;
    outbox[0].attempts = 1;
    outbox[0].delivered_at = Some(jiff::Timestamp::now());
    store.update_entry(&outbox[0]).unwrap();
    outbox[1].attempts = 3;
    outbox[1].last_error = Some("SMTP delivery failed: <relay> refused".into());
    store.update_entry(&outbox[1]).unwrap();

    let config: Arc<Config> = checker.config.clone();
    let state = WebState::new(store.clone(), config.clone()).with_token(token.map(str::to_string));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    rt.spawn(web::serve(listener, state, async {
        let _ = rx.await;
    }));
    Fx {
        rt,
        base,
        store,
        config,
        m,
        _site: site,
        _project: project,
        stop: Some(tx),
    }
}

impl Fx {
    /// Every alert with the message it renders to, as the view shows it.
    fn alerts(&self) -> Vec<(OutboxEntry, Message)> {
        let config = AlertConfig::from_config(&self.config);
        let renderer = Renderer::new(&self.store, &config);
        let entries = self.store.outbox().unwrap();
        entries
            .into_iter()
            .map(|e| {
                let m = renderer.render(&e).unwrap();
                (e, m)
            })
            .collect()
    }
}

struct Got {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Got {
    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("pages are UTF-8")
    }
    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }
}

impl Fx {
    fn request(&self, path: &str, headers: &[(reqwest::header::HeaderName, &str)]) -> Got {
        let url = format!("{}{path}", self.base);
        self.rt.block_on(async {
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            let mut req = client.get(&url);
            for (k, v) in headers {
                req = req.header(k, *v);
            }
            let res = req
                .send()
                .await
                .unwrap_or_else(|e| panic!("GET {url}: {e}"));
            Got {
                status: res.status(),
                headers: res.headers().clone(),
                body: res.bytes().await.unwrap().to_vec(),
            }
        })
    }

    fn get(&self, path: &str) -> Got {
        self.request(path, &[])
    }

    /// A page that must be a 200 HTML page; returns its text.
    fn page(&self, path: &str) -> String {
        let g = self.get(path);
        assert_eq!(g.status, StatusCode::OK, "{path}: {}", g.text());
        assert_eq!(
            g.header("content-type"),
            "text/html; charset=utf-8",
            "{path}"
        );
        let t = g.text();
        assert!(t.contains("<meta charset=\"utf-8\">"), "{path}");
        assert!(t.contains("name=\"viewport\""), "{path}");
        assert!(g
            .header("content-security-policy")
            .contains("default-src 'none'"));
        // Nothing is loaded from anywhere else, and no script runs.
        assert!(!t.contains("<script"), "{path} has a script element");
        assert!(!t.contains("<link rel=\"stylesheet\""), "{path}");
        t
    }

    /// The id of the article discovered as new on the listing's second check.
    fn discovered_id(&self) -> String {
        let title = &self
            .m
            .listings
            .iter()
            .find(|l| l.file == "zhejiang/list.v2.html")
            .unwrap()
            .new_titles[0];
        self.store
            .tracked()
            .unwrap()
            .into_iter()
            .find(|t| &t.title == title)
            .expect("discovered article")
            .id
    }
}

/// What the v2-edit of `province` inserted, from the manifest's note
/// (`… “old” -> “new”`): the new sentence less what it shares with the old.
fn inserted_fragment(province: &str) -> String {
    let file = format!("{province}/article.v2-edit.html");
    let note = manifest().article(&file).note.clone().unwrap();
    let quoted: Vec<&str> = note
        .split('“')
        .skip(1)
        .map(|s| s.split('”').next().unwrap())
        .collect();
    let (old, new): (Vec<char>, Vec<char>) =
        (quoted[0].chars().collect(), quoted[1].chars().collect());
    let pre = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
    let suf = old[pre..]
        .iter()
        .rev()
        .zip(new[pre..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let frag: String = new[pre..new.len() - suf].iter().collect();
    assert!(!frag.is_empty(), "note {note:?} names no insertion");
    frag
}

#[test]
fn overview_groups_sources_by_region_and_province_with_status() {
    let f = fx(None);
    let t = f.page("/");
    for want in ["华东", "华北", "上海市", "江苏省", "浙江省", "河北省"] {
        assert!(t.contains(want), "overview lacks {want}");
    }
    assert!(
        t.find("华东").unwrap() < t.find("华北").unwrap(),
        "regions in Region::ALL order"
    );
    assert!(t.find("<h3>上海市</h3>").unwrap() < t.find("<h3>江苏省</h3>").unwrap());
    // Status: the broken source is failing with its error; edited ones have 2 versions.
    let broken = &t[t.find("id=\"src-broken\"").unwrap()..];
    let broken = &broken[..broken.find("</li>").unwrap()];
    assert!(broken.contains("failing"), "{broken}");
    assert!(broken.contains("500"), "last error shown: {broken}");
    let sh = &t[t.find("id=\"src-shanghai\"").unwrap()..];
    let sh = &sh[..sh.find("</li>").unwrap()];
    assert!(
        sh.contains("2 个版本 versions") && sh.contains("正常 OK"),
        "{sh}"
    );
    // Articles found on the listing are listed under it.
    let new_title =
        &f.m.listings
            .iter()
            .find(|l| l.file == "zhejiang/list.v2.html")
            .unwrap()
            .new_titles[0];
    assert!(t.contains(new_title.as_str()), "discovered article listed");
    assert!(t.find("id=\"src-zhejiang-list\"").unwrap() < t.find(new_title.as_str()).unwrap());
    assert!(t.contains(&format!("href=\"/source/{}\"", f.discovered_id())));
    // CJK-friendly font stack, inline.
    assert!(t.contains("Noto Sans CJK SC") && t.contains("WenQuanYi Zen Hei"));
}

#[test]
fn history_version_and_listing_pages() {
    let f = fx(None);
    let t = f.page("/source/shanghai");
    assert!(t.contains("上海市"));
    assert!(t.contains("版本历史 History (2)"));
    assert!(
        t.find("/source/shanghai/v/2\"").unwrap() < t.find("/source/shanghai/v/1\"").unwrap(),
        "newest first"
    );
    assert!(t.contains("href=\"/source/shanghai/diff?from=1&amp;to=2\""));
    assert!(t.contains("href=\"/source/shanghai/v/1/raw\""));
    assert!(
        t.contains("action=\"/source/shanghai/diff\""),
        "compare form"
    );

    let v1 = f.m.article("shanghai/article.v1.html");
    let t = f.page("/source/shanghai/v/1");
    assert!(t.contains(&v1.title));
    for s in &v1.sections {
        assert!(
            t.contains(&format!("<span class=\"label\">{}</span>", s.raw_label)),
            "{}",
            s.raw_label
        );
    }
    let raw_sha = sha256_hex(&fixture("shanghai/article.v1.html"));
    assert!(t.contains(&raw_sha), "sha256 of the raw bytes shown");
    assert!(t.contains("matches the stored bytes"));
    assert_eq!(
        f.page("/source/shanghai/v/v2").len(),
        f.page("/source/shanghai/v/2").len()
    );

    let t = f.page("/source/zhejiang-list");
    assert!(
        t.contains("发现的文章 Discovered articles (2)"),
        "listing shows what it found"
    );
    let t = f.page(&format!("/source/{}", f.discovered_id()));
    assert!(t.contains("zhejiang-list"), "found-on link");
    assert!(t.contains("浙江省"));
    let t = f.page("/source/broken");
    assert!(t.contains("失败 failing") && t.contains("500"));
}

#[test]
fn diffs_mark_insertions_and_deletions_inline_and_side_by_side() {
    let f = fx(None);
    for p in ["shanghai", "jiangsu"] {
        let frag = inserted_fragment(p);
        let v2 = f.m.article(&format!("{p}/article.v2-edit.html"));
        let t = f.page(&format!("/source/{p}/diff?from=1&to=2"));
        assert!(t.contains(v2.province_name.as_deref().unwrap()));
        for path in &v2.changed {
            assert!(
                t.contains(&format!(">{path}</a>")),
                "{p}: changed path {path}"
            );
        }
        let ins = t
            .split("<ins>")
            .skip(1)
            .map(|s| s.split("</ins>").next().unwrap())
            .collect::<String>();
        assert!(ins.contains(&frag), "{p}: <ins> holds {frag:?}: {ins:?}");
        assert!(
            t.contains("class=\"on\" href=\"/source/") && t.contains("mode=side"),
            "toggle"
        );
        // The default is the last two versions.
        assert_eq!(f.page(&format!("/source/{p}/diff")), t);
        // Reversed, the insertion is a deletion.
        let t = f.page(&format!("/source/{p}/diff?from=2&to=1"));
        let del = t
            .split("<del>")
            .skip(1)
            .map(|s| s.split("</del>").next().unwrap())
            .collect::<String>();
        assert!(del.contains(&frag), "{p}: <del> holds {frag:?}");
        // Side by side: the old column has no insertions, the new one has it.
        let t = f.page(&format!("/source/{p}/diff?from=1&to=2&mode=side"));
        assert!(t.contains("<div class=\"side\">"));
        assert!(t.contains("旧 v1") && t.contains("新 v2"));
        assert!(t.contains(&frag));
        // Same version on both sides.
        assert!(f
            .page(&format!("/source/{p}/diff?from=2&to=2"))
            .contains("无变化 No changes"));
    }
}

#[test]
fn raw_evidence_downloads_byte_exact() {
    let f = fx(None);
    for (p, v, file) in [
        ("shanghai", 1, "shanghai/article.v1.html"),
        ("shanghai", 2, "shanghai/article.v2-edit.html"),
        ("jiangsu", 2, "jiangsu/article.v2-edit.html"),
    ] {
        let g = f.get(&format!("/source/{p}/v/{v}/raw"));
        assert_eq!(g.status, StatusCode::OK);
        assert_eq!(g.header(CONTENT_TYPE.as_str()), "application/octet-stream");
        assert_eq!(
            g.header(CONTENT_DISPOSITION.as_str()),
            format!("attachment; filename=\"{p}-v{v}.html\"")
        );
        let expected = fixture(file);
        assert!(
            g.body == expected,
            "{p} v{v}: raw bytes differ from the fixture"
        );
        assert_eq!(g.header("x-content-sha256"), sha256_hex(&expected));
        assert_eq!(g.header("x-content-type-options"), "nosniff");
    }
}

#[test]
fn hostile_titles_are_escaped_everywhere() {
    let f = fx(None);
    let id = "hostile";
    for path in [
        "/".to_string(),
        format!("/source/{id}"),
        format!("/source/{id}/v/1"),
    ] {
        let t = f.page(&path);
        assert!(
            t.contains("&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;"),
            "{path}: title shown, escaped"
        );
    }
    // A single version: nothing to compare, said so.
    assert!(f
        .page(&format!("/source/{id}/diff"))
        .contains("Nothing to compare"));
}

#[test]
fn outbox_lists_pending_failing_and_delivered_alerts() {
    let f = fx(None);
    let alerts = f.alerts();
    let t = f.page("/outbox");
    assert!(
        t.contains("已送达 delivered")
            && t.contains("失败 failing")
            && t.contains("待发送 pending")
    );
    assert!(
        t.contains("SMTP delivery failed: &lt;relay&gt; refused"),
        "last error, escaped"
    );
    for (_, m) in &alerts {
        assert!(
            t.contains(&bulletin_watch::text::escape_html(&m.subject)),
            "{}",
            m.subject
        );
        assert!(t.contains(&m.message_id));
    }
    assert!(
        t.contains("href=\"/source/shanghai/diff?from=1&amp;to=2\""),
        "changed alert links its diff"
    );
}

/// A minimal well-formedness check: tags balance, attributes are quoted.
fn assert_balanced_xml(x: &str) {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = x;
    while let Some(i) = rest.find('<') {
        let end = rest[i..].find('>').expect("unterminated tag") + i;
        let tag = &rest[i + 1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        let name = tag
            .trim_start_matches('/')
            .split_whitespace()
            .next()
            .unwrap()
            .trim_end_matches('/');
        if let Some(closing) = tag.strip_prefix('/') {
            assert_eq!(
                stack.pop().as_deref(),
                Some(closing.trim()),
                "mismatched </{closing}>"
            );
        } else if !tag.ends_with('/') {
            stack.push(name.to_string());
        }
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    assert!(!x.contains("& "), "bare ampersand");
}

#[test]
fn atom_feed_of_alerts() {
    let f = fx(None);
    let g = f.get("/feed.xml");
    assert_eq!(g.status, StatusCode::OK);
    assert_eq!(
        g.header("content-type"),
        "application/atom+xml; charset=utf-8"
    );
    let x = g.text();
    assert!(x.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"));
    assert!(x.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\""));
    assert_balanced_xml(&x);
    let head = &x[..x.find("<entry>").expect("entries")];
    assert!(
        head.contains("<id>urn:bulletin-watch:")
            && head.contains("<updated>")
            && head.contains("<title>")
    );
    let alerts = f.alerts();
    assert_eq!(x.matches("<entry>").count(), alerts.len());
    for (e, m) in &alerts {
        let at = x
            .find(&format!("<id>mid:{}</id>", m.message_id))
            .expect("entry id is the message id");
        let entry = &x[at..at + x[at..].find("</entry>").unwrap()];
        assert!(entry.contains(&format!(
            "<title>{}</title>",
            bulletin_watch::text::escape_html(&m.subject)
        )));
        assert!(
            entry.contains(&format!("href=\"{}/source/{}\"", f.base, e.source)),
            "{entry}"
        );
        assert!(entry.contains("<updated>20"));
        assert!(entry.contains("<content type=\"html\">"));
        assert!(
            !entry.contains("<content type=\"html\"><"),
            "html content is escaped"
        );
    }
}

#[test]
fn unknown_sources_and_versions_are_helpful_404s() {
    let f = fx(None);
    let cases = [
        ("/source/nope", "nope"),
        ("/source/nope/v/1", "nope"),
        ("/source/nope/diff", "nope"),
        ("/source/shanghai/v/99", "v1–v2"),
        ("/source/shanghai/v/abc", "abc"),
        ("/source/shanghai/v/-1/raw", "v1–v2"),
        ("/source/shanghai/v/99999999999/raw", "v1–v2"),
        ("/source/shanghai/diff?from=x&to=2", "v1–v2"),
        ("/source/shanghai/diff?from=1&to=7", "v1–v2"),
        ("/source/%3Cscript%3E", "&lt;script&gt;"),
        ("/no/such/page", "Page not found"),
    ];
    for (path, want) in cases {
        let g = f.get(path);
        assert_eq!(g.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            g.header("content-type"),
            "text/html; charset=utf-8",
            "{path}"
        );
        let t = g.text();
        assert!(t.contains(want), "{path}: {t}");
        assert!(t.contains("href=\"/\""), "{path}: links back");
        assert!(!t.contains("<script"), "{path}");
    }
}

#[test]
fn a_token_guards_every_route() {
    let f = fx(Some(TOKEN));
    let bearer = format!("Bearer {TOKEN}");
    for path in [
        "/",
        "/source/shanghai",
        "/source/shanghai/v/1",
        "/source/shanghai/v/1/raw",
        "/source/shanghai/diff",
        "/outbox",
        "/feed.xml",
        "/nothing",
    ] {
        let g = f.get(path);
        assert_eq!(g.status, StatusCode::UNAUTHORIZED, "{path} without a token");
        assert!(g.header("www-authenticate").starts_with("Bearer"));
        assert!(!g.text().contains("上海市"), "{path}: nothing leaks");
        let g = f.request(path, &[(AUTHORIZATION, "Bearer wrong-token-wrong-token")]);
        assert_eq!(
            g.status,
            StatusCode::UNAUTHORIZED,
            "{path} with a wrong token"
        );
        let g = f.request(path, &[(AUTHORIZATION, bearer.as_str())]);
        let want = if path == "/nothing" {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::OK
        };
        assert_eq!(g.status, want, "{path} with the token");
    }
    // `?token=` once sets an HttpOnly cookie that works from then on, and
    // redirects to the same page without the token in the address bar.
    let g = f.get(&format!("/source/shanghai?token={TOKEN}&x=1"));
    assert_eq!(g.status, StatusCode::SEE_OTHER);
    assert_eq!(g.header("location"), "/source/shanghai?x=1");
    let g = f.get(&format!("//evil.example/?token={TOKEN}"));
    assert_eq!(g.header("location"), "/", "never an off-site redirect");
    let cookie = g.header("set-cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains(TOKEN), "the cookie holds no token");
    let pair = cookie.split(';').next().unwrap().to_string();
    let g = f.request("/source/shanghai/v/1/raw", &[(COOKIE, pair.as_str())]);
    assert_eq!(g.status, StatusCode::OK);
    assert_eq!(g.body, fixture("shanghai/article.v1.html"));
    assert_eq!(
        f.request("/", &[(COOKIE, "bw_token=0000")]).status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(f.get("/?token=nope").status, StatusCode::UNAUTHORIZED);
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bulletin-watch"));
    c.env_remove("BULLETIN_WATCH_TOKEN")
        .env_remove("BULLETIN_WATCH_STORE");
    c
}

#[test]
fn serve_command_refuses_exposure_without_token_and_serves_loopback() {
    let m = manifest();
    let (_site, project) = fill(&m);
    // Not loopback, no token: refused before anything is bound or opened.
    let out = bin()
        .arg("--config")
        .arg(project.config_path())
        .args(["serve", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refusing to serve on 0.0.0.0:0")
            && err.contains("BULLETIN_WATCH_TOKEN")
            && err.contains("--token-file"),
        "{err}"
    );
    assert!(!project.store_path().exists(), "store untouched");
    let out = bin()
        .arg("--config")
        .arg(project.config_path())
        .args(["serve", "--listen", "0.0.0.0:0"])
        .env("BULLETIN_WATCH_TOKEN", "short")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("shorter than"),
        "weak token refused"
    );

    // Loopback: serves, and says where.
    let rt = rt();
    {
        let checker = project.checker();
        for s in checker.config.sources.clone() {
            rt.block_on(checker.check_source(&s));
        }
    }
    let mut child = Kill(
        bin()
            .arg("--config")
            .arg(project.config_path())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.0.stderr.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    let body = rt.block_on(async { reqwest::get(&url).await.unwrap().text().await.unwrap() });
    assert!(body.contains("上海市"), "{body}");
}

/// Ends a child process when the test ends, however it ends.
struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// ----- a real browser ----------------------------------------------------------

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Just enough of the W3C WebDriver protocol, over plain HTTP.
struct Driver<'a> {
    rt: &'a tokio::runtime::Runtime,
    base: String,
    session: String,
}

impl Driver<'_> {
    fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> serde_json::Value {
        let url = format!("{}{path}", self.base);
        self.rt.block_on(async {
            let mut req = reqwest::Client::new()
                .request(method, &url)
                .timeout(Duration::from_secs(60));
            if let Some(b) = body {
                req = req
                    .header(CONTENT_TYPE, "application/json")
                    .body(serde_json::to_vec(&b).unwrap());
            }
            let res = req.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
            let status = res.status();
            let v: serde_json::Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
            assert!(status.is_success(), "{url}: {status} {v}");
            v["value"].clone()
        })
    }
    fn post(&self, what: &str, body: serde_json::Value) -> serde_json::Value {
        self.call(
            reqwest::Method::POST,
            &format!("/session/{}/{what}", self.session),
            Some(body),
        )
    }
    fn get(&self, what: &str) -> serde_json::Value {
        self.call(
            reqwest::Method::GET,
            &format!("/session/{}/{what}", self.session),
            None,
        )
    }
    fn text(&self) -> String {
        self.post(
            "execute/sync",
            serde_json::json!({"script": "return document.body.innerText", "args": []}),
        )
        .as_str()
        .unwrap()
        .to_string()
    }
    fn screenshot(&self, name: &str) -> PathBuf {
        let png = base64_decode(self.get("screenshot").as_str().unwrap());
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "screenshot is a PNG");
        let path = artifacts().join(name);
        std::fs::write(&path, png).unwrap();
        path
    }
}

#[test]
fn a_person_reads_a_diff_in_headless_chromium() {
    for bin in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            Path::new(bin).exists(),
            "{bin} is missing: this test needs Debian's chromium and chromium-driver \
             (apt-get install -y chromium chromium-driver fonts-wqy-zenhei; .ci/run installs them)"
        );
    }
    let f = fx(None);
    let port = free_port();
    let _driver = Kill(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts"),
    );
    let mut d = Driver {
        rt: &f.rt,
        base: format!("http://127.0.0.1:{port}"),
        session: String::new(),
    };
    let started = Instant::now();
    loop {
        let ready = f.rt.block_on(async {
            match reqwest::get(format!("{}/status", d.base)).await {
                Ok(r) => r
                    .bytes()
                    .await
                    .ok()
                    .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok()),
                Err(_) => None,
            }
        });
        if ready.is_some_and(|v| v["value"]["ready"] == true) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "chromedriver did not come up"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let profile = tempfile::tempdir().unwrap();
    let session = |d: &mut Driver, phone: bool| {
        let size = if phone { "390,844" } else { "1280,900" };
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
            "--disable-quic",
            "--lang=zh-CN",
            &format!("--window-size={size}"),
            &format!("--user-data-dir={}", profile.path().join(size).display()),
        ];
        let mut options = serde_json::json!({"binary": CHROMIUM, "args": args});
        if phone {
            // A phone's viewport, honouring the page's viewport meta as a phone does.
            options["mobileEmulation"] = serde_json::json!({"deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 2.0}});
        }
        let caps = serde_json::json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": options,
        }}});
        let s = d.call(reqwest::Method::POST, "/session", Some(caps));
        d.session = s["sessionId"].as_str().expect("session id").to_string();
    };
    session(&mut d, true);

    // From the history page, follow the link to the latest diff.
    d.post(
        "url",
        serde_json::json!({"url": format!("{}/source/shanghai", f.base)}),
    );
    let text = d.text();
    assert!(
        text.contains("上海市") && text.contains("版本历史"),
        "{text}"
    );
    d.screenshot("web-history.png");
    let link = d.post(
        "element",
        serde_json::json!({"using": "css selector", "value": "a.diff-link"}),
    );
    let link = link
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    d.post(&format!("element/{link}/click"), serde_json::json!({}));

    let text = d.text();
    let frag = inserted_fragment("shanghai");
    assert!(text.contains("上海市"), "{text}");
    assert!(text.contains("v1 → v2"), "{text}");
    assert!(text.contains("(一)"), "changed section path shown: {text}");
    assert!(text.contains(&frag), "inserted text shown: {text}");
    let marked = d.post(
        "execute/sync",
        serde_json::json!({"script": "return Array.from(document.querySelectorAll('ins')).map(e => e.textContent).join('|')", "args": []}),
    );
    assert!(
        marked.as_str().unwrap().contains(&frag),
        "the insertion is marked: {marked}"
    );
    // Fits a phone: nothing wider than the window.
    let overflow = d.post(
        "execute/sync",
        serde_json::json!({"script": "return document.documentElement.scrollWidth - window.innerWidth", "args": []}),
    );
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "page scrolls sideways on a phone: {overflow}"
    );
    let shot = d.screenshot("web-diff.png");
    eprintln!("screenshot: {}", shot.display());

    d.post("url", serde_json::json!({"url": format!("{}/", f.base)}));
    d.screenshot("web-index.png");
    d.call(
        reqwest::Method::DELETE,
        &format!("/session/{}", d.session),
        None,
    );

    // Side by side on a desktop window.
    session(&mut d, false);
    d.post("url", serde_json::json!({"url": format!("{}/source/shanghai/diff?from=1&to=2&mode=side", f.base)}));
    assert!(d.text().contains("新 v2"));
    d.screenshot("web-diff-desktop.png");
    d.post("url", serde_json::json!({"url": format!("{}/", f.base)}));
    d.screenshot("web-index-desktop.png");

    d.call(
        reqwest::Method::DELETE,
        &format!("/session/{}", d.session),
        None,
    );
}
