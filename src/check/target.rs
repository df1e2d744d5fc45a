//! What one check is about: the article's identity (as the catalogue names
//! it) and the rules of the source it is checked under — its own, or for
//! a discovered article, its listing's.

use regex::Regex;
use url::Url;

use crate::catalog::SourceEntry;
use crate::config::{Region, Source};
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
    pub recipients: Vec<String>,
    pub ignore: Vec<Regex>,
    pub alert_on_first: bool,
    /// Fetch a changed page once more and learn its volatile text.
    pub confirm_changes: bool,
    pub allowed_hosts: Vec<String>,
    /// The listing it was discovered on.
    pub listing: Option<String>,
    /// The chat channels its alerts go to, besides e-mail.
    pub channels: Vec<String>,
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
            recipients: who.recipients,
            ignore: settings.rules.ignore.clone(),
            alert_on_first: settings.rules.alert_on_first,
            confirm_changes: settings.rules.confirm_changes,
            allowed_hosts: settings.rules.allowed_hosts.clone(),
            listing: who.listing,
            channels: who.channels,
        }
    }

    pub(super) fn host_allowed(&self, url: &Url) -> bool {
        crate::config::host_allowed(&self.url, &self.allowed_hosts, url)
    }
}
