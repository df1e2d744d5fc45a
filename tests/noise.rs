//! Noise never makes a version; a real edit always does. Variants are made
//! programmatically from every fixture article (counters, timestamps,
//! random tokens, rotating "热点推荐"/"相关链接" sidebars next to the body,
//! reordered navigation, whitespace and full-width/half-width spacing) and
//! run through the real `Checker` against a loopback site.

use crate::common::*;
use bulletin_watch::check::Outcome;
use bulletin_watch::diff;
use bulletin_watch::site::Page;

/// Deterministic pseudo-random numbers, so every run makes the same pages.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn token(&mut self) -> String {
        format!("{:016x}{:08x}", self.next(), self.below(1 << 32))
    }
}

/// The manifest's `body_container` for a file ("div#zoom", "div.TRS_Editor").
fn container(file: &str) -> String {
    manifest()
        .article(file)
        .body_container
        .clone()
        .unwrap_or_else(|| panic!("{file}: no body_container"))
}

/// A fixture page as text, and how to turn text back into its bytes.
struct Source {
    html: String,
    gbk: bool,
    /// Text that finds the container's opening tag (`id="zoom`).
    needle: String,
    /// Byte offsets of the body container's opening tag: `<` and after `>`.
    open: (usize, usize),
    /// Where the body region (container and what follows) ends: `</body>`.
    end: usize,
}

impl Source {
    fn load(exp: &ArticleExp) -> Source {
        let bytes = fixture(&exp.file);
        let gbk = exp.encoding == "gbk";
        let html = if gbk {
            encoding_rs::GBK
                .decode_without_bom_handling(&bytes)
                .0
                .into_owned()
        } else {
            String::from_utf8(bytes).unwrap()
        };
        let c = container(&exp.file);
        let needle = match c.split_once('#') {
            Some((_, id)) => format!("id=\"{id}"),
            None => format!("class=\"{}", c.split_once('.').unwrap().1),
        };
        Source::locate(html, gbk, needle)
    }

    /// Finds the body container in (a variant of) the page.
    fn locate(html: String, gbk: bool, needle: String) -> Source {
        let at = html
            .find(&needle)
            .unwrap_or_else(|| panic!("{needle} not found"));
        let lt = html[..at].rfind('<').unwrap();
        let gt = at + html[at..].find('>').unwrap() + 1;
        let end = html.rfind("</body>").unwrap_or(html.len());
        Source {
            html,
            gbk,
            needle,
            open: (lt, gt),
            end,
        }
    }

    /// The same page with other text.
    fn with(&self, html: String) -> Source {
        Source::locate(html, self.gbk, self.needle.clone())
    }

    fn bytes(&self, html: &str) -> Vec<u8> {
        if self.gbk {
            let (b, _, unmappable) = encoding_rs::GBK.encode(html);
            assert!(!unmappable, "variant text must be encodable in GBK");
            b.into_owned()
        } else {
            html.as_bytes().to_vec()
        }
    }
}

fn insert(html: &str, at: usize, what: &str) -> String {
    format!("{}{what}{}", &html[..at], &html[at..])
}

fn sidebar(rng: &mut Rng) -> String {
    let titles = [
        "全省安全生产电视电话会议召开",
        "防汛抗旱工作部署",
        "森林防灭火专项检查",
        "应急救援队伍拉练",
        "安全生产月活动启动",
        "危化品企业专项整治",
        "地震应急演练举行",
        "冬春火灾防控",
    ];
    let mut items = String::new();
    for _ in 0..(3 + rng.below(4)) {
        let t = titles[rng.below(titles.len() as u64) as usize];
        items.push_str(&format!(
            "<li><a href=\"/art/{}.html\">{t}</a><span>2025-0{}-1{}</span></li>",
            rng.below(100_000),
            1 + rng.below(9),
            rng.below(10)
        ));
    }
    format!(
        "<div class=\"sidebar\"><div class=\"hot\"><h3>热点推荐</h3><ul>{items}</ul></div>\
         <div class=\"links\"><h3>相关链接</h3><ul><li><a href=\"http://www.gov.cn/\">中国政府网</a></li>\
         <li><a href=\"/x{}.html\">应急管理部</a></li></ul></div></div>",
        rng.below(1000)
    )
}

/// Chrome that changes on every request: counters, a generation stamp.
fn footer(rng: &mut Rng) -> String {
    format!(
        "<div class=\"footer\"><p>访问量：{}</p><p>页面生成时间：2025-0{}-{:02} {:02}:{:02}:{:02}</p>\
         <p>您是第{}位访客</p></div>",
        rng.below(10_000_000),
        1 + rng.below(9),
        1 + rng.below(28),
        rng.below(24),
        rng.below(60),
        rng.below(60),
        rng.below(1_000_000)
    )
}

/// Tokens inside the body container, where only markup can hide them.
fn tokens(rng: &mut Rng) -> String {
    format!(
        "<script>var _token=\"{}\";var ts={};</script><!-- cache {} --><input type=\"hidden\" name=\"csrf\" value=\"{}\"><style>.x{}{{color:red}}</style>",
        rng.token(),
        rng.next() % 1_000_000_000,
        rng.token(),
        rng.token(),
        rng.below(1000)
    )
}

