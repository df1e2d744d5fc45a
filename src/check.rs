//! One check of one source: the whole pipeline, run once.
//!
//! fetch → decode → extract → sections → store → diff → outbox. An article
//! check stores a new version when its content changed and queues the alert
//! in the same transaction; a listing check discovers newly published
//! deployments and tracks them as articles from then on. Failures are
//! counted per source, and a streak of them raises one `failing` alert and
//! one `recovered` alert — never one per failed check.
//!
//! Both `bulletin-watch check` and the daemon call [`Checker`], so a cron job
//! gets exactly the same versions and alerts as the daemon.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use regex::Regex;
use url::Url;

use crate::config::{Config, Source, SourceKind};
use crate::diff;
use crate::extract::{self, ExtractError};
use crate::fetch::{FetchError, Fetched, Fetcher, Politeness};
use crate::listing::{self, ListingItem};
use crate::model::{AlertKind, Document, EncodingSource, Validators};
use crate::store::{
    self, Commit, FetchState, NewVersion, OutboxEntry, Store, StoreError, Tracked, VersionRecord,
};
use crate::volatile;

mod target;

pub use target::Target;

/// What a second look at a changed page found.
enum Confirmed {
    /// Only volatile text differed: nothing to store.
    Same,
    /// A real change (or confirmation is off).
    Changed,
}

/// How often an unchanged source's last-checked time is written to disk.
const CHECK_TIME_REFRESH: Duration = Duration::from_secs(6 * 3600);

/// The deliveries of one alert: its e-mail entry (whose key is the
/// event's), then one entry per chat channel.
fn with_channels(mail: OutboxEntry, channels: &[String]) -> Vec<OutboxEntry> {
    let mut all = Vec::with_capacity(1 + channels.len());
    all.extend(channels.iter().map(|c| mail.for_channel(c)));
    all.insert(0, mail);
    all
}

/// What one check did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 304: the server says nothing changed; nothing downloaded or parsed.
    NotModified,
    /// Downloaded and parsed; same content as the latest version.
    Unchanged { version: u32 },
    /// A new version was stored; `alerted` when an alert was queued for it.
    Stored { version: u32, alerted: bool },
    /// A listing check: links found that match, and how many were new.
    Listing {
        matching: usize,
        discovered: usize,
        failed: usize,
    },
    /// The check failed; the source's history is untouched.
    Failed { error: String },
}

/// One line of a check run's log.
#[derive(Debug, Clone)]
pub struct Report {
    pub source: String,
    pub outcome: Outcome,
    pub status: Option<u16>,
    pub elapsed: Duration,
    /// Articles discovered on a listing during this check (already stored).
    pub discovered: Vec<Report>,
}

