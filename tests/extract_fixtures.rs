//! Checks decode + extract against every article in the fixture manifest,
//! plus the charset, binary, error-page and malformed-input edge cases.

use std::collections::HashMap;

use crate::common::{fixture, manifest, ArticleExp, SectionExp};
use bulletin_watch::decode::{self, DecodeError};
use bulletin_watch::extract::{self, ExtractError};
use bulletin_watch::model::ExtractOptions;
use bulletin_watch::model::{Article, EncodingSource};
use bulletin_watch::text::comparable;
use jiff::civil::Date;

fn is_gbk_family(name: &str) -> bool {
    matches!(name, "GBK" | "gb18030")
}

fn parse_case(case: &ArticleExp) -> (decode::Decoded, Article) {
    let bytes = fixture(&case.file);
    let decoded = decode::decode(&bytes, Some(&case.http_content_type), None)
        .unwrap_or_else(|e| panic!("{}: decode: {e}", case.file));
    let art = extract::article(&decoded.text, &ExtractOptions::default())
        .unwrap_or_else(|e| panic!("{}: extract: {e}", case.file));
    (decoded, art)
}

fn block_keys(art: &Article) -> Vec<String> {
    art.blocks.iter().map(|b| comparable(&b.text)).collect()
}

/// Index of the first block at or after `from` that starts with the
/// section's label and text prefix.
fn find_section(keys: &[String], from: usize, s: &SectionExp) -> Option<usize> {
    let want = format!("{}{}", comparable(&s.raw_label), comparable(&s.text_prefix));
    (from..keys.len()).find(|&i| keys[i].starts_with(&want))
}

