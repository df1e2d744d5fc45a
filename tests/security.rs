//! Hostile pages and leaky places: page text never reaches an e-mail header
//! unescaped or e-mail HTML unescaped; listing links and redirects never
//! make us fetch a host outside the allowed set; secrets never reach the
//! logs; the store and its mail are readable by their owner only.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::common::*;
use crate::faults_support::{Behavior, RawServer};
use bulletin_watch::alert::{AlertConfig, Renderer};
use bulletin_watch::check::Outcome;
use bulletin_watch::delivery::Mailer;
use bulletin_watch::model::AlertKind;
use bulletin_watch::outbox;
use bulletin_watch::site::Page;

const HOSTILE: &str = "<html><head><meta charset=\"utf-8\"><title>应急管理工作会议&#13;&#10;Bcc: victim@example.org&#13;&#10;X-Evil: 1</title></head>\
<body><div id=\"zoom\"><h1>应急管理工作会议&#13;&#10;Bcc: victim@example.org&#10;Subject: injected</h1>\
<p>2025年1月15日，全省应急管理工作会议召开，会议部署了2025年重点工作。</p>\
<p>一、&lt;script&gt;alert(1)&lt;/script&gt;强化安全生产责任落实，全面排查整治重大隐患。</p>\
<p>二、&lt;img src=x onerror=alert(2)&gt;提升应急救援能力，加强队伍建设和物资储备。</p>\
</div></body></html>";

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        out.push(p.clone());
        if p.is_dir() {
            walk(&p, out);
        }
    }
}

#[test]
fn page_text_never_reaches_headers_or_html_unescaped_and_files_are_private() {
    let site = fixture_site(&manifest());
    site.set(
        "/hostile.html",
        Page::html("text/html; charset=utf-8", HOSTILE),
    );
    let p = Project::new(&format!(
        "{FAST_SETTINGS}alert_on_first = true\n{}",
        article_source("h", "上海市", &site.url("/hostile.html"))
    ));
    let rt = rt();
    let checker = p.checker();
    let src = checker.config.source("h").unwrap().clone();
    let r = rt.block_on(checker.check_source(&src));
    assert!(
        matches!(
            r.outcome,
            Outcome::Stored {
                version: 1,
                alerted: true
            }
        ),
        "{:?}",
        r.outcome
    );
    let entry = checker.store.outbox().unwrap().into_iter().next().unwrap();
    assert_eq!(entry.kind, AlertKind::Published);
    let alerts = AlertConfig::from_config(&checker.config);
    let msg = &Renderer::new(&checker.store, &alerts)
        .render(&entry)
        .unwrap();
    assert!(
        msg.subject.contains("Bcc"),
        "the test title reaches the subject: {:?}",
        msg.subject
    );
    assert!(!msg.subject.contains(['\r', '\n']), "{:?}", msg.subject);
    assert!(
        !msg.html.contains("<script") && !msg.html.contains("<img"),
        "{}",
        msg.html
    );
    assert!(
        msg.html.contains("&lt;script&gt;"),
        "the hostile text is shown, escaped"
    );

    let mail_dir = p.store_path().join("mail");
    let mailer = Mailer::Files(mail_dir.clone());
    let drained = rt
        .block_on(outbox::drain(
            &checker.store,
            &checker.config,
            &mailer,
            true,
        ))
        .unwrap();
    assert_eq!(
        drained.sent,
        1,
        "{drained:?} {:?}",
        checker.store.outbox().unwrap()[0].last_error
    );
    checker.store.flush().unwrap();
    let emls: Vec<_> = std::fs::read_dir(&mail_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    assert_eq!(emls.len(), 1);
    let eml = std::fs::read(&emls[0]).unwrap();
    let eml = String::from_utf8_lossy(&eml);
    let head = &eml[..eml.find("\r\n\r\n").expect("header block")];
    for line in head.split("\r\n") {
        assert!(
            !line.contains(['\r', '\n']),
            "bare CR/LF in header line {line:?}"
        );
        let name = line.split(':').next().unwrap_or("").to_ascii_lowercase();
        assert!(
            !["bcc", "x-evil"].contains(&name.as_str()),
            "injected header: {head}"
        );
    }
    assert_eq!(
        head.matches("\r\nSubject:").count() + usize::from(head.starts_with("Subject:")),
        1,
        "{head}"
    );

    // Owner-only: the store folder, everything in it, the mail folder and
    // its messages.
    assert_eq!(mode(&p.store_path()), 0o700);
    assert_eq!(mode(&mail_dir), 0o700);
    assert_eq!(mode(&emls[0]), 0o600);
    drop(checker);
    let mut all = Vec::new();
    walk(&p.store_path(), &mut all);
    for f in all {
        let want = if f.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(&f), want, "{} is {:o}", f.display(), mode(&f));
    }
}

