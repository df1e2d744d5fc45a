//! Alerts delivered to a real (in-process) SMTP server and to `.eml` files,
//! then read back the way a mail client would: headers unfolded, RFC 2047
//! words and transfer encodings decoded.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use crate::common::base64_decode;
use bulletin_watch::alert::{self, AlertContext, Message, MessageError};
use bulletin_watch::config::MailConfig;
use bulletin_watch::delivery::{DeliveryError, Mailer};
use bulletin_watch::model::{AlertKind, ChangeKind, DocDiff, SectionChange, Span};
use mailin_embedded::{response, Handler, Response, Server, SslConfig};

// ---------------------------------------------------------------------------
// In-process SMTP server
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Received {
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

#[derive(Clone)]
struct Capture {
    inbox: Arc<Mutex<Vec<Received>>>,
    current: Option<Received>,
}

impl Handler for Capture {
    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.current = Some(Received {
            from: from.to_string(),
            to: to.to_vec(),
            data: Vec::new(),
        });
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if let Some(cur) = self.current.as_mut() {
            cur.data.extend_from_slice(buf);
        }
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        if let Some(cur) = self.current.take() {
            self.inbox.lock().expect("inbox lock").push(cur);
        }
        response::OK
    }
}

/// Starts a server on a free loopback port; it runs until the test process
/// exits.
fn smtp_server() -> (u16, Arc<Mutex<Vec<Received>>>) {
    smtp_server_on(TcpListener::bind("127.0.0.1:0").expect("bind loopback"))
}

fn smtp_server_on(listener: TcpListener) -> (u16, Arc<Mutex<Vec<Received>>>) {
    let port = listener.local_addr().expect("local addr").port();
    let inbox = Arc::new(Mutex::new(Vec::new()));
    let handler = Capture {
        inbox: Arc::clone(&inbox),
        current: None,
    };
    let mut server = Server::new(handler);
    server
        .with_name("localhost")
        .with_ssl(SslConfig::None)
        .expect("no TLS")
        .with_num_threads(2)
        .with_tcp_listener(listener);
    std::thread::spawn(move || {
        let _ = server.serve();
    });
    (port, inbox)
}

fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn smtp_mailer(port: u16) -> Mailer {
    install_crypto();
    let mail = MailConfig {
        from: "bulletin-watch <bw@example.org>".into(),
        to: vec!["ops@example.org".into()],
        smtp_url: Some(format!("smtp://127.0.0.1:{port}")),
        username: None,
        password: None,
        ..MailConfig::default()
    };
    let mailer = Mailer::from_config(&mail, std::path::Path::new("/nonexistent")).expect("mailer");
    assert!(matches!(mailer, Mailer::Smtp(_)), "{mailer:?}");
    mailer
}

// ---------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------

const URL: &str = "https://yjt.jiangsu.gov.cn/art/2025/1/15/art_80001.html";
const CHANGED_PATH: &str = "一、/(二)";

fn ctx(title: &str) -> AlertContext {
    AlertContext {
        source_id: "jiangsu".into(),
        source_name: "江苏省应急管理厅".into(),
        province: "江苏省".into(),
        title: title.into(),
        url: URL.into(),
        from_version: Some(3),
        to_version: 4,
        fetched_at: "2025-01-15T02:00:00Z".parse().expect("timestamp"),
    }
}

fn diff(inserted: &str) -> DocDiff {
    DocDiff {
        title_changed: None,
        date_changed: None,
        changes: vec![
            SectionChange {
                kind: ChangeKind::Modified,
                path: CHANGED_PATH.into(),
                old_path: None,
                heading: "深化安全生产治本攻坚".into(),
                inline: vec![
                    Span::Gap,
                    Span::Equal("开展".into()),
                    Span::Delete("专项".into()),
                    Span::Insert(inserted.into()),
                    Span::Equal("整治".into()),
                    Span::Gap,
                ],
            },
            SectionChange {
                kind: ChangeKind::Removed,
                path: "三、/(五)".into(),
                old_path: None,
                heading: "其他".into(),
                inline: vec![Span::Delete("做好其他工作。".into())],
            },
        ],
    }
}

