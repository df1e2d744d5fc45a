//! Server faults, through the real `Checker` against servers on loopback:
//! every misbehaviour ends in a clear outcome for that source alone (a
//! failure naming the URL, or a correct decode), nothing panics, nothing
//! stalls the other sources, and stored history is never altered.

use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use crate::faults_support::{gzip_response, gzip_stored, Behavior, RawServer};
use bulletin_watch::check::{Checker, Outcome};
use bulletin_watch::site::Page;
use bulletin_watch::store::VersionRecord;

const MAX_BODY: usize = 256 * 1024;

/// Small timeouts and limits so that every fault ends quickly.
fn settings(extra: &str) -> String {
    format!(
        "[settings]\ninterval = \"1s\"\nhost_interval = \"1ms\"\nhost_concurrency = 8\n\
         timeout = \"2s\"\nconnect_timeout = \"1s\"\nretries = 0\nmax_body_bytes = {MAX_BODY}\n\
         max_redirects = 3\nfailure_threshold = 100\n{extra}"
    )
}

fn good_page(m: &Manifest, file: &str) -> Behavior {
    let p = fixture_page(m, file);
    Behavior::html(&p.content_type, p.body)
}

fn versions(checker: &Checker, id: &str) -> Vec<VersionRecord> {
    checker.store.versions(id).unwrap()
}

