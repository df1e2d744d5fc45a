//! Listing pages → candidate article links. A listing ("工作动态", "通知公告")
//! is where a newly published deployment first appears; this module finds its
//! items, including those that Hanweb sites keep in a `<script type="text/xml">`
//! datastore of CDATA records.

use url::Url;

/// One item of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingItem {
    /// Absolute URL, resolved against the page URL.
    pub url: Url,
    /// The link text, display-normalised.
    pub text: String,
    /// The `title` attribute, which often holds the untruncated title.
    pub title_attr: Option<String>,
}

impl ListingItem {
    /// The best available title: the `title` attribute when the link text
    /// was truncated, the link text otherwise.
    pub fn title(&self) -> &str {
        match &self.title_attr {
            Some(t) if !t.is_empty() => t,
            _ => &self.text,
        }
    }
}

/// All article-like links of a listing page in page order, with `javascript:`
/// and `#` links dropped and duplicates removed.
pub fn items(html: &str, base: &Url) -> Vec<ListingItem> {
    let _ = (html, base);
    Vec::new()
}
