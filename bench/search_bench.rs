//! The search index at archive scale: 100,000 section versions of text in
//! the fixtures' style, committed to a real store, indexed, rebuilt and
//! queried; prints the table BENCHMARKS.md quotes.
//!
//! Text: the sentences of the seven fixture deployments
//! (`tests/fixtures/*/article.*.html`), shuffled into sections, with a
//! place name, a document number (应急〔2025〕N号) and a year per source, so
//! that every version reads like a deployment and no two are alike. Each
//! source has `--versions` versions; each version edits one sentence of
//! one section, as the bulletins are edited.
//!
//! Measured: committing every version with and without the index
//! listening (the cost the index adds to the commit path, and how long
//! after the last commit the index has caught up); `store reindex` from
//! scratch; the index's size on disk; and query latency (p50, p95) for
//! two-character words, phrases and OR queries, latest versions and all.
//!
//! `cargo run --release --example search-bench -- [--sources N]
//! [--versions N] [--sections N] [--queries N] [--dir DIR]`

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bulletin_watch::catalog::{Catalog, Origin, SourceEntry};
use bulletin_watch::config::Region;
use bulletin_watch::model::{Document, EncodingSource, SearchRequest, Section, VersionSink};
use bulletin_watch::search::SearchIndex;
use bulletin_watch::store::{Commit, NewVersion, Store};

