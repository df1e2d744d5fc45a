//! Alerts: turning a queued alert event into a message, when it is sent or
//! shown. Rendering lives here ([`render`] for subject and bodies,
//! [`email`] for the RFC 5322 form, [`digest`], [`message_id`]); getting a
//! message to people lives in [`crate::delivery`].
//!
//! The outbox keeps alerts as events (which source, which version, what
//! kind) rather than as rendered e-mails: a rendered alert, with its
//! inline-styled HTML part, costs more store space than the one-sentence
//! edit that caused it. Everything in the e-mail can be recomputed from the
//! versions the store keeps and from the configuration, except a `failing`
//! alert's error text and failure count, which the entry carries. Rendering
//! late also means that a renamed source or a changed recipient list
//! applies to alerts that are still waiting.
//!
//! [`Renderer::render`] is the one place where an entry becomes a
//! [`Message`]: delivery ([`crate::outbox`]), the web view and the `outbox`
//! command all go through it, so they show the same subject and Message-ID
//! that the recipients get.
//!
//! A stored version that cannot be read (missing, corrupt) does not hold an
//! alert back: it goes out saying that the changes are unavailable and why.
//! Only an I/O error of the store is returned to the caller, so that
//! delivery can retry the attempt later.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, Origin, SourceEntry, Stored};
use crate::config::Config;
use crate::diff;
use crate::model::{AlertKind, Document};
pub mod chat;
pub mod digest;
pub mod email;
pub mod message_id;
pub mod render;

pub use digest::digest;
pub use email::MessageError;
pub use render::{
    render_changed, render_failing, render_published, render_recovered, render_unavailable,
    AlertContext, Rendered, SUBJECT_TAG,
};

/// A fully rendered message, ready to send as is, any number of times, on
/// any channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Stable Message-ID (without angle brackets), see [`message_id`].
    pub message_id: String,
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Message {
    /// Addresses a rendered alert. `message_id` must stay the same for every
    /// delivery attempt of this alert (see [`message_id::for_alert`]).
    pub fn new(
        message_id: impl Into<String>,
        from: impl Into<String>,
        to: Vec<String>,
        rendered: Rendered,
    ) -> Message {
        Message {
            message_id: message_id.into(),
            from: from.into(),
            to,
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
        }
    }
}
use crate::store::{OutboxEntry, Store, StoreError, Tracked, VersionRecord};

/// What rendering an alert takes from the configuration: the mail addresses
/// and the catalogue of configured sources (what an alert says about each,
/// and who else hears of it). Plain data, so that a read-only command can
/// hand it to the daemon that answers for the store (see
/// [`crate::audit::Query`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertConfig {
    /// `[mail] from`.
    pub from: String,
    /// `[mail] to`: recipients of every alert.
    pub to: Vec<String>,
    /// Every configured source, articles and listings.
    pub sources: Catalog,
}

impl AlertConfig {
    pub fn from_config(config: &Config) -> AlertConfig {
        AlertConfig::with_sources(config, Catalog::from_config(config))
    }

    /// `config`'s mail settings, sources named by `sources` (a catalogue
    /// already built for `config`, such as a view of it).
    pub fn with_sources(config: &Config, sources: Catalog) -> AlertConfig {
        AlertConfig {
            from: config.mail.from.clone(),
            to: config.mail.to.clone(),
            sources,
        }
    }
}

/// Shown in place of an error text that an older version did not record.
const NOT_RECORDED: &str = "（未记录 not recorded）";

/// Why a stored version could not be shown.
#[derive(Debug, thiserror::Error)]
enum Unreadable {
    #[error("version {version} of {id} is not in the store")]
    Missing { id: String, version: u32 },
    #[error("the alert names no version")]
    NoVersion,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Renders outbox entries against one store and one configuration. Cheap to
/// build; build one per batch of entries, since it reads the discovered
/// articles once.
pub struct Renderer<'a> {
    store: &'a Store,
    config: &'a AlertConfig,
    tracked: OnceLock<HashMap<String, Tracked>>,
}

