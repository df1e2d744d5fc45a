//! Chat alerts through the durable outbox: every alert becomes one entry
//! for e-mail and one per channel of its source, each with its own state;
//! the drain delivers them to loopback robots (tests/robots) that behave
//! like the platforms. Each channel gets every alert exactly once, a robot
//! that was down gets them when it is back, rate-limit codes are retried
//! later, permanent codes keep the entry (with its code) and raise one
//! `delivery-failing` notice on e-mail, a burst is paced and delivered in
//! full, and no secret shows anywhere.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::robots::{
    assert_clean, FakeRobot, Platform, Setup, DING_SECRET, FEISHU_SECRET, WHSEC, WRONG_SECRET,
    WRONG_TOKEN,
};
use bulletin_watch::check::Checker;
use bulletin_watch::config::{self, Config};
use bulletin_watch::delivery::{Channels, Mailer};
use bulletin_watch::model::AlertKind;
use bulletin_watch::outbox;
use bulletin_watch::site::Site;
use bulletin_watch::store::{DeliveryState, OutboxEntry, Store};

/// One `[[channel]]` of the test project.
struct Chan {
    id: &'static str,
    kind: &'static str,
    url: String,
    secret: Option<&'static str>,
    keyword: bool,
    rate: Option<&'static str>,
}

fn chan(id: &'static str, kind: &'static str, robot: &FakeRobot) -> Chan {
    Chan {
        id,
        kind,
        url: robot.url(),
        secret: match kind {
            "dingtalk" => Some(DING_SECRET),
            "feishu" => Some(FEISHU_SECRET),
            "webhook" => Some(WHSEC),
            _ => None,
        },
        keyword: kind != "webhook",
        rate: None,
    }
}

fn robot(platform: Platform) -> Setup {
    let setup = Setup::new(platform);
    match platform {
        Platform::Wecom => setup.keyword("应急"),
        Platform::Dingtalk => setup.secret(DING_SECRET).keyword("应急"),
        Platform::Feishu => setup.secret(FEISHU_SECRET).keyword("应急"),
        Platform::Webhook => setup.secret(WHSEC),
    }
}

/// A project with one article source (`jiangsu`) on a loopback site whose
/// page the test flips between two versions, going to `channels`.
struct Bench {
    dir: tempfile::TempDir,
    site: Site,
    m: Manifest,
    flips: usize,
    config: Arc<Config>,
    store: Arc<Store>,
    checker: Checker,
}

impl Bench {
    fn new(channels: &[Chan]) -> Bench {
        Bench::with_settings(channels, "")
    }

    fn with_settings(channels: &[Chan], settings: &str) -> Bench {
        let dir = tempfile::tempdir().unwrap();
        let text = project_toml(dir.path(), channels, settings);
        Bench::open(dir, text)
    }

    fn open(dir: tempfile::TempDir, text: String) -> Bench {
        let m = manifest();
        let site = fixture_site(&m);
        site.set("/watched.html", fixture_page(&m, "jiangsu/article.v1.html"));
        let text = text.replace("WATCHED_URL", &site.url("/watched.html"));
        let path = dir.path().join("sources.toml");
        std::fs::write(&path, text).unwrap();
        let config = Arc::new(config::load(&path).expect("config loads"));
        let store = Arc::new(Store::open(&config.settings.store).unwrap());
        let checker = Checker::new(config.clone(), store.clone()).unwrap();
        Bench {
            dir,
            site,
            m,
            flips: 0,
            config,
            store,
            checker,
        }
    }

    /// Checks the source once more after changing its page (the first
    /// check publishes it): one more alert.
    fn alert(&mut self, rt: &tokio::runtime::Runtime) {
        if self.flips > 0 {
            let file = if self.flips % 2 == 1 {
                "jiangsu/article.v2-edit.html"
            } else {
                "jiangsu/article.v1.html"
            };
            self.site.set("/watched.html", fixture_page(&self.m, file));
        }
        self.flips += 1;
        let source = self.config.source("jiangsu").unwrap().clone();
        let before = self.store.outbox().unwrap().len();
        rt.block_on(self.checker.check_source(&source));
        assert!(
            self.store.outbox().unwrap().len() > before,
            "check {} raised no alert",
            self.flips
        );
    }

