//! Rendering and splitting, checked on every kind of robot: what each part
//! shows, that page text stays inert, and (property-tested) that the parts
//! of any alert join up to the whole and each fits its platform's limit.

use proptest::prelude::*;
use serde_json::Value;

use super::*;
use crate::model::{ChangeKind, Span};

fn alert(sections: Vec<ChatSection>) -> ChatAlert {
    ChatAlert {
        kind: ChatKind::Changed,
        source: "js-yjt".into(),
        province: "江苏省".into(),
        region: Some("华东".into()),
        title: "关于做好**防汛**工作的通知 <b>".into(),
        url: "https://yjt.jiangsu.gov.cn/art/2026/1/1/art_1.html".into(),
        version: "v3 → v4".into(),
        fetched_at: "2026-01-01T02:00:00Z".parse().unwrap(),
        summary: Some("2 节变更".into()),
        sections,
        text: "plain text".into(),
        diff: Some(serde_json::json!({"changes": []})),
        diff_url: Some("https://watch.example.org/diff/js-yjt/4".into()),
    }
}

fn section(path: &str, spans: Vec<Span>) -> ChatSection {
    ChatSection {
        path: path.into(),
        heading: format!("（{path}）加强值班值守"),
        change: Some(ChangeKind::Modified),
        spans,
        continued: false,
    }
}

fn robot(kind: ChannelKind) -> Robot {
    let (url, secret) = match kind {
        ChannelKind::Wecom => (
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k",
            None,
        ),
        ChannelKind::Dingtalk => (
            "https://oapi.dingtalk.com/robot/send?access_token=t",
            Some("SECx"),
        ),
        ChannelKind::Feishu => ("https://open.feishu.cn/open-apis/bot/v2/hook/h", Some("s")),
        ChannelKind::Webhook => ("https://example.org/in", Some("whsec_c2VjcmV0")),
    };
    Robot::new("r", kind, url, secret.map(Secret::new))
        .unwrap()
        .with_keyword(Some("应急".into()))
        .with_mentions(vec!["13800000000".into()], false)
}