impl<'a> Renderer<'a> {
    pub fn new(store: &'a Store, config: &'a AlertConfig) -> Renderer<'a> {
        Renderer {
            store,
            config,
            tracked: OnceLock::new(),
        }
    }

    /// The e-mail for `entry`, the same every time for the same store and
    /// configuration. Fails only on an I/O error of the store; a version
    /// that cannot be read is reported inside the message instead.
    pub fn render(&self, entry: &OutboxEntry) -> Result<Message, StoreError> {
        let about = self.about(&entry.source)?;
        let name = about.name.clone();
        let mut ctx = AlertContext {
            source_id: entry.source.clone(),
            source_name: name.clone(),
            province: about.province.clone(),
            title: name,
            url: about.url.clone(),
            from_version: None,
            to_version: 0,
            fetched_at: entry.created_at,
        };
        let rendered = match entry.kind {
            AlertKind::Published | AlertKind::Changed => {
                match self.version_alert(entry, &mut ctx) {
                    Ok(r) => r,
                    Err(Unreadable::Store(e)) if is_transient(&e) => return Err(e),
                    Err(e) => render::render_unavailable(&ctx, entry.kind, &e.to_string()),
                }
            }
            AlertKind::Failing => render::render_failing(
                &ctx,
                entry.detail.as_deref().unwrap_or(NOT_RECORDED),
                entry.failures,
            ),
            AlertKind::Recovered => render::render_recovered(&ctx),
            AlertKind::DeliveryFailing | AlertKind::DeliveryRecovered => {
                render::render_delivery_notice(
                    &ctx,
                    entry.kind,
                    entry.notice_of(),
                    entry.detail.as_deref(),
                )
            }
            AlertKind::AnchorFailing | AlertKind::AnchorRecovered => {
                render::render_anchor_notice(&ctx, entry.kind, entry.detail.as_deref())
            }
            AlertKind::HostOverBudget | AlertKind::HostWithinBudget => render::render_host_notice(
                &ctx,
                entry.kind,
                entry.notice_of(),
                entry.detail.as_deref(),
            ),
        };
        Ok(self.address(&entry.key, &about.recipients, rendered))
    }

    /// Who gets `entry`: the `to` of its [`Renderer::render`]ed message,
    /// without rendering it.
    pub fn recipients(&self, entry: &OutboxEntry) -> Result<Vec<String>, StoreError> {
        Ok(self.to(&self.about(&entry.source)?.recipients))
    }

    /// A `published` alert shows the stored document of its version; a
    /// `changed` one the diff from the version before, computed exactly as
    /// the check that queued it did.
    fn version_alert(
        &self,
        entry: &OutboxEntry,
        ctx: &mut AlertContext,
    ) -> Result<Rendered, Unreadable> {
        let version = entry.version.ok_or(Unreadable::NoVersion)?;
        ctx.to_version = version;
        if entry.kind == AlertKind::Published {
            let (record, doc) = self.stored(&entry.source, version)?;
            with_record(ctx, &record);
            return Ok(render::render_published(ctx, &doc));
        }
        let previous = version.saturating_sub(1);
        ctx.from_version = Some(previous);
        let (record, new) = self.stored(&entry.source, version)?;
        with_record(ctx, &record);
        let (_, mut old) = self.stored(&entry.source, previous)?;
        // The older version may predate volatile text learned since (a
        // counter, a stamp): the alert shows the edit, not the mask.
        let rules = crate::volatile::rules(&self.store.fetch_state(&entry.source)?.volatile);
        crate::volatile::apply(&mut old, &rules);
        Ok(render::render_changed(ctx, &diff::diff(&old, &new)))
    }

    fn stored(&self, source: &str, version: u32) -> Result<(VersionRecord, Document), Unreadable> {
        let record = self
            .store
            .version(source, version)?
            .ok_or_else(|| Unreadable::Missing {
                id: source.to_string(),
                version,
            })?;
        let doc = self.store.document(&record)?;
        Ok((record, doc))
    }

    /// The source as the current configuration describes it (see
    /// [`Catalog::resolve`]). What the store remembers is read as far as
    /// it can be: naming never holds an alert back, and a source nothing
    /// knows any more is named by its id.
    fn about(&self, source: &str) -> Result<SourceEntry, StoreError> {
        if let Some(s) = self.config.sources.configured(source) {
            return Ok(s);
        }
        let tracked = readable(self.tracked())?.and_then(|t| t.get(source));
        let stored = match tracked {
            Some(_) => None,
            None => readable(self.store.latest(source))?
                .flatten()
                .map(|r| Stored {
                    title: r.title,
                    url: r.url,
                }),
        };
        Ok(self
            .config
            .sources
            .resolve(source, tracked, stored)
            .unwrap_or_else(|| SourceEntry {
                id: source.to_string(),
                name: source.to_string(),
                province: String::new(),
                region: None,
                url: String::new(),
                origin: Origin::Stored,
                listing: None,
                recipients: Vec::new(),
                channels: Vec::new(),
                order: usize::MAX,
            }))
    }

    fn tracked(&self) -> Result<&HashMap<String, Tracked>, StoreError> {
        if let Some(t) = self.tracked.get() {
            return Ok(t);
        }
        let all = self
            .store
            .tracked()?
            .into_iter()
            .map(|t| (t.id.clone(), t))
            .collect();
        Ok(self.tracked.get_or_init(|| all))
    }

    /// `[mail] to` and the source's own recipients; `[mail] from` when
    /// that leaves nobody (file delivery with nobody configured), so the
    /// message is still well-formed and readable.
    fn to(&self, recipients: &[String]) -> Vec<String> {
        let mut to = self.config.to.clone();
        // `ops@example.org` and `值班室 <ops@example.org>` are one person.
        let mut known: Vec<String> = to.iter().map(|a| email::address_key(a)).collect();
        for r in recipients {
            let key = email::address_key(r);
            if !known.contains(&key) {
                known.push(key);
                to.push(r.clone());
            }
        }
        if to.is_empty() {
            to.push(self.config.from.clone());
        }
        to
    }

    /// The Message-ID follows from the entry's key and the store's instance
    /// id alone, so every attempt and every rendering carries the same one.
    fn address(&self, key: &str, recipients: &[String], r: Rendered) -> Message {
        Message::new(
            message_id::for_alert(key, self.store.instance_id()),
            self.config.from.clone(),
            self.to(recipients),
            r,
        )
    }
}

