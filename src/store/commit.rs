//! Writing a new version: staged into the pack, synced, then its locators
//! and its alerts committed to sled in one transaction and flushed — in
//! that order, so sled never points at pack bytes that are not durable.
//! Concurrent commits share their fsyncs (group commit).

use std::sync::atomic::{AtomicU64, Ordering};

use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use super::blobs::{
    blob_depth, encode_blob, Base, BaseRef, BlobRef, Part, SiteBase, MAX_DELTA_DEPTH,
};
use super::codec::{document_json, encode_entry, to_json, RECORDS};
use super::error::io_at;
use super::keys::{version_key, VersionLocs};
use super::{
    fingerprint, Commit, NewVersion, OutboxEntry, Result, Store, StoreError, VersionRecord,
};
use crate::model::{content_hash, sha256_hex};

/// Group commit: callers that arrive while a sync is running wait for the
/// next one, and that one sync (a single fsync, on a blocking thread, never
/// on a runtime worker) covers them all.
pub(super) struct GroupCommit {
    turn: tokio::sync::Mutex<()>,
    started: AtomicU64,
    done: AtomicU64,
}

impl GroupCommit {
    pub(super) fn new() -> Self {
        GroupCommit {
            turn: tokio::sync::Mutex::new(()),
            started: AtomicU64::new(0),
            done: AtomicU64::new(0),
        }
    }

    pub(super) async fn run(
        &self,
        sync: impl FnOnce() -> Result<()> + Send + 'static,
    ) -> Result<()> {
        // Any sync numbered above `target - 1` starts after this point, so
        // after the caller's writes, and makes them durable.
        let target = self.started.load(Ordering::SeqCst) + 1;
        let _turn = self.turn.lock().await;
        if self.done.load(Ordering::SeqCst) >= target {
            return Ok(());
        }
        let n = self.started.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::task::spawn_blocking(sync)
            .await
            .map_err(StoreError::Worker)??;
        self.done.store(n, Ordering::SeqCst);
        Ok(())
    }
}

/// A new version between [`Store::stage`] and [`Store::apply`].
enum Staging {
    Unchanged(Box<VersionRecord>),
    Staged(Box<Staged>),
}

struct Staged {
    record: VersionRecord,
    previous: Option<VersionRecord>,
    entries: Vec<OutboxEntry>,
    locs: VersionLocs,
    /// The `meta` key and value that make this version's raw blob its
    /// site's base.
    new_site_base: Option<(String, SiteBase)>,
}

impl Store {
    /// Makes every pack append so far durable, as a group commit.
    async fn sync_pack(&self) -> Result<()> {
        let pack = self.pack.clone();
        self.pack_commit
            .run(move || pack.sync().map_err(io_at(pack.path())))
            .await
    }

    /// Stores `new` as the next version of its source, after `follows`
    /// (the latest version the caller diffed against, `None` for a first
    /// version), together with the `alerts` the caller decided for it —
    /// unless its content equals the latest version's, when nothing is
    /// written. Refuses with [`StoreError::Moved`] when the latest version is
    /// no longer `follows`. Durable before returning; the fsyncs run on the
    /// calling thread (see [`Store::commit_version_durable`]).
    pub fn commit_version(
        &self,
        new: &NewVersion,
        follows: Option<u32>,
        alerts: Vec<OutboxEntry>,
    ) -> Result<Commit> {
        self.write(|| match self.stage(new, follows, alerts)? {
            Staging::Unchanged(rec) => Ok(Commit::Unchanged(*rec)),
            Staging::Staged(staged) => {
                self.pack.sync().map_err(io_at(self.pack.path()))?;
                let commit = self.apply(*staged)?;
                self.db.flush()?;
                Ok(commit)
            }
        })
    }

    /// [`Store::commit_version`] for the async pipeline: concurrent commits
    /// share their fsyncs (one for the pack, then one for sled), which run
    /// on blocking threads. Returns once the version and its alerts are
    /// durable, so a caller may report and act on it at once.
    pub async fn commit_version_durable(
        &self,
        new: &NewVersion,
        follows: Option<u32>,
        alerts: Vec<OutboxEntry>,
    ) -> Result<Commit> {
        let staged = match self.write(|| self.stage(new, follows, alerts))? {
            Staging::Unchanged(rec) => return Ok(Commit::Unchanged(*rec)),
            Staging::Staged(staged) => staged,
        };
        self.sync_pack().await.map_err(|e| self.noted(e))?;
        let commit = self.write(|| self.apply(*staged))?;
        self.sync().await?;
        Ok(commit)
    }

