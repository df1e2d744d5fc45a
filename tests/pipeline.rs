//! The real pipeline against a real loopback site serving the fixtures:
//! fetch → decode → extract → sections → sled, and discovery on listings.

use crate::common::*;
use bulletin_watch::check::{derived_id, Outcome};
use bulletin_watch::model::AlertKind;
use bulletin_watch::site::Page;

const PATTERN: &str = "应急管理工作会议|应急管理厅.*一席谈";

#[test]
fn every_province_versions_edits_and_ignores_noise() {
    let m = manifest();
    let site = fixture_site(&m);
    let rt = rt();
    for province in m.provinces() {
        let v1 = m.article(&format!("{province}/article.v1.html"));
        let watched = format!("/watched/{province}.html");
        site.set(&watched, fixture_page(&m, &v1.file));
        let project = Project::new(&format!(
            "{FAST_SETTINGS}{}",
            article_source(
                &province,
                v1.province_name.as_deref().unwrap_or(&province),
                &site.url(&watched)
            )
        ));
        let checker = project.checker();
        let src = checker.config.source(&province).unwrap().clone();
        let check = |what: &str| {
            let r = rt.block_on(checker.check_source(&src));
            eprintln!("{province} {what}: {:?}", r.outcome);
            r.outcome
        };

        assert_eq!(
            check("v1"),
            Outcome::Stored {
                version: 1,
                alerted: false
            },
            "{province}"
        );
        let rec = checker.store.latest(&province).unwrap().unwrap();
        let doc = checker.store.document(&rec).unwrap();
        assert_eq!(doc.title, v1.title, "{province} title");
        assert_eq!(
            doc.published.map(|d| d.to_string()).as_deref(),
            Some(v1.publish_date.as_str())
        );
        let paths: Vec<String> = doc.sections.iter().map(|s| s.path_str()).collect();
        let expected: Vec<String> = v1.sections.iter().map(|s| s.path.clone()).collect();
        assert_eq!(paths, expected, "{province} sections");
        assert_eq!(
            checker.store.raw(&rec).unwrap(),
            fixture(&v1.file),
            "{province}: raw evidence must be byte-exact"
        );
        let gbk = v1.encoding == "gbk";
        assert_eq!(
            rec.encoding.eq_ignore_ascii_case("utf-8"),
            !gbk,
            "{province} encoding {}",
            rec.encoding
        );

        // Unchanged: the ETag makes it a 304, nothing downloaded or stored.
        let before = site.hits(&watched);
        assert_eq!(check("recheck"), Outcome::NotModified);
        assert_eq!(
            site.hits(&watched).1,
            before.1 + 1,
            "{province}: conditional GET answered 304"
        );

        // Noise-only and whitespace-only variants store nothing.
        for variant in ["article.v3-noise.html", "article.v6-whitespace.html"] {
            let file = format!("{province}/{variant}");
            if m.articles.iter().any(|a| a.file == file) {
                site.set(&watched, fixture_page(&m, &file));
                assert_eq!(check(variant), Outcome::Unchanged { version: 1 }, "{file}");
            }
        }
        assert!(
            checker.store.outbox().unwrap().is_empty(),
            "{province}: no alert for the first version or noise"
        );

        // A one-sentence edit stores version 2 and queues one `changed` alert.
        site.set(
            &watched,
            fixture_page(&m, &format!("{province}/article.v2-edit.html")),
        );
        assert_eq!(
            check("v2-edit"),
            Outcome::Stored {
                version: 2,
                alerted: true
            }
        );
        let outbox = checker.store.outbox().unwrap();
        assert_eq!(outbox.len(), 1);
        assert_eq!(outbox[0].kind, AlertKind::Changed);
        assert_eq!(outbox[0].version, Some(2));

        // The same edit again is not a new version.
        site.set(
            &watched,
            Page {
                etag: false,
                ..fixture_page(&m, &format!("{province}/article.v2-edit.html"))
            },
        );
        assert_eq!(check("v2 again"), Outcome::Unchanged { version: 2 });

        site.set(
            &watched,
            fixture_page(&m, &format!("{province}/article.v4-section-added.html")),
        );
        assert_eq!(
            check("v4"),
            Outcome::Stored {
                version: 3,
                alerted: true
            }
        );
        let v4 = m.article(&format!("{province}/article.v4-section-added.html"));
        let doc = checker
            .store
            .document(&checker.store.latest(&province).unwrap().unwrap())
            .unwrap();
        assert_eq!(doc.sections.len(), v4.sections.len());

        let versions = checker.store.versions(&province).unwrap();
        assert_eq!(versions.len(), 3);
        assert_eq!(
            versions[1].prev_hash.as_deref(),
            Some(versions[0].record_hash.as_str())
        );
    }
}

