//! The pages of the view, one file each, and what several of them show
//! about a source: its catalogue entry with its fetch status.

pub(crate) mod diff;
pub(crate) mod feed;
pub(crate) mod index;
pub(crate) mod matrix;
pub(crate) mod outbox;
pub(crate) mod search;
pub(crate) mod source;
pub(crate) mod version;

use crate::catalog::SourceEntry;
use crate::config::{Config, Region};
use crate::present::beijing_minutes;
use crate::store::{FetchState, Store, StoreError, VersionRecord};
use jiff::Timestamp;

// ----- sources and their status --------------------------------------------

/// One line of the overview: a configured source, an article found on a
/// listing, or a source only the store still remembers.
pub(crate) struct Entry {
    id: String,
    name: String,
    province: String,
    region: Option<Region>,
    kind: &'static str,
    url: String,
    listing: Option<String>,
    state: FetchState,
    latest: Option<VersionRecord>,
}

pub(crate) fn status_badge(e: &Entry) -> String {
    let st = &e.state;
    if st.consecutive_failures > 0 {
        format!(
            "<span class=\"badge b-bad\">失败 failing ×{}</span>",
            st.consecutive_failures
        )
    } else if st.last_checked.is_none() && e.latest.is_none() {
        "<span class=\"badge b-warn\">未检查 not checked</span>".to_string()
    } else {
        "<span class=\"badge b-ok\">正常 OK</span>".to_string()
    }
}

pub(crate) fn kind_badge(kind: &str) -> &'static str {
    match kind {
        "listing" => "<span class=\"badge\">栏目 listing</span>",
        "discovered" => "<span class=\"badge\">发现 discovered</span>",
        "stored" => "<span class=\"badge b-warn\">未配置 not configured</span>",
        _ => "<span class=\"badge\">文章 article</span>",
    }
}

impl Entry {
    /// `who` with its fetch status and latest version.
    pub(crate) fn of(store: &Store, who: SourceEntry) -> Result<Entry, StoreError> {
        Ok(Entry {
            state: store.fetch_state(&who.id)?,
            latest: store.latest(&who.id)?,
            kind: who.origin.name(),
            id: who.id,
            name: who.name,
            province: who.province,
            region: who.region,
            url: who.url,
            listing: who.listing,
        })
    }
}

/// Finds a source by id among configured, discovered and stored ones.
pub(crate) fn find_entry(
    store: &Store,
    config: &Config,
    id: &str,
) -> Result<Option<Entry>, StoreError> {
    match crate::catalog::find_in(config, store, id)? {
        Some(who) => Ok(Some(Entry::of(store, who)?)),
        None => Ok(None),
    }
}

pub(crate) fn bj(ts: Timestamp) -> String {
    beijing_minutes(ts)
}

pub(crate) fn bj_opt(ts: Option<Timestamp>) -> String {
    ts.map_or_else(|| "—".to_string(), bj)
}

/// A source's URL as a link when it is http(s) (a stored or discovered URL
/// came from the web), as text otherwise.
pub(crate) fn source_link(url: &str) -> String {
    crate::present::link_html(url, url, " rel=\"noopener noreferrer\"")
        .unwrap_or_else(|| crate::text::escape_html(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_source_urls_become_links() {
        assert_eq!(
            source_link("https://yjt.example.cn/a?b=1&c=2"),
            "<a href=\"https://yjt.example.cn/a?b=1&amp;c=2\" rel=\"noopener noreferrer\">\
             https://yjt.example.cn/a?b=1&amp;c=2</a>"
        );
        let js = source_link("javascript:alert(\"x\")");
        assert!(!js.contains("<a"), "{js}");
        assert_eq!(js, "javascript:alert(&quot;x&quot;)");
    }
}
