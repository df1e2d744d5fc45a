//! One catalogue of sources: who source X is — configured in the sources
//! file, discovered on a configured listing, or only remembered by the
//! store — with its name, province, region, URL, kind and recipients.
//! The checker, the alert renderer, the web view and the compilation all
//! ask here, so a source is named and addressed the same way everywhere.
//!
//! A [`Catalog`] is plain data built from the configuration, so that a
//! read-only command can hand it to the daemon that holds the store (see
//! [`crate::alert::AlertConfig`] and [`crate::audit::Query`]). What the
//! store knows (discovered articles, stored versions) is passed in.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use crate::config::{Config, Region, Source, SourceKind};
use crate::model::sha256_hex;
use crate::store::{Store, StoreError, Tracked};

/// Where a source's identity comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// A configured `article` source.
    #[default]
    Article,
    /// A configured `listing` source.
    Listing,
    /// An article found on a listing.
    Discovered,
    /// In the store only: the configuration no longer names it.
    Stored,
}

impl Origin {
    /// As the web view and logs name it.
    pub fn name(self) -> &'static str {
        match self {
            Origin::Article => "article",
            Origin::Listing => "listing",
            Origin::Discovered => "discovered",
            Origin::Stored => "stored",
        }
    }
}

/// One source as every output names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceEntry {
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// e.g. `江苏省`; empty when nothing configured says it.
    #[serde(default)]
    pub province: String,
    #[serde(default)]
    pub region: Option<Region>,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub origin: Origin,
    /// The listing a discovered article was found on.
    #[serde(default)]
    pub listing: Option<String>,
    /// The source's own recipients, in addition to `[mail] to`.
    #[serde(default)]
    pub recipients: Vec<String>,
    /// The chat channels its alerts go to (a discovered article takes
    /// its listing's).
    #[serde(default)]
    pub channels: Vec<String>,
    /// Position in the sources file (a discovered article takes its
    /// listing's).
    #[serde(default)]
    pub order: usize,
}

impl SourceEntry {
    /// A configured source, at position `order` of the sources file.
    pub fn configured(s: &Source, order: usize) -> SourceEntry {
        SourceEntry {
            id: s.id.clone(),
            name: s.name.clone(),
            province: s.province.clone(),
            region: Some(s.region),
            url: s.url.to_string(),
            origin: match s.kind {
                SourceKind::Article => Origin::Article,
                SourceKind::Listing => Origin::Listing,
            },
            listing: None,
            recipients: s.rules.recipients.clone(),
            channels: s.rules.channels.clone(),
            order,
        }
    }

    /// An article found on this listing: named by its title (the
    /// listing's name until it has one), belonging where the listing
    /// belongs and heard of by the listing's recipients.
    pub fn discovered_on(&self, id: &str, url: &str, title: &str) -> SourceEntry {
        SourceEntry {
            id: id.to_string(),
            name: if title.is_empty() { &self.name } else { title }.to_string(),
            province: self.province.clone(),
            region: self.region,
            url: url.to_string(),
            origin: Origin::Discovered,
            listing: Some(self.id.clone()),
            recipients: self.recipients.clone(),
            channels: self.channels.clone(),
            order: self.order,
        }
    }
}

/// What the store remembers of a source's latest version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stored {
    pub title: String,
    pub url: String,
}

/// Every configured source, in the order of the sources file.
///
/// Either a list of entries (what a read-only command sends the daemon,
/// a test), or a view of a loaded configuration ([`Catalog::of`]), which
/// builds an entry only when one is asked for: the daemon keeps one per
/// loaded configuration and hands it to delivery, the search index and
/// the web view, instead of a copy of every source (at 100,000 sources a
/// listed catalogue is some 25 MB). A clone is a few pointers.
/// (De)serialised as the list of its entries.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// The listed entries (none when it is a view of `config`); changed
    /// through `Arc::make_mut` (a copy, if it is shared).
    pub sources: Arc<Vec<SourceEntry>>,
    /// The configuration it is a view of.
    config: Option<Arc<Config>>,
    /// Each id's position in `sources` (its first), built on the first
    /// lookup: at 100,000 sources a walk per lookup is what every alert
    /// and every indexed version would pay.
    by_id: Arc<OnceLock<ById>>,
}

/// How many sources the index was built over, and each id's position.
type ById = (usize, HashMap<String, usize>);

