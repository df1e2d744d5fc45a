//! The chat channels against loopback robots that behave like the
//! platforms (tests/robots): each kind delivers, wrong credentials come back
//! as the platform's permanent code, rate limits as retryable with the
//! pause, a burst is paced and delivered in full, split alerts arrive whole
//! and within the limit, a robot that was down gets the alert once, and no
//! secret shows in anything the channel reports.

use std::sync::Arc;
use std::time::Duration;

use crate::robots::{FakeRobot, Platform, Setup};
use bulletin_watch::channel::{
    ChannelKind, ChatAlert, ChatKind, ChatSection, Outgoing, Rate, RateLimiter, Robot, Secret,
    Verdict,
};
use bulletin_watch::model::{ChangeKind, Span};
use serde_json::Value;

const DING_SECRET: &str = "SECb7f1a2c3d4e5f60718293a4b5c6d7e8f90";
const FEISHU_SECRET: &str = "fs-sign-5a6b7c8d9e";
const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

fn alert(sections: Vec<ChatSection>) -> ChatAlert {
    ChatAlert {
        kind: ChatKind::Changed,
        source: "zj-yjt".into(),
        province: "浙江省".into(),
        region: Some("华东".into()),
        title: "关于进一步做好防汛防台工作的通知".into(),
        url: "https://yjt.zj.gov.cn/art/2026/6/1/art_1.html".into(),
        version: "v2 → v3".into(),
        fetched_at: jiff::Timestamp::now(),
        summary: Some(format!("{} 节变更", sections.len())),
        sections,
        text: "浙江省 关于进一步做好防汛防台工作的通知 v2 → v3".into(),
        diff: Some(serde_json::json!({"changes": []})),
        diff_url: None,
    }
}

fn section(path: &str, text: &str) -> ChatSection {
    ChatSection {
        path: path.into(),
        heading: format!("（{path}）强化监测预警"),
        change: Some(ChangeKind::Modified),
        spans: vec![
            Span::Equal("各地要".into()),
            Span::Insert(text.into()),
            Span::Delete("适时".into()),
        ],
        continued: false,
    }
}

fn small_alert() -> ChatAlert {
    alert(vec![section("1", "立即"), section("2", "24小时值班")])
}

fn setup(platform: Platform) -> Setup {
    let s = Setup::new(platform);
    match platform {
        Platform::Wecom => s,
        Platform::Dingtalk => s.secret(DING_SECRET).keyword("应急"),
        Platform::Feishu => s.secret(FEISHU_SECRET).keyword("应急"),
        Platform::Webhook => s.secret(WHSEC),
    }
}

fn kind(platform: Platform) -> ChannelKind {
    match platform {
        Platform::Wecom => ChannelKind::Wecom,
        Platform::Dingtalk => ChannelKind::Dingtalk,
        Platform::Feishu => ChannelKind::Feishu,
        Platform::Webhook => ChannelKind::Webhook,
    }
}

fn robot_for(fake: &FakeRobot, platform: Platform, secret: Option<&str>) -> Robot {
    Robot::new("ch", kind(platform), &fake.url(), secret.map(Secret::new))
        .unwrap()
        .with_keyword(Some("应急".into()))
}

fn right_secret(platform: Platform) -> Option<&'static str> {
    match platform {
        Platform::Wecom => None,
        Platform::Dingtalk => Some(DING_SECRET),
        Platform::Feishu => Some(FEISHU_SECRET),
        Platform::Webhook => Some(WHSEC),
    }
}

fn unlimited() -> RateLimiter {
    RateLimiter::new(vec![Rate::new(10_000, Duration::from_millis(1))])
}

/// No secret of any test robot in `text`.
fn assert_clean(text: &str, fake: &FakeRobot) {
    let mut secrets = vec![
        DING_SECRET.to_string(),
        FEISHU_SECRET.to_string(),
        WHSEC.to_string(),
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string(),
        "tok3n-9f8e7d6c5b4a".to_string(),
    ];
    // The webhook receiver's URL carries no token.
    if fake.url().contains("tok3n") {
        secrets.push(fake.url());
    }
    for secret in &secrets {
        assert!(!text.contains(secret), "secret {secret:?} in {text:?}");
    }
}

const ALL: [Platform; 4] = [
    Platform::Wecom,
    Platform::Dingtalk,
    Platform::Feishu,
    Platform::Webhook,
];