fn failed(outcome: &Outcome) -> &str {
    match outcome {
        Outcome::Failed { error } => error,
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// Another loopback host than 127.0.0.1 for "a different host" cases.
fn other_host_server() -> RawServer {
    RawServer::start_on("127.0.0.2")
        .or_else(|| RawServer::start_on("127.0.0.3"))
        .expect("a second loopback address (127.0.0.2 or 127.0.0.3) binds")
}

struct Case {
    id: &'static str,
    fault: Behavior,
    /// A phrase the failure message must contain (besides the URL).
    expect: &'static str,
}

#[test]
fn each_fault_fails_alone_and_leaves_history_untouched() {
    let m = manifest();
    let rt = rt();
    let server = RawServer::start();
    let other = other_host_server();
    other.set("/elsewhere.html", good_page(&m, "shanghai/article.v1.html"));
    let v1 = fixture("shanghai/article.v1.html");
    let cut_gzip = {
        let gz = gzip_stored(&v1);
        gz[..gz.len() / 2].to_vec()
    };
    let cases = vec![
        Case {
            id: "hang",
            fault: Behavior::Hang,
            expect: "timed out",
        },
        Case {
            id: "trickle",
            fault: Behavior::Trickle,
            expect: "timed out",
        },
        Case {
            id: "endless",
            fault: Behavior::Endless,
            expect: "max_body_bytes",
        },
        Case {
            id: "huge-with-length",
            fault: Behavior::Huge {
                len: 64 * MAX_BODY,
                content_length: true,
            },
            expect: "max_body_bytes",
        },
        Case {
            id: "huge-without-length",
            fault: Behavior::Huge {
                len: 64 * MAX_BODY,
                content_length: false,
            },
            expect: "max_body_bytes",
        },
        Case {
            id: "redirect-loop",
            fault: Behavior::Redirect("/redirect-loop.html".into()),
            expect: "more than 3 redirects",
        },
        Case {
            id: "redirect-other-host",
            fault: Behavior::Redirect(other.url("/elsewhere.html")),
            expect: "leaves the allowed hosts",
        },
        Case {
            id: "redirect-other-port",
            fault: Behavior::Redirect(format!("http://127.0.0.1:{}/elsewhere.html", other.port())),
            expect: "leaves the allowed hosts",
        },
        Case {
            id: "not-found",
            fault: Behavior::status(404, &[]),
            expect: "HTTP 404",
        },
        Case {
            id: "server-error",
            fault: Behavior::status(500, &[]),
            expect: "HTTP 500",
        },
        Case {
            id: "empty",
            fault: Behavior::html("text/html; charset=utf-8", ""),
            expect: "no article body",
        },
        Case {
            id: "maintenance",
            fault: Behavior::html(
                "text/html; charset=utf-8",
                "<html><head><title>系统维护</title></head><body><div class=\"main\">\
                 <p>网站正在维护，请稍后访问。</p></div></body></html>",
            ),
            expect: "maintenance or error page",
        },
        Case {
            id: "truncated-gzip",
            fault: Behavior::Raw(gzip_response(&cut_gzip)),
            expect: "body",
        },
        Case {
            id: "pdf",
            fault: Behavior::html(
                "text/html; charset=utf-8",
                b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n".to_vec(),
            ),
            expect: "not text (looks like PDF)",
        },
        Case {
            id: "png",
            fault: Behavior::html(
                "image/png",
                b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02".to_vec(),
            ),
            expect: "not text (looks like PNG image)",
        },
    ];
    let mut sources = String::new();
    for c in &cases {
        sources.push_str(&article_source(
            c.id,
            "上海市",
            &server.url(&format!("/{}.html", c.id)),
        ));
        server.set(
            &format!("/{}.html", c.id),
            good_page(&m, "shanghai/article.v1.html"),
        );
    }
    let project = Project::new(&format!("{}{sources}", settings("")));
    let checker = Arc::new(project.checker());

    // Version 1 of every source, from a good page.
    for c in &cases {
        let src = checker.config.source(c.id).unwrap().clone();
        let r = rt.block_on(checker.check_source(&src));
        assert_eq!(
            r.outcome,
            Outcome::Stored {
                version: 1,
                alerted: false
            },
            "{}",
            c.id
        );
    }
    let before: Vec<_> = cases.iter().map(|c| versions(&checker, c.id)).collect();

    // Now every one misbehaves, all at once.
    for c in &cases {
        server.set(&format!("/{}.html", c.id), c.fault.clone());
    }
    let reports = rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for c in &cases {
            let checker = checker.clone();
            let src = checker.config.source(c.id).unwrap().clone();
            set.spawn(async move { checker.check_source(&src).await });
        }
        tokio::time::timeout(Duration::from_secs(60), set.join_all())
            .await
            .expect("every faulty check ends")
    });
    for c in &cases {
        let r = reports.iter().find(|r| r.source == c.id).unwrap();
        let error = failed(&r.outcome);
        let url = server.url(&format!("/{}.html", c.id));
        assert!(error.contains(&url), "{}: {error:?} must name {url}", c.id);
        assert!(
            error.contains(c.expect),
            "{}: {error:?} must say {:?}",
            c.id,
            c.expect
        );
    }
    let after: Vec<_> = cases.iter().map(|c| versions(&checker, c.id)).collect();
    assert_eq!(before, after, "failures must not alter stored history");
    for c in &cases {
        let rec = checker.store.latest(c.id).unwrap().unwrap();
        assert_eq!(
            checker.store.raw(&rec).unwrap(),
            v1,
            "{}: evidence intact",
            c.id
        );
        let state = checker.store.fetch_state(c.id).unwrap();
        assert_eq!(state.consecutive_failures, 1, "{}", c.id);
    }
    // Redirects to another host were refused before any request was made.
    assert!(
        other.hits().is_empty(),
        "other host was contacted: {:?}",
        other.hits()
    );
    // The loop was cut at the limit: the first request plus three hops.
    assert_eq!(server.hits_on("/redirect-loop.html"), 1 + 1 + 3);
    server.release();
}

#[test]
fn whole_gzip_decodes_so_the_truncated_case_is_a_real_cut() {
    let m = manifest();
    let rt = rt();
    let server = RawServer::start();
    let v1 = fixture("shanghai/article.v1.html");
    server.set("/gz.html", Behavior::Raw(gzip_response(&gzip_stored(&v1))));
    let project = Project::new(&format!(
        "{}{}",
        settings(""),
        article_source("gz", "上海市", &server.url("/gz.html"))
    ));
    let checker = project.checker();
    let src = checker.config.source("gz").unwrap().clone();
    let r = rt.block_on(checker.check_source(&src));
    assert_eq!(
        r.outcome,
        Outcome::Stored {
            version: 1,
            alerted: false
        }
    );
    let rec = checker.store.latest("gz").unwrap().unwrap();
    assert_eq!(checker.store.raw(&rec).unwrap(), v1);
    let doc = checker.store.document(&rec).unwrap();
    assert_eq!(doc.title, m.article("shanghai/article.v1.html").title);
}