    /// First half of a commit: checks that the latest version is still
    /// `follows`, decides whether `new` is a new version and, if so,
    /// appends its blobs and record to the pack (not yet durable). Nothing
    /// in sled changes, so a crash here leaves only unreferenced bytes in
    /// the pack.
    fn stage(
        &self,
        new: &NewVersion,
        follows: Option<u32>,
        entries: Vec<OutboxEntry>,
    ) -> Result<Staging> {
        let previous = self.latest(&new.source)?;
        let found = previous.as_ref().map(|p| p.version);
        if found != follows {
            return Err(StoreError::Moved {
                id: new.source.clone(),
                expected: follows,
                found,
            });
        }
        let fp = fingerprint(&new.document);
        if let Some(prev) = &previous {
            if prev.fingerprint == fp {
                return Ok(Staging::Unchanged(Box::new(prev.clone())));
            }
        }
        let doc_json = document_json(&new.document)?;
        let doc_hash = sha256_hex(&doc_json);
        let raw_hash = sha256_hex(&new.raw);
        // A page shares most of its template with the other pages of its
        // site, so a source's first version is stored as a delta against the
        // site's first stored page (its "site base"); later versions are
        // deltas against their predecessor, or against the site base again
        // when the predecessor's delta chain is full.
        let site_key = url::Url::parse(&new.url)
            .ok()
            .and_then(|u| u.host_str().map(|h| format!("site-base:{h}")));
        let site_base = match &site_key {
            Some(k) => self.meta.get(k)?.and_then(|v| SiteBase::decode(&v)),
            None => None,
        };
        let mut raw_bases = Vec::new();
        if let Some(p) = &previous {
            raw_bases.extend(self.delta_base(self.part_ref(p, Part::Raw)?)?);
        }
        if let Some(b) = &site_base {
            if previous.as_ref().is_none_or(|p| p.raw_hash != b.hash) {
                raw_bases.extend(self.site_base(b)?);
            }
        }
        let raw_views: Vec<BaseRef<'_>> = raw_bases.iter().map(Base::view).collect();
        let raw_blob = encode_blob(&new.raw, &raw_views)?;
        let mut record = VersionRecord {
            source: new.source.clone(),
            version: previous.as_ref().map_or(1, |p| p.version + 1),
            fetched_at: new.fetched_at,
            url: new.url.clone(),
            final_url: new.final_url.clone(),
            status: new.status,
            content_type: new.content_type.clone(),
            etag: new.validators.etag.clone(),
            last_modified: new.validators.last_modified.clone(),
            byte_len: new.raw.len() as u64,
            encoding: new.document.encoding.clone(),
            encoding_source: new.encoding_source,
            title: new.document.title.clone(),
            published: new.document.published,
            sections: new.document.sections.len() as u32,
            fingerprint: fp,
            content_hash: content_hash(&doc_hash, &raw_hash),
            doc_hash,
            raw_hash,
            prev_hash: previous.as_ref().map(|p| p.record_hash.clone()),
            record_hash: String::new(),
        };
        record.record_hash = record.compute_record_hash();
        let raw_loc = self.pack_append(&raw_blob)?;
        // The document changes where the page does, so it is a delta of
        // the previous document; a UTF-8 page's document is also a copy of
        // the page's text, so a delta of its own raw bytes (a tenth of its
        // size on its own) serves a first version. The smaller one is kept.
        let previous_doc = match &previous {
            Some(p) => self.delta_base(self.part_ref(p, Part::Doc)?)?,
            None => None,
        };
        let mut doc_bases: Vec<BaseRef<'_>> = previous_doc.iter().map(Base::view).collect();
        let raw_at = BlobRef::At(raw_loc);
        if new.document.encoding == "UTF-8" && blob_depth(&raw_blob) < MAX_DELTA_DEPTH {
            doc_bases.push(BaseRef {
                at: &raw_at,
                depth: blob_depth(&raw_blob),
                bytes: &new.raw,
                prepared: None,
            });
        }
        let doc_loc = self.pack_append(&encode_blob(&doc_json, &doc_bases)?)?;
        let record_loc = self.pack_append(&RECORDS.pack(&to_json(&record)?)?)?;
        // The first page stored for a site becomes its base, once.
        let new_site_base = match (&site_base, site_key) {
            (None, Some(k)) => Some((
                k,
                SiteBase {
                    hash: record.raw_hash.clone(),
                    at: Some(raw_loc),
                },
            )),
            _ => None,
        };
        Ok(Staging::Staged(Box::new(Staged {
            record,
            previous,
            entries,
            locs: VersionLocs {
                record: record_loc,
                raw: raw_loc,
                doc: doc_loc,
            },
            new_site_base,
        })))
    }

    /// Second half of a commit, once the pack is synced: the version's
    /// locators and its alerts go into sled in one transaction.
    fn apply(&self, staged: Staged) -> Result<Commit> {
        let Staged {
            record,
            previous,
            entries,
            locs,
            new_site_base,
        } = staged;
        let key = version_key(&record.source, record.version);
        let expected_prev = previous.as_ref().map(|p| version_key(&p.source, p.version));
        let value = locs.encode();
        let encoded = entries
            .iter()
            .map(|e| Ok((e.key.as_bytes(), encode_entry(e)?)))
            .collect::<Result<Vec<_>>>()?;
        let result = (&self.versions, &self.outbox, &self.pending).transaction(|(v, o, p)| {
            // Another writer must not have appended since `stage` read the
            // latest version, or the chain would fork.
            if v.get(&key)?.is_some() {
                return Err(ConflictableTransactionError::Abort(()));
            }
            if let Some(pk) = &expected_prev {
                if v.get(pk)?.is_none() {
                    return Err(ConflictableTransactionError::Abort(()));
                }
            }
            v.insert(key.as_slice(), &value[..])?;
            for (k, bytes) in &encoded {
                if o.get(k)?.is_none() {
                    o.insert(*k, bytes.as_slice())?;
                    p.insert(*k, &[])?;
                }
            }
            Ok(())
        });
        match result {
            Ok(()) => {}
            Err(TransactionError::Abort(())) => {
                // Another writer appended meanwhile: the chain must not fork.
                return Err(StoreError::Moved {
                    id: record.source.clone(),
                    expected: previous.as_ref().map(|p| p.version),
                    found: self.latest(&record.source)?.map(|r| r.version),
                });
            }
            Err(TransactionError::Storage(e)) => return Err(e.into()),
        }
        if let Some((k, base)) = new_site_base {
            let _ = self.meta.compare_and_swap(
                k.as_bytes(),
                None as Option<&[u8]>,
                Some(base.encode()),
            )?;
        }
        Ok(Commit::Stored {
            record,
            alerts: entries.len(),
        })
    }
}
