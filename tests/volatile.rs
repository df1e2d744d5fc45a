//! Volatile text learned by itself: a visit counter and a "generated at"
//! stamp inside the article body change on every request; after two
//! back-to-back fetches disagree on them they never cause a version, while
//! a real edit made between two checks is stored and alerted once.

use crate::common::*;
use bulletin_watch::alert::{AlertConfig, Renderer};
use bulletin_watch::check::Outcome;
use bulletin_watch::model::AlertKind;
use bulletin_watch::site::{Page, Site};

fn page(second_section: &str) -> String {
    format!(
        r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>测试省2025年应急管理工作会议召开</title></head>
<body><h1>测试省2025年应急管理工作会议召开</h1>
<div class="article-content">
<p>2月1日，测试省2025年应急管理工作会议召开，本文已被浏览{{hits}}次，会议总结2024年工作。</p>
<p>（一）加强风险防范。要健全风险监测预警体系，强化重点行业领域安全监管，坚决遏制重特大事故。</p>
<p>（二）{second_section}本页生成于{{stamp}}，请以正式文件为准。</p>
</div></body></html>"#
    )
}

const BEFORE: &str = "提升救援能力。要加强救援队伍建设，完善应急预案体系，开展实战化演练。";
const AFTER: &str = "提升救援能力。要加强救援队伍和装备建设，完善应急预案体系，开展实战化演练。";

fn setup(settings: &str) -> (Site, Project) {
    let site = Site::start().unwrap();
    site.set(
        "/a.html",
        Page::html("text/html; charset=utf-8", page(BEFORE)),
    );
    site.volatile("/a.html");
    let project = Project::new(&format!(
        "{settings}{}",
        article_source("ts", "测试省", &site.url("/a.html"))
    ));
    (site, project)
}

#[test]
fn a_counter_and_a_stamp_in_the_body_store_one_version_and_an_edit_alerts_once() {
    let (site, project) = setup(FAST_SETTINGS);
    let checker = project.checker();
    let src = checker.config.source("ts").unwrap().clone();
    let rt = rt();
    let mut outcomes = Vec::new();
    for i in 0..10 {
        if i == 6 {
            site.set(
                "/a.html",
                Page::html("text/html; charset=utf-8", page(AFTER)),
            );
        }
        outcomes.push(rt.block_on(checker.check_source(&src)).outcome);
    }
    let stored: Vec<u32> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Stored { version, .. } => Some(*version),
            _ => None,
        })
        .collect();
    assert_eq!(stored, [1, 2], "one version, then the edit: {outcomes:?}");
    assert!(
        matches!(
            outcomes[6],
            Outcome::Stored {
                version: 2,
                alerted: true
            }
        ),
        "the edit is stored and alerted at the check after it: {outcomes:?}"
    );
    assert_eq!(
        alert_kinds(&checker),
        [AlertKind::Changed],
        "one alert, for the edit"
    );

    // The mask is kept with the source and names what it learned.
    let mask = checker.store.fetch_state("ts").unwrap().volatile;
    assert!(mask.patterns.len() >= 2, "{:?}", mask.patterns);
    assert!(
        mask.patterns.iter().any(|p| p.contains("浏览")),
        "{:?}",
        mask.patterns
    );

    // A second fetch happened only when something looked changed: the
    // unchanged checks after the mask was learned fetched once each.
    let (full, _) = site.hits("/a.html");
    assert!(full <= 10 + 3, "{full} requests for 10 checks");

    // The alert shows the edit, not the counter or the stamp.
    let entry = checker.store.outbox().unwrap().pop().unwrap();
    let config = AlertConfig::from_config(&checker.config);
    let msg = Renderer::new(&checker.store, &config)
        .render(&entry)
        .unwrap();
    assert!(msg.text.contains("装备"), "{}", msg.text);
    assert!(
        !msg.text.contains("浏览1"),
        "the counter is not part of the alert:\n{}",
        msg.text
    );
    assert!(
        !msg.text.contains("2025-03-01"),
        "the stamp is not part of the alert:\n{}",
        msg.text
    );

    // `sources explain` shows the mask beside how the page was read.
    drop(checker);
    let out = retry_open(|| {
        let out = project.cli(&["sources", "explain", "ts"]);
        if out.status.success() {
            Ok(out)
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    });
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("volatile   learned"), "{text}");
    assert!(text.contains("浏览"), "{text}");
    assert!(text.contains("body       "), "{text}");
}

#[test]
fn with_confirmation_off_every_counter_tick_is_a_version() {
    let (_site, project) = setup(&format!("{FAST_SETTINGS}confirm_changes = false\n"));
    let checker = project.checker();
    let src = checker.config.source("ts").unwrap().clone();
    let rt = rt();
    let stored = (0..3)
        .filter(|_| {
            matches!(
                rt.block_on(checker.check_source(&src)).outcome,
                Outcome::Stored { .. }
            )
        })
        .count();
    assert_eq!(stored, 3, "without a second look the counter is content");
    assert!(checker.store.fetch_state("ts").unwrap().volatile.is_empty());
}
