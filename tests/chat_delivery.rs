//! Chat channels as configured in `sources.toml` and delivered from a real
//! store: configuration errors name file, line and field (and never a
//! secret); `notify test` reports each robot's verdict with its code; a
//! stored `changed` alert reaches a WeCom, DingTalk, Feishu and webhook
//! robot (the loopback fakes of tests/robots) with its province, title,
//! changed section and 原文链接; parts are recorded one at a time and a
//! retry skips the recorded ones; no token or secret appears anywhere.

use std::path::Path;
use std::sync::Arc;

use crate::common::*;
use crate::robots::{FakeRobot, Platform, Setup};
use bulletin_watch::alert::{AlertConfig, Renderer};
use bulletin_watch::channel::{ChatAlert, ChatKind, ChatSection, Verdict};
use bulletin_watch::check::{Checker, Outcome};
use bulletin_watch::config::{self, ConfigError, Problem};
use bulletin_watch::delivery::Channels;
use bulletin_watch::model::{AlertKind, ChangeKind, Span};
use serde_json::Value;

use crate::robots::{
    assert_clean, DING_SECRET, FEISHU_SECRET, TOKEN, WHSEC, WRONG_SECRET, WRONG_TOKEN,
};

fn problems(text: &str, dir: &Path) -> Vec<Problem> {
    match config::parse(text, &dir.join("sources.toml")) {
        Err(ConfigError::Invalid { problems, .. }) => problems,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

fn one_source(extra: &str) -> String {
    format!(
        "{FAST_SETTINGS}{}{extra}",
        article_source("sh", "上海市", "http://127.0.0.1:1/a.html")
    )
}

#[test]
fn bad_channels_are_named_by_file_line_and_field_without_their_secrets() {
    let dir = tempfile::tempdir().unwrap();
    // A robot URL that is not a URL, and a webhook secret not in whsec_
    // form: the errors must not quote either value.
    std::fs::write(dir.path().join("bad-url"), format!("htp:/x?key={TOKEN}\n")).unwrap();
    std::fs::write(dir.path().join("bad-secret"), format!("{DING_SECRET}\n")).unwrap();
    let text = format!(
        "{}channels = [\"nope\"]\n\
         \n[[channel]]\nid = \"no-url\"\nkind = \"dingtalk\"\n\
         \n[[channel]]\nid = \"hook\"\nkind = \"webhook\"\nurl = \"https://example.org/in\"\n\
         \n[[channel]]\nid = \"env\"\nkind = \"wecom\"\nurl_env = \"BW_TEST_CHAT_UNSET_URL\"\n\
         \n[[channel]]\nid = \"bad-rate\"\nkind = \"feishu\"\nurl = \"https://open.feishu.cn/open-apis/bot/v2/hook/x\"\nrate = \"fast\"\n\
         \n[[channel]]\nid = \"bad-url\"\nkind = \"wecom\"\nurl_file = \"bad-url\"\n\
         \n[[channel]]\nid = \"bad-secret\"\nkind = \"webhook\"\nurl = \"https://example.org/in\"\nsecret_file = \"bad-secret\"\n\
         \n[[channel]]\nid = \"slack\"\nkind = \"slack\"\nurl = \"https://example.org/in\"\n\
         \n[[channel]]\nid = \"no-file\"\nkind = \"dingtalk\"\nurl = \"https://oapi.dingtalk.com/robot/send?access_token=x\"\nsecret_file = \"missing-secret\"\n",
        one_source("")
    );
    let p = problems(&text, dir.path());
    let at = |field: &str| -> &Problem {
        p.iter()
            .find(|p| p.field == field)
            .unwrap_or_else(|| panic!("no problem for {field}: {p:#?}"))
    };
    let line_of = |needle: &str| -> usize {
        text.lines()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle} not in the file"))
            + 1
    };
    assert_eq!(
        at("source[0].channels[0]").line,
        line_of("channels = [\"nope\"]")
    );
    assert!(at("source[0].channels[0]")
        .message
        .contains("unknown channel \"nope\""));
    assert!(at("channel[0].url").message.contains("no URL"), "{p:#?}");
    assert!(
        at("channel[1].secret").message.contains("signing secret"),
        "{p:#?}"
    );
    let env = at("channel[2].url_env");
    assert_eq!(env.line, line_of("BW_TEST_CHAT_UNSET_URL"));
    assert!(env.message.contains("BW_TEST_CHAT_UNSET_URL"), "{env:?}");
    let rate = at("channel[3].rate");
    assert_eq!(rate.line, line_of("rate = \"fast\""));
    assert!(rate.message.contains("fast"), "{rate:?}");
    assert_eq!(at("channel[4].url").line, line_of("url_file = \"bad-url\""));
    assert_eq!(
        at("channel[5].secret").line,
        line_of("secret_file = \"bad-secret\"")
    );
    assert!(at("channel[6].kind").message.contains("slack"));
    assert!(at("channel[7].secret_file")
        .message
        .contains("missing-secret"));
    // The whole error, as `sources validate` prints it: file:line:column.
    let err = config::parse(&text, &dir.path().join("sources.toml")).unwrap_err();
    let shown = format!("{err} {err:?}");
    assert_clean("a configuration error", &shown);
    let file = dir.path().join("sources.toml");
    assert!(
        shown.contains(&format!(
            "{}:{}:",
            file.display(),
            line_of("rate = \"fast\"")
        )),
        "{shown}"
    );
}

#[test]
fn sources_default_to_the_settings_channels_and_name_their_own() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ding-url"),
        format!("https://oapi.dingtalk.com/robot/send?access_token={TOKEN}\n"),
    )
    .unwrap();
    std::fs::write(dir.path().join("hook-secret"), WHSEC).unwrap();
    let text = format!(
        "{FAST_SETTINGS}channels = [\"zj-ding\"]\n\
         \n[[channel]]\nid = \"zj-ding\"\nkind = \"dingtalk\"\nurl_file = \"ding-url\"\nkeyword = \"应急\"\nmention_mobiles = [\"13800000000\"]\n\
         \n[[channel]]\nid = \"hook\"\nkind = \"webhook\"\nurl = \"https://example.org/in\"\nsecret_file = \"hook-secret\"\nrate = \"3/1s\"\n\
         {}{}channels = [\"hook\", \"zj-ding\"]\n{}channels = []\n",
        article_source("sh", "上海市", "http://127.0.0.1:1/a.html"),
        article_source("js", "江苏省", "http://127.0.0.1:1/b.html"),
        listing_source("zj", "浙江省", "http://127.0.0.1:1/list.html", "通知"),
    );
    let c = config::parse(&text, &dir.path().join("sources.toml")).unwrap();
    assert_eq!(c.source("sh").unwrap().rules.channels, ["zj-ding"]);
    assert_eq!(c.source("js").unwrap().rules.channels, ["hook", "zj-ding"]);
    assert!(c.source("zj").unwrap().rules.channels.is_empty());
    let ding = c.channel("zj-ding").unwrap();
    assert_eq!(ding.url.to_string(), "https://oapi.dingtalk.com/robot/send");
    assert_eq!(ding.rates.len(), 1);
    assert_eq!(ding.rates[0].count, 20);
    assert_eq!(c.channel("hook").unwrap().rates[0].count, 3);
    // A URL written into the file loads, with a warning.
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    assert_eq!(c.warnings[0].field, "channel[1].url");
    assert_clean("the configuration's Debug", &format!("{c:?}"));
    // Every caller asks the catalogue: a discovered article gets its listing's.
    let catalog = bulletin_watch::catalog::Catalog::from_config(&c);
    let js = catalog.configured("js").unwrap();
    assert_eq!(js.channels, ["hook", "zj-ding"]);
    assert_eq!(
        js.discovered_on("js.abc", "http://127.0.0.1:1/x.html", "t")
            .channels,
        js.channels
    );
}