#[tokio::test]
async fn each_kind_delivers_a_message_the_robot_accepts() {
    let http = http();
    for platform in ALL {
        let fake = FakeRobot::start(setup(platform)).await;
        let robot = robot_for(&fake, platform, right_secret(platform));
        let parts = robot.render(&small_alert()).unwrap();
        assert_eq!(parts.len(), 1, "{platform:?}");
        let mut recorded = Vec::new();
        let verdict = robot
            .deliver(&http, &unlimited(), &parts, "42", |p| {
                recorded.push(p.index)
            })
            .await;
        assert_eq!(verdict, Verdict::Delivered, "{platform:?}");
        assert_eq!(recorded, vec![1]);
        let accepted = fake.accepted();
        assert_eq!(accepted.len(), 1, "{platform:?}");
        // The robot got exactly the rendered body (Feishu's signature
        // fields are checked and taken off by the fake).
        assert_eq!(accepted[0].body, parts[0].body, "{platform:?}");
        if platform == Platform::Webhook {
            assert_eq!(accepted[0].webhook_id.as_deref(), Some("42"));
        }
        assert_clean(&format!("{robot:?} {}", robot.url()), &fake);
    }
}

#[tokio::test]
async fn wrong_credentials_are_permanent_with_the_platform_code() {
    let http = http();
    let cases: [(Platform, Option<&str>, i64); 4] = [
        (Platform::Dingtalk, Some("SECwrong0000"), 310000),
        (Platform::Feishu, Some("wrong-secret"), 19021),
        (
            Platform::Webhook,
            Some("whsec_d3JvbmcgZ2FyYmFnZSBrZXk="),
            401,
        ),
        (Platform::Wecom, None, 93000),
    ];
    for (platform, secret, code) in cases {
        let fake = FakeRobot::start(setup(platform)).await;
        let robot = if platform == Platform::Wecom {
            Robot::new(
                "ch",
                ChannelKind::Wecom,
                &fake.url_with_token("revoked-key-000111"),
                None,
            )
            .unwrap()
        } else {
            robot_for(&fake, platform, secret)
        };
        let parts = robot.render(&small_alert()).unwrap();
        let verdict = robot.send(&http, &parts[0], "7").await;
        let Verdict::Permanent {
            code: got,
            message,
            body_too_large,
        } = &verdict
        else {
            panic!("{platform:?}: {verdict:?}");
        };
        assert_eq!(*got, Some(code), "{platform:?}: {message}");
        assert!(!body_too_large);
        assert!(!message.is_empty());
        assert_clean(&verdict.to_string(), &fake);
        assert!(fake.accepted().is_empty());
    }
}

#[tokio::test]
async fn a_missing_keyword_is_the_platform_code() {
    let http = http();
    for (platform, code) in [(Platform::Dingtalk, 310000), (Platform::Feishu, 19024)] {
        let fake = FakeRobot::start(setup(platform)).await;
        let robot = robot_for(&fake, platform, right_secret(platform)).with_keyword(None);
        let parts = robot.render(&small_alert()).unwrap();
        let verdict = robot.send(&http, &parts[0], "8").await;
        assert_eq!(verdict.code(), Some(code), "{platform:?}: {verdict}");
        assert!(verdict.is_permanent());
    }
}