#[test]
fn connection_refused_names_the_url_and_keeps_history() {
    let m = manifest();
    let rt = rt();
    let server = RawServer::start();
    server.set("/a.html", good_page(&m, "shanghai/article.v1.html"));
    let url = server.url("/a.html");
    let project = Project::new(&format!(
        "{}{}",
        settings(""),
        article_source("a", "上海市", &url)
    ));
    let checker = project.checker();
    let src = checker.config.source("a").unwrap().clone();
    assert!(matches!(
        rt.block_on(checker.check_source(&src)).outcome,
        Outcome::Stored { version: 1, .. }
    ));
    let before = versions(&checker, "a");
    server.stop();
    let r = rt.block_on(checker.check_source(&src));
    let error = failed(&r.outcome);
    assert!(
        error.contains(&url) && error.contains("cannot connect"),
        "{error}"
    );
    assert_eq!(versions(&checker, "a"), before);
}

#[test]
fn retry_after_slows_the_host_down() {
    let m = manifest();
    let rt = rt();
    // Its own host, so that the back-off cannot slow other tests' hosts.
    let server = other_host_server();
    let server_url = url::Url::parse(&server.url("/")).unwrap();
    let host = server_url.host_str().unwrap().to_string();
    let slot = bulletin_watch::fetch::slot_key(&server_url);
    server.set("/busy.html", good_page(&m, "shanghai/article.v1.html"));
    let project = Project::new(&format!(
        "{}{}",
        settings(""),
        article_source("busy", "上海市", &server.url("/busy.html"))
    ));
    let checker = project.checker();
    let src = checker.config.source("busy").unwrap().clone();
    assert!(matches!(
        rt.block_on(checker.check_source(&src)).outcome,
        Outcome::Stored { version: 1, .. }
    ));
    let before = versions(&checker, "busy");
    server.set(
        "/busy.html",
        Behavior::status(503, &[("Retry-After", "3600")]),
    );
    let r = rt.block_on(checker.check_source(&src));
    let error = failed(&r.outcome);
    assert!(
        error.contains("HTTP 503") && error.contains(&server.url("/busy.html")),
        "{error}"
    );
    assert_eq!(r.status, Some(503));
    // Retry-After is not retried at once (one request only).
    assert_eq!(server.hits_on("/busy.html"), 2);
    assert_eq!(versions(&checker, "busy"), before);

    // The host's next slot is an hour away; another host is not affected.
    let policy = checker.config.host_policy(&host);
    rt.block_on(async {
        let waited = tokio::time::timeout(
            Duration::from_millis(500),
            checker.politeness.acquire(&slot, &policy),
        )
        .await;
        assert!(
            waited.is_err(),
            "{host} must be backed off after Retry-After"
        );
        let other = tokio::time::timeout(
            Duration::from_secs(10),
            checker.politeness.acquire("127.0.0.1", &policy),
        )
        .await;
        assert!(other.is_ok(), "other hosts keep their pace");
    });
}