impl Report {
    /// One log line per check (and one per article discovered in it).
    pub fn log(&self) {
        for d in &self.discovered {
            d.log();
        }
        let ms = self.elapsed.as_millis() as u64;
        match &self.outcome {
            Outcome::Failed { error } => {
                tracing::warn!(source = %self.source, status = ?self.status, outcome = "failed", ms, "{error}")
            }
            o => {
                tracing::info!(source = %self.source, status = ?self.status, outcome = ?o, ms, "checked")
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("{url}: {source}")]
    Extract { url: Url, source: ExtractError },
    #[error(
        "{url}: every section disappeared (previous version had {had}); treated as an error page"
    )]
    Vanished { url: Url, had: u32 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CheckError {
    /// Store errors are ours, not the source's: they must not count as the
    /// site failing, and callers may want to stop.
    pub fn is_store(&self) -> bool {
        matches!(self, CheckError::Store(_))
    }
}

/// Runs checks against one store with one configuration.
pub struct Checker {
    pub config: Arc<Config>,
    pub store: Arc<Store>,
    pub fetcher: Fetcher,
    pub politeness: Arc<Politeness>,
    /// Told of every stored version, once it is durable (the search index).
    pub on_commit: Option<Arc<dyn crate::model::VersionSink>>,
}

impl Checker {
    pub fn new(config: Arc<Config>, store: Arc<Store>) -> Result<Checker, FetchError> {
        let fetcher = Fetcher::new(&config.settings).map_err(|e| FetchError::Other {
            url: Url::parse("about:blank").expect("static URL"),
            message: format!("cannot build HTTP client: {e}"),
        })?;
        Ok(Checker {
            config,
            store,
            fetcher,
            politeness: Arc::new(Politeness::new()),
            on_commit: None,
        })
    }

    /// Every article the daemon or a full check pass should look at:
    /// configured articles, then articles discovered on configured listings.
    pub fn article_targets(&self) -> Result<Vec<Target>, StoreError> {
        let mut out: Vec<Target> = self
            .config
            .sources
            .iter()
            .filter(|s| s.kind == SourceKind::Article)
            .map(|s| Target::from_source(s))
            .collect();
        out.extend(self.discovered_targets()?);
        Ok(out)
    }

    /// The articles discovered on configured listings (those of listings
    /// no longer configured are left alone). One lookup per article, not a
    /// walk over every source.
    pub fn discovered_targets(&self) -> Result<Vec<Target>, StoreError> {
        let tracked = self.store.tracked()?;
        if tracked.is_empty() {
            return Ok(Vec::new());
        }
        let listings: std::collections::HashMap<&str, &Source> = self
            .config
            .sources
            .iter()
            .map(|s| (s.id.as_str(), &**s))
            .collect();
        let mut out = Vec::with_capacity(tracked.len());
        for t in tracked {
            let Some(listing) = listings.get(t.listing.as_str()) else {
                continue;
            };
            let Ok(url) = Url::parse(&t.url) else {
                continue;
            };
            out.push(Target::discovered(listing, t.id, url, &t.title));
        }
        Ok(out)
    }

    /// Checks one configured source (article or listing).
    pub async fn check_source(&self, source: &Source) -> Report {
        match source.kind {
            SourceKind::Article => self.check_article(&Target::from_source(source), None).await,
            SourceKind::Listing => self.check_listing(source).await,
        }
    }

    /// Checks one article. `first_alert` overrides the kind of alert a first
    /// version gets (`Some(Published)` for a fresh discovery).
    pub async fn check_article(&self, target: &Target, first_alert: Option<AlertKind>) -> Report {
        let started = Instant::now();
        let mut state = self.store.fetch_state(&target.id).unwrap_or_default();
        let read = state.clone();
        let result = self
            .check_article_inner(target, &mut state, first_alert)
            .await;
        let (outcome, status) = match result {
            Ok((outcome, status)) => (outcome, status),
            Err(e) => {
                let status = match &e {
                    CheckError::Fetch(FetchError::Status { status, .. }) => Some(*status),
                    _ => None,
                };
                // The store has said once that its disk is full, where, and
                // what to do; every check it refuses says only that.
                let error = match &e {
                    CheckError::Store(s) if s.is_disk_full() => {
                        "not stored: the store's disk is full".to_string()
                    }
                    _ => e.to_string(),
                };
                (Outcome::Failed { error }, status)
            }
        };
        // A full disk is the store's failure, not the source's: it neither
        // counts towards `failing` nor tries to write the fetch state.
        if self.store.disk_full().is_none() {
            self.settle(target, &read, &mut state, &outcome);
        }
        Report {
            source: target.id.clone(),
            outcome,
            status,
            elapsed: started.elapsed(),
            discovered: Vec::new(),
        }
    }

    async fn check_article_inner(
        &self,
        target: &Target,
        state: &mut FetchState,
        first_alert: Option<AlertKind>,
    ) -> Result<(Outcome, Option<u16>), CheckError> {
        // Validators only help when there is a stored version to fall back
        // on. Its record is read only once the page came back changed: a
        // 304 needs no more than to know that there is one.
        let stored = self.store.latest_number(&target.id)?.is_some();
        let validators = stored.then(|| state.validators.clone());
        let (fetched, page) = self.pipeline().article(target, validators.as_ref()).await?;
        let status = Some(fetched.status);
        let Some((mut document, encoding_source)) = page else {
            return Ok((Outcome::NotModified, status));
        };
        let latest = if stored {
            self.store.latest(&target.id)?
        } else {
            None
        };
        let mut mask = volatile::rules(&state.volatile);
        volatile::apply(&mut document, &mask);
        if let Some(prev) = &latest {
            if store::fingerprint(&document) != prev.fingerprint {
                match self.confirm(target, state, prev, &mut document).await? {
                    Confirmed::Same => {
                        state.validators = fetched.validators;
                        return Ok((
                            Outcome::Unchanged {
                                version: prev.version,
                            },
                            status,
                        ));
                    }
                    Confirmed::Changed => mask = volatile::rules(&state.volatile),
                }
            }
        }
        if let Some(prev) = &latest {
            if prev.sections > 0 && document.sections.is_empty() {
                return Err(CheckError::Vanished {
                    url: target.url.clone(),
                    had: prev.sections,
                });
            }
        }
        let new = NewVersion {
            source: target.id.clone(),
            fetched_at: fetched.fetched_at,
            url: target.url.to_string(),
            final_url: fetched.final_url.to_string(),
            status: fetched.status,
            content_type: fetched.content_type.clone(),
            validators: fetched.validators.clone(),
            raw: fetched.body,
            document,
            encoding_source,
        };
        // Decided before anything is written, against the version this
        // check read: the store refuses the commit if that is no longer
        // the latest, so the alerts always describe the diff they claim.
        let alerts = self.alerts_for(target, &new, latest.as_ref(), first_alert, &mask)?;
        // Group commit: concurrent checks share their fsyncs, and this one
        // reports `Stored` only once its version is durable.
        let commit = self
            .store
            .commit_version_durable(&new, latest.as_ref().map(|r| r.version), alerts)
            .await?;
        // Only now that the content is durably stored may the validators
        // move on: a 304 next time must mean "nothing we have not processed".
        state.validators = fetched.validators;
        Ok(match commit {
            Commit::Unchanged(rec) => (
                Outcome::Unchanged {
                    version: rec.version,
                },
                status,
            ),
            Commit::Stored { record, alerts, .. } => {
                if let Some(sink) = &self.on_commit {
                    sink.committed(&record.source, record.version);
                }
                (
                    Outcome::Stored {
                        version: record.version,
                        alerted: alerts > 0,
                    },
                    status,
                )
            }
        })
    }

    /// A page that differs from its latest version: is the difference real?
    /// First against the latest version seen through the source's current
    /// mask (it may predate what was learned since); then, unless the
    /// source says `confirm_changes = false`, against a second fetch after
    /// the host's pacing interval. Text that differs between the two
    /// fetches is volatile: it is learned into the source's mask (kept in
    /// its fetch state) and masked in `document`. A real edit is the same in
    /// both fetches and stays.
    async fn confirm(
        &self,
        target: &Target,
        state: &mut FetchState,
        latest: &VersionRecord,
        document: &mut Document,
    ) -> Result<Confirmed, CheckError> {
        let rules = volatile::rules(&state.volatile);
        let mut old = self.store.document(latest)?;
        if !rules.is_empty() {
            volatile::apply(&mut old, &rules);
            if store::fingerprint(&old) == store::fingerprint(document) {
                return Ok(Confirmed::Same);
            }
        }
        if !target.rules.confirm_changes {
            return Ok(Confirmed::Changed);
        }
        let (_, again) = self.pipeline().article(target, None).await?;
        let Some((mut second, _)) = again else {
            return Ok(Confirmed::Changed);
        };
        volatile::apply(&mut second, &rules);
        if store::fingerprint(&second) == store::fingerprint(document) {
            return Ok(Confirmed::Changed);
        }
        let Some(learned) = volatile::learn(document, &second) else {
            // Unstable in a way no mask should hide: keep the first fetch.
            tracing::info!(source = %target.id, "page differs between two fetches beyond counters and stamps; stored as fetched");
            return Ok(Confirmed::Changed);
        };
        state.volatile.merge(&learned);
        tracing::info!(source = %target.id, patterns = ?learned.patterns, "learned volatile text");
        let rules = volatile::rules(&state.volatile);
        volatile::apply(document, &rules);
        volatile::apply(&mut old, &rules);
        Ok(
            if store::fingerprint(&old) == store::fingerprint(document) {
                Confirmed::Same
            } else {
                Confirmed::Changed
            },
        )
    }

    /// The alerts `new` owes if it is stored as the version after
    /// `latest`: the event only, rendered when it is delivered
    /// ([`crate::alert`]). Decided here, before the commit, with the one
    /// diff this version gets at check time: a `changed` alert is owed only
    /// when the diff shows something. Content equal to the latest version's
    /// owes nothing (the store will not store it). An unreadable latest
    /// version fails the check: a version must never be stored without the
    /// alert it owes.
    fn alerts_for(
        &self,
        target: &Target,
        new: &NewVersion,
        latest: Option<&VersionRecord>,
        first_alert: Option<AlertKind>,
        mask: &[Regex],
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let kind = match latest {
            None => match first_alert {
                Some(k) => k,
                None if target.rules.alert_on_first => AlertKind::Published,
                None => return Ok(Vec::new()),
            },
            Some(prev) => {
                if prev.fingerprint == store::fingerprint(&new.document) {
                    return Ok(Vec::new());
                }
                let mut old = self.store.document(prev)?;
                volatile::apply(&mut old, mask);
                if diff::diff(&old, &new.document).is_empty() {
                    return Ok(Vec::new());
                }
                AlertKind::Changed
            }
        };
        let version = latest.map_or(1, |p| p.version + 1);
        let key = format!("{}/{}/v{version}", kind.name(), target.id);
        let mail = OutboxEntry::new(key, kind, &target.id, Some(version));
        Ok(with_channels(mail, &target.rules.channels))
    }

    /// Records the result of a check in the source's fetch state and raises
    /// `failing` / `recovered` alerts on the edges of a failure streak.
    /// `read` is the state as the check read it at its start: what is
    /// stored, so it is not read again to compare.
    fn settle(
        &self,
        target: &Target,
        read: &FetchState,
        state: &mut FetchState,
        outcome: &Outcome,
    ) {
        let now = Timestamp::now();
        state.last_checked = Some(now);
        let threshold = self.config.settings.failure_threshold;
        let id = &target.id;
        match outcome {
            Outcome::Failed { error } => {
                state.consecutive_failures += 1;
                state.last_error = Some(error.clone());
                if state.consecutive_failures >= threshold && !state.failing_alerted {
                    state.failing_alerted = true;
                    state.failing_episodes += 1;
                    let mut entry = OutboxEntry::new(
                        format!("failing/{id}/{}", state.failing_episodes),
                        AlertKind::Failing,
                        id,
                        None,
                    );
                    // What the alert reports is gone by the next check.
                    entry.detail = Some(error.clone());
                    entry.failures = Some(state.consecutive_failures);
                    self.queue_state_alert(entry, &target.rules.channels);
                }
            }
            _ => {
                if state.failing_alerted {
                    self.queue_state_alert(
                        OutboxEntry::new(
                            format!("recovered/{id}/{}", state.failing_episodes),
                            AlertKind::Recovered,
                            id,
                            None,
                        ),
                        &target.rules.channels,
                    );
                }
                state.consecutive_failures = 0;
                state.failing_alerted = false;
                state.last_error = None;
                state.last_success = Some(now);
            }
        }
        match self
            .store
            .put_fetch_state_over(id, read, state, CHECK_TIME_REFRESH)
        {
            Ok(_) => {}
            // The store has said once where its disk is full.
            Err(e) if e.is_disk_full() => {
                tracing::warn!(source = %id, "fetch state not recorded: the store's disk is full")
            }
            Err(e) => tracing::error!(source = %id, error = %e, "cannot record fetch state"),
        }
    }

    /// Queues a `failing`/`recovered` alert, for e-mail and for each of
    /// `channels`, in one transaction. Its key names the failure streak,
    /// so queuing it again after a crash is a no-op.
    fn queue_state_alert(&self, entry: OutboxEntry, channels: &[String]) {
        let (source, kind) = (entry.source.clone(), entry.kind);
        if let Err(e) = self.store.enqueue_all(&with_channels(entry, channels)) {
            tracing::error!(source = %source, error = %e, "cannot queue {} alert", kind.name());
        }
    }

    /// The store-free half of a check: paced fetching and reading.
    pub fn pipeline(&self) -> Pipeline<'_> {
        Pipeline {
            config: &self.config,
            fetcher: &self.fetcher,
            politeness: &self.politeness,
        }
    }

    /// One paced fetch (see [`Pipeline::fetch`]).
    async fn fetch(
        &self,
        url: &Url,
        validators: Option<&Validators>,
        allow: &(dyn Fn(&Url) -> bool + Sync),
    ) -> Result<Fetched, FetchError> {
        self.pipeline().fetch(url, validators, allow).await
    }

    /// Checks a listing: finds matching links, and fetches and tracks those
    /// never seen before. On the listing's first successful check they are
    /// recorded silently (unless `alert_on_first`), so installing does not
    /// flood anyone with what was already published.
    pub async fn check_listing(&self, source: &Source) -> Report {
        let started = Instant::now();
        let mut state = self.store.fetch_state(&source.id).unwrap_or_default();
        let read = state.clone();
        let mut discovered = Vec::new();
        let result = self
            .check_listing_inner(source, &mut state, &mut discovered)
            .await;
        let (outcome, status) = match result {
            Ok(v) => v,
            Err(e) if e.is_store() => {
                tracing::error!(source = %source.id, error = %e, "store error; check abandoned");
                return Report {
                    source: source.id.clone(),
                    outcome: Outcome::Failed {
                        error: e.to_string(),
                    },
                    status: None,
                    elapsed: started.elapsed(),
                    discovered,
                };
            }
            Err(e) => (
                Outcome::Failed {
                    error: e.to_string(),
                },
                None,
            ),
        };
        self.settle(&Target::from_source(source), &read, &mut state, &outcome);
        Report {
            source: source.id.clone(),
            outcome,
            status,
            elapsed: started.elapsed(),
            discovered,
        }
    }

    /// The other listing on which `link` (or its http/https twin) was seen
    /// already, if any.
    fn seen_on_another_listing(
        &self,
        listing: &str,
        link: &Url,
    ) -> Result<Option<String>, StoreError> {
        let mut twins = vec![link.to_string()];
        let mut twin = link.clone();
        let other = if link.scheme() == "https" {
            "http"
        } else {
            "https"
        };
        if twin.set_scheme(other).is_ok() {
            twins.push(twin.to_string());
        }
        for l in self
            .config
            .sources
            .iter()
            .filter(|s| s.kind == SourceKind::Listing && s.id != listing)
        {
            for u in &twins {
                if self.store.seen(&l.id, u)? {
                    return Ok(Some(l.id.clone()));
                }
            }
        }
        Ok(None)
    }

    async fn check_listing_inner(
        &self,
        source: &Source,
        state: &mut FetchState,
        discovered: &mut Vec<Report>,
    ) -> Result<(Outcome, Option<u16>), CheckError> {
        let first_check = state.last_success.is_none();
        let validators = (!first_check).then(|| state.validators.clone());
        let fetched = self
            .fetch(&source.url, validators.as_ref(), &|u| {
                source.host_allowed(u)
            })
            .await?;
        let status = Some(fetched.status);
        if fetched.not_modified {
            return Ok((Outcome::NotModified, status));
        }
        let items = listing_items(source, &fetched)?;
        let matching: Vec<_> = items.iter().filter(|i| link_matches(source, i)).collect();
        let first_alert = if first_check && !source.rules.alert_on_first {
            None
        } else {
            Some(AlertKind::Published)
        };
        let mut new = 0;
        let mut failed = 0;
        for item in &matching {
            // `#top` and the like do not make another article.
            let mut link = item.url.clone();
            link.set_fragment(None);
            let url = link.to_string();
            if self.store.seen(&source.id, &url)? {
                continue;
            }
            // Two listings that link the same article watch it once: one
            // history, one set of alerts, under the listing that saw it first.
            if let Some(other) = self.seen_on_another_listing(&source.id, &link)? {
                tracing::debug!(listing = %source.id, %url, first_seen_on = %other, "already watched from another listing");
                self.store.note_seen(&source.id, &url)?;
                continue;
            }
            let id = derived_id(&source.id, &url);
            let target = Target::discovered(source, id.clone(), link, item.title());
            let report = self.check_article(&target, first_alert).await;
            let fetched = !matches!(report.outcome, Outcome::Failed { .. });
            if fetched {
                new += 1;
            } else {
                failed += 1;
            }
            // What was already listed at the first check is tracked even if it
            // could not be fetched yet: it is watched from now on and its
            // first version is recorded silently — never announced later as
            // newly published. A new item that fails is retried (and then
            // announced) at the next listing check.
            if fetched || first_check {
                self.store.track(&Tracked {
                    id,
                    url,
                    title: item.title().to_string(),
                    listing: source.id.clone(),
                    discovered_at: Timestamp::now(),
                })?;
            }
            discovered.push(report);
        }
        state.validators = fetched.validators.clone();
        Ok((
            Outcome::Listing {
                matching: matching.len(),
                discovered: new,
                failed,
            },
            status,
        ))
    }
}

pub use crate::catalog::{derived_id, derived_listing};

/// Removes text matched by the source's `ignore` rules everywhere it could
/// count, so that e.g. a counter inside the body never makes a version.
pub fn apply_ignore(doc: &mut Document, rules: &[Regex]) {
    volatile::replace_all(doc, rules, "");
}

/// The half of a check that needs no store: paced, polite fetching, then
/// decoding, extraction and ignore rules for an article, link matching for
/// a listing. [`Checker`] runs it before committing; [`Pipeline::dry_run`]
/// runs it alone (`sources validate --fetch`), so both see the same thing.
#[derive(Clone, Copy)]
pub struct Pipeline<'a> {
    pub config: &'a Config,
    pub fetcher: &'a Fetcher,
    pub politeness: &'a Politeness,
}