fn message(id: &str, title: &str, inserted: &str) -> Message {
    Message::new(
        id,
        "bulletin-watch <bw@example.org>",
        vec!["ops@example.org".into(), "duty@example.org".into()],
        alert::render_changed(&ctx(title), &diff(inserted)),
    )
}

// ---------------------------------------------------------------------------
// Minimal MIME reading
// ---------------------------------------------------------------------------

struct Parsed {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Parsed {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Splits header block and body; header lines are unfolded (a continuation
/// line starts with whitespace).
fn parse_entity(raw: &[u8]) -> Parsed {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("blank line after headers");
    let head = std::str::from_utf8(&raw[..split]).expect("headers are ASCII");
    let body = raw[split + 4..].to_vec();
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with(' ') || line.starts_with('\t') {
            let last = headers.last_mut().expect("continuation after a header");
            last.1.push_str(line);
        } else {
            let (name, value) = line.split_once(':').expect("header has a colon");
            headers.push((name.to_string(), value.trim_start().to_string()));
        }
    }
    Parsed { headers, body }
}

fn hex(c: u8) -> u8 {
    (c as char).to_digit(16).expect("hex digit") as u8
}

/// Quoted-printable; `underscore_is_space` for RFC 2047 "Q" words.
fn qp_decode(s: &[u8], underscore_is_space: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'=' if s[i + 1..].starts_with(b"\r\n") => i += 3,
            b'=' if s[i + 1..].starts_with(b"\n") => i += 2,
            b'=' => {
                out.push(hex(s[i + 1]) * 16 + hex(s[i + 2]));
                i += 3;
            }
            b'_' if underscore_is_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// RFC 2047: decodes `=?charset?B|Q?text?=` words (UTF-8 only); whitespace
/// between two adjacent encoded words is not part of the text.
fn decode_rfc2047(value: &str) -> String {
    let mut out: Vec<u8> = Vec::new();
    let mut rest = value;
    let mut pending_ws = String::new();
    let mut last_was_word = false;
    while !rest.is_empty() {
        if let Some(word) = rest.strip_prefix("=?") {
            let mut parts = word.splitn(3, '?');
            let charset = parts.next().expect("charset");
            let enc = parts.next().expect("encoding");
            let tail = parts.next().expect("text");
            let end = tail.find("?=").expect("end of encoded word");
            assert!(charset.eq_ignore_ascii_case("utf-8"), "charset {charset}");
            let text = &tail.as_bytes()[..end];
            let decoded = match enc {
                "B" | "b" => base64_decode(text),
                "Q" | "q" => qp_decode(text, true),
                other => panic!("unknown encoding {other}"),
            };
            if !last_was_word {
                out.extend_from_slice(pending_ws.as_bytes());
            }
            pending_ws.clear();
            out.extend_from_slice(&decoded);
            last_was_word = true;
            rest = &tail[end + 2..];
        } else {
            let c = rest.chars().next().expect("non-empty");
            if c == ' ' || c == '\t' {
                pending_ws.push(c);
            } else {
                out.extend_from_slice(pending_ws.as_bytes());
                pending_ws.clear();
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                last_was_word = false;
            }
            rest = &rest[c.len_utf8()..];
        }
    }
    out.extend_from_slice(pending_ws.as_bytes());
    String::from_utf8(out).expect("UTF-8 subject")
}

fn boundary(content_type: &str) -> String {
    let at = content_type.find("boundary=").expect("boundary parameter") + 9;
    let b = &content_type[at..];
    let b = b.split(';').next().expect("value").trim();
    b.trim_matches('"').to_string()
}

/// The decoded text of each part of a multipart body, with its Content-Type.
fn parts(msg: &Parsed) -> Vec<(String, String)> {
    let ct = msg.header("Content-Type").expect("Content-Type");
    let delim = format!("--{}", boundary(ct));
    let body = std::str::from_utf8(&msg.body).expect("7-bit/8-bit body");
    let mut out = Vec::new();
    for chunk in body.split(delim.as_str()).skip(1) {
        if chunk.starts_with("--") {
            break;
        }
        let chunk = chunk.strip_prefix("\r\n").expect("CRLF after boundary");
        let chunk = chunk.strip_suffix("\r\n").unwrap_or(chunk);
        let part = parse_entity(chunk.as_bytes());
        let cte = part
            .header("Content-Transfer-Encoding")
            .unwrap_or("7bit")
            .to_ascii_lowercase();
        let bytes = match cte.as_str() {
            "base64" => base64_decode(&part.body),
            "quoted-printable" => qp_decode(&part.body, false),
            "7bit" | "8bit" => part.body.clone(),
            other => panic!("unexpected transfer encoding {other}"),
        };
        out.push((
            part.header("Content-Type").expect("part type").to_string(),
            String::from_utf8(bytes).expect("UTF-8 part"),
        ));
    }
    out
}

fn text_and_html(msg: &Parsed) -> (String, String) {
    let ps = parts(msg);
    assert_eq!(ps.len(), 2, "{ps:?}");
    let find = |t: &str| {
        ps.iter()
            .find(|(ct, _)| ct.starts_with(t))
            .map(|(_, body)| body.clone())
            .unwrap_or_else(|| panic!("no {t} part"))
    };
    let text = find("text/plain");
    let html = find("text/html");
    (text, html)
}

fn only_message(inbox: &Arc<Mutex<Vec<Received>>>) -> Received {
    let got = inbox.lock().expect("inbox lock");
    assert_eq!(got.len(), 1, "expected exactly one message");
    got[0].clone()
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[tokio::test]
async fn changed_alert_arrives_intact_over_smtp() {
    let (port, inbox) = smtp_server();
    let mailer = smtp_mailer(port);
    let title = "江苏省召开2025年全省应急管理工作会议";
    let msg = message("alert-17.jiangsu@bulletin-watch", title, "排查");
    mailer.send(&msg).await.expect("delivered");

    let got = only_message(&inbox);
    assert_eq!(got.from, "bw@example.org");
    assert_eq!(got.to, vec!["ops@example.org", "duty@example.org"]);

    let parsed = parse_entity(&got.data);
    assert_eq!(
        parsed.header("From"),
        Some("bulletin-watch <bw@example.org>")
    );
    let to = parsed.header("To").expect("To header");
    assert!(
        to.contains("ops@example.org") && to.contains("duty@example.org"),
        "{to}"
    );
    assert_eq!(
        parsed.header("Message-ID"),
        Some("<alert-17.jiangsu@bulletin-watch>")
    );
    assert!(parsed.header("Date").is_some());
    let ct = parsed.header("Content-Type").expect("Content-Type");
    assert!(ct.starts_with("multipart/alternative"), "{ct}");

    let subject = decode_rfc2047(parsed.header("Subject").expect("Subject"));
    assert_eq!(subject, msg.subject);
    assert_eq!(
        subject,
        format!("[bulletin-watch] 江苏省 · 2 节变更 · {title}")
    );

    let (text, html) = text_and_html(&parsed);
    for (name, body) in [("text", &text), ("html", &html)] {
        assert!(body.contains("江苏省"), "{name}: province");
        assert!(body.contains(CHANGED_PATH), "{name}: changed path\n{body}");
        assert!(body.contains(URL), "{name}: URL");
        assert!(body.contains("v3 → v4"), "{name}: versions");
        assert!(body.contains("2025-01-15 10:00:00"), "{name}: local time");
    }
    assert!(text.contains("…开展[-专项-][+排查+]整治…"), "{text}");
    assert!(html.contains(&format!("<a href=\"{URL}\"")), "{html}");
    assert!(html.contains(">排查</ins>"), "{html}");
    assert!(html.contains(">专项</del>"), "{html}");
}

#[tokio::test]
async fn header_injection_in_title_adds_no_header_or_recipient() {
    let (port, inbox) = smtp_server();
    let mailer = smtp_mailer(port);
    let msg = message(
        "alert-18.jiangsu@bulletin-watch",
        "会议通知\r\nBcc: evil@example.org\r\n\r\n正文",
        "排查",
    );
    mailer.send(&msg).await.expect("delivered");

    let got = only_message(&inbox);
    assert!(
        !got.to.iter().any(|r| r.contains("evil")),
        "envelope: {:?}",
        got.to
    );
    let parsed = parse_entity(&got.data);
    assert!(
        parsed
            .headers
            .iter()
            .all(|(n, _)| !n.eq_ignore_ascii_case("bcc")),
        "{:?}",
        parsed.headers
    );
    let subject = decode_rfc2047(parsed.header("Subject").expect("Subject"));
    assert!(
        !subject.contains('\r') && !subject.contains('\n'),
        "{subject:?}"
    );
    assert!(subject.contains("Bcc: evil@example.org"), "{subject:?}");
    assert_eq!(subject, msg.subject);
}

#[tokio::test]
async fn page_script_is_escaped_in_html_part() {
    let (port, inbox) = smtp_server();
    let mailer = smtp_mailer(port);
    let msg = message(
        "alert-19.jiangsu@bulletin-watch",
        "<script>alert(1)</script>",
        "<script>alert(1)</script>",
    );
    mailer.send(&msg).await.expect("delivered");

    let parsed = parse_entity(&only_message(&inbox).data);
    let (text, html) = text_and_html(&parsed);
    assert!(!html.contains("<script"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    // The plain-text part shows the page text as it is.
    assert!(text.contains("[+<script>alert(1)</script>+]"), "{text}");
}

#[tokio::test]
async fn smtp_down_is_an_error_not_a_panic() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let mailer = smtp_mailer(port);
    let msg = message("alert-20.jiangsu@bulletin-watch", "标题", "排查");
    match mailer.send(&msg).await {
        Err(DeliveryError::Smtp(reason)) => {
            assert!(reason.contains(&port.to_string()), "{reason}");
        }
        other => panic!("expected DeliveryError::Smtp, got {other:?}"),
    }
}

#[tokio::test]
async fn invalid_recipient_is_named_before_connecting() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let mailer = smtp_mailer(port);
    let mut msg = message("alert-21.jiangsu@bulletin-watch", "标题", "排查");
    msg.to.push("ops at example".into());
    match mailer.send(&msg).await {
        Err(DeliveryError::Message(MessageError::Address(addr, _))) => {
            assert_eq!(addr, "ops at example")
        }
        other => panic!("expected DeliveryError::Address, got {other:?}"),
    }
}

#[tokio::test]
async fn file_mailer_writes_one_private_eml_per_message_id() {
    let store = tempfile::tempdir().expect("tempdir");
    let mailer = Mailer::from_config(&MailConfig::default(), store.path()).expect("files");
    let dir = store.path().join("mail");
    assert!(matches!(&mailer, Mailer::Files(d) if *d == dir));

    let first = message("alert-30.jiangsu@bulletin-watch", "标题一", "排查");
    mailer.send(&first).await.expect("written");
    let path = dir.join("alert-30.jiangsu@bulletin-watch.eml");
    let written = std::fs::read(&path).expect("eml exists");

    // Same id again, even with different content: the first file stays.
    let again = message("alert-30.jiangsu@bulletin-watch", "标题二", "整改");
    mailer.send(&again).await.expect("idempotent");
    assert_eq!(std::fs::read(&path).expect("eml"), written);

    let other = message("alert-31.jiangsu@bulletin-watch", "标题三", "排查");
    mailer.send(&other).await.expect("written");

    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("mail dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            "alert-30.jiangsu@bulletin-watch.eml",
            "alert-31.jiangsu@bulletin-watch.eml"
        ]
    );

    let parsed = parse_entity(&written);
    assert_eq!(
        parsed.header("Message-ID"),
        Some("<alert-30.jiangsu@bulletin-watch>")
    );
    assert_eq!(
        decode_rfc2047(parsed.header("Subject").expect("Subject")),
        first.subject
    );
    let (text, _) = text_and_html(&parsed);
    assert!(text.contains(CHANGED_PATH));

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| {
            std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
        };
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir), 0o700);
    }
}

