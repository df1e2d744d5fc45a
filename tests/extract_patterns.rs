//! The patterns real government pages share, one small page each in
//! `tests/fixtures/patterns/`: the info line, 政府信息公开 metadata tables,
//! headlines repeated, in parts or hidden behind the site's name, dates in
//! their many spellings and places, `<br>` paragraphs, headings in bold
//! runs, hidden copies, sidebars, attachment lists and sign-offs.

use bulletin_watch::extract;
use bulletin_watch::model::Document;
use bulletin_watch::model::ExtractOptions;

fn page(name: &str) -> Document {
    let path = format!(
        "{}/tests/fixtures/patterns/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    extract::document(&bytes, None, &ExtractOptions::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .0
}

/// The body as a reader reads it: preamble, then each section's label,
/// heading and text.
fn body(doc: &Document) -> String {
    let mut out = doc.preamble.clone();
    for s in &doc.sections {
        out.push('\n');
        out.push_str(&s.raw_label);
        out.push_str(&s.heading);
        out.push_str(&s.text);
    }
    out
}

fn top_labels(doc: &Document) -> Vec<&str> {
    doc.sections
        .iter()
        .filter(|s| s.level == 1)
        .map(|s| s.label.as_str())
        .collect()
}

fn date(doc: &Document) -> Option<String> {
    doc.published.map(|d| d.to_string())
}

#[track_caller]
fn assert_absent(doc: &Document, what: &[&str]) {
    let b = body(doc);
    for w in what {
        assert!(!b.contains(w), "{w:?} must not be in the body:\n{b}");
    }
}

#[test]
fn the_info_line_gives_the_date_and_stays_out_of_the_body() {
    let doc = page("info-line.html");
    assert_eq!(doc.title, "测试市应急管理局召开2025年全市应急管理工作会议");
    assert_eq!(date(&doc).as_deref(), Some("2025-02-18"));
    assert!(
        doc.preamble.starts_with("2月17日，测试市召开"),
        "{}",
        doc.preamble
    );
    assert_eq!(top_labels(&doc), ["一、", "二、"]);
    assert_absent(&doc, &["点击数", "1234", "字号", "来源", "打印", "分享"]);
    assert!(
        body(&doc).ends_with("确保全年安全形势稳定。"),
        "{}",
        body(&doc)
    );
}

#[test]
fn a_disclosure_table_gives_the_date_and_stays_out_of_the_body() {
    let doc = page("xxgk-table.html");
    assert_eq!(
        doc.title,
        "测试省应急管理厅关于做好2025年安全生产工作的通知"
    );
    assert_eq!(date(&doc).as_deref(), Some("2025-01-22"));
    assert!(
        doc.preamble.starts_with("各市应急管理局"),
        "{}",
        doc.preamble
    );
    assert_eq!(top_labels(&doc), ["一、", "二、"]);
    assert_absent(
        &doc,
        &["索取号", "发布机构", "主题分类", "测应急〔2025〕3号"],
    );
}

#[test]
fn the_sign_off_after_the_body_is_left_out() {
    let doc = page("xxgk-table.html");
    let b = body(&doc);
    assert!(b.ends_with("扎实开展隐患排查整治。"), "{b}");
    assert_absent(&doc, &["2025年1月20日"]);
}

#[test]
fn a_title_behind_the_site_name_is_the_headline_and_not_repeated() {
    let doc = page("title-site-name.html");
    assert_eq!(doc.title, "县应急局部署春节期间安全防范工作");
    assert_eq!(date(&doc).as_deref(), Some("2025-01-20"));
    assert!(
        doc.preamble.starts_with("1月20日，县应急局"),
        "{}",
        doc.preamble
    );
}

#[test]
fn a_headline_in_parts_gives_its_main_title() {
    let doc = page("title-parts.html");
    assert_eq!(doc.title, "全省应急管理工作会议在省会召开");
    assert_eq!(date(&doc).as_deref(), Some("2025-01-09"));
    assert!(doc.preamble.starts_with("1月9日"), "{}", doc.preamble);
}

#[test]
fn a_head_date_counts_but_never_a_sidebar_or_footer_date() {
    let doc = page("date-meta.html");
    assert_eq!(date(&doc).as_deref(), Some("2021-09-06"));
    assert_absent(&doc, &["相关新闻", "2019-03-02"]);
}

#[test]
fn the_shown_date_beats_a_generation_stamp_in_the_head() {
    let doc = page("date-slashes.html");
    assert_eq!(date(&doc).as_deref(), Some("2021-09-06"));
}

#[test]
fn br_paragraphs_and_headings_in_bold_runs_make_sections() {
    let doc = page("br-strong.html");
    assert_eq!(date(&doc).as_deref(), Some("2025-02-06"));
    assert_eq!(top_labels(&doc), ["一、", "二、", "三、"]);
    assert_eq!(doc.sections[0].heading, "强化安全风险防控");
    assert!(doc.preamble.starts_with("2025年全省应急管理工作的总体要求"));
}

#[test]
fn a_hidden_copy_a_sidebar_and_an_attachment_list_are_left_out() {
    let doc = page("hidden-copy.html");
    assert_eq!(doc.title, "测试省应急管理厅2025年工作部署");
    assert_eq!(top_labels(&doc), ["一、", "二、"]);
    let b = body(&doc);
    assert_eq!(b.matches("深化治本攻坚").count(), 1, "{b}");
    assert!(b.ends_with("提升救援能力。"), "{b}");
    assert_absent(&doc, &["相关链接", "森林防火", "附件", "分工表"]);
}

#[test]
fn a_disclosure_table_inside_the_body_becomes_metadata() {
    let bytes = std::fs::read(format!(
        "{}/tests/fixtures/patterns/xxgk-inside.html",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let html = String::from_utf8(bytes).unwrap();
    let art = extract::article(&html, &ExtractOptions::default()).unwrap();
    let field = |l: &str| {
        art.metadata
            .iter()
            .find(|(k, _)| k == l)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(
        field("文号"),
        Some("测应急发〔2025〕8号"),
        "{:?}",
        art.metadata
    );
    assert_eq!(field("发布机构"), Some("测试市应急管理局"));
    assert_eq!(field("主题分类"), Some("综合政务"));
    assert_eq!(
        art.published.map(|d| d.to_string()).as_deref(),
        Some("2025-03-04")
    );
    let doc = page("xxgk-inside.html");
    assert!(
        doc.preamble.starts_with("各区应急管理局"),
        "{}",
        doc.preamble
    );
    assert_eq!(top_labels(&doc), ["一、", "二、"]);
    assert_absent(&doc, &["索引号", "索 引 号", "综合政务", "0012-2025-0034"]);
}

#[test]
fn explain_says_where_the_body_title_and_date_came_from_and_what_was_left_out() {
    let bytes = std::fs::read(format!(
        "{}/tests/fixtures/patterns/info-line.html",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let ex = extract::explain(&bytes, None, &ExtractOptions::default()).unwrap();
    assert!(ex.error.is_none(), "{:?}", ex.error);
    assert_eq!(ex.encoding, "UTF-8");
    assert!(
        ex.body_rule.contains("div.article-content"),
        "{}",
        ex.body_rule
    );
    assert!(
        ex.body_element
            .as_deref()
            .is_some_and(|e| e.ends_with("div.article-content")),
        "{:?}",
        ex.body_element
    );
    assert!(
        ex.title_from.contains("h1") || ex.title_from.contains("<title>"),
        "{}",
        ex.title_from
    );
    assert!(ex.date_from.contains("info line"), "{}", ex.date_from);
    let reasons: Vec<&str> = ex.left_out.iter().map(|t| t.reason).collect();
    assert!(reasons.contains(&"info line"), "{reasons:?}");
    assert!(reasons.contains(&"print/close links"), "{reasons:?}");
    let opened: Vec<&str> = ex
        .boundaries
        .iter()
        .filter_map(|b| b.path.as_deref())
        .collect();
    assert_eq!(opened, ["一、", "二、"]);
    assert!(
        ex.boundaries[0].rule.contains("一、 numbering"),
        "{:?}",
        ex.boundaries
    );
}

#[test]
fn explain_reads_the_headline_of_a_page_without_article_text() {
    let page = r#"<html><head><meta charset="utf-8"><title>测试图片新闻_测试局</title></head><body>
<h1>测试图片新闻</h1><div class="info">发布时间：2025-03-01</div>
<div id="zoom"><p>当前位置：首页 &gt; 图片新闻</p><p>测试图片新闻</p><p><img src="a.jpg"></p><p>附件：</p></div></body></html>"#;
    let err = extract::document(page.as_bytes(), None, &ExtractOptions::default()).unwrap_err();
    assert!(err.to_string().contains("no article body"), "{err}");
    let ex = extract::explain(page.as_bytes(), None, &ExtractOptions::default()).unwrap();
    assert_eq!(ex.title.as_deref(), Some("测试图片新闻"));
    assert_eq!(
        ex.published.map(|d| d.to_string()).as_deref(),
        Some("2025-03-01")
    );
    assert!(ex.error.is_some());
}