#[tokio::test]
async fn a_rate_limit_is_retryable_with_the_pause() {
    let http = http();
    let window = Duration::from_secs(30);
    let cases = [
        (Platform::Wecom, 45009, Duration::from_secs(60)),
        (Platform::Dingtalk, 130101, Duration::from_secs(600)),
        (Platform::Feishu, 99991400, Duration::from_secs(30)),
    ];
    for (platform, code, pause) in cases {
        let fake = FakeRobot::start(setup(platform).rate(2, window)).await;
        let robot = robot_for(&fake, platform, right_secret(platform));
        let parts = robot.render(&small_alert()).unwrap();
        for _ in 0..2 {
            assert_eq!(robot.send(&http, &parts[0], "1").await, Verdict::Delivered);
        }
        let verdict = robot.send(&http, &parts[0], "1").await;
        assert!(
            matches!(&verdict, Verdict::Retryable { code: Some(c), after: Some(a), .. } if *c == code && *a == pause),
            "{platform:?}: {verdict:?}"
        );
        // Through `deliver`, the pause holds the robot's limiter.
        let limiter = unlimited();
        let v = robot.deliver(&http, &limiter, &parts, "1", |_| {}).await;
        assert!(matches!(v, Verdict::Retryable { .. }));
        let held = tokio::time::timeout(Duration::from_millis(200), limiter.acquire()).await;
        assert!(
            held.is_err(),
            "{platform:?}: the limiter must hold after the pause"
        );
        assert_eq!(fake.accepted().len(), 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_sixty_is_paced_and_delivered_in_full() {
    let http = http();
    // The robot allows 20 per 300 ms and then throttles for a minute, as
    // DingTalk does: one message too many would lose the rest.
    let window = Duration::from_millis(300);
    let fake = FakeRobot::start(
        setup(Platform::Dingtalk)
            .rate(20, window)
            .throttle(Duration::from_secs(60)),
    )
    .await;
    let robot = Arc::new(robot_for(&fake, Platform::Dingtalk, Some(DING_SECRET)));
    let limiter = Arc::new(RateLimiter::new(vec![Rate::new(20, window)]));
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    for i in 0..60 {
        let (robot, limiter, http) = (robot.clone(), limiter.clone(), http.clone());
        tasks.push(tokio::spawn(async move {
            let mut a = small_alert();
            a.title = format!("第{i}号部署");
            let parts = robot.render(&a).unwrap();
            robot
                .deliver(&http, &limiter, &parts, &i.to_string(), |_| {})
                .await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), Verdict::Delivered);
    }
    assert!(start.elapsed() >= 2 * window, "paced, not sent at once");
    assert_eq!(fake.accepted().len(), 60);
    assert!(fake.refusals().is_empty(), "{:?}", fake.refusals());
    let mut titles: Vec<String> = fake
        .accepted()
        .iter()
        .map(|a| a.body["markdown"]["text"].as_str().unwrap().to_string())
        .collect();
    titles.sort();
    titles.dedup();
    assert_eq!(titles.len(), 60, "every alert once");
}

fn flatten(parts: &[Outgoing]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for s in parts.iter().flat_map(|p| p.sections.iter()) {
        let text: String = s
            .spans
            .iter()
            .flat_map(|span| {
                // One (op, char) pair per character, so that a span cut in
                // two reads the same as the whole.
                let (op, t) = match span {
                    Span::Equal(t) => ('=', t.as_str()),
                    Span::Insert(t) => ('+', t.as_str()),
                    Span::Delete(t) => ('-', t.as_str()),
                    Span::Gap => ('…', ""),
                };
                let pairs: Vec<String> = if t.is_empty() {
                    vec![op.to_string()]
                } else {
                    t.chars().map(|c| format!("{op}{c}")).collect()
                };
                pairs
            })
            .collect();
        match out.last_mut() {
            Some(last) if s.continued && last.0 == s.path => last.1.push_str(&text),
            _ => out.push((s.path.clone(), text)),
        }
    }
    out
}

#[tokio::test]
async fn a_split_alert_arrives_whole_and_each_part_fits() {
    let http = http();
    // Forty sections of ~300 characters, and one of 8,000 that must be cut.
    let mut sections: Vec<ChatSection> = (1..=40)
        .map(|i| {
            section(
                &i.to_string(),
                &"加强会商研判，及时发布预警信息。".repeat(20),
            )
        })
        .collect();
    sections.push(section("41", &"落实转移避险措施".repeat(1000)));
    let whole = alert(sections.clone());
    let expected = flatten(&[Outgoing {
        index: 1,
        total: 1,
        body: Value::Null,
        sections: sections.clone(),
    }]);
    for platform in [Platform::Wecom, Platform::Dingtalk, Platform::Feishu] {
        let fake = FakeRobot::start(setup(platform).rate(1000, Duration::from_secs(60))).await;
        let robot = robot_for(&fake, platform, right_secret(platform));
        let parts = robot.render(&whole).unwrap();
        assert!(parts.len() > 2, "{platform:?}: {} parts", parts.len());
        let verdict = robot
            .deliver(&http, &unlimited(), &parts, "9", |_| {})
            .await;
        assert_eq!(verdict, Verdict::Delivered, "{platform:?}");
        let accepted = fake.accepted();
        assert_eq!(
            accepted.len(),
            parts.len(),
            "{platform:?}: one message per part"
        );
        let limit = kind(platform).byte_limit().unwrap();
        for (i, (got, part)) in accepted.iter().zip(&parts).enumerate() {
            assert!(
                got.size <= limit,
                "{platform:?} part {i}: {} bytes",
                got.size
            );
            assert_eq!(got.body, part.body);
            let numbering = format!("（{}/{}）", i + 1, parts.len());
            assert!(
                got.body.to_string().contains(&numbering),
                "{platform:?}: {numbering}"
            );
        }
        assert!(
            flatten(&parts) == expected,
            "{platform:?}: the parts do not join up to the whole"
        );
    }
}

#[tokio::test]
async fn a_robot_that_was_down_gets_the_alert_once() {
    let http = http();
    for platform in ALL {
        let fake = FakeRobot::start(setup(platform)).await;
        let robot = robot_for(&fake, platform, right_secret(platform));
        let parts = robot.render(&small_alert()).unwrap();
        fake.down();
        let verdict = robot.send(&http, &parts[0], "5").await;
        let Verdict::Retryable { message, .. } = &verdict else {
            panic!("{platform:?}: {verdict:?}");
        };
        assert_clean(message, &fake);
        fake.up();
        assert_eq!(robot.send(&http, &parts[0], "5").await, Verdict::Delivered);
        assert_eq!(fake.accepted().len(), 1, "{platform:?}");
    }
}

#[tokio::test]
async fn a_robot_that_does_not_answer_in_time_is_retried() {
    let http = http();
    let fake = FakeRobot::start(setup(Platform::Dingtalk)).await;
    let mut robot = robot_for(&fake, Platform::Dingtalk, Some(DING_SECRET));
    robot.timeout = Duration::from_millis(200);
    let parts = robot.render(&small_alert()).unwrap();
    fake.stall(Some(Duration::from_secs(2)));
    let verdict = robot.send(&http, &parts[0], "3").await;
    let Verdict::Retryable {
        code: None,
        message,
        ..
    } = &verdict
    else {
        panic!("{verdict:?}");
    };
    assert_clean(message, &fake);
    fake.stall(None);
    assert_eq!(robot.send(&http, &parts[0], "3").await, Verdict::Delivered);
}

#[tokio::test]
async fn busy_answers_are_retried_and_delivered_once() {
    let http = http();
    for (platform, code) in [
        (Platform::Wecom, -1),
        (Platform::Wecom, 45009),
        (Platform::Dingtalk, 130101),
        (Platform::Feishu, 11232),
        (Platform::Feishu, 99991400),
        (Platform::Webhook, 503),
        (Platform::Webhook, 429),
    ] {
        let fake = FakeRobot::start(setup(platform)).await;
        let robot = robot_for(&fake, platform, right_secret(platform));
        let parts = robot.render(&small_alert()).unwrap();
        fake.answer_next(code, "busy");
        let first = robot.send(&http, &parts[0], "77").await;
        assert!(
            matches!(first, Verdict::Retryable { code: Some(c), .. } if c == code),
            "{platform:?} {code}: {first:?}"
        );
        assert_eq!(robot.send(&http, &parts[0], "77").await, Verdict::Delivered);
        assert_eq!(fake.accepted().len(), 1);
    }
}

#[tokio::test]
async fn webhook_signatures_verify_and_the_id_is_stable_across_retries() {
    let http = http();
    let fake = FakeRobot::start(setup(Platform::Webhook)).await;
    let robot = robot_for(&fake, Platform::Webhook, Some(WHSEC));
    let parts = robot.render(&small_alert()).unwrap();
    fake.answer_next(500, "oops");
    assert!(matches!(
        robot.send(&http, &parts[0], "outbox-31").await,
        Verdict::Retryable { .. }
    ));
    assert_eq!(
        robot.send(&http, &parts[0], "outbox-31").await,
        Verdict::Delivered
    );
    // A crash after the receiver took it but before the outbox recorded
    // it: the repeat carries the same id and the receiver drops it.
    assert_eq!(
        robot.send(&http, &parts[0], "outbox-31").await,
        Verdict::Delivered
    );
    assert_eq!(fake.accepted().len(), 1);
    assert_eq!(fake.attempts().get("outbox-31"), Some(&2));

    // The receiver refuses what the spec says to refuse.
    let body = parts[0].body_bytes();
    let key = bulletin_watch::channel::WebhookKey::parse(&Secret::new(WHSEC)).unwrap();
    let post = |id: &str, ts: i64, sig: String, body: Vec<u8>| {
        http.post(fake.url())
            .header("webhook-id", id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", sig)
            .header("Idempotency-Key", id)
            .body(body)
            .send()
    };
    let now = jiff::Timestamp::now().as_second();
    let old = now - 600;
    let r = post(
        "x1",
        old,
        key.signature("x1", old, &body).unwrap(),
        body.clone(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 401, "old timestamp");
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let r = post(
        "x2",
        now,
        key.signature("x2", now, &body).unwrap(),
        tampered,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 401, "tampered body");
    let r = post(
        "x3",
        now,
        format!("v1,bogus {}", key.signature("x3", now, &body).unwrap()),
        body.clone(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 204, "any one valid signature of several");
    assert_eq!(fake.accepted().len(), 2);
}