/// A project watching the Shanghai article at `/a.html`, its first version
/// already stored.
fn shanghai_v1_stored(
    failure_threshold: u32,
) -> (
    Manifest,
    bulletin_watch::site::Site,
    tokio::runtime::Runtime,
    Project,
    bulletin_watch::check::Checker,
    bulletin_watch::config::Source,
) {
    let m = manifest();
    let site = fixture_site(&m);
    let rt = rt();
    site.set("/a.html", fixture_page(&m, "shanghai/article.v1.html"));
    let project = Project::new(&format!(
        "{FAST_SETTINGS}failure_threshold = {failure_threshold}\n{}",
        article_source("sh", "上海市", &site.url("/a.html"))
    ));
    let checker = project.checker();
    let src = checker.config.source("sh").unwrap().clone();
    assert!(matches!(
        rt.block_on(checker.check_source(&src)).outcome,
        Outcome::Stored { version: 1, .. }
    ));
    (m, site, rt, project, checker, src)
}

#[test]
fn error_pages_and_failures_never_touch_history() {
    let (m, site, rt, _project, checker, src) = shanghai_v1_stored(2);
    let pages = [
        Page::status(500, "oops"),
        Page::status(404, "<html><body>您访问的页面不存在</body></html>"),
        Page::html(
            "text/html; charset=utf-8",
            "<html><body><div class=\"main\">页面维护中，请稍后访问。</div></body></html>",
        ),
        Page::html("text/html; charset=utf-8", ""),
        Page::html(
            "application/pdf",
            b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n".to_vec(),
        ),
    ];
    for p in pages {
        site.set("/a.html", p.clone());
        let r = rt.block_on(checker.check_source(&src));
        assert!(
            matches!(r.outcome, Outcome::Failed { .. }),
            "{:?} for {:?}",
            r.outcome,
            String::from_utf8_lossy(&p.body)
        );
    }
    assert_eq!(
        checker.store.versions("sh").unwrap().len(),
        1,
        "failures must not create versions"
    );
    let failing: Vec<_> = checker
        .store
        .outbox()
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == AlertKind::Failing)
        .collect();
    assert_eq!(failing.len(), 1, "one failing alert for the whole streak");
    site.set("/a.html", fixture_page(&m, "shanghai/article.v1.html"));
    rt.block_on(checker.check_source(&src));
    rt.block_on(checker.check_source(&src));
    let kinds = alert_kinds(&checker);
    assert_eq!(
        kinds.iter().filter(|k| **k == AlertKind::Recovered).count(),
        1,
        "{kinds:?}"
    );
}