    fn drain(&self, rt: &tokio::runtime::Runtime, channels: &Channels) -> outbox::Drained {
        let mailer = Mailer::from_config(&self.config.mail, &self.config.settings.store).unwrap();
        rt.block_on(outbox::drain_all(
            &self.store,
            &self.config,
            &mailer,
            channels,
            true,
        ))
        .unwrap()
    }

    fn channels(&self) -> Channels {
        Channels::from_config(&self.config).unwrap()
    }

    fn entries(&self, via: &str) -> Vec<OutboxEntry> {
        let mut v: Vec<OutboxEntry> = self
            .store
            .outbox()
            .unwrap()
            .into_iter()
            .filter(|e| e.via() == via)
            .collect();
        v.sort_by(|a, b| a.key.cmp(&b.key));
        v
    }

    fn alerts(&self, via: &str) -> Vec<OutboxEntry> {
        self.entries(via)
            .into_iter()
            .filter(|e| matches!(e.kind, AlertKind::Changed | AlertKind::Published))
            .collect()
    }

    fn store_path(&self) -> PathBuf {
        self.config.settings.store.clone()
    }
}

fn project_toml(dir: &Path, channels: &[Chan], settings: &str) -> String {
    let mut toml = String::new();
    let mut ids = Vec::new();
    for c in channels {
        let url_file = format!("{}.url", c.id);
        std::fs::write(dir.join(&url_file), &c.url).unwrap();
        toml.push_str(&format!(
            "\n[[channel]]\nid = \"{}\"\nkind = \"{}\"\nurl_file = \"{url_file}\"\n",
            c.id, c.kind
        ));
        if let Some(s) = c.secret {
            let f = format!("{}.secret", c.id);
            std::fs::write(dir.join(&f), s).unwrap();
            toml.push_str(&format!("secret_file = \"{f}\"\n"));
        }
        if c.keyword {
            toml.push_str("keyword = \"应急\"\n");
        }
        if let Some(r) = c.rate {
            toml.push_str(&format!("rate = \"{r}\"\n"));
        }
        ids.push(format!("\"{}\"", c.id));
    }
    format!(
        "{FAST_SETTINGS}alert_on_first = true\nchannels = [{}]\n{settings}{toml}{}",
        ids.join(", "),
        article_source("jiangsu", "江苏省", "WATCHED_URL")
    )
}

fn eml_files(store: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(store.join("mail"))
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|n| n.extension().is_some_and(|e| e == "eml"));
    v.sort();
    v
}

fn start(rt: &tokio::runtime::Runtime, setups: Vec<Setup>) -> Vec<FakeRobot> {
    rt.block_on(async {
        let mut v = Vec::new();
        for s in setups {
            v.push(FakeRobot::start(s).await);
        }
        v
    })
}

#[test]
fn each_channel_gets_each_alert_once_beside_its_own_email() {
    let rt = rt();
    let fakes = start(
        &rt,
        vec![
            robot(Platform::Wecom),
            robot(Platform::Dingtalk),
            robot(Platform::Feishu),
            robot(Platform::Webhook),
        ],
    );
    let ids = ["zj-wecom", "zj-ding", "zj-feishu", "zj-hook"];
    let kinds = ["wecom", "dingtalk", "feishu", "webhook"];
    let chans: Vec<Chan> = (0..4).map(|i| chan(ids[i], kinds[i], &fakes[i])).collect();
    let mut b = Bench::new(&chans);
    for _ in 0..3 {
        b.alert(&rt);
    }
    // One e-mail entry per alert, keyed as always, and one per channel.
    let mail = b.alerts("e-mail");
    assert_eq!(mail.len(), 3);
    assert!(mail.iter().all(|e| !e.key.contains('@')), "{mail:?}");
    for id in ids {
        let keys: Vec<String> = b.alerts(id).into_iter().map(|e| e.key).collect();
        let expected: Vec<String> = mail.iter().map(|e| format!("{}@{id}", e.key)).collect();
        assert_eq!(keys, expected, "{id}");
    }

    let channels = b.channels();
    let drained = b.drain(&rt, &channels);
    assert_eq!(drained.sent, 15, "{drained:?}");
    assert_eq!(eml_files(&b.store_path()).len(), 3);
    for (id, fake) in ids.iter().zip(&fakes) {
        let entries = b.alerts(id);
        assert!(
            entries.iter().all(|e| e.state == DeliveryState::Delivered),
            "{id}: {entries:?}"
        );
        let parts: usize = entries.iter().map(|e| e.parts_done.len()).sum();
        assert!(parts >= 3, "{id}");
        assert_eq!(fake.accepted().len(), parts, "{id}: {:?}", fake.answers());
        assert!(fake.refusals().is_empty(), "{id}: {:?}", fake.refusals());
    }
    // The webhook receiver saw each delivery id once: the outbox key.
    let mut hook_ids: Vec<String> = fakes[3]
        .accepted()
        .into_iter()
        .filter_map(|a| a.webhook_id)
        .collect();
    hook_ids.sort();
    let keys: Vec<String> = b.alerts("zj-hook").into_iter().map(|e| e.key).collect();
    assert_eq!(hook_ids, keys);

    // Another drain sends nothing again.
    let again = b.drain(&rt, &channels);
    assert_eq!(again.sent, 0, "{again:?}");
    for (id, fake) in ids.iter().zip(&fakes) {
        let parts: usize = b.alerts(id).iter().map(|e| e.parts_done.len()).sum();
        assert_eq!(fake.accepted().len(), parts, "{id}: nothing sent twice");
    }
    assert_eq!(eml_files(&b.store_path()).len(), 3);
}

