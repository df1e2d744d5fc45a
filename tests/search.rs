//! Search and comparison across provinces and years, end to end: pages
//! served by a loopback site, stored by the real `check` binary in a real
//! sled store, indexed into a real tantivy index, and searched through the
//! CLI (by the process itself, or by a running daemon over its control
//! socket) and the web view.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;
use bulletin_watch::catalog::Catalog;
use bulletin_watch::search::SearchIndex;
use bulletin_watch::site::{Page, Site};
use bulletin_watch::store::Store;
use bulletin_watch::web::{self, WebState};

/// Text added to the Shanghai page: an out-of-dictionary place name, a
/// document number and full-width digits.
const ADDED: &str =
    "在临港新片区滴水湖畔开展演练，依据沪应急〔2025〕12号文件部署２０２５年度工作。";
const PLACE: &str = "滴水湖畔";

fn shanghai_page(m: &Manifest, file: &str) -> Page {
    let html = String::from_utf8(fixture(file)).unwrap();
    assert!(html.contains("统筹发展和安全。"), "{file}");
    let html = html.replacen("统筹发展和安全。", &format!("统筹发展和安全。{ADDED}"), 1);
    let ct = m.article(file).http_content_type.clone();
    Page::html(&ct, html)
}

fn source(id: &str, province: &str, region: &str, url: &str) -> String {
    format!(
        "\n[[source]]\nid = \"{id}\"\nname = \"{province}应急管理厅\"\nprovince = \"{province}\"\n\
         region = \"{region}\"\nurl = \"{url}\"\nkind = \"article\"\n"
    )
}

/// Four provinces; Shanghai, Jiangsu and Zhejiang edited once (v1 → v2),
/// Shandong (filed under 华北 here, for the region filter) once only.
struct Fx {
    site: Site,
    project: Project,
}