#[test]
fn validate_warns_of_a_url_in_the_file_and_list_shows_no_token() {
    let project = Project::new(&one_source(&format!(
        "\n[[channel]]\nid = \"zj-wecom\"\nkind = \"wecom\"\nurl = \"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={TOKEN}\"\n"
    )));
    let out = project.cli(&["sources", "validate"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stderr.contains("warning:")
            && stderr.contains("channel[0].url")
            && stderr.contains("credential"),
        "{stderr}"
    );
    assert_clean("sources validate", &format!("{stdout}{stderr}"));
    let out = project.cli(&["sources", "list"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("zj-wecom")
            && stdout.contains("https://qyapi.weixin.qq.com/cgi-bin/webhook/send"),
        "{stdout}"
    );
    assert_clean("sources list", &stdout);

    let broken = Project::new(&one_source("channels = [\"gone\"]\n"));
    let out = broken.cli(&["sources", "validate"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:", broken.config_path().display()))
            && stderr.contains("source[0].channels[0]"),
        "{stderr}"
    );
}

/// The notify-test project: a signed DingTalk robot that accepts, a WeCom
/// robot given a wrong key, a Feishu bot given a wrong signing secret, and
/// e-mail into files.
fn notify_project() -> Project {
    Project::new(&one_source(
        "\n[[channel]]\nid = \"zj-ding\"\nkind = \"dingtalk\"\nurl_env = \"BW_TEST_DING_URL\"\nsecret_env = \"BW_TEST_DING_SECRET\"\nkeyword = \"应急\"\n\
         \n[[channel]]\nid = \"zj-wecom\"\nkind = \"wecom\"\nurl_env = \"BW_TEST_WECOM_URL\"\n\
         \n[[channel]]\nid = \"zj-feishu\"\nkind = \"feishu\"\nurl_env = \"BW_TEST_FEISHU_URL\"\nsecret_env = \"BW_TEST_FEISHU_SECRET\"\n",
    ))
}

fn notify(project: &Project, robots: &[FakeRobot; 3], args: &[&str]) -> (Option<i32>, String) {
    let [ding, wecom, feishu] = robots;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bulletin-watch"))
        .arg("--config")
        .arg(project.config_path())
        .args(["notify", "test"])
        .args(args)
        .env_remove("BULLETIN_WATCH_STORE")
        .env("BW_TEST_DING_URL", ding.url())
        .env("BW_TEST_DING_SECRET", DING_SECRET)
        .env("BW_TEST_WECOM_URL", wecom.url_with_token(WRONG_TOKEN))
        .env("BW_TEST_FEISHU_URL", feishu.url())
        .env("BW_TEST_FEISHU_SECRET", WRONG_SECRET)
        // Every log line the command writes is checked too.
        .env("BULLETIN_WATCH_LOG", "bulletin_watch=debug")
        .output()
        .expect("binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

#[test]
fn notify_test_prints_each_verdict_with_the_platform_code() {
    let rt = rt();
    let robots = rt.block_on(async {
        [
            FakeRobot::start(
                Setup::new(Platform::Dingtalk)
                    .secret(DING_SECRET)
                    .keyword("应急"),
            )
            .await,
            FakeRobot::start(Setup::new(Platform::Wecom)).await,
            FakeRobot::start(Setup::new(Platform::Feishu).secret(FEISHU_SECRET)).await,
        ]
    });
    let [ding, wecom, feishu] = &robots;
    let project = notify_project();
    let (code, out) = notify(&project, &robots, &[]);
    assert_eq!(code, Some(1), "{out}");
    let line = |id: &str| {
        out.lines()
            .find(|l| l.starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("no line for {id}:\n{out}"))
            .to_string()
    };
    let ding_line = line("zj-ding");
    assert!(
        ding_line.contains("dingtalk") && ding_line.contains("delivered"),
        "{out}"
    );
    let wecom_line = line("zj-wecom");
    assert!(
        wecom_line.contains("wecom") && wecom_line.contains("permanent 93000 invalid webhook url"),
        "{out}"
    );
    let feishu_line = line("zj-feishu");
    assert!(
        feishu_line.contains("feishu") && feishu_line.contains("permanent 19021 sign match fail"),
        "{out}"
    );
    assert!(feishu.accepted().is_empty());
    let email = line("email");
    assert!(
        email.contains("files") && email.contains("delivered"),
        "{out}"
    );
    assert_clean("notify test", &out);
    // The robot really got the test message, signed and with its keyword.
    let accepted = ding.accepted();
    assert_eq!(accepted.len(), 1);
    let body = accepted[0].body.to_string();
    assert!(body.contains("测试消息") && body.contains("应急"), "{body}");
    assert_eq!(wecom.refusals().len(), 1);

    // One channel only: the good robot alone, exit 0.
    let (code, out) = notify(&project, &robots, &["--channel", "zj-ding"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert_eq!(ding.accepted().len(), 2);
    assert_eq!(wecom.answers().len(), 1, "the other robot was left alone");
    let (code, out) = notify(&project, &robots, &["--channel", "nope"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("nope"), "{out}");
}

fn platforms() -> [(Platform, &'static str, Option<&'static str>); 4] {
    [
        (Platform::Wecom, "wecom", None),
        (Platform::Dingtalk, "dingtalk", Some(DING_SECRET)),
        (Platform::Feishu, "feishu", Some(FEISHU_SECRET)),
        (Platform::Webhook, "webhook", Some(WHSEC)),
    ]
}

#[test]
fn a_stored_change_reaches_every_kind_of_channel() {
    let rt = rt();
    let fakes: Vec<FakeRobot> = rt.block_on(async {
        let mut fakes = Vec::new();
        for (platform, _, secret) in platforms() {
            let mut setup = Setup::new(platform);
            if let Some(s) = secret {
                setup = setup.secret(s);
            }
            if platform != Platform::Webhook {
                setup = setup.keyword("应急");
            }
            fakes.push(FakeRobot::start(setup).await);
        }
        fakes
    });
    let m = manifest();
    let site = fixture_site(&m);
    site.set("/watched.html", fixture_page(&m, "jiangsu/article.v1.html"));
    let mut channels_toml = String::new();
    let project_dir = tempfile::tempdir().unwrap();
    for ((platform, kind, secret), fake) in platforms().into_iter().zip(&fakes) {
        std::fs::write(project_dir.path().join(format!("{kind}.url")), fake.url()).unwrap();
        channels_toml.push_str(&format!(
            "\n[[channel]]\nid = \"js-{kind}\"\nkind = \"{kind}\"\nurl_file = \"{kind}.url\"\n"
        ));
        if let Some(s) = secret {
            std::fs::write(project_dir.path().join(format!("{kind}.secret")), s).unwrap();
            channels_toml.push_str(&format!("secret_file = \"{kind}.secret\"\n"));
        }
        if platform != Platform::Webhook {
            channels_toml.push_str("keyword = \"应急\"\n");
        }
    }
    let text = format!(
        "{FAST_SETTINGS}alert_on_first = true\nchannels = [\"js-wecom\", \"js-dingtalk\", \"js-feishu\", \"js-webhook\"]\n\
         \n[web]\nbase_url = \"https://watch.example.org/bw/\"\n{channels_toml}{}",
        article_source("jiangsu", "江苏省", &site.url("/watched.html"))
    );
    let config_path = project_dir.path().join("sources.toml");
    std::fs::write(&config_path, text).unwrap();
    let config = Arc::new(config::load(&config_path).expect("config loads"));
    let store = Arc::new(bulletin_watch::store::Store::open(&config.settings.store).unwrap());
    let checker = Checker::new(config.clone(), store.clone()).unwrap();
    let source = config.source("jiangsu").unwrap().clone();
    rt.block_on(checker.check_source(&source));
    site.set(
        "/watched.html",
        fixture_page(&m, "jiangsu/article.v2-edit.html"),
    );
    assert_eq!(
        rt.block_on(checker.check_source(&source)).outcome,
        Outcome::Stored {
            version: 2,
            alerted: true
        }
    );
    let entry = store
        .outbox()
        .unwrap()
        .into_iter()
        .find(|e| e.kind == AlertKind::Changed)
        .expect("a changed alert");

    let alert_config = AlertConfig::from_config(&config);
    let renderer = Renderer::new(&store, &alert_config);
    let alert = renderer.chat(&entry, &config.web).unwrap();
    assert_eq!(alert.kind, ChatKind::Changed);
    assert_eq!(alert.province, "江苏省");
    assert_eq!(alert.version, "v1 → v2");
    assert!(!alert.sections.is_empty(), "{alert:#?}");
    assert_eq!(
        alert.diff_url.as_deref(),
        Some("https://watch.example.org/bw/source/jiangsu/diff?from=1&to=2")
    );
    let expected = m.article("jiangsu/article.v1.html");
    let title = expected.title.clone();
    assert_eq!(alert.title, title);
    let heading = alert.sections[0].heading.clone();

    let ids = renderer.channels(&entry).unwrap();
    assert_eq!(ids, ["js-wecom", "js-dingtalk", "js-feishu", "js-webhook"]);
    let channels = Channels::from_config(&config).unwrap();
    for (id, fake) in ids.iter().zip(&fakes) {
        let mut recorded = Vec::new();
        let verdict =
            rt.block_on(channels.deliver(id, &alert, &entry.key, &[], |p| recorded.push(p.index)));
        assert_eq!(verdict, Verdict::Delivered, "{id}: {:?}", fake.answers());
        let accepted = fake.accepted();
        assert_eq!(recorded.len(), accepted.len(), "{id}");
        let all: String = accepted.iter().map(|a| a.body.to_string()).collect();
        let shown = unescape(&all);
        assert_clean(id, &shown);
        assert!(shown.contains("江苏省"), "{id}: {shown}");
        assert!(
            shown.contains(&first_chars(&title, 8)),
            "{id}: no title {title:?} in {shown}"
        );
        assert!(
            shown.contains(&first_chars(&heading, 6)),
            "{id}: no section {heading:?} in {shown}"
        );
        if id == "js-webhook" {
            let body: &Value = &accepted[0].body;
            assert_eq!(body["type"], "changed");
            assert_eq!(body["province"], "江苏省");
            assert_eq!(body["diff"]["from"], 1);
            assert_eq!(body["diff"]["to"], 2);
            assert!(body["diff"]["changes"]
                .as_array()
                .is_some_and(|c| !c.is_empty()));
            assert!(body["text"].as_str().is_some_and(|t| t.contains("江苏省")));
            assert_eq!(accepted[0].webhook_id.as_deref(), Some(entry.key.as_str()));
        } else {
            assert!(shown.contains("原文链接"), "{id}: {shown}");
            assert!(
                shown.contains("watch.example.org/bw/source/jiangsu/diff"),
                "{id}: {shown}"
            );
        }
    }

    // The first version was published: every channel takes it too, the
    // webhook with its sections.
    let first = store
        .outbox()
        .unwrap()
        .into_iter()
        .find(|e| e.kind == AlertKind::Published)
        .expect("a published alert");
    let published = renderer.chat(&first, &config.web).unwrap();
    assert_eq!(published.kind, ChatKind::Published);
    assert_eq!(published.version, "v1");
    assert!(published.diff.is_none() && published.diff_url.is_none());
    let section = published
        .sections
        .iter()
        .find(|s| s.path != bulletin_watch::model::PREAMBLE)
        .expect("a section")
        .clone();
    for (id, fake) in ids.iter().zip(&fakes) {
        let before = fake.accepted().len();
        let verdict = rt.block_on(channels.deliver(id, &published, &first.key, &[], |_| {}));
        assert_eq!(verdict, Verdict::Delivered, "{id}: {:?}", fake.answers());
        let all: String = fake.accepted()[before..]
            .iter()
            .map(|a| a.body.to_string())
            .collect();
        let shown = unescape(&all);
        assert_clean(id, &shown);
        assert!(
            shown.contains("江苏省") && shown.contains("新发布"),
            "{id}: {shown}"
        );
        assert!(
            shown.contains(&first_chars(&section.heading, 6)),
            "{id}: no section {:?} in {shown}",
            section.heading
        );
        if id == "js-webhook" {
            let body = &fake.accepted()[before].body;
            assert_eq!(body["type"], "published");
            assert!(body.get("diff").is_none(), "{body}");
            let sections = body["sections"].as_array().expect("sections");
            assert!(
                sections
                    .iter()
                    .any(|s| s["heading"] == section.heading.as_str()
                        && s["text"].as_str().is_some_and(|t| !t.is_empty())),
                "{body}"
            );
        }
    }
}

fn first_chars(s: &str, n: usize) -> String {
    s.chars().filter(|c| !c.is_whitespace()).take(n).collect()
}

/// The message as a reader sees its words: JSON escapes resolved, markup
/// and whitespace left out of the way of a `contains`.
fn unescape(json: &str) -> String {
    json.replace("\\n", "")
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '*' | '\\' | '#' | '>'))
        .collect()
}

fn long_alert() -> ChatAlert {
    let sections = (1..=12)
        .map(|i| ChatSection {
            path: i.to_string(),
            heading: format!("（{i}）加强值班值守"),
            change: Some(ChangeKind::Modified),
            spans: vec![
                Span::Equal("各地要".into()),
                Span::Insert("严格落实24小时值班和领导带班制度，".repeat(12)),
            ],
            continued: false,
        })
        .collect();
    ChatAlert {
        kind: ChatKind::Changed,
        source: "js".into(),
        province: "江苏省".into(),
        region: Some("华东".into()),
        title: "关于做好防汛工作的通知".into(),
        url: "https://yjt.jiangsu.gov.cn/art/1.html".into(),
        version: "v1 → v2".into(),
        fetched_at: jiff::Timestamp::now(),
        summary: Some("12 节变更".into()),
        sections,
        text: "plain".into(),
        diff: None,
        diff_url: None,
    }
}

#[test]
fn accepted_parts_are_recorded_at_once_and_a_retry_skips_them() {
    let rt = rt();
    let fake = rt.block_on(FakeRobot::start(Setup::new(Platform::Wecom)));
    let project = Project::new(&one_source(
        "\n[[channel]]\nid = \"w\"\nkind = \"wecom\"\nurl_env = \"BW_TEST_CHAT_PARTS_URL\"\nrate = \"1000/1s\"\n",
    ));
    std::env::set_var("BW_TEST_CHAT_PARTS_URL", fake.url());
    let config = project.config();
    let channels = Channels::from_config(&config).unwrap();
    let alert = long_alert();
    let parts = channels.render("w", &alert).unwrap();
    assert!(parts.len() >= 3, "{} parts", parts.len());
    // The robot takes the first part and is busy for the second.
    let mut recorded = Vec::new();
    rt.block_on(async {
        // Answer the first part normally, then refuse: queue the refusal
        // only once the first part was recorded.
        let verdict = channels
            .deliver("w", &alert, "k", &[], |p| {
                recorded.push(p.index);
                fake.answer_next(-1, "system busy");
            })
            .await;
        assert!(
            matches!(verdict, Verdict::Retryable { code: Some(-1), .. }),
            "{verdict:?}"
        );
    });
    assert_eq!(recorded, [1]);
    assert_eq!(fake.accepted().len(), 1);
    // The retry sends the rest, each part exactly once.
    let verdict = rt.block_on(channels.deliver("w", &alert, "k", &recorded.clone(), |p| {
        recorded.push(p.index)
    }));
    assert_eq!(verdict, Verdict::Delivered);
    assert_eq!(recorded, (1..=parts.len()).collect::<Vec<_>>());
    let accepted = fake.accepted();
    assert_eq!(accepted.len(), parts.len());
    for (a, p) in accepted.iter().zip(&parts) {
        assert_eq!(a.body, p.body, "part {} arrived as rendered", p.index);
        assert!(a.size <= 4096);
    }
    assert_clean("verdicts", &format!("{verdict:?}"));
}