/// Reverses the items of the last `<ul>` before the body container.
fn reorder_nav(s: &Source) -> Option<String> {
    let head = &s.html[..s.open.0];
    let ul = head.rfind("<ul")?;
    let close = ul + head[ul..].find("</ul>")?;
    let inner_start = ul + head[ul..].find('>')? + 1;
    let items: Vec<&str> = head[inner_start..close]
        .split("</li>")
        .map(str::trim)
        .filter(|i| !i.is_empty())
        .collect();
    if items.len() < 2 {
        return None;
    }
    let reversed: String = items.iter().rev().map(|i| format!("{i}</li>\n")).collect();
    Some(format!(
        "{}{reversed}{}",
        &s.html[..inner_start],
        &s.html[close..]
    ))
}

/// Applies `f` to every character of text (not markup) in the body region.
fn map_body_text(s: &Source, html: &str, mut f: impl FnMut(char, &mut String)) -> String {
    let (start, end) = (s.open.1, html.len() - (s.html.len() - s.end));
    let mut out = String::with_capacity(html.len() * 2);
    out.push_str(&html[..start]);
    let mut in_tag = false;
    let mut in_entity = false;
    for c in html[start..end].chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(c);
                continue;
            }
            '&' if !in_tag => in_entity = true,
            ';' if in_entity => {
                in_entity = false;
                out.push(c);
                continue;
            }
            _ => {}
        }
        if in_tag || in_entity {
            out.push(c);
        } else {
            f(c, &mut out);
        }
    }
    out.push_str(&html[end..]);
    out
}

fn is_cjk(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c)
}

/// Spaces, line breaks, `&nbsp;` and ideographic spaces between characters.
fn whitespace(s: &Source, html: &str) -> String {
    let mut n = 0;
    let spaces = [" ", "\n  ", "&nbsp;", "\u{3000}", "\t", " &nbsp; "];
    map_body_text(s, html, |c, out| {
        out.push(c);
        if is_cjk(c) {
            n += 1;
            if n % 7 == 0 {
                out.push_str(spaces[(n / 7) % spaces.len()]);
            }
        }
    })
}

/// Half-width digits and punctuation made full-width, and the reverse.
fn width(s: &Source, html: &str) -> String {
    map_body_text(s, html, |c, out| {
        let swapped = match c {
            '0'..='9' => char::from_u32(c as u32 - '0' as u32 + '０' as u32).unwrap(),
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap(),
            ',' => '，',
            '，' => ',',
            ':' => '：',
            '：' => ':',
            '(' => '（',
            '（' => '(',
            ')' => '）',
            '）' => ')',
            ';' => '；',
            '；' => ';',
            _ => c,
        };
        out.push(swapped);
    })
}

/// Every kind of noise at once, freshly randomised.
fn all_noise(s: &Source, rng: &mut Rng) -> String {
    let mut v = s.with(reorder_nav(s).unwrap_or_else(|| s.html.clone()));
    v = v.with(insert(&v.html, v.end, &footer(rng)));
    v = v.with(insert(&v.html, v.open.1, &tokens(rng)));
    v = v.with(insert(&v.html, v.open.0, &sidebar(rng)));
    v = v.with(whitespace(&v, &v.html));
    width(&v, &v.html)
}

/// A run of at least three CJK characters from `prefix` that occurs exactly
/// once in `html` after `from`: where a one-character edit lands in that
/// section and nowhere else.
fn unique_run(html: &str, from: usize, prefix: &str) -> Option<(usize, String)> {
    let runs: Vec<String> = prefix
        .split(|c: char| !is_cjk(c))
        .filter(|r| r.chars().count() >= 3)
        .map(str::to_string)
        .collect();
    runs.into_iter().find_map(|r| {
        let at = html[from..].find(&r)? + from;
        (html.matches(&r).count() == 1).then_some((at, r))
    })
}

