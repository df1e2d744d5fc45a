//! Auditors' and editors' tools against a real store filled from the
//! loopback fixture site: verification (and the tampering it must catch),
//! export, compilation, backup/restore and compaction, and the same
//! read-only answers while another process holds the store.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::common::*;
use bulletin_watch::audit::{self, Query};
use bulletin_watch::catalog::Catalog;
use bulletin_watch::check::Outcome;
use bulletin_watch::report::{self, CompileFormat, CompileRequest, ExportFormat};
use bulletin_watch::site::{Page, Site};
use bulletin_watch::store::{Store, VersionRecord};
use bulletin_watch::verify::{self, VerifyError};
use serde_json::Value;

const PATTERN: &str = "应急管理工作会议|应急管理厅.*一席谈";
const HOSTILE: &str = "<script>alert(1)</script>";
const HOSTILE_ESCAPED: &str = "&lt;script&gt;alert(1)&lt;/script&gt;";

/// A page whose title and a section carry markup as text (escaped in the
/// HTML source, so the extracted text holds a literal `<script>`).
const HOSTILE_PAGE: &str = r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>&lt;script&gt;alert(1)&lt;/script&gt;测试省2025年应急管理工作会议召开</title></head><body>
<div class="nav"><a href="/">首页</a></div>
<div class="article"><h1>&lt;script&gt;alert(1)&lt;/script&gt;测试省2025年应急管理工作会议召开</h1>
<div class="info">发布时间：2025-02-01</div>
<div class="article-content">
<p>2月1日，测试省2025年应急管理工作会议召开。会议总结2024年工作，部署2025年重点任务，会议强调要统筹发展和安全，全力防范化解重大安全风险。</p>
<p>（一）加强&lt;script&gt;alert(1)&lt;/script&gt;风险防范。要健全风险监测预警体系，强化重点行业领域安全监管，坚决遏制重特大事故发生，切实保障人民群众生命财产安全。</p>
<p>（二）提升应急救援能力 &amp; "协同"。要加强救援队伍建设，完善应急预案体系，开展实战化演练，提高快速响应和协同处置能力，确保关键时刻拉得出、冲得上、打得赢。</p>
</div></div></body></html>"#;

struct Filled {
    project: Project,
    site: Site,
}

impl Filled {
    fn store(&self) -> PathBuf {
        self.project.store_path()
    }
    fn url(&self, path: &str) -> String {
        self.site.url(path)
    }
    /// The CLI against `store` (default: the project's own).
    fn cli(&self, store: Option<&Path>, args: &[&str]) -> std::process::Output {
        let s = store.map_or(self.store(), Path::to_path_buf);
        let mut all = vec!["--store", s.to_str().unwrap()];
        all.extend_from_slice(args);
        self.project.cli(&all)
    }
}

