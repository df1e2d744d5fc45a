//! What one check is about: the article's identity (as the catalogue names
//! it) and the rules of the source it is checked under — its own, or for
//! a discovered article, its listing's.

use std::sync::Arc;

use url::Url;

use crate::catalog::SourceEntry;
use crate::config::{Region, Source, SourceRules};
use crate::model::ExtractOptions;

/// An article to check: a configured `article` source, or one discovered on
/// a listing (which inherits the listing's province, region and recipients).
#[derive(Debug, Clone)]
pub struct Target {
    pub id: String,
    pub name: String,
    pub province: String,
    pub region: Region,
    pub url: Url,
    pub extract: ExtractOptions,
    /// Its source's rules (for a discovered article, its listing's): the
    /// same shared copy, not one per article.
    pub rules: Arc<SourceRules>,
    /// The listing it was discovered on.
    pub listing: Option<String>,
}

impl Target {
    pub fn from_source(s: &Source) -> Target {
        Target::named(
            s,
            SourceEntry::configured(s, 0),
            s.url.clone(),
            ExtractOptions::clone(&s.extract),
        )
    }

    /// A discovered article, checked with its listing's settings but the
    /// generic extractor (the listing's selectors describe the listing);
    /// named as the catalogue names it.
    pub fn discovered(listing: &Source, id: String, url: Url, title: &str) -> Target {
        let who = SourceEntry::configured(listing, 0).discovered_on(&id, url.as_str(), title);
        let extract = ExtractOptions {
            encoding: listing.extract.encoding.clone(),
            ..ExtractOptions::default()
        };
        Target::named(listing, who, url, extract)
    }

    /// `who` as the catalogue names it, checked with `settings`' rules.
    fn named(settings: &Source, who: SourceEntry, url: Url, extract: ExtractOptions) -> Target {
        Target {
            id: who.id,
            name: who.name,
            province: who.province,
            region: settings.region,
            url,
            extract,
            rules: settings.rules.clone(),
            listing: who.listing,
        }
    }

    pub(super) fn host_allowed(&self, url: &Url) -> bool {
        crate::config::host_allowed(&self.url, &self.rules.allowed_hosts, url)
    }
}
