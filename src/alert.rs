//! Turning a queued alert back into an e-mail, when it is sent or shown.
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

use crate::config::Config;
use crate::diff;
use crate::model::{AlertKind, Document};
use crate::notify::{self, AlertContext, Message, Rendered};
use crate::store::{OutboxEntry, Store, StoreError, Tracked, VersionRecord};

/// What rendering an alert takes from the configuration: the mail addresses
/// and, per configured source, what the alert says about it and who else
/// hears of it. Plain data, so that a read-only command can hand it to the
/// daemon that answers for the store (see [`crate::audit::Query`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertConfig {
    /// `[mail] from`.
    pub from: String,
    /// `[mail] to`: recipients of every alert.
    pub to: Vec<String>,
    /// Every configured source, articles and listings.
    pub sources: Vec<AlertSource>,
}

/// One configured source as alerts name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertSource {
    pub id: String,
    pub name: String,
    pub province: String,
    pub url: String,
    /// The source's own recipients, in addition to `[mail] to`.
    pub recipients: Vec<String>,
}

impl AlertConfig {
    pub fn from_config(config: &Config) -> AlertConfig {
        AlertConfig {
            from: config.mail.from.clone(),
            to: config.mail.to.clone(),
            sources: config
                .sources
                .iter()
                .map(|s| AlertSource {
                    id: s.id.clone(),
                    name: s.name.clone(),
                    province: s.province.clone(),
                    url: s.url.to_string(),
                    recipients: s.recipients.clone(),
                })
                .collect(),
        }
    }

    fn source(&self, id: &str) -> Option<&AlertSource> {
        self.sources.iter().find(|s| s.id == id)
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

/// What an alert says about its source, and who hears of it.
struct About {
    name: String,
    province: String,
    url: String,
    recipients: Vec<String>,
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
        let mut ctx = AlertContext {
            source_id: entry.source.clone(),
            source_name: about.name.clone(),
            province: about.province.clone(),
            title: about.name.clone(),
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
                    Err(e) => notify::render_unavailable(&ctx, entry.kind, &e.to_string()),
                }
            }
            AlertKind::Failing => notify::render_failing(
                &ctx,
                entry.detail.as_deref().unwrap_or(NOT_RECORDED),
                entry.failures,
            ),
            AlertKind::Recovered => notify::render_recovered(&ctx),
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
            return Ok(notify::render_published(ctx, &doc));
        }
        let previous = version.saturating_sub(1);
        ctx.from_version = Some(previous);
        let (record, new) = self.stored(&entry.source, version)?;
        with_record(ctx, &record);
        let (_, old) = self.stored(&entry.source, previous)?;
        Ok(notify::render_changed(ctx, &diff::diff(&old, &new)))
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

    /// The source as the current configuration describes it: a configured
    /// source, or an article discovered on a configured listing. A source
    /// that is no longer configured is named from what the store remembers,
    /// as far as it can be read: naming never holds an alert back.
    fn about(&self, source: &str) -> Result<About, StoreError> {
        if let Some(s) = self.config.source(source) {
            return Ok(About {
                name: s.name.clone(),
                province: s.province.clone(),
                url: s.url.clone(),
                recipients: s.recipients.clone(),
            });
        }
        let tracked = readable(self.tracked())?.and_then(|t| t.get(source));
        // An article is tracked only after its first version is stored, so
        // a fresh discovery's alert can be rendered before its record
        // exists; its id still names the listing.
        let listing = tracked
            .map(|t| t.listing.as_str())
            .or_else(|| crate::check::derived_listing(source))
            .and_then(|l| self.config.source(l));
        let url = match tracked {
            Some(t) => t.url.clone(),
            None => readable(self.store.latest(source))?
                .flatten()
                .map(|r| r.url)
                .unwrap_or_default(),
        };
        let title = tracked.map_or("", |t| t.title.as_str());
        Ok(match listing {
            // As `check::Target::discovered` names it.
            Some(l) => About {
                name: if title.is_empty() { &l.name } else { title }.to_string(),
                province: l.province.clone(),
                url,
                recipients: l.recipients.clone(),
            },
            None => About {
                name: if title.is_empty() { source } else { title }.to_string(),
                province: String::new(),
                url,
                recipients: Vec::new(),
            },
        })
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
        for r in recipients {
            if !to.contains(r) {
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
        Message {
            message_id: format!(
                "{}.{}@bulletin-watch",
                key.replace('/', "."),
                self.store.instance_id()
            ),
            from: self.config.from.clone(),
            to: self.to(recipients),
            subject: r.subject,
            text: r.text,
            html: r.html,
        }
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
    use crate::check::{derived_id, derived_listing};

    fn config() -> AlertConfig {
        AlertConfig {
            from: "watch@example.org".into(),
            to: Vec::new(),
            sources: vec![AlertSource {
                id: "zj-list".into(),
                name: "浙江省应急管理厅".into(),
                province: "浙江省".into(),
                url: "https://yjt.zj.gov.cn/list.html".into(),
                recipients: vec!["zj@example.org".into()],
            }],
        }
    }

    #[test]
    fn derived_ids_name_their_listing() {
        let id = derived_id("zj.list", "https://yjt.zj.gov.cn/art/1.html");
        assert_eq!(derived_listing(&id), Some("zj.list"));
        for plain in ["jiangsu", "zj.list", "a.0123", ".0123456789"] {
            assert_eq!(derived_listing(plain), None, "{plain}");
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