impl Serialize for Catalog {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.entries().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Catalog {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Catalog, D::Error> {
        Vec::<SourceEntry>::deserialize(d).map(Catalog::new)
    }
}

/// Two catalogues are equal when they list the same sources, whether or
/// not either has been asked anything yet.
impl PartialEq for Catalog {
    fn eq(&self, other: &Catalog) -> bool {
        self.entries() == other.entries()
    }
}

impl Eq for Catalog {}

impl Catalog {
    pub fn new(sources: Vec<SourceEntry>) -> Catalog {
        Catalog {
            sources: Arc::new(sources),
            config: None,
            by_id: Arc::default(),
        }
    }

    /// A copy of every configured source of `config` (for a catalogue
    /// that leaves the process, or outlives the configuration).
    pub fn from_config(config: &Config) -> Catalog {
        Catalog::new(
            config
                .sources
                .iter()
                .enumerate()
                .map(|(order, s)| SourceEntry::configured(s, order))
                .collect(),
        )
    }

    /// A view of `config`: nothing is copied until an entry is asked for.
    pub fn of(config: Arc<Config>) -> Catalog {
        Catalog {
            sources: Arc::default(),
            config: Some(config),
            by_id: Arc::default(),
        }
    }

    /// Every entry, in the order of the sources file.
    pub fn entries(&self) -> std::borrow::Cow<'_, [SourceEntry]> {
        match &self.config {
            Some(c) => std::borrow::Cow::Owned(
                c.sources
                    .iter()
                    .enumerate()
                    .map(|(order, s)| SourceEntry::configured(s, order))
                    .collect(),
            ),
            None => std::borrow::Cow::Borrowed(self.sources.as_slice()),
        }
    }

    /// The configured source `id`.
    pub fn configured(&self, id: &str) -> Option<SourceEntry> {
        if let Some(c) = &self.config {
            return c
                .position(id)
                .and_then(|i| c.sources.get(i).map(|s| SourceEntry::configured(s, i)));
        }
        let (len, by_id) = self.by_id.get_or_init(|| {
            let mut m = HashMap::with_capacity(self.sources.len());
            for (i, s) in self.sources.iter().enumerate() {
                m.entry(s.id.clone()).or_insert(i);
            }
            (self.sources.len(), m)
        });
        if *len != self.sources.len() {
            // `sources` grew or shrank after the index was built.
            return self.sources.iter().find(|s| s.id == id).cloned();
        }
        by_id
            .get(id)
            .and_then(|&i| self.sources.get(i))
            .filter(|s| s.id == id)
            .cloned()
    }

    /// Who `id` is, from the configuration and what the store knows of it:
    /// its discovery record (`tracked`) and its latest version (`stored`).
    /// An article is tracked only after its first version is stored, so a
    /// fresh discovery is recognised by its [`derived_id`] too. `None` when
    /// nothing knows the id.
    pub fn resolve(
        &self,
        id: &str,
        tracked: Option<&Tracked>,
        stored: Option<Stored>,
    ) -> Option<SourceEntry> {
        if let Some(s) = self.configured(id) {
            return Some(s);
        }
        let stored = stored.unwrap_or_default();
        let listing_id = tracked
            .map(|t| t.listing.as_str())
            .or_else(|| derived_listing(id));
        let url = tracked.map_or(stored.url.as_str(), |t| t.url.as_str());
        let title = tracked
            .map(|t| t.title.as_str())
            .filter(|t| !t.is_empty())
            .unwrap_or(stored.title.as_str());
        match listing_id.and_then(|l| self.configured(l)) {
            Some(listing) => Some(listing.discovered_on(id, url, title)),
            None if tracked.is_none() && stored == Stored::default() => None,
            None => Some(SourceEntry {
                id: id.to_string(),
                name: if title.is_empty() { id } else { title }.to_string(),
                province: String::new(),
                region: None,
                url: url.to_string(),
                origin: if tracked.is_some() {
                    Origin::Discovered
                } else {
                    Origin::Stored
                },
                listing: tracked.map(|t| t.listing.clone()),
                recipients: Vec::new(),
                channels: Vec::new(),
                order: usize::MAX,
            }),
        }
    }

    /// [`Catalog::resolve`] with the store's records read here.
    pub fn find(&self, store: &Store, id: &str) -> Result<Option<SourceEntry>, StoreError> {
        if let Some(s) = self.configured(id) {
            return Ok(Some(s));
        }
        let tracked = store.tracked_one(id)?;
        Ok(self.resolve(id, tracked.as_ref(), stored(store, id)?))
    }
}