#[test]
fn listing_links_and_redirects_never_leave_the_allowed_hosts() {
    let m = manifest();
    let site = fixture_site(&m);
    let same_ip_other_port = RawServer::start();
    let other_ip = RawServer::start_on("127.0.0.2")
        .or_else(|| RawServer::start_on("127.0.0.3"))
        .expect("a second loopback address binds");
    let page = fixture_page(&m, "shanghai/article.v1.html");
    for s in [&same_ip_other_port, &other_ip] {
        for path in ["/a.html", "/b.html", "/c.html"] {
            s.set(path, Behavior::html(&page.content_type, page.body.clone()));
        }
    }
    site.set("/redirecting.html", {
        let mut p = Page::status(302, "");
        p.headers.push(("Location".into(), other_ip.url("/c.html")));
        p
    });
    let links = [
        other_ip.url("/a.html"),
        same_ip_other_port.url("/b.html"),
        format!("http://localhost:{}/a.html", same_ip_other_port.port()),
        format!("http://2130706433:{}/a.html", same_ip_other_port.port()),
        format!("http://[::1]:{}/a.html", same_ip_other_port.port()),
        site.url("/redirecting.html"),
    ];
    let items: String = links
        .iter()
        .enumerate()
        .map(|(i, l)| format!("<li><a href=\"{l}\">全省应急管理工作会议召开{i}</a><span>2025-01-1{i}</span></li>\n"))
        .collect();
    site.set(
        "/list.html",
        Page::html(
            "text/html; charset=utf-8",
            format!("<html><body><div class=\"list\"><ul>{items}</ul></div></body></html>"),
        ),
    );
    let p = Project::new(&format!(
        "{FAST_SETTINGS}{}",
        listing_source("l", "上海市", &site.url("/list.html"), "应急管理工作会议")
    ));
    let rt = rt();
    let checker = p.checker();
    let src = checker.config.source("l").unwrap().clone();
    let r = rt.block_on(checker.check_source(&src));
    match &r.outcome {
        // Only the same-host link is followed, and its redirect is refused.
        Outcome::Listing {
            matching,
            discovered,
            failed,
        } => {
            assert_eq!(
                (*matching, *discovered, *failed),
                (1, 0, 1),
                "{:?}",
                r.outcome
            );
        }
        other => panic!("{other:?}"),
    }
    let refused = &r.discovered[0];
    let Outcome::Failed { error } = &refused.outcome else {
        panic!("{:?}", refused.outcome)
    };
    assert!(error.contains("leaves the allowed hosts"), "{error}");
    assert_eq!(site.hits("/redirecting.html").0, 1);
    assert!(
        same_ip_other_port.hits().is_empty(),
        "{:?}",
        same_ip_other_port.hits()
    );
    assert!(other_ip.hits().is_empty(), "{:?}", other_ip.hits());
    // Only the same-host link is tracked (it was listed at the first check, so
    // it is watched silently); no other host ever is, and it has no version.
    let tracked = checker.store.tracked().unwrap();
    assert_eq!(tracked.len(), 1, "{tracked:?}");
    assert_eq!(tracked[0].url, site.url("/redirecting.html"));
    assert!(checker.store.versions(&tracked[0].id).unwrap().is_empty());
    // Checking it again still refuses the redirect.
    let again = rt.block_on(checker.check_source(&src));
    assert!(other_ip.hits().is_empty(), "{again:?}");
}

#[test]
fn the_smtp_password_never_appears_in_output() {
    let m = manifest();
    let site = fixture_site(&m);
    site.set("/a.html", fixture_page(&m, "shanghai/article.v1.html"));
    let closed = free_port();
    let secret = "pw-Zq8#s3cr3t-4711";
    let p = Project::new(&format!(
        "{FAST_SETTINGS}alert_on_first = true\n\n[mail]\nfrom = \"watch@example.org\"\nto = [\"duty@example.org\"]\n\
         smtp_url = \"smtp://127.0.0.1:{closed}\"\nusername = \"watch\"\npassword_env = \"BW_FAULTS_SMTP_PW\"\n{}",
        article_source("a", "上海市", &site.url("/a.html"))
    ));
    for (log, extra) in [
        ("info", None),
        ("trace", None),
        ("trace", Some("--log-json")),
    ] {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_bulletin-watch"));
        cmd.arg("--config").arg(p.config_path());
        if let Some(e) = extra {
            cmd.arg(e);
        }
        let out = cmd
            .arg("check")
            .env("BW_FAULTS_SMTP_PW", secret)
            .env("BULLETIN_WATCH_LOG", log)
            .env_remove("BULLETIN_WATCH_STORE")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        // The mail really was attempted, and failed.
        assert!(stdout.contains("alerts failed 1"), "{log}: {stdout}");
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{log}: secret leaked"
        );
    }
    // Nor in the store's record of the failed delivery.
    let store = bulletin_watch::store::Store::open(&p.store_path()).unwrap();
    let entry = store.outbox().unwrap().into_iter().next().unwrap();
    let last_error = entry.last_error.unwrap_or_default();
    assert!(
        !last_error.is_empty() && !last_error.contains(secret),
        "{last_error}"
    );
}