#[test]
fn every_article_matches_the_manifest() {
    let m = manifest();
    assert!(
        m.articles.len() >= 40,
        "manifest lists {} articles",
        m.articles.len()
    );
    let mut failures = Vec::new();
    for case in &m.articles {
        let (decoded, art) = parse_case(case);
        let f = &case.file;

        match case.encoding.as_str() {
            "gbk" => {
                if !is_gbk_family(decoded.encoding) {
                    failures.push(format!("{f}: decoded as {}, want GBK", decoded.encoding));
                }
            }
            "utf-8" => {
                if decoded.encoding != "UTF-8" {
                    failures.push(format!("{f}: decoded as {}, want UTF-8", decoded.encoding));
                }
            }
            other => failures.push(format!("{f}: unexpected manifest encoding {other}")),
        }
        if case.bom && decoded.source != EncodingSource::Bom {
            failures.push(format!("{f}: BOM file decided by {:?}", decoded.source));
        }
        if decoded.text.starts_with('\u{FEFF}') {
            failures.push(format!("{f}: BOM left in the text"));
        }

        if comparable(&art.title) != comparable(&case.title) {
            failures.push(format!("{f}: title {:?}, want {:?}", art.title, case.title));
        }
        let want_date: Date = case.publish_date.parse().expect("manifest date");
        if art.published != Some(want_date) {
            failures.push(format!("{f}: date {:?}, want {want_date}", art.published));
        }

        let keys = block_keys(&art);
        let first_label = case
            .sections
            .first()
            .map(|s| find_section(&keys, 0, s))
            .unwrap_or(Some(keys.len()));
        match first_label {
            None => failures.push(format!("{f}: first section not found in {keys:#?}")),
            Some(end) => {
                let preamble: String = keys[..end].concat();
                if case.preamble_prefix.is_empty() {
                    if !preamble.is_empty() {
                        failures.push(format!("{f}: unexpected preamble {preamble:?}"));
                    }
                } else if !preamble.starts_with(&comparable(&case.preamble_prefix)) {
                    failures.push(format!(
                        "{f}: preamble {:?} does not start with {:?}",
                        preamble.chars().take(30).collect::<String>(),
                        case.preamble_prefix
                    ));
                }
            }
        }

        let mut from = 0;
        for s in &case.sections {
            match find_section(&keys, from, s) {
                Some(i) => from = i + 1,
                None => failures.push(format!(
                    "{f}: section {}{} not found (in order) after block {from}",
                    s.raw_label, s.text_prefix
                )),
            }
        }

        for key in &keys {
            for noise in [
                "浏览次数",
                "阅读量",
                "浏览量",
                "更新时间",
                "生成时间",
                "最后更新",
                "Generated",
                "分享",
                "打印",
                "关闭窗口",
                "ICP备",
                "网站标识码",
                "当前位置",
                "您现在的位置",
                "字号",
            ] {
                if key.contains(noise) {
                    failures.push(format!("{f}: boilerplate {noise:?} in block {key:?}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Boilerplate-only and whitespace-only variants must extract exactly the
/// baseline's blocks, or the monitor would raise false alerts.
#[test]
fn noise_and_whitespace_variants_equal_their_baseline() {
    let m = manifest();
    let by_file: HashMap<&str, &ArticleExp> =
        m.articles.iter().map(|a| (a.file.as_str(), a)).collect();
    let mut checked = 0;
    for case in &m.articles {
        if !matches!(case.version.as_str(), "v3-noise" | "v6-whitespace") {
            continue;
        }
        let base = case
            .baseline
            .as_deref()
            .and_then(|b| by_file.get(b))
            .unwrap_or_else(|| panic!("{}: baseline missing", case.file));
        let (_, art) = parse_case(case);
        let (_, base_art) = parse_case(base);
        assert_eq!(block_keys(&art), block_keys(&base_art), "{}", case.file);
        assert_eq!(art.title, base_art.title, "{}", case.file);
        assert_eq!(art.published, base_art.published, "{}", case.file);
        checked += 1;
    }
    assert!(
        checked >= 9,
        "only {checked} noise/whitespace variants checked"
    );
}

/// Variants that do change content must not extract like the baseline.
#[test]
fn edited_variants_differ_from_their_baseline() {
    let m = manifest();
    let by_file: HashMap<&str, &ArticleExp> =
        m.articles.iter().map(|a| (a.file.as_str(), a)).collect();
    for case in &m.articles {
        if !case.version.starts_with("v2")
            && !case.version.starts_with("v4")
            && !case.version.starts_with("v5")
        {
            continue;
        }
        let Some(base) = case.baseline.as_deref().and_then(|b| by_file.get(b)) else {
            continue;
        };
        let (_, art) = parse_case(case);
        let (_, base_art) = parse_case(base);
        assert_ne!(block_keys(&art), block_keys(&base_art), "{}", case.file);
    }
}

#[test]
fn document_glues_the_pipeline() {
    let m = manifest();
    for case in m.articles.iter().filter(|a| a.version == "v1") {
        let bytes = fixture(&case.file);
        let (doc, _) = extract::document(
            &bytes,
            Some(&case.http_content_type),
            &ExtractOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", case.file));
        assert_eq!(
            comparable(&doc.title),
            comparable(&case.title),
            "{}",
            case.file
        );
        assert_eq!(
            doc.encoding == "UTF-8",
            case.encoding == "utf-8",
            "{}",
            case.file
        );
    }
}

#[test]
fn undeclared_gbk_is_sniffed() {
    let bytes = fixture("anhui/article.v1.html");
    let d = decode::decode(&bytes, Some("text/html"), None).unwrap();
    assert!(is_gbk_family(d.encoding), "{}", d.encoding);
    assert_eq!(d.source, EncodingSource::Sniffed);
    assert!(d.text.contains("安徽省应急管理厅党委书记、厅长一席谈"));
}

#[test]
fn latin1_header_on_gbk_page_is_not_believed() {
    for (file, title) in [
        (
            "jiangsu/article.v1.html",
            "江苏省应急管理厅党委书记、厅长一席谈",
        ),
        (
            "anhui/article.v1.html",
            "安徽省应急管理厅党委书记、厅长一席谈",
        ),
        ("fujian/article.v1.html", "福建省应急管理工作会议在福州召开"),
    ] {
        let bytes = fixture(file);
        let d = decode::decode(&bytes, Some("text/html; charset=iso-8859-1"), None).unwrap();
        assert!(is_gbk_family(d.encoding), "{file}: {}", d.encoding);
        let art = extract::article(&d.text, &ExtractOptions::default()).unwrap();
        assert_eq!(comparable(&art.title), comparable(title), "{file}");
    }
}

#[test]
fn utf8_meta_on_gbk_bytes_is_not_believed() {
    let bytes = fixture("fujian/article.v1.html");
    let needle = b"charset=gb2312";
    let pos = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("fixture declares gb2312");
    let mut lying = bytes[..pos].to_vec();
    lying.extend_from_slice(b"charset=utf-8");
    lying.extend_from_slice(&bytes[pos + needle.len()..]);

    let d = decode::decode(&lying, Some("text/html"), None).unwrap();
    assert!(is_gbk_family(d.encoding), "{}", d.encoding);
    assert!(!d.text.contains('\u{FFFD}'));
    let art = extract::article(&d.text, &ExtractOptions::default()).unwrap();
    assert_eq!(art.title, "福建省应急管理工作会议在福州召开");

    // Same with the lie in the HTTP header as well.
    let d = decode::decode(&lying, Some("text/html; charset=utf-8"), None).unwrap();
    assert!(is_gbk_family(d.encoding), "{}", d.encoding);
}

#[test]
fn gb2312_label_decodes_gbk_only_characters() {
    // jiangsu is declared gb2312 but uses characters outside GB2312.
    let bytes = fixture("jiangsu/article.v1.html");
    let d = decode::decode(&bytes, Some("text/html"), None).unwrap();
    assert_eq!(d.source, EncodingSource::Meta);
    assert!(is_gbk_family(d.encoding));
    assert!(!d.text.contains('\u{FFFD}'));
}

#[test]
fn binary_bodies_are_not_text() {
    let pdf = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n";
    let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06";
    for (bytes, ct) in [
        (&pdf[..], "application/pdf"),
        (&png[..], "image/png"),
        (&pdf[..], "text/html; charset=utf-8"),
    ] {
        assert!(matches!(
            decode::decode(bytes, Some(ct), None),
            Err(DecodeError::NotText(_))
        ));
        assert!(matches!(
            extract::document(bytes, Some(ct), &ExtractOptions::default()),
            Err(ExtractError::Decode(DecodeError::NotText(_)))
        ));
    }
}

/// A maintenance template in the site's usual layout.
fn maintenance_page(message: &str) -> String {
    let v1 = String::from_utf8(fixture("shanghai/article.v1.html")).unwrap();
    let start = v1.find("<div class=\"container main\">").unwrap();
    let end = v1.find("<footer").unwrap();
    format!(
        "{}<div class=\"container main\"><div class=\"error-box\"><img src=\"/e.png\"><p>{message}</p>\
         <p><a href=\"/shanghai/\">返回首页</a></p></div></div>\n{}",
        &v1[..start].replace(
            "上海市2025年全市应急管理工作会议召开_工作动态_上海市应急管理局",
            "提示信息_上海市应急管理局"
        ),
        &v1[end..]
    )
}

#[test]
fn maintenance_and_error_templates_are_error_pages() {
    for msg in [
        "页面维护中，请稍后访问。给您带来的不便，敬请谅解！",
        "系统维护中",
        "对不起，您访问的页面不存在或已被删除。",
        "404 Not Found",
    ] {
        let html = maintenance_page(msg);
        match extract::article(&html, &ExtractOptions::default()) {
            Err(ExtractError::ErrorPage(reason)) => assert!(!reason.is_empty()),
            other => panic!("{msg}: {other:?}"),
        }
    }
    let bare = "<html><head><title>404 Not Found</title></head><body><center><h1>404 Not Found</h1></center><hr><center>nginx</center></body></html>";
    assert!(matches!(
        extract::article(bare, &ExtractOptions::default()),
        Err(ExtractError::ErrorPage(_))
    ));
}

#[test]
fn empty_pages_have_no_article() {
    for html in [
        "",
        "<html><body></body></html>",
        "<html><head><title>上海市应急管理局</title></head><body><nav><a href=\"/\">首页</a></nav></body></html>",
    ] {
        assert!(
            matches!(
                extract::article(html, &ExtractOptions::default()),
                Err(ExtractError::NoArticle(_))
            ),
            "{html}"
        );
    }
}

#[test]
fn article_mentioning_maintenance_still_parses() {
    let v1 = String::from_utf8(fixture("shanghai/article.v1.html")).unwrap();
    let html = v1.replacen(
        "1月15日，上海市2025年全市应急管理工作会议召开。",
        "1月15日，上海市2025年全市应急管理工作会议召开（会议期间门户网站页面维护中，系统维护、页面不存在等问题已处理）。",
        1,
    );
    assert_ne!(html, v1);
    let art = extract::article(&html, &ExtractOptions::default()).unwrap();
    assert_eq!(art.title, "上海市2025年全市应急管理工作会议召开");
    assert!(comparable(&art.blocks[0].text).contains("页面维护中"));
}

#[test]
fn truncated_and_garbage_input_does_not_panic() {
    let m = manifest();
    for case in m.articles.iter().filter(|a| a.version == "v1") {
        let bytes = fixture(&case.file);
        for cut in (0..bytes.len()).step_by(499) {
            let part = &bytes[..cut];
            if let Ok(d) = decode::decode(part, Some(&case.http_content_type), None) {
                let _ = extract::article(&d.text, &ExtractOptions::default());
            }
        }
    }
    // Deterministic pseudo-random bytes, some with HTML-ish structure.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for round in 0..50 {
        let mut buf = Vec::new();
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let b = (x >> 24) as u8;
            if round % 2 == 0 && b % 5 == 0 {
                buf.extend_from_slice(
                    [
                        &b"<p>"[..],
                        b"</div>",
                        b"<br>",
                        b"<strong>",
                        b"<table><tr><td id=zoom>",
                    ][(b % 5) as usize],
                );
            } else {
                buf.push(b);
            }
        }
        if let Ok(d) = decode::decode(&buf, None, None) {
            let _ = extract::article(&d.text, &ExtractOptions::default());
        }
    }
    let deep = format!(
        "{}正文内容，很多很多文字。{}",
        "<div>".repeat(20_000),
        "</div>".repeat(5)
    );
    let _ = extract::article(&deep, &ExtractOptions::default());
    let unclosed = "<html><body><div id=\"zoom\"><p>（一）未闭合的段落，文字足够长足够长。<p><strong>（二）</strong>第二段<table><td>";
    let art = extract::article(unclosed, &ExtractOptions::default()).unwrap();
    assert_eq!(art.blocks.len(), 2);
}