/// [`Catalog::find`] without building a catalogue of every source: the
/// configured source `id`, or the listing a discovered article belongs to,
/// looked up in the configuration's index (one web page asks for one
/// source; 100,000 copies for it would be wasted).
pub fn find_in(
    config: &Config,
    store: &Store,
    id: &str,
) -> Result<Option<SourceEntry>, StoreError> {
    let entry = |i: usize| config.sources.get(i).map(|s| SourceEntry::configured(s, i));
    if let Some(e) = config.position(id).and_then(entry) {
        return Ok(Some(e));
    }
    let tracked = store.tracked_one(id)?;
    let listing = tracked
        .as_ref()
        .map(|t| t.listing.as_str())
        .or_else(|| derived_listing(id));
    let few = Catalog::new(
        listing
            .and_then(|l| config.position(l))
            .and_then(entry)
            .into_iter()
            .collect(),
    );
    Ok(few.resolve(id, tracked.as_ref(), stored(store, id)?))
}

/// What the store knows of `id`'s latest version, for [`Catalog::resolve`].
fn stored(store: &Store, id: &str) -> Result<Option<Stored>, StoreError> {
    Ok(store.latest(id)?.map(|r| Stored {
        title: r.title,
        url: r.url,
    }))
}

/// A stable id for an article found on a listing: the listing's id and a
/// short hash of the URL, so the same link always maps to the same history.
pub fn derived_id(listing: &str, url: &str) -> String {
    format!("{listing}.{}", &sha256_hex(url.as_bytes())[..10])
}