const PROVINCES: [(&str, Region); 12] = [
    ("上海市", Region::EastChina),
    ("江苏省", Region::EastChina),
    ("浙江省", Region::EastChina),
    ("安徽省", Region::EastChina),
    ("福建省", Region::EastChina),
    ("江西省", Region::EastChina),
    ("山东省", Region::EastChina),
    ("河北省", Region::NorthChina),
    ("湖北省", Region::CentralChina),
    ("广东省", Region::SouthChina),
    ("四川省", Region::Southwest),
    ("辽宁省", Region::Northeast),
];
const PLACES: [&str; 8] = [
    "滴水湖",
    "嵊泗列岛",
    "洪泽湖",
    "黄山脚下",
    "武夷山区",
    "鄱阳湖区",
    "微山湖畔",
    "临港新片区",
];
const LABELS: [&str; 10] = [
    "（一）",
    "（二）",
    "（三）",
    "（四）",
    "（五）",
    "（六）",
    "（七）",
    "（八）",
    "（九）",
    "（十）",
];

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn sentences() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out = Vec::new();
    for p in [
        "shanghai", "jiangsu", "zhejiang", "anhui", "fujian", "jiangxi", "shandong",
    ] {
        for v in ["article.v1.html", "article.v4-section-added.html"] {
            let Ok(bytes) = std::fs::read(root.join(p).join(v)) else {
                continue;
            };
            let Ok((doc, _)) = bulletin_watch::extract::document(&bytes, None, &Default::default())
            else {
                continue;
            };
            for s in &doc.sections {
                out.extend(
                    s.body()
                        .split('。')
                        .filter(|t| t.chars().count() > 6)
                        .map(|t| format!("{t}。")),
                );
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

struct Gen {
    rng: fastrand::Rng,
    sentences: Vec<String>,
}

impl Gen {
    fn section(&mut self, n: usize) -> String {
        let k = 3 + self.rng.usize(0..4);
        (0..k)
            .map(|_| self.sentences[self.rng.usize(0..self.sentences.len())].clone())
            .collect::<Vec<_>>()
            .join("")
            + &format!("第{n}项")
    }

    fn document(&mut self, source: usize, sections: usize) -> Document {
        let (province, _) = PROVINCES[source % PROVINCES.len()];
        let place = PLACES[source % PLACES.len()];
        Document {
            title: format!("{province}２０２５年应急管理工作会议部署（第{source}号）"),
            published: jiff::civil::Date::new(2024 + (source % 2) as i16, 1, 15).ok(),
            encoding: "UTF-8".into(),
            preamble: format!("为贯彻落实应急〔2025〕{source}号文件精神，{place}召开会议。"),
            sections: (0..sections)
                .map(|i| Section {
                    label: LABELS[i % LABELS.len()]
                        .replace('（', "(")
                        .replace('）', ")"),
                    raw_label: LABELS[i % LABELS.len()].to_string(),
                    path: vec![LABELS[i % LABELS.len()]
                        .replace('（', "(")
                        .replace('）', ")")],
                    level: 1,
                    heading: String::new(),
                    text: self.section(i),
                })
                .collect(),
        }
    }
}

fn new_version(id: &str, doc: &Document) -> NewVersion {
    NewVersion {
        source: id.to_string(),
        fetched_at: jiff::Timestamp::now(),
        url: format!("http://127.0.0.1:9/{id}.html"),
        final_url: format!("http://127.0.0.1:9/{id}.html"),
        status: 200,
        content_type: Some("text/html; charset=utf-8".into()),
        validators: Default::default(),
        raw: serde_json::to_vec(doc).unwrap_or_default(),
        document: doc.clone(),
        encoding_source: EncodingSource::Header,
    }
}

fn catalog(sources: usize) -> Catalog {
    Catalog::new(
        (0..sources)
            .map(|n| {
                let (province, region) = PROVINCES[n % PROVINCES.len()];
                SourceEntry {
                    id: format!("src{n:05}"),
                    name: format!("{province}应急管理厅"),
                    province: province.into(),
                    region: Some(region),
                    url: format!("http://127.0.0.1:9/src{n:05}.html"),
                    origin: Origin::Article,
                    listing: None,
                    recipients: Vec::new(),
                    channels: Vec::new(),
                    order: n,
                }
            })
            .collect(),
    )
}

/// Commits every version of every source into a fresh store at `dir`.
fn fill(dir: &Path, sources: usize, versions: usize, sections: usize) -> (Duration, usize) {
    let store = Store::open(dir).expect("store opens");
    fill_with(&store, sources, versions, sections, None)
}

fn du(p: &Path) -> u64 {
    let mut total = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let path = e.path();
            total += if path.is_dir() {
                du(&path)
            } else {
                e.metadata().map(|m| m.len()).unwrap_or(0)
            };
        }
    }
    total
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// CPU time (user + system) this process has used so far, all threads:
/// on a shared machine the figure that load does not inflate.
fn cpu() -> Duration {
    // SAFETY: getrusage writes one `rusage` into the zeroed struct passed.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let sources = arg("--sources", 2_000);
    let versions = arg("--versions", 5);
    let sections = arg("--sections", 10);
    let queries = arg("--queries", 200);
    let root: PathBuf = std::env::args()
        .skip_while(|a| a != "--dir")
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("search-bench-{}", std::process::id()))
        });
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("bench dir");
    let section_versions = sources * versions * sections;
    println!("{sources} sources × {versions} versions × {sections} sections = {section_versions} section versions\n");

    // 1. The commit path without an index.
    let plain = root.join("plain");
    let c0 = cpu();
    let (without, text) = fill(&plain, sources, versions, sections);
    let without_cpu = cpu() - c0;

    // 2. The same commits with the index listening: its thread indexes
    // them meanwhile, at low priority; then how long it needs to finish.
    let indexed = root.join("indexed");
    let c0 = cpu();
    let (with, with_cpu, caught, caught_cpu) = {
        let store = Arc::new(Store::open(&indexed).expect("store"));
        let index = SearchIndex::start(store.clone(), catalog(sources));
        let (t, _) = fill_with(&store, sources, versions, sections, Some(index.as_ref()));
        let c1 = cpu();
        let t0 = Instant::now();
        index.close(true);
        (t, c1 - c0, t0.elapsed(), cpu() - c1)
    };
    let index_dir = indexed.join("index");
    let size = du(&index_dir);
    let store_size = du(&indexed) - size;

    // 3. `store reindex`: from scratch.
    let store = open_retry(&indexed);
    let t0 = Instant::now();
    let c0 = cpu();
    let n = SearchIndex::reindex(&store, catalog(sources)).expect("reindex");
    let reindex = t0.elapsed();
    let reindex_cpu = cpu() - c0;
    let size_after = du(&index_dir);

    // 4. Queries, warm.
    let index = SearchIndex::open_now(&store, catalog(sources)).expect("index opens");
    let words = [
        "安全", "应急", "隐患", "风险", "责任", "防汛", "消防", "救援", "燃气", "监管",
    ];
    let phrases = [
        "\"安全生产\"",
        "\"应急管理\"",
        "\"隐患排查\"",
        "\"防灾减灾\"",
        "\"应急〔2025〕1号\"",
    ];
    let ors = [
        "燃气 OR 消防",
        "防汛 OR 抗旱",
        "滴水湖 OR 洪泽湖",
        "隐患 OR 风险 OR 责任",
    ];
    let mut rows = Vec::new();
    for (kind, list) in [
        ("two-character word", &words[..]),
        ("phrase", &phrases[..]),
        ("OR", &ors[..]),
    ] {
        for all_versions in [false, true] {
            let mut times = Vec::new();
            let mut found = 0;
            for i in 0..queries {
                let req = SearchRequest {
                    query: list[i % list.len()].to_string(),
                    region: None,
                    province: None,
                    year: None,
                    source: None,
                    all_versions,
                    limit: 20,
                    json: true,
                };
                let t = Instant::now();
                let hits = index.search(&req).expect("search");
                times.push(t.elapsed());
                found += hits.len();
            }
            times.sort();
            rows.push((
                kind,
                all_versions,
                pct(&times, 0.5),
                pct(&times, 0.95),
                found / queries,
            ));
        }
    }

    let nv = (sources * versions) as f64;
    let per = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1000.0 / nv);
    println!("| measure | wall | CPU (user+sys, all threads) |\n|---|---|---|");
    println!(
        "| commit {} versions, no index | {} ({} per version) | {} ({} per version) |",
        sources * versions,
        secs(without),
        per(without),
        secs(without_cpu),
        per(without_cpu)
    );
    println!(
        "| commit {} versions, index listening | {} ({} per version) | {} ({} per version) |",
        sources * versions,
        secs(with),
        per(with),
        secs(with_cpu),
        per(with_cpu)
    );
    println!(
        "| index caught up after the last commit | {} | {} |",
        secs(caught),
        secs(caught_cpu)
    );
    println!(
        "| `store reindex` ({} versions, {} entries) | {} | {} |",
        n.versions,
        n.entries,
        secs(reindex),
        secs(reindex_cpu)
    );
    println!(
        "| index on disk (incremental / rebuilt) | {:.1} MB / {:.1} MB | |",
        size as f64 / 1e6,
        size_after as f64 / 1e6
    );
    println!(
        "| store on disk (for scale) | {:.1} MB | |",
        store_size as f64 / 1e6
    );
    println!(
        "| text of every version (title, preamble, sections; UTF-8) | {:.1} MB | |",
        text as f64 / 1e6
    );
    println!();
    println!("| query ({queries} runs, limit 20) | versions | p50 | p95 | hits per query |\n|---|---|---|---|---|");
    for (kind, all, p50, p95, hits) in rows {
        println!(
            "| {kind} | {} | {} | {} | {hits} |",
            if all { "all" } else { "latest" },
            ms(p50),
            ms(p95)
        );
    }
    if !std::env::args().any(|a| a == "--keep") {
        let _ = std::fs::remove_dir_all(&root);
    }
}