impl Pipeline<'_> {
    /// One paced fetch: waits for the host's turn, and lets a Retry-After
    /// slow the whole host down.
    pub async fn fetch(
        &self,
        url: &Url,
        validators: Option<&Validators>,
        allow: &(dyn Fn(&Url) -> bool + Sync),
    ) -> Result<Fetched, FetchError> {
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let policy = self.config.host_policy(&host);
        let slot = crate::fetch::slot_key(url);
        let result = {
            let _permit = self.politeness.acquire(&slot, &policy).await;
            self.fetcher.fetch(url, validators, allow).await
        };
        if let Err(e) = &result {
            if let Some(pause) = e.retry_after() {
                self.politeness.back_off(&slot, &policy, pause).await;
            }
        }
        result
    }

    /// Fetches an article and reads it into a document with the target's
    /// ignore rules applied; no document for a 304.
    pub async fn article(
        &self,
        target: &Target,
        validators: Option<&Validators>,
    ) -> Result<(Fetched, Option<(Document, EncodingSource)>), CheckError> {
        let fetched = self
            .fetch(&target.url, validators, &|u| target.host_allowed(u))
            .await?;
        if fetched.not_modified {
            return Ok((fetched, None));
        }
        let (mut document, encoding_source) = extract::document(
            &fetched.body,
            fetched.content_type.as_deref(),
            &target.extract,
        )
        .map_err(|source| CheckError::Extract {
            url: target.url.clone(),
            source,
        })?;
        apply_ignore(&mut document, &target.rules.ignore);
        Ok((fetched, Some((document, encoding_source))))
    }

    /// Checks one configured source without touching any store: what a
    /// check would find on it right now.
    pub async fn dry_run(&self, source: &Source) -> DryRun {
        let result = match source.kind {
            SourceKind::Article => {
                self.article(&Target::from_source(source), None)
                    .await
                    .map(|(_, page)| match page {
                        Some((doc, _)) => Found::Article {
                            title: doc.title,
                            sections: doc.sections.len(),
                        },
                        // Never sent validators, so a 304 means an odd server.
                        None => Found::Article {
                            title: String::new(),
                            sections: 0,
                        },
                    })
            }
            SourceKind::Listing => {
                match self
                    .fetch(&source.url, None, &|u| source.host_allowed(u))
                    .await
                {
                    Err(e) => Err(e.into()),
                    Ok(fetched) => listing_items(source, &fetched).map(|items| Found::Listing {
                        matching: items.iter().filter(|i| link_matches(source, i)).count(),
                        items: items.len(),
                    }),
                }
            }
        };
        DryRun {
            source: source.id.clone(),
            result: result.map_err(|e| e.to_string()),
        }
    }
}