#[test]
fn odd_encodings_decode_correctly() {
    let m = manifest();
    let rt = rt();
    let site = fixture_site(&m);
    let sh = m.article("shanghai/article.v1.html");
    let fj = m.article("fujian/article.v1.html");
    assert_eq!(fj.encoding, "gbk", "fixture assumption");

    // Invalid UTF-8 inside the last section of a UTF-8 page.
    let mut bad = fixture(&sh.file);
    let last = &sh.sections.last().unwrap().text_prefix;
    let anchor: String = last
        .chars()
        .take_while(|c| !c.is_ascii_punctuation() && *c != '，' && *c != ',')
        .take(6)
        .collect();
    let at = find(&bad, anchor.as_bytes()).expect("anchor in page") + anchor.len();
    bad.splice(at..at, b"\xFF\xFE\x80".iter().copied());
    site.set("/bad-utf8.html", Page::html(&sh.http_content_type, bad));
    // A GBK page whose header claims UTF-8, and a UTF-8 page claiming GBK.
    site.set(
        "/gbk-says-utf8.html",
        Page::html("text/html; charset=utf-8", fixture(&fj.file)),
    );
    site.set(
        "/utf8-says-gbk.html",
        Page::html("text/html; charset=gbk", fixture(&sh.file)),
    );
    let project = Project::new(&format!(
        "{}{}{}{}",
        settings(""),
        article_source("bad-utf8", "上海市", &site.url("/bad-utf8.html")),
        article_source("gbk-says-utf8", "福建省", &site.url("/gbk-says-utf8.html")),
        article_source("utf8-says-gbk", "上海市", &site.url("/utf8-says-gbk.html")),
    ));
    let checker = project.checker();
    for (id, exp, encoding) in [
        ("bad-utf8", sh, "UTF-8"),
        ("gbk-says-utf8", fj, "GBK"),
        ("utf8-says-gbk", sh, "UTF-8"),
    ] {
        let src = checker.config.source(id).unwrap().clone();
        let r = rt.block_on(checker.check_source(&src));
        assert!(
            matches!(r.outcome, Outcome::Stored { version: 1, .. }),
            "{id}: {:?}",
            r.outcome
        );
        let rec = checker.store.latest(id).unwrap().unwrap();
        let doc = checker.store.document(&rec).unwrap();
        assert_eq!(doc.title, exp.title, "{id}");
        assert!(
            rec.encoding.eq_ignore_ascii_case(encoding),
            "{id}: {}",
            rec.encoding
        );
        let paths: Vec<_> = doc.sections.iter().map(|s| s.path_str()).collect();
        let want: Vec<_> = exp.sections.iter().map(|s| s.path.clone()).collect();
        assert_eq!(paths, want, "{id}");
        let comparable = |s: &str| bulletin_watch::text::comparable(s);
        for (s, e) in doc.sections.iter().zip(&exp.sections) {
            let got: String = comparable(&s.body()).chars().take(4).collect();
            let want: String = e.text_prefix.chars().take(4).collect();
            assert_eq!(got, want, "{id} section {}", e.path);
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn healthy_source_completes_while_another_hangs() {
    let m = manifest();
    let rt = rt();
    let site = fixture_site(&m);
    site.set("/ok.html", fixture_page(&m, "jiangsu/article.v1.html"));
    let hanging = other_host_server();
    hanging.set("/slow.html", good_page(&m, "shanghai/article.v1.html"));
    // Default politeness (one request at a time per host) and a long
    // timeout: the hang only ends when the test releases it.
    let project = Project::new(&format!(
        "[settings]\nhost_interval = \"1ms\"\ntimeout = \"30s\"\nretries = 0\n{}{}",
        article_source("slow", "上海市", &hanging.url("/slow.html")),
        article_source("ok", "江苏省", &site.url("/ok.html")),
    ));
    let checker = Arc::new(project.checker());
    let slow = checker.config.source("slow").unwrap().clone();
    let ok = checker.config.source("ok").unwrap().clone();
    assert!(matches!(
        rt.block_on(checker.check_source(&slow)).outcome,
        Outcome::Stored { version: 1, .. }
    ));
    let before = versions(&checker, "slow");
    hanging.set("/slow.html", Behavior::Hang);

    rt.block_on(async {
        let c = checker.clone();
        let stuck = tokio::spawn(async move { c.check_source(&slow).await });
        // Wait until the hanging server holds the request.
        let mut held = false;
        for _ in 0..500 {
            if hanging.hits_on("/slow.html") >= 2 {
                held = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(held, "the hanging server never got the request");
        let r = tokio::time::timeout(Duration::from_secs(20), checker.check_source(&ok))
            .await
            .expect("the healthy source is not held up");
        assert!(
            matches!(r.outcome, Outcome::Stored { version: 1, .. }),
            "{:?}",
            r.outcome
        );
        assert!(
            !stuck.is_finished(),
            "the hanging check should still be waiting"
        );
        hanging.release();
        let r = tokio::time::timeout(Duration::from_secs(20), stuck)
            .await
            .expect("the released check ends")
            .expect("no panic");
        let error = failed(&r.outcome);
        assert!(error.contains(&hanging.url("/slow.html")), "{error}");
    });
    assert_eq!(versions(&checker, "slow"), before);
}