/// Commits every version of every source; with `sink`, tells it of each.
/// Returns the time it took and the UTF-8 size of the text committed
/// (title, preamble and sections of every version).
fn fill_with(
    store: &Store,
    sources: usize,
    versions: usize,
    sections: usize,
    sink: Option<&dyn VersionSink>,
) -> (Duration, usize) {
    let mut gen = Gen {
        rng: fastrand::Rng::with_seed(15),
        sentences: sentences(),
    };
    assert!(!gen.sentences.is_empty(), "fixture sentences");
    let started = Instant::now();
    let mut text = 0;
    for s in 0..sources {
        let id = format!("src{s:05}");
        let mut doc = gen.document(s, sections);
        for v in 1..=versions as u32 {
            if v > 1 {
                let i = gen.rng.usize(0..sections);
                let n = gen.rng.usize(0..1000);
                doc.sections[i]
                    .text
                    .push_str(&format!("第{v}次修订增加{n}项任务。"));
            }
            text += doc.title.len()
                + doc.preamble.len()
                + doc.sections.iter().map(|x| x.text.len()).sum::<usize>();
            let commit = store
                .commit_version(
                    &new_version(&id, &doc),
                    (v > 1).then_some(v - 1),
                    Vec::new(),
                )
                .expect("commit");
            if let (Some(sink), Commit::Stored { record, .. }) = (sink, &commit) {
                sink.committed(&record.source, record.version);
            }
        }
    }
    let took = started.elapsed();
    store.flush().expect("flush");
    (took, text)
}

/// A store closed a moment ago releases its lock after sled's last write.
fn open_retry(dir: &Path) -> Store {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Store::open(dir) {
            Ok(s) => return s,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("cannot reopen {}: {e}", dir.display()),
        }
    }
}