#[test]
fn listing_discovers_new_deployment_once() {
    let m = manifest();
    let site = fixture_site(&m);
    let rt = rt();
    for province in m.provinces() {
        let v1 = m
            .listings
            .iter()
            .find(|l| l.file == format!("{province}/list.v1.html"))
            .unwrap();
        let v2 = m
            .listings
            .iter()
            .find(|l| l.file == format!("{province}/list.v2.html"))
            .unwrap();
        let path = format!("/{}", v1.file);
        site.set(&path, fixture_page(&m, &v1.file));
        let project = Project::new(&format!(
            "{FAST_SETTINGS}{}",
            listing_source(&province, "某省", &site.url(&path), PATTERN)
        ));
        let checker = project.checker();
        let src = checker.config.source(&province).unwrap().clone();

        let r = rt.block_on(checker.check_source(&src));
        assert!(
            matches!(
                r.outcome,
                Outcome::Listing {
                    discovered: 1,
                    failed: 0,
                    ..
                }
            ),
            "{province}: {:?}",
            r.outcome
        );
        assert!(
            checker.store.outbox().unwrap().is_empty(),
            "{province}: first listing check is silent"
        );
        let article_url = v1
            .article_url
            .as_ref()
            .unwrap()
            .replace("{port}", &site.port().to_string());
        let tracked = checker.store.tracked().unwrap();
        assert_eq!(tracked.len(), 1);
        assert_eq!(tracked[0].url, article_url);

        site.set(&path, fixture_page(&m, &v2.file));
        let r = rt.block_on(checker.check_source(&src));
        assert!(
            matches!(r.outcome, Outcome::Listing { discovered: 1, .. }),
            "{province}: {:?}",
            r.outcome
        );
        let outbox = checker.store.outbox().unwrap();
        assert_eq!(outbox.len(), 1, "{province}: exactly one published alert");
        assert_eq!(outbox[0].kind, AlertKind::Published);
        let new_url = v2.new_links[0].replace("{port}", &site.port().to_string());
        assert_eq!(outbox[0].source, derived_id(&province, &new_url));
        let doc = checker
            .store
            .document(&checker.store.latest(&outbox[0].source).unwrap().unwrap())
            .unwrap();
        assert_eq!(doc.title, v2.new_titles[0]);

        // Seen links are not discovered again; the new article is now tracked.
        let r = rt.block_on(checker.check_source(&src));
        assert!(
            matches!(
                r.outcome,
                Outcome::NotModified | Outcome::Listing { discovered: 0, .. }
            ),
            "{:?}",
            r.outcome
        );
        assert_eq!(checker.store.outbox().unwrap().len(), 1);
        let targets = checker.article_targets().unwrap();
        assert!(targets.iter().any(|t| t.url.as_str() == new_url));
    }
}

#[test]
fn sources_validate_fetch_reports_each_source() {
    let m = manifest();
    let site = fixture_site(&m);
    let project = Project::new(&format!(
        "{FAST_SETTINGS}{}{}{}",
        article_source("ok", "上海市", &site.url("/shanghai/article.v1.html")),
        listing_source(
            "list",
            "浙江省",
            &site.url("/zhejiang/list.v1.html"),
            PATTERN
        ),
        article_source("gone", "江苏省", &site.url("/moved-away.html")),
    ));
    let out = project.cli(&["sources", "validate", "--fetch"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a broken source fails validation:\n{stdout}"
    );
    let line = |id: &str| {
        stdout
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(id))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        line("ok").starts_with("ok") && line("ok").contains("2 sections"),
        "{stdout}"
    );
    assert!(
        line("list").starts_with("ok") && line("list").contains("1 matching"),
        "{stdout}"
    );
    assert!(
        line("gone").starts_with("FAIL") && line("gone").contains("404"),
        "{stdout}"
    );
}

/// Digest mode: alerts for the same recipients within the window go out as
/// one message, once, marked delivered together.
#[test]
fn digest_mode_sends_one_message_for_alerts_within_the_window() {
    let m = manifest();
    let site = fixture_site(&m);
    site.set("/sh.html", fixture_page(&m, "shanghai/article.v1.html"));
    site.set("/zj.html", fixture_page(&m, "zhejiang/article.v1.html"));
    let project = Project::new(&format!(
        "{FAST_SETTINGS}\n[mail]\nto = [\"desk@example.org\"]\ndigest = \"2s\"\n{}{}",
        article_source("sh", "上海市", &site.url("/sh.html")),
        article_source("zj", "浙江省", &site.url("/zj.html")),
    ));
    let check = |expect: &str| {
        let out = project.cli(&["check"]);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success() && stdout.contains(expect),
            "expected {expect:?}: {stdout}"
        );
    };
    check("new versions 2");
    site.set(
        "/sh.html",
        fixture_page(&m, "shanghai/article.v2-edit.html"),
    );
    site.set(
        "/zj.html",
        fixture_page(&m, "zhejiang/article.v2-edit.html"),
    );
    check("new versions 2, unchanged 0, failed 0, discovered 0, alerts sent 0");
    std::thread::sleep(std::time::Duration::from_millis(2100));
    check("alerts sent 2, alerts failed 0");
    check("alerts sent 0, alerts failed 0");
    let mail = project.store_path().join("mail");
    let files: Vec<_> = std::fs::read_dir(&mail)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("digest."));
    let eml = std::fs::read_to_string(&files[0]).unwrap();
    assert!(eml.contains("desk@example.org"));
    let outbox: Vec<serde_json::Value> =
        serde_json::from_slice(&project.cli(&["outbox", "--json"]).stdout).unwrap();
    assert_eq!(outbox.len(), 2);
    assert!(
        outbox.iter().all(|e| e["state"] == "delivered"),
        "{outbox:?}"
    );
}