#[test]
fn noise_never_versions_and_every_one_character_edit_is_caught() {
    let m = manifest();
    let site = fixture_site(&m);
    let rt = rt();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut edits_checked = 0;
    let mut reordered = 0;
    for province in m.provinces() {
        let exp = m.article(&format!("{province}/article.v1.html")).clone();
        let src_page = Source::load(&exp);
        let path = format!("/noise/{province}.html");
        let serve = |html: &str| {
            site.set(
                &path,
                Page::html(&exp.http_content_type, src_page.bytes(html)),
            );
        };
        serve(&src_page.html);
        let project = Project::new(&format!(
            "{FAST_SETTINGS}{}",
            article_source(&province, "某省", &site.url(&path))
        ));
        let checker = project.checker();
        let src = checker.config.source(&province).unwrap().clone();
        let check = || rt.block_on(checker.check_source(&src)).outcome;
        assert!(matches!(check(), Outcome::Stored { version: 1, .. }));

        let nav = reorder_nav(&src_page);
        reordered += usize::from(nav.is_some());
        let mut variants: Vec<(&str, String)> = vec![
            (
                "footer",
                insert(&src_page.html, src_page.end, &footer(&mut rng)),
            ),
            (
                "tokens",
                insert(&src_page.html, src_page.open.1, &tokens(&mut rng)),
            ),
            (
                "sidebar",
                insert(&src_page.html, src_page.open.0, &sidebar(&mut rng)),
            ),
            (
                "sidebar-rotated",
                insert(&src_page.html, src_page.open.0, &sidebar(&mut rng)),
            ),
            ("whitespace", whitespace(&src_page, &src_page.html)),
            ("width", width(&src_page, &src_page.html)),
        ];
        if let Some(nav) = nav {
            variants.push(("nav", nav));
        }
        for i in 0..3 {
            variants.push((
                ["all-1", "all-2", "all-3"][i],
                all_noise(&src_page, &mut rng),
            ));
        }
        for (what, html) in &variants {
            assert_ne!(html, &src_page.html, "{province} {what}: variant differs");
            serve(html);
            assert_eq!(
                check(),
                Outcome::Unchanged { version: 1 },
                "{province}: {what} made a version"
            );
        }
        assert_eq!(checker.store.versions(&province).unwrap().len(), 1);

        // A one-character edit in each section, on top of all the noise.
        let mut version = 1;
        for sec in &exp.sections {
            let Some((at, run)) = unique_run(&src_page.html, src_page.open.1, &sec.text_prefix)
            else {
                continue;
            };
            let last = run.chars().last().unwrap();
            let replacement = if last == '某' { '甲' } else { '某' };
            let edit_at = at + run.len() - last.len_utf8();
            let mut edited = src_page.html.clone();
            edited.replace_range(edit_at..edit_at + last.len_utf8(), &replacement.to_string());
            let edited_src = src_page.with(edited);
            serve(&all_noise(&edited_src, &mut rng));
            version += 1;
            assert_eq!(
                check(),
                Outcome::Stored {
                    version,
                    alerted: true
                },
                "{province}: edit in {} not caught",
                sec.path
            );
            let vs = checker.store.versions(&province).unwrap();
            let old = checker.store.document(&vs[vs.len() - 2]).unwrap();
            let new = checker.store.document(&vs[vs.len() - 1]).unwrap();
            let d = diff::diff(&old, &new);
            assert_eq!(
                d.changed(),
                vec![sec.path.clone()],
                "{province}: edit in {}",
                sec.path
            );
            assert!(
                d.added().is_empty() && d.removed().is_empty(),
                "{province}: {d:?}"
            );
            edits_checked += 1;
            // Back to the original, with different noise: one more version.
            serve(&all_noise(&src_page, &mut rng));
            version += 1;
            assert!(matches!(check(), Outcome::Stored { version: v, .. } if v == version));
        }
    }
    eprintln!("{edits_checked} section edits, navigation reordered on {reordered} pages");
    assert!(
        edits_checked >= 10,
        "only {edits_checked} section edits could be placed"
    );
    assert!(
        reordered >= 3,
        "navigation reordered on only {reordered} pages"
    );
}

#[test]
fn ignore_rules_drop_a_counter_inside_the_body() {
    let m = manifest();
    let site = fixture_site(&m);
    let rt = rt();
    let exp = m.article("jiangsu/article.v1.html").clone();
    let page = Source::load(&exp);
    let sec = &exp.sections[0];
    let (at, run) = unique_run(&page.html, page.open.1, &sec.text_prefix).expect("anchor");
    let with_count = |n: u32| insert(&page.html, at + run.len(), &format!("浏览次数：{n}"));
    for (ignore, expect_new_version) in [("", true), ("ignore = [\"浏览次数：\\\\d+\"]\n", false)]
    {
        let path = format!("/counter{}.html", ignore.len());
        site.set(
            &path,
            Page::html(&exp.http_content_type, page.bytes(&with_count(17))),
        );
        let project = Project::new(&format!(
            "{FAST_SETTINGS}{}{ignore}",
            article_source("js", "江苏省", &site.url(&path))
        ));
        let checker = project.checker();
        let src = checker.config.source("js").unwrap().clone();
        assert!(matches!(
            rt.block_on(checker.check_source(&src)).outcome,
            Outcome::Stored { version: 1, .. }
        ));
        site.set(
            &path,
            Page::html(&exp.http_content_type, page.bytes(&with_count(18_342))),
        );
        let outcome = rt.block_on(checker.check_source(&src)).outcome;
        if expect_new_version {
            // Without the rule the counter is body text, and it changed.
            assert!(
                matches!(outcome, Outcome::Stored { version: 2, .. }),
                "{outcome:?}"
            );
        } else {
            assert_eq!(outcome, Outcome::Unchanged { version: 1 });
            let doc = checker
                .store
                .document(&checker.store.latest("js").unwrap().unwrap())
                .unwrap();
            assert!(
                !doc.sections.iter().any(|s| s.text.contains("浏览次数")),
                "counter stripped"
            );
        }
    }
}
