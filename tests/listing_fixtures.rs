//! Checks listing extraction against every listing in the fixture manifest.

use crate::common::{fixture, manifest, ListingExp, Manifest};
use bulletin_watch::decode;
use bulletin_watch::listing::{self, ListingItem};
use bulletin_watch::text::comparable;
use url::Url;

/// Any port works: the manifest writes `{port}` wherever it matters.
const PORT: &str = "18080";

fn parse(m: &Manifest, case: &ListingExp) -> (Url, Vec<ListingItem>) {
    let base = Url::parse(&m.at_port(&case.url, PORT)).expect("listing url");
    let bytes = fixture(&case.file);
    let decoded = decode::decode(&bytes, Some(&case.http_content_type), None)
        .unwrap_or_else(|e| panic!("{}: {e}", case.file));
    (base.clone(), listing::items(&decoded.text, &base))
}

fn with_port(m: &Manifest, links: &[String]) -> Vec<String> {
    links.iter().map(|l| m.at_port(l, PORT)).collect()
}

#[test]
fn every_listing_yields_exactly_the_manifest_links() {
    let m = manifest();
    assert!(
        m.listings.len() >= 14,
        "manifest lists {} listings",
        m.listings.len()
    );
    let mut failures = Vec::new();
    for case in &m.listings {
        let (_, items) = parse(&m, case);
        let got: Vec<String> = items.iter().map(|i| i.url.to_string()).collect();
        let want = with_port(&m, &case.links);
        if got != want {
            failures.push(format!("{}:\n  got  {got:#?}\n  want {want:#?}", case.file));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn ignored_hrefs_never_become_items() {
    let m = manifest();
    for case in &m.listings {
        let (base, items) = parse(&m, case);
        for href in &case.ignored_hrefs {
            let resolved = base.join(href).ok();
            for item in &items {
                assert!(
                    Some(&item.url) != resolved.as_ref(),
                    "{}: {href:?} became {}",
                    case.file,
                    item.url
                );
                assert!(item.url.scheme().starts_with("http"), "{}", item.url);
                assert!(item.url.fragment().is_none(), "{}", item.url);
            }
        }
    }
}

#[test]
fn new_items_carry_their_titles() {
    let m = manifest();
    let mut checked = 0;
    for case in m.listings.iter().filter(|c| !c.new_links.is_empty()) {
        let (_, items) = parse(&m, case);
        assert_eq!(case.new_links.len(), case.new_titles.len());
        for (link, title) in with_port(&m, &case.new_links).iter().zip(&case.new_titles) {
            let item = items
                .iter()
                .find(|i| i.url.as_str() == link)
                .unwrap_or_else(|| panic!("{}: {link} missing", case.file));
            assert_eq!(comparable(item.title()), comparable(title), "{}", case.file);
            assert_eq!(comparable(&item.text), comparable(title), "{}", case.file);
            checked += 1;
        }
        for dropped in with_port(&m, &case.dropped_links) {
            assert!(
                items.iter().all(|i| i.url.as_str() != dropped),
                "{}: {dropped} should have moved to page 2",
                case.file
            );
        }
    }
    assert!(checked >= 7);
}

#[test]
fn the_monitored_article_is_listed_with_its_title() {
    let m = manifest();
    for case in &m.listings {
        let (Some(url), Some(title)) = (&case.article_url, &case.article_title) else {
            continue;
        };
        let url = m.at_port(url, PORT);
        let (_, items) = parse(&m, case);
        let item = items
            .iter()
            .find(|i| i.url.as_str() == url)
            .unwrap_or_else(|| panic!("{}: {url} missing", case.file));
        assert_eq!(comparable(item.title()), comparable(title), "{}", case.file);
    }
}