#[test]
fn a_split_alert_reaches_the_robot_as_numbered_parts_once() {
    let rt = rt();
    let fakes = start(&rt, vec![robot(Platform::Wecom)]);
    let mut b = Bench::new(&[chan("zj-wecom", "wecom", &fakes[0])]);
    b.alert(&rt);
    let channels = b.channels();
    b.drain(&rt, &channels);
    let entry = b.alerts("zj-wecom").remove(0);
    assert_eq!(entry.state, DeliveryState::Delivered);
    let accepted = fakes[0].accepted();
    assert_eq!(accepted.len(), entry.parts_done.len());
    assert_eq!(
        entry.parts_done,
        (1..=accepted.len()).collect::<Vec<_>>(),
        "every part recorded once, in order"
    );
    for a in &accepted {
        assert!(a.size <= 4096, "a part over the WeCom limit: {}", a.size);
    }
    if accepted.len() > 1 {
        let n = accepted.len();
        for (i, a) in accepted.iter().enumerate() {
            let body = a.body.to_string();
            assert!(body.contains(&format!("{}/{n}", i + 1)), "{body}");
        }
    }
}

#[test]
fn a_robot_that_was_down_gets_every_alert_once_and_email_is_not_resent() {
    let rt = rt();
    let fakes = start(&rt, vec![robot(Platform::Dingtalk)]);
    let ding = &fakes[0];
    let mut b = Bench::new(&[chan("zj-ding", "dingtalk", ding)]);
    ding.down();
    for _ in 0..3 {
        b.alert(&rt);
    }
    let channels = b.channels();
    let first = b.drain(&rt, &channels);
    assert_eq!((first.sent, first.failed), (3, 3), "{first:?}");
    assert_eq!(eml_files(&b.store_path()).len(), 3);
    let pending = b.alerts("zj-ding");
    assert!(pending
        .iter()
        .all(|e| e.state == DeliveryState::Pending && e.permanent.is_none()));
    assert!(pending.iter().all(|e| e.last_error.is_some()));
    // Still down: tried again, nothing lost, no e-mail again.
    b.drain(&rt, &channels);
    ding.up();
    let back = b.drain(&rt, &channels);
    assert_eq!(back.sent, 3, "{back:?}");
    let entries = b.alerts("zj-ding");
    assert!(entries.iter().all(|e| e.state == DeliveryState::Delivered));
    let parts: usize = entries.iter().map(|e| e.parts_done.len()).sum();
    assert_eq!(ding.accepted().len(), parts);
    assert_eq!(eml_files(&b.store_path()).len(), 3, "e-mail sent once");
    // No outage notice: an outage is not a refusal.
    assert!(b
        .store
        .outbox()
        .unwrap()
        .iter()
        .all(|e| e.kind != AlertKind::DeliveryFailing));
}