/// A page that was downloaded but could not be processed must not have its
/// ETag remembered: otherwise the next check's 304 would count as success.
#[test]
fn a_failed_check_does_not_advance_the_validators() {
    let (_m, site, rt, _project, checker, src) = shanghai_v1_stored(1);
    // Same template, every section gone (ETag-bearing 200).
    let gutted = String::from_utf8(fixture("shanghai/article.v1.html"))
        .unwrap()
        .replace("（一）", "")
        .replace("（二）", "");
    site.set("/a.html", Page::html("text/html; charset=UTF-8", gutted));
    for round in 0..2 {
        let r = rt.block_on(checker.check_source(&src));
        assert!(
            matches!(r.outcome, Outcome::Failed { .. }),
            "round {round}: {:?}",
            r.outcome
        );
    }
    let kinds = alert_kinds(&checker);
    assert_eq!(
        kinds,
        vec![AlertKind::Failing],
        "no recovery while the page is still broken"
    );
}

/// `bulletin-watch parse … | head`: when the reader goes away the command
/// ends quietly, like any Unix tool — no panic on a broken pipe.
#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    use std::process::{Command, Stdio};
    for _ in 0..3 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bulletin-watch"))
            .arg("parse")
            .arg(crate::common::fixtures().join("fujian/article.v1.html"))
            .arg("--json")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader is gone before anything is written
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// Settings with pacing as given: one request at a time per host, at least
/// `host_interval` between two starts.
fn paced_settings(host_interval: &str) -> String {
    format!(
        "[settings]\ninterval = \"1s\"\nhost_interval = \"{host_interval}\"\nhost_concurrency = 1\ntimeout = \"5s\"\nretries = 0\n"
    )
}

/// A listing whose matching deployment has a `title` attribute that does
/// not match: only its link text does.
const LINK_TEXT_ONLY_LISTING: &str = r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>工作动态</title></head><body>
<ul class="list">
<li><a href="/lt/a1.html" title="关于近期重点工作的通知">江西省全省应急管理工作会议在南昌召开</a><span>2025-12-23</span></li>
<li><a href="/lt/a2.html" title="防汛抗旱专题培训班开班">防汛抗旱专题培训班开班</a><span>2025-12-09</span></li>
<li><a href="/lt/a3.html" title="森林防火检查工作部署">森林防火检查工作部署</a><span>2025-11-07</span></li>
</ul></body></html>"#;

/// `validate --fetch` goes through the check's own path: a link matched by
/// its text alone counts (as in a real check), and host pacing applies.
#[test]
fn validate_fetch_matches_link_text_and_is_paced() {
    let m = manifest();
    let site = fixture_site(&m);
    site.set(
        "/lt/list.html",
        Page::html("text/html; charset=utf-8", LINK_TEXT_ONLY_LISTING),
    );
    let project = Project::new(&format!(
        "{}{}{}{}",
        paced_settings("700ms"),
        listing_source("lt", "江西省", &site.url("/lt/list.html"), PATTERN),
        article_source("sh", "上海市", &site.url("/shanghai/article.v1.html")),
        article_source("zj", "浙江省", &site.url("/zhejiang/article.v1.html")),
    ));
    let started = std::time::Instant::now();
    let out = project.cli(&["sources", "validate", "--fetch"]);
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("lt"))
        .unwrap_or_default();
    assert!(
        line.starts_with("ok") && line.contains("3 items, 1 matching"),
        "{stdout}"
    );
    // Three requests to one host, 700 ms apart: at least two pauses.
    assert!(
        elapsed >= std::time::Duration::from_millis(1400),
        "validate --fetch was not paced: {elapsed:?}"
    );
    assert_eq!(site.hits("/lt/list.html").0, 1);
    assert!(!project.store_path().exists(), "a dry run creates no store");
}