#[tokio::test]
async fn unusable_message_id_writes_nothing() {
    let store = tempfile::tempdir().expect("tempdir");
    let mailer = Mailer::Files(store.path().join("mail"));
    let msg = message("../../etc/passwd@x", "标题", "排查");
    assert!(matches!(
        mailer.send(&msg).await,
        Err(DeliveryError::Message(MessageError::MessageId(_)))
    ));
    assert!(!store.path().join("mail").exists());
}

/// The whole chain, with the real binary: an edit is stored while the mail
/// server is down, the alert waits in the outbox, and once the server is back
/// it arrives exactly once — never twice, whatever runs after.
#[test]
fn alert_queued_while_smtp_is_down_arrives_exactly_once() {
    use crate::common::*;
    let m = manifest();
    let site = fixture_site(&m);
    site.set("/js.html", fixture_page(&m, "jiangsu/article.v1.html"));
    let port = free_port();
    let project = Project::new(&format!(
        "{FAST_SETTINGS}\n[mail]\nfrom = \"watch@example.org\"\nto = [\"duty@example.org\"]\nsmtp_url = \"smtp://127.0.0.1:{port}\"\n{}",
        article_source("js", "江苏省", &site.url("/js.html"))
    ));
    let check = |expect: &str| {
        let out = project.cli(&["check"]);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "check must not fail on SMTP errors: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains(expect), "expected {expect:?} in {stdout:?}");
    };
    check("new versions 1, unchanged 0, failed 0");
    let edit = m.article("jiangsu/article.v2-edit.html");
    site.set("/js.html", fixture_page(&m, &edit.file));
    // The server is down: the alert is queued and the failure counted.
    check("alerts sent 0, alerts failed 1");
    let outbox: Vec<serde_json::Value> =
        serde_json::from_slice(&project.cli(&["outbox", "--json"]).stdout).unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0]["state"], "pending");
    assert!(
        outbox[0]["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("SMTP"),
        "{outbox:?}"
    );
    let message_id = outbox[0]["message_id"].as_str().unwrap().to_string();

    // The server comes back on the same port.
    let (_, inbox) =
        smtp_server_on(TcpListener::bind(("127.0.0.1", port)).expect("port still free"));
    check("alerts sent 1, alerts failed 0");
    check("alerts sent 0, alerts failed 0");
    let msg = only_message(&inbox);
    assert_eq!(msg.to, vec!["duty@example.org".to_string()]);
    let parsed = parse_entity(&msg.data);
    assert_eq!(
        parsed.header("Message-ID"),
        Some(format!("<{message_id}>").as_str())
    );
    let subject = decode_rfc2047(parsed.header("Subject").unwrap());
    assert!(
        subject.starts_with("[bulletin-watch] 江苏省 · 1 节变更 · "),
        "{subject}"
    );
    let (text, html) = text_and_html(&parsed);
    let path = &edit.changed[0];
    for body in [&text, &html] {
        assert!(body.contains(path.as_str()), "changed section {path} named");
        assert!(
            body.contains(&site.url("/js.html")),
            "original link present"
        );
    }
    let outbox: Vec<serde_json::Value> =
        serde_json::from_slice(&project.cli(&["outbox", "--json"]).stdout).unwrap();
    assert_eq!(outbox[0]["state"], "delivered");
}