#[test]
fn rate_limit_codes_are_retried_later_and_delivered_once() {
    let rt = rt();
    let fakes = start(
        &rt,
        vec![
            robot(Platform::Wecom),
            robot(Platform::Dingtalk),
            robot(Platform::Feishu),
        ],
    );
    let mut b = Bench::new(&[
        chan("zj-wecom", "wecom", &fakes[0]),
        chan("zj-ding", "dingtalk", &fakes[1]),
        chan("zj-feishu", "feishu", &fakes[2]),
    ]);
    b.alert(&rt);
    fakes[0].answer_next(45009, "api freq out of limit");
    fakes[1].answer_next(130101, "send too fast, exceed 20 times per minute");
    fakes[2].answer_next(99991400, "request trigger frequency limit");
    let first = b.drain(&rt, &b.channels());
    assert_eq!((first.sent, first.failed), (1, 3), "{first:?}");
    for (id, code) in [
        ("zj-wecom", 45009),
        ("zj-ding", 130101),
        ("zj-feishu", 99991400),
    ] {
        let e = b.alerts(id).remove(0);
        assert_eq!(e.state, DeliveryState::Pending, "{id}");
        assert!(e.permanent.is_none(), "{id}");
        let err = e.last_error.clone().unwrap_or_default();
        assert!(err.contains(&code.to_string()), "{id}: {err}");
        assert!(
            e.next_attempt > jiff::Timestamp::now(),
            "{id}: retried later, not at once"
        );
    }
    let ding = b.alerts("zj-ding").remove(0);
    let pause = ding.next_attempt.duration_since(jiff::Timestamp::now());
    assert!(
        pause.as_secs() >= 500,
        "DingTalk's throttle is waited out: {pause:?}"
    );
    // A later run (a new `check`, its own limiter) delivers each once.
    let later = b.drain(&rt, &b.channels());
    assert_eq!(later.sent, 3, "{later:?}");
    for (id, fake) in ["zj-wecom", "zj-ding", "zj-feishu"].iter().zip(&fakes) {
        let e = b.alerts(id).remove(0);
        assert_eq!(e.state, DeliveryState::Delivered, "{id}");
        assert_eq!(fake.accepted().len(), e.parts_done.len(), "{id}");
    }
    assert_eq!(eml_files(&b.store_path()).len(), 1);
}

#[test]
fn permanent_codes_keep_the_entry_and_raise_one_delivery_failing_notice() {
    let rt = rt();
    let fakes = start(
        &rt,
        vec![
            robot(Platform::Wecom),
            robot(Platform::Dingtalk),
            robot(Platform::Feishu),
            robot(Platform::Webhook),
        ],
    );
    let mut wecom = chan("zj-wecom", "wecom", &fakes[0]);
    wecom.url = fakes[0].url_with_token(WRONG_TOKEN);
    let mut ding = chan("zj-ding", "dingtalk", &fakes[1]);
    ding.secret = Some("SECwr0ngwr0ngwr0ngwr0ng");
    let mut feishu = chan("zj-feishu", "feishu", &fakes[2]);
    feishu.secret = Some(WRONG_SECRET);
    let hook = chan("zj-hook", "webhook", &fakes[3]);
    let mut b = Bench::new(&[wecom, ding, feishu, hook]);
    b.alert(&rt);
    b.alert(&rt);
    let channels = b.channels();
    b.drain(&rt, &channels);
    for (id, code) in [
        ("zj-wecom", 93000),
        ("zj-ding", 310000),
        ("zj-feishu", 19021),
    ] {
        for e in b.alerts(id) {
            assert_eq!(e.state, DeliveryState::Pending, "{id}: kept");
            assert_eq!(e.state_name(), "permanent", "{id}");
            let refusal = e.permanent.clone().expect("refusal recorded");
            assert_eq!(refusal.code, Some(code), "{id}: {refusal:?}");
            assert_clean(id, &refusal.message);
        }
    }
    // The notices, once per failing channel, on e-mail and the others.
    let drained = b.drain(&rt, &channels);
    assert!(drained.sent > 0, "{drained:?}");
    let notices: Vec<OutboxEntry> = b
        .store
        .outbox()
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == AlertKind::DeliveryFailing)
        .collect();
    for id in ["zj-wecom", "zj-ding", "zj-feishu"] {
        let about: Vec<&OutboxEntry> = notices.iter().filter(|n| n.notice_of() == id).collect();
        let mail: Vec<&&OutboxEntry> = about.iter().filter(|n| n.channel.is_none()).collect();
        assert_eq!(mail.len(), 1, "one e-mail notice about {id}: {about:?}");
        assert_eq!(mail[0].state, DeliveryState::Delivered, "{id}");
        assert!(
            about.iter().any(|n| n.via() == "zj-hook"),
            "the webhook hears of {id}"
        );
        assert!(about.iter().all(|n| n.via() != id), "not on {id} itself");
    }
    let mails = eml_files(&b.store_path());
    assert_eq!(mails.len(), 2 + 3, "two alerts and three notices");
    let hook_types: Vec<String> = fakes[3]
        .accepted()
        .iter()
        .map(|a| a.body["type"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        hook_types
            .iter()
            .filter(|t| *t == "delivery-failing")
            .count(),
        3,
        "{hook_types:?}"
    );
    for m in &mails {
        assert_clean("e-mail", &std::fs::read_to_string(m).unwrap());
    }

    // `outbox retry --channel` makes them due again; fixed robots deliver
    // and raise one `delivery-recovered` each.
    let refused = b
        .entries("zj-wecom")
        .iter()
        .filter(|e| e.permanent.is_some())
        .count();
    assert!(refused >= 2, "the alerts and the notices to it");
    let n = b.store.retry_refused(None, Some("zj-wecom")).unwrap();
    assert_eq!(n, refused);
    assert!(b.entries("zj-wecom").iter().all(|e| e.permanent.is_none()));
    assert!(b.alerts("zj-ding").iter().all(|e| e.permanent.is_some()));
}