/// What [`Pipeline::dry_run`] found on one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DryRun {
    pub source: String,
    /// What was found, or why the check would fail.
    pub result: Result<Found, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Article {
        title: String,
        sections: usize,
    },
    /// All items of the listing, and those a check would follow.
    Listing {
        items: usize,
        matching: usize,
    },
}

impl DryRun {
    /// Whether the source is usable as configured: an article with numbered
    /// sections, or a listing with items.
    pub fn problem(&self) -> Option<String> {
        match &self.result {
            Err(e) => Some(e.clone()),
            Ok(Found::Article { title, sections: 0 }) => {
                Some(format!("found \"{title}\" but no numbered sections"))
            }
            Ok(Found::Listing { items: 0, .. }) => Some("no listing items found".to_string()),
            Ok(_) => None,
        }
    }
}

/// A fetched listing's items (decoded with the source's encoding override).
fn listing_items(source: &Source, fetched: &Fetched) -> Result<Vec<ListingItem>, CheckError> {
    let decoded = crate::decode::decode(
        &fetched.body,
        fetched.content_type.as_deref(),
        source.extract.encoding.as_deref(),
    )
    .map_err(|e| CheckError::Extract {
        url: source.url.clone(),
        source: e.into(),
    })?;
    Ok(listing::items(&decoded.text, &fetched.final_url))
}

/// Whether a check follows a listing item: on an allowed host, and its
/// title attribute or its link text matches `link_pattern`.
fn link_matches(source: &Source, item: &ListingItem) -> bool {
    source.host_allowed(&item.url)
        && source
            .rules
            .link_pattern
            .as_ref()
            .is_some_and(|p| p.is_match(item.title()) || p.is_match(&item.text))
}