/// The listing a [`derived_id`] was made on, if `id` has that form.
pub fn derived_listing(id: &str) -> Option<&str> {
    let (listing, hash) = id.rsplit_once('.')?;
    let is_hash = hash.len() == 10 && hash.bytes().all(|b| b.is_ascii_hexdigit());
    (is_hash && !listing.is_empty()).then_some(listing)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::new(vec![SourceEntry {
            id: "zj-list".into(),
            name: "浙江省应急管理厅".into(),
            province: "浙江省".into(),
            region: Some(Region::parse("华东").unwrap()),
            url: "https://yjt.zj.gov.cn/list.html".into(),
            origin: Origin::Listing,
            listing: None,
            recipients: vec!["zj@example.org".into()],
            channels: vec!["zj-ding".into()],
            order: 3,
        }])
    }

    #[test]
    fn configured_sources_are_found_by_id_before_and_after_a_change() {
        let entry = |id: &str, order| SourceEntry {
            id: id.into(),
            name: format!("{id} 厅"),
            province: "浙江省".into(),
            region: None,
            url: format!("https://example.org/{id}.html"),
            origin: Origin::Article,
            listing: None,
            recipients: Vec::new(),
            channels: Vec::new(),
            order,
        };
        let mut c = Catalog::new((0..500).map(|n| entry(&format!("s{n}"), n)).collect());
        let fresh = c.clone();
        assert_eq!(c.configured("s377").map(|e| e.order), Some(377));
        assert_eq!(c.configured("s0").map(|e| e.order), Some(0));
        assert!(c.configured("s500").is_none());
        assert!(c.configured("").is_none());
        // Asking builds the index; equality is about the sources only.
        assert_eq!(c, fresh);
        // A catalogue changed after it was asked still answers right.
        Arc::make_mut(&mut c.sources).push(entry("late", 500));
        assert_eq!(c.configured("late").map(|e| e.order), Some(500));
        assert_eq!(c.configured("s12").map(|e| e.order), Some(12));
    }

    #[test]
    fn discoveries_belong_to_their_listing() {
        let c = catalog();
        let id = derived_id("zj-list", "https://yjt.zj.gov.cn/art/1.html");
        // Not tracked yet: known by its id alone.
        let e = c.resolve(&id, None, None).unwrap();
        assert_eq!(e.origin, Origin::Discovered);
        assert_eq!(
            (e.name.as_str(), e.province.as_str()),
            ("浙江省应急管理厅", "浙江省")
        );
        assert_eq!((e.recipients.len(), e.order), (1, 3));
        let t = Tracked {
            id: "other".into(),
            url: "https://yjt.zj.gov.cn/art/2.html".into(),
            title: "全省会议".into(),
            listing: "zj-list".into(),
            discovered_at: jiff::Timestamp::UNIX_EPOCH,
        };
        let e = c.resolve("other", Some(&t), None).unwrap();
        assert_eq!(
            (e.name.as_str(), e.url.as_str()),
            ("全省会议", t.url.as_str())
        );
        assert_eq!(e.listing.as_deref(), Some("zj-list"));
        assert_eq!(e.channels, ["zj-ding"], "channels come from the listing");
    }

    #[test]
    fn stored_only_sources_are_named_by_title_or_id() {
        let c = catalog();
        assert!(c.resolve("gone", None, None).is_none());
        let e = c
            .resolve(
                "gone",
                None,
                Some(Stored {
                    title: String::new(),
                    url: "https://a/".into(),
                }),
            )
            .unwrap();
        assert_eq!((e.name.as_str(), e.origin), ("gone", Origin::Stored));
        assert!(e.province.is_empty() && e.region.is_none());
    }

    #[test]
    fn derived_ids_name_their_listing() {
        let id = derived_id("zj.list", "https://yjt.zj.gov.cn/art/1.html");
        assert_eq!(derived_listing(&id), Some("zj.list"));
        for plain in ["jiangsu", "zj.list", "a.0123", ".0123456789"] {
            assert_eq!(derived_listing(plain), None, "{plain}");
        }
    }

    fn two_sources() -> Config {
        let text = "[settings]\ninterval = \"60s\"\n\
            \n[[source]]\nid = \"sh\"\nname = \"上海\"\nprovince = \"上海市\"\nregion = \"华东\"\nurl = \"http://127.0.0.1:1/a.html\"\nkind = \"article\"\nrecipients = [\"sh@example.org\"]\n\
            \n[[source]]\nid = \"js-list\"\nprovince = \"江苏省\"\nregion = \"华东\"\nurl = \"http://127.0.0.1:1/list/\"\nkind = \"listing\"\nlink_pattern = \"会议\"\n";
        crate::config::parse(text, std::path::Path::new("sources.toml")).unwrap()
    }

    #[test]
    fn a_view_of_the_configuration_answers_as_a_copy_of_it() {
        let config = Arc::new(two_sources());
        let copy = Catalog::from_config(&config);
        let view = Catalog::of(config.clone());
        assert!(view.sources.is_empty(), "a view copies nothing");
        assert_eq!(view, copy);
        assert_eq!(
            serde_json::to_string(&view).unwrap(),
            serde_json::to_string(&copy).unwrap()
        );
        for id in ["sh", "js-list", "nobody"] {
            assert_eq!(view.configured(id), copy.configured(id), "{id}");
        }
        assert_eq!(view.configured("js-list").map(|e| e.order), Some(1));
        let found = derived_id("js-list", "http://127.0.0.1:1/art/1.html");
        let e = view.resolve(&found, None, None).unwrap();
        assert_eq!(e, copy.resolve(&found, None, None).unwrap());
        assert_eq!(
            (e.origin, e.province.as_str()),
            (Origin::Discovered, "江苏省")
        );
    }

    #[test]
    fn one_source_is_found_without_a_catalogue_as_with_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let config = two_sources();
        let t = Tracked {
            id: derived_id("js-list", "http://127.0.0.1:1/art/2.html"),
            url: "http://127.0.0.1:1/art/2.html".into(),
            title: "全省会议".into(),
            listing: "js-list".into(),
            discovered_at: jiff::Timestamp::UNIX_EPOCH,
        };
        store.track(&t).unwrap();
        let fresh = derived_id("js-list", "http://127.0.0.1:1/art/3.html");
        let all = Catalog::from_config(&config);
        for id in ["sh", "js-list", t.id.as_str(), fresh.as_str(), "nobody"] {
            assert_eq!(
                find_in(&config, &store, id).unwrap(),
                all.find(&store, id).unwrap(),
                "{id}"
            );
        }
        let e = find_in(&config, &store, &t.id).unwrap().unwrap();
        assert_eq!((e.name.as_str(), e.order), ("全省会议", 1));
        assert!(find_in(&config, &store, "nobody").unwrap().is_none());
    }

    #[test]
    fn old_requests_still_read() {
        // What a previous release sent as a compile source / alert source.
        let c: Catalog = serde_json::from_str(
            r#"[{"id":"sh","province":"上海市","region":"华东","order":2},
                {"id":"js","name":"江苏","province":"江苏省","url":"https://a/","recipients":[]}]"#,
        )
        .unwrap();
        assert_eq!(c.sources[0].order, 2);
        assert_eq!(c.sources[1].name, "江苏");
    }
}