fn stdout(o: &std::process::Output) -> String {
    assert!(
        o.status.success(),
        "command failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).expect("utf-8 output")
}

/// Sources file order: the hostile 华北 page first, then 上海 江苏 安徽
/// (listing) 浙江 — the compilation must still put 华东 first.
fn fill() -> Filled {
    let m = manifest();
    let site = fixture_site(&m);
    let rt = rt();
    site.set(
        "/evil.html",
        Page::html("text/html; charset=utf-8", HOSTILE_PAGE),
    );
    for p in ["shanghai", "jiangsu", "zhejiang"] {
        site.set(
            &format!("/watched/{p}.html"),
            fixture_page(&m, &format!("{p}/article.v1.html")),
        );
    }
    site.set("/anhui/list.html", fixture_page(&m, "anhui/list.v1.html"));
    let evil = format!(
        "\n[[source]]\nid = \"evil\"\nname = \"测试\"\nprovince = \"测试省\"\nregion = \"华北\"\nurl = \"{}\"\nkind = \"article\"\n",
        site.url("/evil.html")
    );
    let project = Project::new(&format!(
        "{FAST_SETTINGS}{evil}{}{}{}{}",
        article_source("shanghai", "上海市", &site.url("/watched/shanghai.html")),
        article_source("jiangsu", "江苏省", &site.url("/watched/jiangsu.html")),
        listing_source("anhui", "安徽省", &site.url("/anhui/list.html"), PATTERN),
        article_source("zhejiang", "浙江省", &site.url("/watched/zhejiang.html")),
    ));
    {
        let checker = project.checker();
        let check = |id: &str| {
            let src = checker.config.source(id).unwrap().clone();
            rt.block_on(checker.check_source(&src)).outcome
        };
        for id in ["evil", "shanghai", "jiangsu", "zhejiang"] {
            assert!(
                matches!(check(id), Outcome::Stored { version: 1, .. }),
                "{id}"
            );
        }
        for p in ["shanghai", "jiangsu"] {
            for (n, variant) in [
                (2, "article.v2-edit.html"),
                (3, "article.v4-section-added.html"),
            ] {
                site.set(
                    &format!("/watched/{p}.html"),
                    fixture_page(&m, &format!("{p}/{variant}")),
                );
                assert_eq!(
                    check(p),
                    Outcome::Stored {
                        version: n,
                        alerted: true
                    },
                    "{p} {variant}"
                );
            }
        }
        assert!(matches!(
            check("anhui"),
            Outcome::Listing { discovered: 1, .. }
        ));
        site.set("/anhui/list.html", fixture_page(&m, "anhui/list.v2.html"));
        assert!(matches!(
            check("anhui"),
            Outcome::Listing { discovered: 1, .. }
        ));
        checker.store.flush().unwrap();
    }
    Filled { project, site }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// Copies the store, changes the copy behind the store's back (its test
/// hooks), and returns its folder.
fn tampered(f: &Filled, name: &str, change: impl FnOnce(&Store)) -> PathBuf {
    let dir = f.project.dir.path().join(name);
    copy_dir(&f.store(), &dir);
    let s = reopen(&dir);
    change(&s);
    s.flush().unwrap();
    dir
}

fn verify_dir(dir: &Path) -> Result<verify::Summary, VerifyError> {
    let s = reopen(dir);
    verify::verify(&s, None)
}

fn assert_fails_at(
    result: Result<verify::Summary, VerifyError>,
    source: &str,
    version: u32,
    needle: &str,
) {
    match result {
        Err(VerifyError::Mismatch {
            id,
            version: v,
            message,
        }) => {
            assert_eq!((id.as_str(), v), (source, version), "{message}");
            assert!(
                message.contains(needle),
                "{message:?} should mention {needle:?}"
            );
        }
        other => panic!("expected a failure at {source} v{version}, got {other:?}"),
    }
}

#[test]
fn verify_accepts_the_history_and_catches_every_kind_of_tampering() {
    let f = fill();
    let ok = verify_dir(&f.store()).expect("untouched store verifies");
    // evil, shanghai, jiangsu, zhejiang, and the two discovered 安徽 articles.
    assert_eq!(ok.sources, 6);
    assert_eq!(ok.versions, 1 + 3 + 3 + 1 + 2);
    assert!(ok.blobs >= 2 * ok.versions - 2, "{ok:?}");

    // (a) a stored (compressed) raw blob altered by someone who also fixed
    // the pack's checksum: the content hash still exposes it.
    let dir = tampered(&f, "blob", |s| {
        let rec = s.version("shanghai", 2).unwrap().unwrap();
        let (offset, len) = s
            .tamper()
            .raw_extent(&rec)
            .unwrap()
            .expect("raw bytes in the pack");
        let pack = s.path().join(bulletin_watch::store::PACK_FILE);
        let mut bytes = std::fs::read(&pack).unwrap();
        let (start, end) = (offset as usize, offset as usize + len as usize);
        bytes[end - 4] ^= 0x5a;
        bytes[end - 5] ^= 0xff;
        let crc = crc32fast::hash(&bytes[start..end]);
        bytes[start - 4..start].copy_from_slice(&crc.to_le_bytes());
        std::fs::write(&pack, bytes).unwrap();
    });
    assert_fails_at(verify_dir(&dir), "shanghai", 2, "raw blob");

    // (a') bytes flipped in the pack file itself, behind sled's back: every
    // entry there is checksummed, and verify names the first version whose
    // history can no longer be read.
    let dir = tampered(&f, "pack", |_| {});
    {
        let pack = dir.join(bulletin_watch::store::PACK_FILE);
        let mut bytes = std::fs::read(&pack).unwrap();
        assert!(bytes.len() > 1000, "the history lives in the pack");
        let i = bytes.len() / 2;
        bytes[i] ^= 0x01;
        std::fs::write(&pack, bytes).unwrap();
    }
    match verify_dir(&dir) {
        Err(VerifyError::Mismatch { message, .. }) => {
            assert!(message.contains("history.pack"), "{message}")
        }
        other => panic!("a damaged pack must fail verification: {other:?}"),
    }

    // (b) a version deleted from the middle.
    let dir = tampered(&f, "dropped", |s| {
        assert!(s.tamper().remove_version("shanghai", 2).unwrap());
    });
    assert_fails_at(verify_dir(&dir), "shanghai", 2, "missing");

    // (b') the latest version deleted: the chain cannot tell, the alert sent for it can.
    let dir = tampered(&f, "dropped-last", |s| {
        assert!(s.tamper().remove_version("shanghai", 3).unwrap());
    });
    assert_fails_at(verify_dir(&dir), "shanghai", 3, "history ends at v2");

    // (c) two versions' records swapped.
    let dir = tampered(&f, "swapped", |s| {
        s.tamper().swap_versions("jiangsu", 1, 2).unwrap();
    });
    assert_fails_at(verify_dir(&dir), "jiangsu", 1, "swapped");

    // (d) a record field edited.
    let dir = tampered(&f, "edited", |s| {
        let mut rec: VersionRecord = s.version("shanghai", 3).unwrap().unwrap();
        rec.title = "上海市2025年全市应急管理工作会议（已修改）".into();
        s.tamper().overwrite_record(&rec).unwrap();
    });
    assert_fails_at(verify_dir(&dir), "shanghai", 3, "record edited");

    // (d') a record edited and re-hashed: its successor's link exposes it.
    let dir = tampered(&f, "rehashed", |s| {
        let mut rec: VersionRecord = s.version("jiangsu", 1).unwrap().unwrap();
        rec.url = "http://elsewhere.example/".into();
        rec.record_hash = rec.compute_record_hash();
        s.tamper().overwrite_record(&rec).unwrap();
    });
    assert_fails_at(verify_dir(&dir), "jiangsu", 2, "chain broken");

    // (e) the page that new pages of a site are stored against no longer
    // matches its recorded hash: every version still holds, the site base
    // does not.
    let dir = tampered(&f, "site-base", |s| {
        s.tamper().site_base_hash(&"0".repeat(64)).unwrap();
    });
    match verify_dir(&dir) {
        Err(VerifyError::SiteBase { host, message }) => {
            assert!(host.starts_with("127.0.0.1"), "{host}");
            assert!(message.contains("recorded hash 0000"), "{message}");
        }
        other => panic!("a damaged site base must fail verification: {other:?}"),
    }

    // The CLI: exit 1 naming source and version on stderr; a summary when OK.
    let out = f.cli(Some(&f.project.dir.path().join("swapped")), &["verify"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("jiangsu v1"), "{err}");
    let out = stdout(&f.cli(None, &["verify", "--source", "shanghai"]));
    assert!(out.starts_with("OK: 1 sources, 3 versions"), "{out}");
    let out = f.cli(None, &["verify", "--source", "nope"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn export_round_trips_and_renders_safely() {
    let f = fill();
    // JSON Lines = history --json + show --json, version by version.
    let jsonl = stdout(&f.cli(None, &["export", "--format", "jsonl"]));
    let lines: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 10);
    for id in ["shanghai", "jiangsu", "evil"] {
        let history: Vec<Value> =
            serde_json::from_str(&stdout(&f.cli(None, &["history", id, "--json"]))).unwrap();
        let mine: Vec<&Value> = lines.iter().filter(|l| l["source"] == id).collect();
        assert_eq!(mine.len(), history.len(), "{id}");
        for (h, l) in history.iter().zip(&mine) {
            for field in [
                "version",
                "fetched_at",
                "content_hash",
                "prev_hash",
                "title",
                "sections",
                "url",
                "status",
            ] {
                assert_eq!(h[field], l[field], "{id} {field}");
            }
            let v = h["version"].to_string();
            let shown: Value = serde_json::from_str(&stdout(
                &f.cli(None, &["show", id, "--version", &v, "--json"]),
            ))
            .unwrap();
            assert_eq!(shown, l["document"], "{id} v{v} document");
            assert_eq!(
                l["document"]["sections"].as_array().unwrap().len() as u64,
                l["sections"].as_u64().unwrap()
            );
        }
    }

    // CSV: a header and one row per version.
    let csv = stdout(&f.cli(None, &["export", "--format", "csv"]));
    let rows: Vec<&str> = csv.split("\r\n").filter(|r| !r.is_empty()).collect();
    assert_eq!(rows[0], report::CSV_HEADER);
    assert_eq!(rows.len(), 11);
    assert!(rows.iter().any(|r| r.starts_with("shanghai,3,")), "{csv}");

    // HTML: one self-contained page, diffs side by side, page text escaped.
    let path = f.project.dir.path().join("report.html");
    let o = f.cli(
        None,
        &[
            "export",
            "--format",
            "html",
            "--out",
            path.to_str().unwrap(),
        ],
    );
    stdout(&o);
    let html = std::fs::read_to_string(&path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("name=\"viewport\"") && html.contains("@media (max-width:640px)"));
    assert!(
        !html.contains("<script") && !html.contains("<link") && !html.contains("<img"),
        "no scripts or external resources"
    );
    assert!(html.contains(HOSTILE_ESCAPED), "hostile text shown escaped");
    for id in ["shanghai", "jiangsu", "evil", "zhejiang"] {
        assert!(html.contains(&format!("<section id=\"src-{id}\">")), "{id}");
    }
    let sh = &html[html.find("<section id=\"src-shanghai\">").unwrap()..];
    let sh = &sh[..sh.find("</section>").unwrap()];
    let v2 = sh.find("id=\"src-shanghai-v2\"").unwrap();
    let v3 = sh.find("id=\"src-shanghai-v3\"").unwrap();
    assert!(v2 < v3);
    assert!(
        sh[v2..v3].contains("<ins>") && sh[v2..v3].contains("加快转型"),
        "v2 shows the inserted words"
    );
    assert!(sh[v2..v3].contains("class=\"old\"") && sh[v2..v3].contains("class=\"new\""));
    assert!(
        sh[v3..].contains("新增 added"),
        "v3 shows the added section"
    );

    // One source only, through the library: the same bytes as the CLI.
    let lib = {
        let s = reopen(&f.store());
        report::export(&s, Some("shanghai"), ExportFormat::Jsonl).unwrap()
    };
    assert_eq!(
        lib,
        stdout(&f.cli(
            None,
            &["export", "--source", "shanghai", "--format", "jsonl"]
        ))
    );
    assert_eq!(lib.lines().count(), 3);
}

/// The lines of the part of `doc` under heading `start` up to the next heading of the same level.
fn part<'a>(doc: &'a str, start: &str) -> &'a str {
    let i = doc
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} missing in\n{doc}"));
    let rest = &doc[i + start.len()..];
    let level = start.split(' ').next().unwrap();
    let end = rest
        .find(&format!("\n{level} "))
        .map_or(rest.len(), |e| e + 1);
    &rest[..end]
}

#[test]
fn compilation_reads_like_the_editorial() {
    let f = fill();
    let m = manifest();
    let port = f.site.port().to_string();
    let md = stdout(&f.cli(None, &["compile", "--year", "2025"]));
    assert!(
        md.starts_with(
            "# 2025年各地应急管理工作会议工作部署汇编\n\n【编者按】（请在此填写编者按）\n"
        ),
        "{md}"
    );
    let east = md.find("## 华东地区").expect("华东 part");
    let north = md.find("## 华北地区").expect("华北 part");
    assert!(
        east < north,
        "regions in fixed order, not sources-file order"
    );
    let east_part = part(&md, "## 华东地区");
    let provinces: Vec<&str> = east_part
        .lines()
        .filter(|l| l.starts_with("### "))
        .collect();
    assert_eq!(
        provinces,
        [
            "### 一、上海市",
            "### 二、江苏省",
            "### 三、安徽省",
            "### 四、浙江省"
        ]
    );

    // 上海: its three sections of v3 in order, then the source line.
    let sh = part(east_part, "### 一、上海市");
    let v4 = m.article("shanghai/article.v4-section-added.html");
    let labels: Vec<&str> = sh
        .lines()
        .map(|l| l.trim_start_matches("**"))
        .filter(|l| l.starts_with('（'))
        .map(|l| &l[..l.find('）').unwrap() + '）'.len_utf8()])
        .collect();
    let expected: Vec<String> = v4
        .sections
        .iter()
        .map(|s| s.label.replace('(', "（").replace(')', "）"))
        .collect();
    assert_eq!(labels, expected);
    assert!(
        sh.contains("**（一）坚持稳中求进工作总基调，统筹发展和安全。**  \n干字当头"),
        "{sh}"
    );
    assert!(
        sh.contains(&format!(
            "原文链接：[{}](<{}>)",
            v4.title,
            f.url("/watched/shanghai.html")
        )),
        "{sh}"
    );
    assert!(sh.contains("版本 v3 · 抓取于 "), "{sh}");

    // 安徽 for 2025: the article found on the first listing, not the 2026 one.
    let ah = part(east_part, "### 三、安徽省");
    let ah_url = format!("http://127.0.0.1:{port}/anhui/article.v1.html");
    assert!(
        ah.contains(&format!(
            "原文链接：[安徽省应急管理厅党委书记、厅长一席谈](<{ah_url}>)"
        )),
        "{ah}"
    );
    assert!(ah.contains("版本 v1"));

    // Without --year the newest published deployment wins: 2026.
    let all = stdout(&f.cli(None, &["compile", "--region", "华东"]));
    assert!(
        all.starts_with("# 各地应急管理工作会议工作部署汇编（华东地区）"),
        "{all}"
    );
    assert!(!all.contains("华北"), "region filter");
    let ah = part(&all, "### 三、安徽省");
    let new_url = format!("http://127.0.0.1:{port}/anhui/new-article.html");
    assert!(
        ah.contains(&format!(
            "[安徽省2026年全省应急管理工作会议召开](<{new_url}>)"
        )),
        "{ah}"
    );

    // Hostile text stays text.
    let north_part = part(&md, "## 华北地区");
    assert!(north_part.contains("### 一、测试省"));
    assert!(
        north_part.contains(HOSTILE_ESCAPED) && !md.contains(HOSTILE),
        "{north_part}"
    );

    // The HTML edition: same structure, escaped, linked.
    let html = stdout(&f.cli(None, &["compile", "--year", "2025", "--format", "html"]));
    assert!(
        html.contains("<h2>华东地区</h2>")
            && html.contains("<h3>一、上海市</h3>")
            && html.contains("<h3>四、浙江省</h3>")
    );
    assert!(html.find("<h2>华东地区</h2>") < html.find("<h2>华北地区</h2>"));
    assert!(html.contains(&format!(
        "原文链接：<a href=\"{}\">",
        f.url("/watched/shanghai.html")
    )));
    assert!(html.contains(HOSTILE_ESCAPED) && !html.contains(HOSTILE) && !html.contains("<script"));

    // A year with nothing stored still yields the skeleton, not an error.
    let empty = stdout(&f.cli(None, &["compile", "--year", "2019"]));
    assert!(empty.contains("没有符合条件"));
}

#[test]
fn backup_restore_and_compact_keep_the_history() {
    let f = fill();
    let dir = f.project.dir.path();
    let export = |store: &Path| stdout(&f.cli(Some(store), &["export", "--format", "jsonl"]));
    let original = export(&f.store());

    let backup = dir.join("store.bwbak");
    let out = stdout(&f.cli(None, &["store", "backup", backup.to_str().unwrap()]));
    assert!(out.contains("sha256"), "{out}");
    let restored = dir.join("restored");
    let out = stdout(&f.cli(
        None,
        &[
            "store",
            "restore",
            backup.to_str().unwrap(),
            "--into",
            restored.to_str().unwrap(),
        ],
    ));
    assert!(out.contains("restored"), "{out}");
    assert!(stdout(&f.cli(Some(&restored), &["verify"])).starts_with("OK: 6 sources, 10 versions"));
    assert_eq!(export(&restored), original, "same history after restore");
    assert_eq!(
        stdout(&f.cli(Some(&restored), &["outbox", "--json"])),
        stdout(&f.cli(None, &["outbox", "--json"])),
        "alerts restored too"
    );

    // Never over an existing store; never from a damaged file.
    let o = f.cli(
        None,
        &[
            "store",
            "restore",
            backup.to_str().unwrap(),
            "--into",
            restored.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not empty"));
    let mut bytes = std::fs::read(&backup).unwrap();
    let i = bytes.len() / 2;
    bytes[i] ^= 1;
    let damaged = dir.join("damaged.bwbak");
    std::fs::write(&damaged, bytes).unwrap();
    let o = f.cli(
        None,
        &[
            "store",
            "restore",
            damaged.to_str().unwrap(),
            "--into",
            dir.join("r2").to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("checksum mismatch"));
    assert!(!dir.join("r2").exists(), "nothing left behind");

    // Compaction swaps in a fresh copy with the same history.
    let copy = dir.join("compacted");
    copy_dir(&f.store(), &copy);
    std::fs::create_dir_all(copy.join("mail")).unwrap();
    std::fs::write(copy.join("mail/x.eml"), "kept").unwrap();
    let out = stdout(&f.cli(Some(&copy), &["store", "compact"]));
    assert!(
        out.contains("bytes before") && out.contains("bytes after"),
        "{out}"
    );
    assert_eq!(export(&copy), original);
    assert!(stdout(&f.cli(Some(&copy), &["verify"])).starts_with("OK: 6 sources, 10 versions"));
    assert_eq!(
        std::fs::read_to_string(copy.join("mail/x.eml")).unwrap(),
        "kept"
    );
}

#[test]
fn read_only_commands_ask_the_process_holding_the_store() {
    let f = fill();
    let config = f.project.config();
    let sources = Catalog::from_config(&config);
    let store = Arc::new(reopen(&f.store()));
    let compile_q = Query::Compile {
        request: CompileRequest {
            sources,
            region: None,
            year: Some(2025),
            format: CompileFormat::Markdown,
        },
    };
    let local_compile = audit::answer(&store, &compile_q).unwrap();
    let local_verify = audit::answer(&store, &Query::Verify { source: None }).unwrap();
    let rt = rt();
    let server = rt.spawn(bulletin_watch::control::serve(store.clone()));
    let sock = bulletin_watch::control::socket_path(&f.store());
    for _ in 0..200 {
        if sock.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(stdout(&f.cli(None, &["verify"])).into_bytes(), local_verify);
    assert_eq!(
        stdout(&f.cli(None, &["compile", "--year", "2025"])).into_bytes(),
        local_compile
    );
    let h = stdout(&f.cli(None, &["history", "shanghai"]));
    assert!(h.starts_with("shanghai: 3 versions"), "{h}");
    // Maintenance cannot go through the socket: a clear refusal.
    let o = f.cli(
        None,
        &[
            "store",
            "backup",
            f.project.dir.path().join("b").to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("held by a running daemon"));
    server.abort();
}