/// An SMTP server that refuses every recipient (550).
#[derive(Clone)]
struct Refuse;

impl Handler for Refuse {
    fn rcpt(&mut self, _to: &str) -> Response {
        response::NO_MAILBOX
    }
}

/// A permanent refusal is told apart from a temporary failure: the alert is
/// kept, with the refusal as its last error, and waits the longest pause.
#[tokio::test]
async fn a_permanent_refusal_is_kept_and_paced_as_permanent() {
    install_crypto();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut server = Server::new(Refuse);
    server
        .with_name("localhost")
        .with_ssl(SslConfig::None)
        .expect("no TLS")
        .with_tcp_listener(listener);
    std::thread::spawn(move || {
        let _ = server.serve();
    });
    let mailer = smtp_mailer(port);
    let msg = message(
        "alert-9.jiangsu@bulletin-watch",
        "江苏省应急管理工作会议",
        "排查",
    );
    let err = mailer.send(&msg).await.expect_err("refused");
    assert!(
        matches!(err, DeliveryError::Rejected(_)) && err.is_permanent(),
        "{err:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let store = bulletin_watch::store::Store::open(dir.path()).unwrap();
    let entry = bulletin_watch::store::OutboxEntry::new(
        "changed/js/v2".into(),
        AlertKind::Changed,
        "js",
        Some(2),
    );
    store.enqueue(&entry).unwrap();
    let config = bulletin_watch::config::parse(
        "[mail]\nfrom = \"bw@example.org\"\nto = [\"ops@example.org\"]\n",
        std::path::Path::new("sources.toml"),
    )
    .unwrap();
    let drained = bulletin_watch::outbox::drain(&store, &config, &mailer, false)
        .await
        .unwrap();
    assert_eq!(drained.failed, 1);
    let kept = store.pending().unwrap();
    assert_eq!(kept.len(), 1, "never dropped");
    assert!(kept[0]
        .last_error
        .as_deref()
        .unwrap_or_default()
        .contains("permanently"));
    let wait = kept[0]
        .next_attempt
        .duration_since(jiff::Timestamp::now())
        .as_secs();
    assert!(wait > 3000, "paced as permanent: next attempt in {wait} s");
}

/// `[mail] from`, `to` and a source's `recipients` may be name-addr
/// mailboxes (RFC 5322); a Chinese display name arrives RFC 2047-encoded in
/// the headers and decodes back to itself, while the envelope carries the
/// bare addresses.
#[tokio::test]
async fn name_addr_mailboxes_are_accepted_and_arrive_with_their_names() {
    use bulletin_watch::alert::{AlertConfig, Renderer};
    use bulletin_watch::store::{OutboxEntry, Store};

    let (port, inbox) = smtp_server();
    let text = format!(
        "{}\n[mail]\nfrom = \"应急监测 <monitor@example.org>\"\n\
         to = [\"值班室 <duty@example.org>\", \"ops@example.org\"]\n\
         smtp_url = \"smtp://127.0.0.1:{port}\"\n{}recipients = [\"\\\"Li, Wei\\\" <li@example.org>\", \"DUTY@example.org\"]\n",
        crate::common::FAST_SETTINGS,
        crate::common::article_source("js", "江苏省", "https://yjt.jiangsu.gov.cn/a.html"),
    );
    let config = bulletin_watch::config::parse(&text, std::path::Path::new("sources.toml"))
        .expect("name-addr mailboxes are valid addresses");
    assert_eq!(config.mail.from, "应急监测 <monitor@example.org>");

    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("store");
    let alerts = AlertConfig::from_config(&config);
    let entry = OutboxEntry::new("recovered/js/1".into(), AlertKind::Recovered, "js", None);
    let msg = Renderer::new(&store, &alerts)
        .render(&entry)
        .expect("rendered");
    // The source's `DUTY@example.org` is `[mail] to`'s 值班室 already.
    assert_eq!(
        msg.to,
        vec![
            "值班室 <duty@example.org>".to_string(),
            "ops@example.org".to_string(),
            "\"Li, Wei\" <li@example.org>".to_string(),
        ]
    );
    install_crypto();
    let mailer = Mailer::from_config(&config.mail, dir.path()).expect("mailer");
    mailer.send(&msg).await.expect("delivered");

    let got = only_message(&inbox);
    assert_eq!(got.from, "monitor@example.org");
    assert_eq!(
        got.to,
        vec!["duty@example.org", "ops@example.org", "li@example.org"]
    );
    let parsed = parse_entity(&got.data);
    let from = parsed.header("From").expect("From header");
    assert!(from.is_ascii() && from.contains("=?utf-8?"), "{from}");
    assert_eq!(decode_rfc2047(from), "应急监测 <monitor@example.org>");
    let raw_to = parsed.header("To").expect("To header");
    // The comma of `Li, Wei` stays inside an encoded word: it cannot split
    // the mailbox into two.
    assert!(raw_to.is_ascii() && !raw_to.contains("Li, Wei"), "{raw_to}");
    let to = decode_rfc2047(raw_to);
    assert!(to.contains("值班室 <duty@example.org>"), "{to}");
    assert!(to.contains("Li, Wei <li@example.org>"), "{to}");
}
