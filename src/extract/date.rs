//! The publish date: from a configured selector, the info line near the
//! title, or `<meta>`; never from a sidebar or the footer.

use std::sync::LazyLock;

use jiff::civil::Date;
use regex::Regex;
use scraper::{ElementRef, Html, Node};

use super::tree::meta_content;
use super::tree::{is_block_tag, is_chrome_tag, is_hard_skip, subtree_text, tokens, walk};
use super::{parse_selector, ExtractError, ExtractOptions};

pub(super) static DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"([0-9]{4})[ \t\x{3000}]*[-/.年][ \t\x{3000}]*([0-9]{1,2})[ \t\x{3000}]*[-/.月][ \t\x{3000}]*([0-9]{1,2})(?:[ \t\x{3000}]*日)?")
        .unwrap_or_else(|e| panic!("static regex: {e}"))
});

/// Labels that introduce a page-generation stamp rather than the article's
/// date; dates right after them are ignored.
pub(super) static STAMP_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(更新|生成|刷新|当前时间|今天是|generated|updated|update)[^\d]{0,8}$")
        .unwrap_or_else(|e| panic!("static regex: {e}"))
});

pub(super) static PUB_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(发布时间|发布日期|发文日期|成文日期|日期|时间|发表于|发布于)[ \t\x{3000}]*[:：]?[ \t\x{3000}]*$")
        .unwrap_or_else(|e| panic!("static regex: {e}"))
});

/// All plausible dates in `s`, each with the text that precedes it.
pub(super) fn dates_in(s: &str) -> impl Iterator<Item = (Date, &str)> {
    DATE.captures_iter(s).filter_map(move |c| {
        let whole = c.get(0)?;
        let y: i16 = c.get(1)?.as_str().parse().ok()?;
        let m: i8 = c.get(2)?.as_str().parse().ok()?;
        let d: i8 = c.get(3)?.as_str().parse().ok()?;
        if !(1990..=2100).contains(&y) {
            return None;
        }
        // Reject digits glued to a longer number (ids, phone numbers).
        let before = &s[..whole.start()];
        if before
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_digit())
        {
            return None;
        }
        let date = Date::new(y, m, d).ok()?;
        Some((date, before))
    })
}

/// The first publish date in free text, ignoring generation stamps and an
/// event's own times.
pub(super) fn parse_date(s: &str) -> Option<Date> {
    dates_in(s)
        .find(|(_, before)| {
            let tail = tail_chars(before, 12);
            !STAMP_LABEL.is_match(tail) && !EVENT_LABEL.is_match(tail)
        })
        .map(|(d, _)| d)
}

pub(super) fn tail_chars(s: &str, n: usize) -> &str {
    match s.char_indices().rev().nth(n.saturating_sub(1)) {
        Some((i, _)) => &s[i..],
        None => s,
    }
}