/// `host_interval = "0s"` turns host pacing off: a pass over several
/// pages of one host does not pause between them, where "1s" does.
#[test]
fn a_pass_with_host_pacing_off_does_not_pause() {
    let m = manifest();
    let site = fixture_site(&m);
    let pages = [
        "shanghai/article.v1.html",
        "zhejiang/article.v1.html",
        "jiangsu/article.v1.html",
        "fujian/article.v1.html",
    ];
    let pass = |host_interval: &str| {
        let sources: String = pages
            .iter()
            .enumerate()
            .map(|(i, p)| article_source(&format!("s{i}"), "上海市", &site.url(&format!("/{p}"))))
            .collect();
        let project = Project::new(&format!("{}{sources}", paced_settings(host_interval)));
        let started = std::time::Instant::now();
        let out = project.cli(&["check"]);
        let elapsed = started.elapsed();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{stdout}");
        assert!(
            stdout.contains("checked 4, new versions 4"),
            "{host_interval}: {stdout}"
        );
        elapsed
    };
    let off = pass("0s");
    let on = pass("1s");
    // Four requests to one host, 1 s apart: at least three pauses.
    assert!(on >= std::time::Duration::from_secs(3), "paced: {on:?}");
    assert!(
        off < std::time::Duration::from_secs(2),
        "host_interval = \"0s\" still paused: {off:?}"
    );
}

/// Two listings that link the same article (once with a fragment, once
/// through the other scheme's twin of the same address) create one tracked
/// article: one history and one `published` alert, not two.
#[test]
fn two_listings_linking_one_article_watch_it_once() {
    let m = manifest();
    let site = fixture_site(&m);
    let listing = |links: &str| {
        Page::html(
            "text/html; charset=utf-8",
            format!(
                "<html><head><meta charset=\"utf-8\"><title>工作动态</title></head><body><ul class=\"list\">{links}</ul></body></html>"
            ),
        )
    };
    site.set("/a/list.html", listing(""));
    site.set("/b/list.html", listing(""));
    site.set("/art/1.html", fixture_page(&m, "shanghai/article.v1.html"));
    let project = Project::new(&format!(
        "{FAST_SETTINGS}{}{}",
        listing_source("la", "上海市", &site.url("/a/list.html"), PATTERN),
        listing_source("lb", "上海市", &site.url("/b/list.html"), PATTERN),
    ));
    let checker = project.checker();
    let rt = rt();
    let check = |id: &str| {
        let src = checker.config.source(id).unwrap().clone();
        rt.block_on(checker.check_source(&src)).outcome
    };
    // First checks: empty listings, nothing announced.
    check("la");
    check("lb");
    let art = site.url("/art/1.html");
    let item =
        |href: &str| format!("<li><a href=\"{href}\">上海市2025年应急管理工作会议召开</a></li>");
    site.set("/a/list.html", listing(&item(&art)));
    site.set("/b/list.html", listing(&item(&format!("{art}#top"))));
    assert!(matches!(
        check("la"),
        Outcome::Listing { discovered: 1, .. }
    ));
    assert!(matches!(
        check("lb"),
        Outcome::Listing { discovered: 0, .. }
    ));
    assert!(matches!(
        check("lb"),
        Outcome::Listing { discovered: 0, .. } | Outcome::NotModified
    ));
    let tracked = checker.store.tracked().unwrap();
    assert_eq!(tracked.len(), 1, "{tracked:?}");
    assert_eq!(tracked[0].listing, "la");
    assert_eq!(alert_kinds(&checker), [AlertKind::Published]);
    assert_eq!(
        site.hits("/art/1.html").0,
        1,
        "the article was fetched once"
    );
}
