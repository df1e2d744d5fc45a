//! Alerts are stored as events and rendered when they are delivered or
//! shown: the stored entry stays small, rendering is repeatable, entries
//! written when they carried a rendered e-mail still go out, and a
//! `changed` alert shows the diff of the two versions it names.

use std::path::Path;
use std::sync::Arc;

use crate::common::*;
use bulletin_watch::alert::Message;
use bulletin_watch::alert::{AlertConfig, Renderer};
use bulletin_watch::check::{Checker, Outcome};
use bulletin_watch::delivery::Mailer;
use bulletin_watch::model::AlertKind;
use bulletin_watch::outbox;
use bulletin_watch::site::Site;
use bulletin_watch::store::OutboxEntry;

const PROVINCE: &str = "jiangsu";

/// A project whose article was stored twice (v1, then a one-sentence
/// edit), so that its outbox holds one `changed` alert for v2.
struct Edited {
    project: Project,
    _site: Site,
}

fn edited() -> Edited {
    let m = manifest();
    let site = fixture_site(&m);
    site.set(
        "/watched.html",
        fixture_page(&m, &format!("{PROVINCE}/article.v1.html")),
    );
    let project = Project::new(&format!(
        "{FAST_SETTINGS}\n[mail]\nfrom = \"watch@example.org\"\nto = [\"duty@example.org\"]\n{}\
         recipients = [\"js@example.org\"]\n",
        article_source(PROVINCE, "江苏省", &site.url("/watched.html"))
    ));
    let checker = checker(&project);
    let rt = rt();
    let source = checker.config.source(PROVINCE).unwrap().clone();
    assert!(matches!(
        rt.block_on(checker.check_source(&source)).outcome,
        Outcome::Stored { version: 1, .. }
    ));
    site.set(
        "/watched.html",
        fixture_page(&m, &format!("{PROVINCE}/article.v2-edit.html")),
    );
    assert_eq!(
        rt.block_on(checker.check_source(&source)).outcome,
        Outcome::Stored {
            version: 2,
            alerted: true
        }
    );
    Edited {
        project,
        _site: site,
    }
}

fn checker(project: &Project) -> Checker {
    let config = Arc::new(project.config());
    let store = reopen(&config.settings.store);
    Checker::new(config, Arc::new(store)).expect("checker")
}

fn render(checker: &Checker, entry: &OutboxEntry) -> Message {
    let config = AlertConfig::from_config(&checker.config);
    Renderer::new(&checker.store, &config)
        .render(entry)
        .expect("store readable")
}

fn only_entry(checker: &Checker) -> OutboxEntry {
    let mut all = checker.store.outbox().unwrap();
    assert_eq!(all.len(), 1, "{all:#?}");
    all.remove(0)
}