/// The title and fetch time of the version an alert reports.
fn with_record(ctx: &mut AlertContext, record: &VersionRecord) {
    ctx.title = record.title.clone();
    ctx.fetched_at = record.fetched_at;
}

/// An I/O error may pass; a missing or corrupt record will not.
fn is_transient(e: &StoreError) -> bool {
    e.is_transient()
}

/// `None` for what cannot be read for good, so that it is done without;
/// an I/O error is returned, to be tried again.
fn readable<T>(read: Result<T, StoreError>) -> Result<Option<T>, StoreError> {
    match read {
        Ok(v) => Ok(Some(v)),
        Err(e) if is_transient(&e) => Err(e),
        Err(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::derived_id;

    fn config() -> AlertConfig {
        AlertConfig {
            from: "watch@example.org".into(),
            to: Vec::new(),
            sources: Catalog::new(vec![SourceEntry {
                id: "zj-list".into(),
                name: "浙江省应急管理厅".into(),
                province: "浙江省".into(),
                region: None,
                url: "https://yjt.zj.gov.cn/list.html".into(),
                origin: Origin::Listing,
                listing: None,
                recipients: vec!["zj@example.org".into()],
                channels: Vec::new(),
                order: 0,
            }]),
        }
    }

    #[test]
    fn a_discovery_not_tracked_yet_is_addressed_as_its_listing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let id = derived_id("zj-list", "https://yjt.zj.gov.cn/art/1.html");
        let entry = OutboxEntry::new(
            format!("published/{id}/v1"),
            AlertKind::Published,
            &id,
            Some(1),
        );
        let config = config();
        let renderer = Renderer::new(&store, &config);
        let m = renderer.render(&entry).unwrap();
        assert_eq!(m.to, vec!["zj@example.org".to_string()]);
        assert_eq!(renderer.recipients(&entry).unwrap(), m.to);
        assert!(m.subject.contains("浙江省 · 新发布"), "{}", m.subject);
        // No version 1 in this store: said so, not dropped.
        assert!(m.text.contains("is not in the store"), "{}", m.text);
    }

    #[test]
    fn a_source_no_longer_configured_is_named_by_its_id() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let entry = OutboxEntry::new(
            "recovered/gone/1".into(),
            AlertKind::Recovered,
            "gone",
            None,
        );
        let m = Renderer::new(&store, &config()).render(&entry).unwrap();
        assert_eq!(m.to, vec!["watch@example.org".to_string()], "to `from`");
        assert_eq!(m.subject, "[bulletin-watch] 已恢复 · gone");
        assert!(m.message_id.starts_with("recovered.gone.1."));
    }
}