/// Every text a reader sees in a part, for looking things up.
fn shown(kind: ChannelKind, body: &Value) -> String {
    match kind {
        ChannelKind::Wecom => {
            if body["msgtype"] == "text" {
                body["text"]["content"].as_str().unwrap_or("").to_string()
            } else {
                body["markdown"]["content"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            }
        }
        ChannelKind::Dingtalk => format!(
            "{}\n{}",
            body["markdown"]["title"].as_str().unwrap_or(""),
            body["markdown"]["text"].as_str().unwrap_or("")
        ),
        ChannelKind::Feishu => {
            let post = &body["content"]["post"]["zh_cn"];
            let mut s = post["title"].as_str().unwrap_or("").to_string();
            for line in post["content"].as_array().into_iter().flatten() {
                s.push('\n');
                for el in line.as_array().into_iter().flatten() {
                    s.push_str(el["text"].as_str().unwrap_or(""));
                    s.push_str(el["href"].as_str().unwrap_or(""));
                }
            }
            s
        }
        ChannelKind::Webhook => body.to_string(),
    }
}

/// The size the platform counts (Feishu with its signature fields).
fn counted(kind: ChannelKind, part: &Outgoing) -> usize {
    match kind {
        ChannelKind::Wecom => part.body["markdown"]["content"]
            .as_str()
            .or(part.body["text"]["content"].as_str())
            .unwrap_or("")
            .len(),
        ChannelKind::Feishu => {
            let mut b = part.body.clone();
            b["timestamp"] = Value::from("1700000000");
            b["sign"] = Value::from("0000000000000000000000000000000000000000000=");
            serde_json::to_vec(&b).unwrap().len()
        }
        _ => part.body_bytes().len(),
    }
}

/// A section as (path, heading, its units as (op, char)).
type Flat = (String, String, Vec<(u8, char)>);

/// Sections with cut pieces merged back.
fn joined(sections: impl IntoIterator<Item = ChatSection>) -> Vec<Flat> {
    let mut out: Vec<Flat> = Vec::new();
    for s in sections {
        let mut units = Vec::new();
        for span in &s.spans {
            match span {
                Span::Equal(t) => units.extend(t.chars().map(|c| (0, c))),
                Span::Insert(t) => units.extend(t.chars().map(|c| (1, c))),
                Span::Delete(t) => units.extend(t.chars().map(|c| (2, c))),
                Span::Gap => units.push((3, '…')),
            }
        }
        match out.last_mut() {
            Some(last) if s.continued && last.0 == s.path => last.2.extend(units),
            _ => out.push((s.path, s.heading, units)),
        }
    }
    out
}

#[test]
fn each_kind_shows_what_the_alert_is_about() {
    let a = alert(vec![
        section(
            "1",
            vec![
                Span::Equal("各地要".into()),
                Span::Insert("立即".into()),
                Span::Delete("尽快".into()),
            ],
        ),
        section("2", vec![Span::Gap, Span::Insert("24小时".into())]),
    ]);
    for kind in [
        ChannelKind::Wecom,
        ChannelKind::Dingtalk,
        ChannelKind::Feishu,
    ] {
        let parts = robot(kind).render(&a).unwrap();
        let text = shown(kind, &parts[0].body);
        for want in [
            "应急",
            "江苏省",
            "内容变更",
            "防汛",
            "v3 → v4",
            "2026-01-01 10:00:00 北京时间",
            "原文链接",
            "https://yjt.jiangsu.gov.cn/art/2026/1/1/art_1.html",
            "https://watch.example.org/diff/js-yjt/4",
            "加强值班值守",
            "立即",
            "尽快",
            "24小时",
        ] {
            assert!(text.contains(want), "{kind}: {want:?} missing in\n{text}");
        }
        // The page title's markup stays text (Feishu text elements are
        // not markdown, so only the tag matters there).
        assert!(!text.contains("<b>"), "{kind}: {text}");
        if kind != ChannelKind::Feishu {
            assert!(!text.contains("**防汛**"), "{kind}: {text}");
        }
    }
    let wecom = robot(ChannelKind::Wecom).render(&a).unwrap();
    assert_eq!(wecom.len(), 2, "markdown, then the text that mentions");
    let md = shown(ChannelKind::Wecom, &wecom[0].body);
    assert!(md.contains("<font color=\"info\">[+立即+]</font>"), "{md}");
    assert!(
        md.contains("<font color=\"warning\">[-尽快-]</font>"),
        "{md}"
    );
    assert_eq!(
        wecom[1].body["text"]["mentioned_mobile_list"],
        serde_json::json!(["13800000000"])
    );

    let ding = robot(ChannelKind::Dingtalk).render(&a).unwrap();
    assert_eq!(ding.len(), 1);
    assert_eq!(
        ding[0].body["at"]["atMobiles"],
        serde_json::json!(["13800000000"])
    );
    assert!(shown(ChannelKind::Dingtalk, &ding[0].body).contains("@13800000000"));

    let feishu = robot(ChannelKind::Feishu).render(&a).unwrap();
    assert_eq!(feishu[0].body["msg_type"], "post");
    let line = &feishu[0].body["content"]["post"]["zh_cn"]["content"];
    assert!(
        line.to_string()
            .contains(r#""style":["lineThrough"],"tag":"text","text":"[-尽快-]""#),
        "{line}"
    );

    let hook = robot(ChannelKind::Webhook).render(&a).unwrap();
    assert_eq!(hook.len(), 1);
    let b = &hook[0].body;
    assert_eq!(b["type"], "changed");
    assert_eq!(b["source"], "js-yjt");
    assert_eq!(b["region"], "华东");
    assert_eq!(b["fetched_at"], "2026-01-01T02:00:00Z");
    assert_eq!(b["diff"], serde_json::json!({"changes": []}));
    assert_eq!(b["text"], "plain text");
}

#[test]
fn page_text_cannot_mention_or_link() {
    let a = alert(vec![section(
        "1",
        vec![Span::Insert("请@所有人 访问 http://evil.example.com/x [点我](http://evil.example.com) <at user_id=\"all\">".into())],
    )]);
    for kind in [
        ChannelKind::Wecom,
        ChannelKind::Dingtalk,
        ChannelKind::Feishu,
    ] {
        let parts = robot(kind).render(&a).unwrap();
        let text = shown(kind, &parts[0].body);
        assert!(
            !text.contains("@所有人")
                && !text.contains("http://evil")
                && !text.contains("evil.example")
                && !text.contains("<at"),
            "{kind}: {text}"
        );
    }
    let feishu = robot(ChannelKind::Feishu).render(&a).unwrap();
    assert!(!feishu[0].body.to_string().contains(r#""tag":"at""#));
}

#[test]
fn published_webhook_lists_sections() {
    let mut a = alert(vec![section("1", vec![Span::Equal("全文".into())])]);
    a.kind = ChatKind::Published;
    let hook = robot(ChannelKind::Webhook).render(&a).unwrap();
    assert_eq!(hook[0].body["sections"][0]["text"], "全文");
    assert!(hook[0].body.get("diff").is_none());
}

fn span_strategy() -> impl Strategy<Value = Span> {
    let text = "[a-z应急管理部署，。*_<>@\\[\\]\\n ]{0,400}";
    prop_oneof![
        text.prop_map(Span::Equal),
        text.prop_map(Span::Insert),
        text.prop_map(Span::Delete),
        Just(Span::Gap),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn parts_join_up_to_the_whole_and_each_fits(
        sections in proptest::collection::vec(proptest::collection::vec(span_strategy(), 0..12), 0..14),
        huge in proptest::option::of("[甲乙丙]{3000,9000}"),
    ) {
        let mut sections: Vec<ChatSection> = sections
            .into_iter()
            .enumerate()
            .map(|(i, spans)| section(&(i + 1).to_string(), spans))
            .collect();
        if let Some(huge) = huge {
            sections.push(section("99", vec![Span::Insert(huge)]));
        }
        let a = alert(sections.clone());
        for kind in [ChannelKind::Wecom, ChannelKind::Dingtalk, ChannelKind::Feishu] {
            let limit = kind.byte_limit().unwrap();
            let parts = robot(kind).render(&a).unwrap();
            let markdown_parts: Vec<&Outgoing> = parts.iter().filter(|p| p.body["msgtype"] != "text").collect();
            let n = markdown_parts.len();
            for (i, p) in markdown_parts.iter().enumerate() {
                prop_assert!(counted(kind, p) <= limit, "{kind} part {} is {} bytes", i + 1, counted(kind, p));
                let text = shown(kind, &p.body);
                prop_assert!(text.contains("【应急】"));
                if n > 1 {
                    let numbering = format!("（{}/{}）", i + 1, n);
                    prop_assert!(text.contains(&numbering), "{kind}: {numbering} missing");
                }
            }
            let got = joined(parts.iter().flat_map(|p| p.sections.clone()));
            prop_assert_eq!(got, joined(sections.clone()), "{}", kind);
        }
    }
}