pub(super) fn find_date(
    doc: &Html,
    opts: &ExtractOptions,
    title: Option<ElementRef<'_>>,
    body: Option<ElementRef<'_>>,
) -> Result<(Option<Date>, &'static str), ExtractError> {
    if let Some(sel) = opts.date.as_deref() {
        let sel = parse_selector(sel, "date")?;
        if let Some(d) = doc
            .select(&sel)
            .find_map(|e| parse_date(&subtree_text(*e, false)))
        {
            return Ok((Some(d), "the configured date selector"));
        }
    }
    // The info line between the title and the body is where CMS templates
    // print the date; read the page text in order, marking that zone.
    let mut zone = String::new();
    let mut outside = String::new();
    let mut state = if title.is_some() { 0 } else { 1 };
    let root = *doc.root_element();
    let body_node = body.map(|b| *b);
    let title_node = title.map(|t| *t);
    walk(root, |n, open| {
        if Some(n) == title_node {
            if !open {
                state = 1;
            }
            return true;
        }
        if Some(n) == body_node {
            if open {
                state = 2;
            }
            return false;
        }
        match n.value() {
            Node::Text(t) if open => {
                if state == 1 && title_node.is_some() {
                    zone.push_str(t);
                } else {
                    outside.push_str(t);
                }
                false
            }
            Node::Element(el) if open => {
                if el.name() == "br" || is_block_tag(el.name()) {
                    zone.push(' ');
                    outside.push(' ');
                }
                !(is_hard_skip(el.name())
                    || is_chrome_tag(el.name())
                    || (n != root && is_footerish(el)))
            }
            Node::Element(_) => true,
            _ => n == root,
        }
    });
    // A disclosure table lists 成文日期 beside 发布日期: publication wins.
    if let Some((d, _)) =
        dates_in(&zone).find(|(_, before)| PUBLISHED_LABEL.is_match(tail_chars(before, 12)))
    {
        return Ok((
            Some(d),
            "the info line between headline and body (its 发布日期)",
        ));
    }
    if let Some(d) = parse_date(&zone) {
        return Ok((Some(d), "the info line between headline and body"));
    }
    // Some templates print the info line as the body's first lines.
    if let Some(d) = body.and_then(|b| leading_info_date(*b)) {
        return Ok((Some(d), "the info line at the top of the body"));
    }
    // What the page shows beats what its head says: TRS and Hanweb fill
    // `PubDate` with the time the page was generated, which can be days
    // after the date printed on the page. So the head counts only when the
    // page shows no date of its own, and never when it says itself that
    // the value is its generation stamp.
    if let Some(d) = meta_content(doc, META_DATES)
        .filter(|m| !is_generation_stamp(doc, m))
        .and_then(parse_date)
    {
        // An event page (开始时间 … 结束时间) shows when the event is, not
        // when it was published; its head's stamp is not a publish date.
        if !dates_in(&outside).any(|(_, before)| EVENT_LABEL.is_match(tail_chars(before, 12))) {
            return Ok((Some(d), "<meta> publish time (the page shows no date)"));
        }
        return Ok((
            None,
            "none: an event page (开始时间 …); its <meta> stamp is no publish date",
        ));
    }
    // Otherwise only a labelled date anywhere outside the body and footer,
    // a publication's own label first.
    if let Some((d, _)) =
        dates_in(&outside).find(|(_, before)| PUBLISHED_LABEL.is_match(tail_chars(before, 12)))
    {
        return Ok((Some(d), "a 发布日期 outside the body"));
    }
    let labelled = dates_in(&outside)
        .find(|(_, before)| is_publish_labelled(before))
        .map(|(d, _)| d);
    Ok(match labelled {
        Some(d) => (Some(d), "a labelled date outside the body"),
        None => (None, "none: the page shows no publish date"),
    })
}

/// Whether the text before a date ends in a publish label (and not in a
/// generation stamp's or an event's label, which also end in 时间).
fn is_publish_labelled(before: &str) -> bool {
    let tail = tail_chars(before, 12);
    PUB_LABEL.is_match(tail) && !STAMP_LABEL.is_match(tail) && !EVENT_LABEL.is_match(tail)
}

/// `<meta>` names that TRS, Hanweb and other CMSs give the publish time.
const META_DATES: &[&str] = &[
    "PubDate",
    "publishdate",
    "pubdate",
    "firstpublishedtime",
    "article:published_time",
    "dc.date",
];

/// The labels that name the publication itself.
static PUBLISHED_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(发布日期|发布时间|发布于)[ \t\x{3000}]*[:：]?[ \t\x{3000}]*$")
        .unwrap_or_else(|e| panic!("static regex: {e}"))
});

/// Labels of an event's own times, which are not publish dates.
static EVENT_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(开始时间|结束时间|活动时间|举办时间|展会时间|会议时间|报名时间)[ \t\x{3000}]*[:：]?[ \t\x{3000}]*$")
        .unwrap_or_else(|e| panic!("static regex: {e}"))
});

/// Whether the page's own `<meta name="others" content="页面生成时间 …">`
/// says that `value` is when the page was generated.
fn is_generation_stamp(doc: &Html, value: &str) -> bool {
    let value = value.trim();
    meta_content(doc, &["others"]).is_some_and(|o| match o.find(value) {
        Some(at) => STAMP_LABEL.is_match(tail_chars(o[..at].trim_end(), 12)),
        None => false,
    })
}

/// A date in the info line that opens the body (`日期：2023-06-08 来源：…`):
/// only a labelled date among the first few short lines.
fn leading_info_date(body: super::NodeRef<'_>) -> Option<Date> {
    let text = subtree_text(body, true);
    let head: String = text.chars().take(300).collect();
    let found = dates_in(&head)
        .find(|(_, before)| is_publish_labelled(before))
        .map(|(d, _)| d);
    found
}

pub(super) fn is_footerish(el: &scraper::node::Element) -> bool {
    tokens(el).any(|t| {
        let t = t.to_ascii_lowercase();
        t.starts_with("foot") || t.starts_with("copyright") || t.starts_with("bottom")
    })
}