#[test]
fn a_burst_of_sixty_alerts_is_paced_and_delivered_in_full() {
    let rt = rt();
    let per = Duration::from_millis(300);
    let fakes = start(&rt, vec![robot(Platform::Dingtalk).rate(20, per)]);
    let mut ding = chan("zj-ding", "dingtalk", &fakes[0]);
    ding.rate = Some("20/300ms");
    let mut b = Bench::new(&[ding]);
    for _ in 0..60 {
        b.alert(&rt);
    }
    let started = Instant::now();
    let drained = b.drain(&rt, &b.channels());
    let took = started.elapsed();
    assert_eq!(drained.failed, 0, "{drained:?}");
    let entries = b.alerts("zj-ding");
    assert_eq!(entries.len(), 60);
    assert!(entries.iter().all(|e| e.state == DeliveryState::Delivered));
    let parts: usize = entries.iter().map(|e| e.parts_done.len()).sum();
    assert_eq!(fakes[0].accepted().len(), parts);
    assert!(fakes[0].refusals().is_empty(), "{:?}", fakes[0].refusals());
    let windows = (parts as u32 - 1) / 20;
    assert!(
        took >= per * windows,
        "{parts} parts in {took:?}: not paced"
    );
}

#[test]
fn no_secret_in_logs_listings_or_errors() {
    let rt = rt();
    let fakes = start(&rt, vec![robot(Platform::Wecom), robot(Platform::Webhook)]);
    let mut wecom = chan("zj-wecom", "wecom", &fakes[0]);
    wecom.url = fakes[0].url_with_token(WRONG_TOKEN);
    let b = {
        let mut b = Bench::new(&[wecom, chan("zj-hook", "webhook", &fakes[1])]);
        b.alert(&rt);
        b
    };
    let store = b.store_path();
    let config_path = b.dir.path().join("sources.toml");
    drop(b.checker);
    drop(b.store);
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_bulletin-watch"))
            .arg("--config")
            .arg(&config_path)
            .args(args)
            .env_remove("BULLETIN_WATCH_STORE")
            .env("BULLETIN_WATCH_LOG", "bulletin_watch=debug")
            .output()
            .expect("binary runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };
    let (_, log) = run(&["check"]);
    assert_clean("check log", &log);
    assert!(log.contains("93000"), "{log}");
    let (code, listing) = run(&["outbox", "--json"]);
    assert_eq!(code, Some(0), "{listing}");
    assert_clean("outbox --json", &listing);
    assert!(
        listing.contains("zj-wecom") && listing.contains("permanent"),
        "{listing}"
    );
    assert!(listing.contains("93000"), "{listing}");
    let (code, listing) = run(&["outbox"]);
    assert_eq!(code, Some(0), "{listing}");
    assert_clean("outbox", &listing);
    assert!(listing.contains("zj-wecom"), "{listing}");
    let (code, out) = run(&["outbox", "retry", "--channel", "zj-wecom"]);
    assert_eq!(code, Some(0), "{out}");
    assert_clean("outbox retry", &out);
    for m in eml_files(&store) {
        assert_clean("e-mail", &std::fs::read_to_string(m).unwrap());
    }
}

#[test]
fn delivered_entries_past_their_retention_are_pruned_and_versions_kept() {
    let rt = rt();
    let fakes = start(&rt, vec![robot(Platform::Wecom)]);
    let wecom = chan("zj-wecom", "wecom", &fakes[0]);
    let b = {
        let mut b = Bench::with_settings(&[wecom], "outbox_retention = \"1s\"\n");
        b.alert(&rt);
        b.alert(&rt);
        b
    };
    // A refused one is kept whatever its age.
    fakes[0].answer_next(93000, "invalid webhook url");
    b.drain(&rt, &b.channels());
    std::thread::sleep(Duration::from_millis(1200));
    let pruned = outbox::prune(&b.store, &b.config).unwrap();
    let left = b.store.outbox().unwrap();
    assert_eq!(pruned, 3, "two e-mails and one chat message: {left:?}");
    assert!(
        left.iter().all(|e| e.state == DeliveryState::Pending),
        "only the undelivered stay: {left:?}"
    );
    assert!(left.iter().any(|e| e.permanent.is_some()), "{left:?}");
    let versions = b.store.versions("jiangsu").unwrap();
    assert_eq!(versions.len(), 2, "versions are never pruned");
}

#[test]
fn kill_9_during_a_burst_loses_nothing_and_repeats_at_most_one_message() {
    let rt = rt();
    let per = Duration::from_millis(300);
    let fakes = start(&rt, vec![robot(Platform::Dingtalk).rate(5, per)]);
    let mut ding = chan("zj-ding", "dingtalk", &fakes[0]);
    ding.rate = Some("5/300ms");
    let mut b = Bench::new(&[ding]);
    for _ in 0..30 {
        b.alert(&rt);
    }
    let Bench {
        dir,
        site,
        config,
        store,
        checker,
        ..
    } = b;
    let store_path = config.settings.store.clone();
    drop(checker);
    drop(store);
    let config_path = dir.path().join("sources.toml");

    let mut daemon = Daemon::run_config(&config_path, &[]);
    daemon.wait_for("a part of the burst", Duration::from_secs(30), || {
        fakes[0].accepted().len() >= 8
    });
    daemon.kill();
    let at_kill = fakes[0].accepted().len();
    assert!(at_kill < 30, "killed during the burst, not after it");
    // The robot's window closes before the restart: a new process has a
    // new limiter, and DingTalk would throttle for ten minutes (130101).
    std::thread::sleep(per + Duration::from_millis(200));

    let mut daemon = Daemon::run_config(&config_path, &[]);
    daemon.wait_for("the rest of the burst", Duration::from_secs(60), || {
        fakes[0].accepted().len() >= 30
    });
    // Let the last answers be recorded, then stop cleanly.
    std::thread::sleep(Duration::from_millis(500));
    daemon.terminate();
    let store = reopen(&store_path);
    let entries: Vec<OutboxEntry> = store
        .outbox()
        .unwrap()
        .into_iter()
        .filter(|e| e.via() == "zj-ding")
        .collect();
    assert_eq!(entries.len(), 30);
    assert!(
        entries.iter().all(|e| e.state == DeliveryState::Delivered),
        "nothing lost: {:?}",
        entries
            .iter()
            .filter(|e| e.state != DeliveryState::Delivered)
            .collect::<Vec<_>>()
    );
    let parts: usize = entries.iter().map(|e| e.parts_done.len()).sum();
    let accepted = fakes[0].accepted().len();
    assert!(
        accepted >= parts && accepted <= parts + 1,
        "{accepted} messages for {parts} parts: at most one repeated"
    );
    drop(site);
}