/// The outbox tree's raw records, read with sled itself once the store is
/// closed, decompressed as the store writes them.
fn raw_outbox(store: &Path) -> Vec<(String, usize, String)> {
    let db = retry_open(|| sled::open(store));
    db.open_tree("outbox")
        .unwrap()
        .iter()
        .map(|kv| {
            let (k, v) = kv.unwrap();
            let json = bulletin_watch::store::stored_entry_json(&v).unwrap();
            (
                String::from_utf8(k.to_vec()).unwrap(),
                v.len(),
                String::from_utf8(json).unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_stored_alert_is_a_small_event_without_the_email() {
    let f = edited();
    let checker = checker(&f.project);
    let entry = only_entry(&checker);
    assert_eq!(entry.kind, AlertKind::Changed);
    assert_eq!((entry.detail.as_deref(), entry.failures), (None, None));
    let message = render(&checker, &entry);
    assert!(message.html.len() > 2000, "the e-mail itself is large");
    drop(checker);

    let raw = raw_outbox(&f.project.store_path());
    assert_eq!(raw.len(), 1);
    let (key, stored, json) = &raw[0];
    assert_eq!(key, &format!("changed/{PROVINCE}/v2"));
    for absent in ["message", "html", "subject", "detail", "failures"] {
        assert!(!json.contains(absent), "{absent:?} stored: {json}");
    }
    // The budget for one one-sentence edit is 2 KB of store growth; the
    // rendered e-mail alone used to take that.
    assert!(*stored < 300, "{stored} bytes stored: {json}");
}

#[test]
fn rendering_the_same_entry_twice_gives_the_same_message() {
    let f = edited();
    let checker = checker(&f.project);
    let entry = only_entry(&checker);
    let first = render(&checker, &entry);
    let second = render(&checker, &entry);
    assert_eq!(first, second);
    assert_eq!(
        first.message_id,
        format!(
            "changed.{PROVINCE}.v2.{}@bulletin-watch",
            checker.store.instance_id()
        )
    );
    assert_eq!(first.from, "watch@example.org");
    assert_eq!(first.to, vec!["duty@example.org", "js@example.org"]);
    assert!(
        first.subject.starts_with("[bulletin-watch] 江苏省 · "),
        "{}",
        first.subject
    );
}

#[test]
fn a_changed_alert_shows_the_diff_of_the_two_stored_versions() {
    let f = edited();
    let checker = checker(&f.project);
    let entry = only_entry(&checker);
    let message = render(&checker, &entry);

    let store = &checker.store;
    let doc = |v: u32| {
        store
            .document(&store.version(PROVINCE, v).unwrap().unwrap())
            .unwrap()
    };
    let d = bulletin_watch::diff::diff(&doc(1), &doc(2));
    assert!(!d.is_empty());
    let expected = manifest()
        .article(&format!("{PROVINCE}/article.v2-edit.html"))
        .changed
        .clone();
    assert_eq!(d.changed(), expected, "the fixture's edit");
    assert!(
        message
            .subject
            .contains(&format!("{} 节变更", d.changes.len())),
        "{}",
        message.subject
    );
    assert_eq!(
        message.text.matches("\n■ ").count(),
        d.changes.len(),
        "{}",
        message.text
    );
    for change in &d.changes {
        assert!(
            message.text.contains(&change.path),
            "{} in {}",
            change.path,
            message.text
        );
        assert!(message
            .html
            .contains(&bulletin_watch::text::escape_html(&change.path)));
    }
    assert!(message.text.contains("版本 Version: v1 → v2"));
}

/// Turns the stored entry back into what the previous version wrote: the
/// same fields plus the whole rendered e-mail under `message`.
fn write_old_format(
    store: &Path,
    key: &str,
    message: &Message,
    edit: impl Fn(&mut serde_json::Value),
) {
    let db = retry_open(|| sled::open(store));
    let outbox = db.open_tree("outbox").unwrap();
    let json =
        bulletin_watch::store::stored_entry_json(&outbox.get(key).unwrap().unwrap()).unwrap();
    let mut value: serde_json::Value = serde_json::from_slice(&json).unwrap();
    value["message"] = serde_json::to_value(message).unwrap();
    edit(&mut value);
    let json = serde_json::to_vec(&value).unwrap();
    outbox
        .insert(key, zstd::bulk::compress(&json, 3).unwrap())
        .unwrap();
    db.flush().unwrap();
}

fn deliver_to_files(checker: &Checker) -> (outbox::Drained, Vec<String>) {
    let dir = checker.store.path().join("mail");
    let drained = rt()
        .block_on(outbox::drain(
            &checker.store,
            &checker.config,
            &Mailer::Files(dir.clone()),
            true,
        ))
        .unwrap();
    let mut emls: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
                .collect()
        })
        .unwrap_or_default();
    emls.sort();
    (drained, emls)
}

#[test]
fn an_entry_with_a_rendered_message_still_decodes_and_is_delivered() {
    let f = edited();
    let (entry, mut stale) = {
        let checker = checker(&f.project);
        let entry = only_entry(&checker);
        let stale = render(&checker, &entry);
        (entry, stale)
    };
    stale.subject = "[bulletin-watch] stale subject".into();
    stale.html = "<p>stale body</p>".into();
    write_old_format(&f.project.store_path(), &entry.key, &stale, |_| {});

    let checker = checker(&f.project);
    let decoded = only_entry(&checker);
    assert_eq!(decoded, entry, "the old `message` field is ignored");
    assert_eq!(checker.store.pending().unwrap().len(), 1);
    let fresh = render(&checker, &decoded);
    assert_ne!(fresh.subject, stale.subject, "rendered like a new entry");

    let (drained, emls) = deliver_to_files(&checker);
    assert_eq!(drained.sent, 1, "{drained:?}");
    assert_eq!(emls.len(), 1);
    assert!(emls[0].contains(&format!("Message-ID: <{}>", fresh.message_id)));
    assert!(!emls[0].contains("stale"), "{}", emls[0]);
    assert!(checker.store.pending().unwrap().is_empty());
    // Written back without the e-mail.
    drop(checker);
    let raw = raw_outbox(&f.project.store_path());
    assert!(!raw[0].2.contains("message"), "{}", raw[0].2);
}

#[test]
fn an_old_failing_alert_without_its_error_text_is_still_delivered() {
    let f = edited();
    let key = "failing/jiangsu/1";
    let stale = {
        let checker = checker(&f.project);
        let entry = OutboxEntry::new(key.into(), AlertKind::Failing, PROVINCE, None);
        assert!(checker.store.enqueue(&entry).unwrap());
        render(&checker, &entry)
    };
    write_old_format(&f.project.store_path(), key, &stale, |v| {
        let v = v.as_object_mut().unwrap();
        v.remove("detail");
        v.remove("failures");
    });
    let checker = checker(&f.project);
    let entry = checker
        .store
        .outbox()
        .unwrap()
        .into_iter()
        .find(|e| e.key == key)
        .unwrap();
    let message = render(&checker, &entry);
    assert!(message.text.contains("not recorded"), "{}", message.text);
    let (drained, _) = deliver_to_files(&checker);
    assert_eq!(drained.sent, 2, "the changed and the failing alert");
}

#[test]
fn a_failing_alert_keeps_its_error_text_and_count() {
    let f = edited();
    let checker = checker(&f.project);
    let mut entry = OutboxEntry::new(
        "failing/jiangsu/1".into(),
        AlertKind::Failing,
        PROVINCE,
        None,
    );
    entry.detail = Some("http://example.org/: HTTP 503".into());
    entry.failures = Some(5);
    assert!(checker.store.enqueue(&entry).unwrap());
    let stored = checker
        .store
        .outbox()
        .unwrap()
        .into_iter()
        .find(|e| e.key == entry.key)
        .unwrap();
    assert_eq!(stored, entry);
    let message = render(&checker, &stored);
    assert!(message.text.contains("HTTP 503"), "{}", message.text);
    assert!(message.text.contains("连续失败 Consecutive failures: 5"));
}

#[test]
fn a_changed_alert_whose_version_cannot_be_read_still_goes_out() {
    let f = edited();
    let (offset, _) = {
        let checker = checker(&f.project);
        let v1 = checker.store.version(PROVINCE, 1).unwrap().unwrap();
        checker.store.tamper().doc_extent(&v1).unwrap().unwrap()
    };
    // One byte of version 1's document damaged in the pack.
    let pack = f
        .project
        .store_path()
        .join(bulletin_watch::store::PACK_FILE);
    let mut bytes = std::fs::read(&pack).unwrap();
    bytes[offset as usize] ^= 0x20;
    std::fs::write(&pack, bytes).unwrap();
    let checker = checker(&f.project);
    let entry = only_entry(&checker);
    let message = render(&checker, &entry);
    // Version 2's document is a delta of version 1's, so either may be
    // the one named; the damage itself is.
    assert!(
        message.text.contains("unreadable")
            && message.text.contains("document")
            && message.text.contains("fails its checksum"),
        "the note names the damaged blob: {}",
        message.text
    );
    assert!(message.subject.contains("内容变更"), "{}", message.subject);
    let (drained, emls) = deliver_to_files(&checker);
    assert_eq!(drained.sent, 1, "{drained:?}");
    assert_eq!(emls.len(), 1);
}

#[test]
fn the_outbox_command_shows_the_rendered_subject_and_message_id() {
    let f = edited();
    let expected = {
        let checker = checker(&f.project);
        render(&checker, &only_entry(&checker))
    };
    let out = f.project.cli(&["outbox", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["message_id"], expected.message_id.as_str());
    assert_eq!(list[0]["subject"], expected.subject.as_str());

    // An auditor with only the store still gets every alert, its sources
    // named from what the store holds.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bulletin-watch"))
        .arg("--config")
        .arg(f.project.dir.path().join("missing.toml"))
        .arg("--store")
        .arg(f.project.store_path())
        .args(["outbox", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["message_id"], expected.message_id.as_str());
}