fn fill() -> Fx {
    let m = manifest();
    let site = fixture_site(&m);
    site.set(
        "/w/shanghai.html",
        shanghai_page(&m, "shanghai/article.v1.html"),
    );
    for p in ["jiangsu", "zhejiang", "shandong"] {
        site.set(
            &format!("/w/{p}.html"),
            fixture_page(&m, &format!("{p}/article.v1.html")),
        );
    }
    let project = Project::new(&format!(
        "{FAST_SETTINGS}{}{}{}{}",
        source("shanghai", "上海市", "华东", &site.url("/w/shanghai.html")),
        source("jiangsu", "江苏省", "华东", &site.url("/w/jiangsu.html")),
        source("zhejiang", "浙江省", "华东", &site.url("/w/zhejiang.html")),
        source("shandong", "山东省", "华北", &site.url("/w/shandong.html")),
    ));
    let out = project.cli(&["check"]);
    assert!(out.status.success(), "{}", stderr(&out));
    site.set(
        "/w/shanghai.html",
        shanghai_page(&m, "shanghai/article.v2-edit.html"),
    );
    for p in ["jiangsu", "zhejiang"] {
        site.set(
            &format!("/w/{p}.html"),
            fixture_page(&m, &format!("{p}/article.v2-edit.html")),
        );
    }
    let out = project.cli(&["check"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("new versions 3"), "{}", stdout(&out));
    Fx { site, project }
}

/// One filled store for the read-only tests; their commands take turns,
/// as two commands that open one store do.
fn shared() -> &'static (Mutex<()>, Fx) {
    static FX: OnceLock<(Mutex<()>, Fx)> = OnceLock::new();
    FX.get_or_init(|| (Mutex::new(()), fill()))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn cli(args: &[&str]) -> Output {
    let (lock, fx) = shared();
    let _turn = lock.lock().unwrap_or_else(|e| e.into_inner());
    fx.project.cli(args)
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

fn search_json(project: &Project, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["search"];
    all.extend_from_slice(args);
    all.push("--json");
    let out = project.cli(&all);
    assert!(out.status.success(), "search {args:?}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
}

fn hits(args: &[&str]) -> Vec<Value> {
    let (lock, fx) = shared();
    let _turn = lock.lock().unwrap_or_else(|e| e.into_inner());
    search_json(&fx.project, args)
}

fn s<'a>(h: &'a Value, k: &str) -> &'a str {
    h[k].as_str().unwrap_or_default()
}

fn sources_of(hits: &[Value]) -> BTreeSet<String> {
    hits.iter().map(|h| s(h, "source").to_string()).collect()
}

fn latest_versions() -> std::collections::BTreeMap<String, u64> {
    let list: Vec<Value> = serde_json::from_str(&ok(cli(&["history", "--json"]))).unwrap();
    list.iter()
        .map(|v| (s(v, "source").to_string(), v["versions"].as_u64().unwrap()))
        .collect()
}

#[test]
fn two_character_words_are_found_in_the_latest_versions() {
    let found = hits(&["安全", "--limit", "500"]);
    assert!(!found.is_empty());
    let latest = latest_versions();
    for h in &found {
        assert!(s(h, "snippet").contains("【安全】"), "{h}");
        assert_eq!(
            Some(&h["version"].as_u64().unwrap()),
            latest.get(s(h, "source")),
            "{h}"
        );
        for k in ["province", "region", "title", "url", "fetched_at", "path"] {
            assert!(!s(h, k).is_empty(), "{k} in {h}");
        }
        assert!(h["score"].as_f64().unwrap() > 0.0);
    }
    assert!(sources_of(&found).len() >= 3, "{:?}", sources_of(&found));
    // Best first.
    let scores: Vec<f64> = found.iter().map(|h| h["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    // The text form: province · title · path · version, then the snippet.
    let text = ok(cli(&["search", "安全", "--limit", "2"]));
    let first = text.lines().next().unwrap();
    let h = &found[0];
    assert!(
        first.starts_with(&format!("{} · {} · ", s(h, "province"), s(h, "title"))),
        "{text}"
    );
    assert!(first.ends_with(&format!(" · v{}", h["version"])), "{text}");
    assert!(text.lines().nth(1).unwrap().starts_with("  "), "{text}");
    assert!(text.contains("【安全】"), "{text}");
}

#[test]
fn phrases_and_out_of_dictionary_names_are_found() {
    // A phrase taken from Jiangsu's latest stored text.
    let shown: Value = serde_json::from_str(&ok(cli(&["show", "jiangsu", "--json"]))).unwrap();
    let sec = shown["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["text"].as_str().unwrap_or_default().chars().count() > 20)
        .expect("a section with text");
    let phrase: String = sec["text"]
        .as_str()
        .unwrap()
        .chars()
        .skip(3)
        .take(7)
        .collect();
    let path = sec["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect::<Vec<_>>()
        .join("/");
    let found = hits(&[&format!("\"{phrase}\"")]);
    assert!(
        found
            .iter()
            .any(|h| s(h, "source") == "jiangsu" && s(h, "path") == path),
        "{phrase} in {path}: {found:#?}"
    );
    assert!(
        found
            .iter()
            .all(|h| s(h, "snippet").contains(&format!("【{phrase}】"))),
        "{found:#?}"
    );
    // A place name and a document number no dictionary knows.
    for term in [PLACE, "沪应急〔2025〕12号"] {
        let found = hits(&[term]);
        assert_eq!(
            sources_of(&found),
            BTreeSet::from(["shanghai".to_string()]),
            "{term}"
        );
        assert!(
            s(&found[0], "snippet").contains(&format!("【{term}】")),
            "{found:#?}"
        );
    }
    // OR and NOT.
    let either = sources_of(&hits(&[&format!("{PLACE} OR \"{phrase}\"")]));
    assert!(
        either.contains("shanghai") && either.contains("jiangsu"),
        "{either:?}"
    );
    let not = hits(&[&format!("安全 -{PLACE}"), "--limit", "500"]);
    assert!(!not.is_empty());
    assert!(not.iter().all(|h| !s(h, "snippet").contains(PLACE)));
    let with = hits(&[&format!("安全 {PLACE}")]);
    assert!(!with.is_empty());
    assert!(with.iter().all(|h| s(h, "source") == "shanghai"));
}

#[test]
fn full_and_half_width_forms_find_each_other() {
    // The pages print （一）; a query may type (一).
    let full = hits(&["（一）", "--source", "shanghai"]);
    let half = hits(&["(一)", "--source", "shanghai"]);
    assert!(!full.is_empty());
    assert_eq!(full, half);
    assert!(full.iter().any(|h| s(h, "path") == "(一)"), "{full:#?}");
    assert!(
        full.iter().any(|h| s(h, "snippet").contains("【（一）】")),
        "{full:#?}"
    );
    // The page prints ２０２５年度; a query may type 2025年度, and the
    // other way round for titles with 2025年.
    let half = hits(&["2025年度"]);
    assert_eq!(sources_of(&half), BTreeSet::from(["shanghai".to_string()]));
    assert!(
        s(&half[0], "snippet").contains("【２０２５年度】"),
        "{half:#?}"
    );
    assert_eq!(hits(&["２０２５年度"]), half);
    let titles = hits(&["２０２５年", "--limit", "500"]);
    assert!(titles
        .iter()
        .any(|h| s(h, "path") == "_title" && s(h, "title").contains("2025年")));
}

#[test]
fn every_filter_narrows_the_hits() {
    let all = hits(&["应急", "--limit", "1000"]);
    assert_eq!(sources_of(&all).len(), 4, "{:?}", sources_of(&all));
    let north = hits(&["应急", "--region", "华北", "--limit", "1000"]);
    assert_eq!(sources_of(&north), BTreeSet::from(["shandong".to_string()]));
    assert!(north.iter().all(|h| s(h, "region") == "华北"));
    let js = hits(&["应急", "--province", "江苏省", "--limit", "1000"]);
    assert_eq!(sources_of(&js), BTreeSet::from(["jiangsu".to_string()]));
    let zj = hits(&["应急", "--source", "zhejiang", "--limit", "1000"]);
    assert_eq!(sources_of(&zj), BTreeSet::from(["zhejiang".to_string()]));
    // Every fixture deployment is dated 2025.
    assert_eq!(
        hits(&["应急", "--year", "2025", "--limit", "1000"]).len(),
        all.len()
    );
    assert!(hits(&["应急", "--year", "2019"]).is_empty());
    assert_eq!(hits(&["应急", "--limit", "3"]).len(), 3);
    let out = cli(&["search", "应急", "--region", "火星"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn all_versions_finds_what_only_an_older_version_said() {
    let d: Value = serde_json::from_str(&ok(cli(&["diff", "shanghai", "--json"]))).unwrap();
    let now: Value = serde_json::from_str(&ok(cli(&["show", "shanghai", "--json"]))).unwrap();
    let now_text: String =
        std::iter::once(now["preamble"].as_str().unwrap_or_default().to_string())
            .chain(now["sections"].as_array().unwrap().iter().map(|s| {
                format!(
                    "{}{}",
                    s["heading"].as_str().unwrap_or_default(),
                    s["text"].as_str().unwrap_or_default()
                )
            }))
            .collect::<String>()
            .split_whitespace()
            .collect();
    // A run of v1's side of a change that v2 no longer has anywhere.
    let squash = |v: &Value| -> String {
        v["text"]
            .as_str()
            .unwrap_or_default()
            .split_whitespace()
            .collect()
    };
    let mut gone = None;
    for c in d["changes"].as_array().unwrap() {
        let mut old_side: Vec<Vec<char>> = vec![Vec::new()];
        for sp in c["inline"].as_array().cloned().unwrap_or_default() {
            match sp["op"].as_str() {
                Some("equal") | Some("delete") => {
                    old_side.last_mut().unwrap().extend(squash(&sp).chars())
                }
                Some("gap") => old_side.push(Vec::new()),
                _ => {}
            }
        }
        gone = old_side
            .iter()
            .flat_map(|run| {
                run.windows(8)
                    .map(|w| w.iter().collect::<String>())
                    .collect::<Vec<_>>()
            })
            .find(|t| !now_text.contains(t.as_str()));
        if gone.is_some() {
            break;
        }
    }
    let gone = gone.expect("v2 changed some text of v1");
    let q = format!("\"{gone}\"");
    let latest = hits(&[&q, "--source", "shanghai"]);
    assert!(latest.is_empty(), "{gone}: {latest:#?}");
    let history = hits(&[&q, "--source", "shanghai", "--all-versions"]);
    assert!(!history.is_empty(), "{gone}");
    assert!(history.iter().all(|h| h["version"] == 1), "{history:#?}");
}

#[test]
fn no_hits_is_not_an_error_and_a_malformed_query_says_why() {
    let out = cli(&["search", "量子纠缠", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "[]");
    let out = cli(&["search", "量子纠缠"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "");
    for (q, says) in [
        ("安全 \"治本", "never closed"),
        ("OR 安全", "OR needs a word"),
        ("-安全", "only excludes"),
    ] {
        let out = cli(&["search", q]);
        assert_eq!(out.status.code(), Some(2), "{q}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{q}: {}", stderr(&out));
        assert!(stdout(&out).is_empty());
    }
    let out = cli(&["matrix", "安全", "\"治本"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn matrix_compares_provinces_by_term() {
    let out = ok(cli(&["matrix", "安全", PLACE, "--format", "json"]));
    let m: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(m["terms"], serde_json::json!(["安全", PLACE]));
    let rows = m["rows"].as_array().unwrap();
    let provinces: Vec<&str> = rows.iter().map(|r| s(r, "province")).collect();
    // 华东 before 华北, as the regions are ordered.
    assert_eq!(provinces.last(), Some(&"山东省"), "{provinces:?}");
    assert_eq!(provinces.len(), 4, "{provinces:?}");
    for r in rows {
        let place = &r["cells"][1];
        let want = if s(r, "province") == "上海市" {
            1
        } else {
            0
        };
        assert_eq!(place["hits"], want, "{r}");
        // The counts agree with `search`.
        let safe = &r["cells"][0];
        let n = hits(&["安全", "--province", s(r, "province"), "--limit", "1000"]).len();
        assert_eq!(safe["hits"].as_u64().unwrap() as usize, n, "{r}");
        assert_eq!(safe["sections"].as_array().unwrap().len(), n);
    }
    let md = ok(cli(&["matrix", "安全", PLACE, "--region", "华东"]));
    assert!(
        md.starts_with("| 省份 Province | 区域 Region | 安全 | 滴水湖畔 |\n|---|"),
        "{md}"
    );
    assert!(!md.contains("山东省"), "{md}");
    assert!(
        md.lines()
            .any(|l| l.starts_with("| 上海市 | 华东 |") && l.contains("| 1 (")),
        "{md}"
    );
    let html = ok(cli(&["matrix", "<b>", "--format", "html"]));
    assert!(html.contains("<th>&lt;b&gt;</th>"), "{html}");
}

#[test]
fn section_history_is_the_timeline_of_one_section() {
    let d: Value = serde_json::from_str(&ok(cli(&["diff", "shanghai", "--json"]))).unwrap();
    let changed = d["changed"][0]
        .as_str()
        .expect("a changed section")
        .to_string();
    let out = ok(cli(&["history", "shanghai", "--section", &changed]));
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with('v')).collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("v1 ") && lines[1].starts_with("v2 "),
        "{out}"
    );
    assert!(out.contains("{+") || out.contains("[-"), "{out}");
    let j: Vec<Value> = serde_json::from_str(&ok(cli(&[
        "history",
        "shanghai",
        "--section",
        &changed,
        "--json",
    ])))
    .unwrap();
    assert_eq!(j.len(), 2);
    assert_eq!(j[0]["kind"], "added");
    assert_eq!(j[1]["kind"], "modified");
    let out = cli(&["history", "shanghai", "--section", "九十九、"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no version of"), "{}", stderr(&out));
}

/// (source, version) of every `_title` entry the index finds for a word
/// every fixture title has, over all versions.
fn indexed_versions(project: &Project) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> =
        search_json(project, &["应急", "--all-versions", "--limit", "100000"])
            .iter()
            .filter(|h| s(h, "path") == "_title")
            .map(|h| (s(h, "source").to_string(), h["version"].as_u64().unwrap()))
            .collect();
    v.sort();
    v
}

/// Hits without their scores (a rebuilt index has other term statistics),
/// in a fixed order.
fn unscored(mut hits: Vec<Value>) -> Vec<Value> {
    for h in &mut hits {
        h.as_object_mut().unwrap().remove("score");
    }
    hits.sort_by_key(|h| h.to_string());
    hits
}

fn stored_versions(store: &Path) -> Vec<(String, u64)> {
    let store = reopen(store);
    let mut v = Vec::new();
    for id in store.source_ids().unwrap() {
        for r in store.versions(&id).unwrap() {
            v.push((id.clone(), u64::from(r.version)));
        }
    }
    v.sort();
    v
}

#[test]
fn an_index_deleted_or_damaged_by_hand_is_rebuilt() {
    let fx = fill();
    let store = fx.project.store_path();
    let before = unscored(search_json(&fx.project, &["安全", "--limit", "1000"]));
    assert!(!before.is_empty());
    assert!(store.join("index").is_dir());
    std::fs::remove_dir_all(store.join("index")).unwrap();
    assert_eq!(
        unscored(search_json(&fx.project, &["安全", "--limit", "1000"])),
        before
    );
    // Garbage over every file of the index.
    for e in std::fs::read_dir(store.join("index")).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::write(&p, b"\x00garbage{").unwrap();
        }
    }
    assert_eq!(
        unscored(search_json(&fx.project, &["安全", "--limit", "1000"])),
        before
    );
    assert_eq!(indexed_versions(&fx.project), stored_versions(&store));
    // `store reindex` rebuilds it on purpose.
    let out = fx.project.cli(&["store", "reindex"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let total = stored_versions(&store).len();
    assert!(
        stdout(&out).contains(&format!(": {total} versions,")),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        unscored(search_json(&fx.project, &["安全", "--limit", "1000"])),
        before
    );
    // Backups leave it out.
    let backup = fx.project.dir.path().join("backup");
    let out = fx
        .project
        .cli(&["store", "backup", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!backup.join("index").exists());
    drop(fx.site);
}

/// Many versions written straight into the store (no index yet), so that
/// indexing them takes long enough to be interrupted.
fn many_versions(store_dir: &Path, sources: usize, versions: u32) {
    let m = manifest();
    let base = article_document(m.article("zhejiang/article.v1.html"));
    let store = Store::open(store_dir).unwrap();
    for n in 0..sources {
        let id = format!("bulk{n:03}");
        for v in 1..=versions {
            let mut doc = base.clone();
            for (i, sec) in doc.sections.iter_mut().enumerate() {
                sec.text.push_str(&format!("第{v}版第{i}节补充{n}。"));
            }
            let new = bulletin_watch::store::NewVersion {
                source: id.clone(),
                fetched_at: jiff::Timestamp::now(),
                url: format!("http://127.0.0.1:9/{id}.html"),
                final_url: format!("http://127.0.0.1:9/{id}.html"),
                status: 200,
                content_type: Some("text/html; charset=utf-8".into()),
                validators: Default::default(),
                raw: format!("<p>{id} {v}</p>").into_bytes(),
                document: doc,
                encoding_source: bulletin_watch::model::EncodingSource::Header,
            };
            store
                .commit_version(&new, (v > 1).then_some(v - 1), Vec::new())
                .unwrap();
        }
    }
    store.flush().unwrap();
}

#[test]
fn stopped_while_indexing_by_kill_9_or_sigterm_then_a_restart_agrees_with_the_store() {
    let fx = fill();
    let store = fx.project.store_path();
    // A one-shot `check` leaves indexing to the daemon and `search`.
    assert!(!store.join("index").exists());
    many_versions(&store, 40, 6);
    let want = stored_versions(&store);
    let mut rng = fastrand::Rng::with_seed(15);
    for _ in 0..4 {
        let child = Daemon::run(&fx.project, &[]);
        std::thread::sleep(Duration::from_millis(400 + rng.u64(0..1200)));
        child.kill();
    }
    // SIGTERM while indexing: a clean exit within the systemd unit's stop
    // bound, however far the index's commit has got.
    let daemon = Daemon::run(&fx.project, &[]);
    std::thread::sleep(Duration::from_millis(800));
    daemon.terminate_within(Duration::from_secs(45));
    // A last start catches up; `search` reaches the daemon's index over
    // the control socket, since the daemon holds the store.
    let child = Daemon::run(&fx.project, &[]);
    let start = Instant::now();
    let mut got = Vec::new();
    while start.elapsed() < Duration::from_secs(90) {
        std::thread::sleep(Duration::from_millis(300));
        let out = fx.project.cli(&[
            "search",
            "应急",
            "--all-versions",
            "--limit",
            "100000",
            "--json",
        ]);
        if !out.status.success() {
            continue;
        }
        let list: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
        got = list
            .iter()
            .filter(|h| s(h, "path") == "_title")
            .map(|h| (s(h, "source").to_string(), h["version"].as_u64().unwrap()))
            .collect();
        got.sort();
        if got == want {
            break;
        }
    }
    assert!(
        Path::new(&bulletin_watch::control::socket_path(&store)).exists(),
        "the daemon was answering"
    );
    assert_eq!(got, want, "the daemon's index agrees with the store");
    // Latest-only answers name each source's latest version, once.
    let through_daemon = fx
        .project
        .cli(&["search", "第6版第0节", "--limit", "1000", "--json"]);
    assert!(
        through_daemon.status.success(),
        "{}",
        stderr(&through_daemon)
    );
    let latest: Vec<Value> = serde_json::from_slice(&through_daemon.stdout).unwrap();
    assert_eq!(latest.len(), 40, "{latest:#?}");
    assert!(latest.iter().all(|h| h["version"] == 6));
    assert!(hits_of(&fx.project, "第5版第0节").is_empty());
    child.terminate();
    // The same question answered by this process prints the same bytes.
    let here = fx
        .project
        .cli(&["search", "第6版第0节", "--limit", "1000", "--json"]);
    assert_eq!(stdout(&here), stdout(&through_daemon));
    assert_eq!(indexed_versions(&fx.project), want);
}

fn hits_of(project: &Project, q: &str) -> Vec<Value> {
    search_json(project, &[q, "--limit", "1000"])
}

#[test]
fn a_running_daemon_indexes_what_it_stores() {
    let fx = fill();
    let m = manifest();
    let child = Daemon::run(&fx.project, &[]);
    // An edit the daemon stores while running: v3 of Zhejiang.
    let file = "zhejiang/article.v2-edit.html";
    let html = String::from_utf8(fixture(file)).unwrap();
    let marker = "应急演练在舟山嵊泗列岛举行。";
    let at: String = m.article(file).sections[0]
        .text_prefix
        .chars()
        .take(4)
        .collect();
    let body = html.replacen(&at, &format!("{at}{marker}"), 1);
    assert_ne!(body, html);
    fx.site.set(
        "/w/zhejiang.html",
        Page::html(
            &m.article("zhejiang/article.v2-edit.html").http_content_type,
            body,
        ),
    );
    let start = Instant::now();
    let mut found = Vec::new();
    while start.elapsed() < Duration::from_secs(30) && found.is_empty() {
        std::thread::sleep(Duration::from_millis(300));
        found = hits_of(&fx.project, "嵊泗列岛");
    }
    child.terminate();
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(s(&found[0], "source"), "zhejiang");
    assert_eq!(found[0]["version"], 3);
    // The older versions lost their latest mark.
    let older = search_json(
        &fx.project,
        &["应急", "--source", "zhejiang", "--limit", "1000"],
    );
    assert!(older.iter().all(|h| h["version"] == 3), "{older:#?}");
}

/// The web view: a search box on every page, results with marked
/// snippets, paths, links and facets, and the matrix page.
#[test]
fn web_search_and_matrix_pages() {
    let fx = fill();
    let rt = rt();
    let config = Arc::new(fx.project.config());
    let store = Arc::new(reopen(&fx.project.store_path()));
    let index = SearchIndex::start(store.clone(), Catalog::from_config(&config));
    let state = WebState::new(store, config).with_search(index.clone());
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    rt.spawn(web::serve(listener, state, async {
        let _ = rx.await;
    }));
    let get = |path: &str| -> (u16, String) {
        rt.block_on(async {
            let r = reqwest::get(format!("{base}{path}")).await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        })
    };
    let start = Instant::now();
    while !index.caught_up() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    for path in ["/", "/outbox", "/source/shanghai", "/matrix"] {
        let (code, page) = get(path);
        assert_eq!(code, 200, "{path}");
        assert!(
            page.contains("action=\"/search\""),
            "{path} has no search box"
        );
    }
    let (code, page) = get("/search?q=%E5%AE%89%E5%85%A8"); // 安全
    assert_eq!(code, 200);
    assert!(page.contains("<mark>安全</mark>"), "{page}");
    assert!(page.contains("href=\"/source/shanghai/v/2"), "{page}");
    assert!(
        page.contains("/source/shanghai/diff?from=1&amp;to=2"),
        "{page}"
    );
    assert!(
        page.contains("区域 Region")
            && page.contains("省份 Province")
            && page.contains("年份 Year")
    );
    assert!(
        page.contains("href=\"/search?q=%E5%AE%89%E5%85%A8&amp;region=%E5%8D%8E%E5%8C%97\""),
        "{page}"
    );
    assert!(
        page.contains("<code>(一)</code>") || page.contains("<code>(二)</code>"),
        "{page}"
    );
    // A facet narrows the results.
    let (_, north) = get("/search?q=%E5%AE%89%E5%85%A8&region=%E5%8D%8E%E5%8C%97");
    assert!(
        north.contains("山东省") && !north.contains(">上海市<"),
        "{north}"
    );
    // Hostile input comes back escaped; a malformed query says why.
    let (code, page) = get("/search?q=%3Cscript%3E%22");
    assert_eq!(code, 200);
    assert!(!page.contains("<script>"), "{page}");
    assert!(page.contains("&lt;script&gt;"), "{page}");
    assert!(page.contains("never closed"), "{page}");
    let (code, page) =
        get("/matrix?terms=%E5%AE%89%E5%85%A8%0A%E6%BB%B4%E6%B0%B4%E6%B9%96%E7%95%94");
    assert_eq!(code, 200);
    assert!(page.contains("<table class=\"matrix\">"), "{page}");
    assert!(page.contains("<th>滴水湖畔</th>"), "{page}");
    assert!(page.contains("<a href=\"/source/shanghai/v/2#"), "{page}");
    let _ = tx.send(());
    index.close(false);
}
