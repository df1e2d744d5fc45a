//! Alerts from the moment they are decided until they are delivered: the
//! `outbox` tree keeps every one ever queued, keyed by its event, and the
//! `pending` tree indexes those not delivered yet, so a drain reads only
//! those.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sled::transaction::ConflictableTransactionError;
use sled::Transactional;

use super::codec::{decode_entry, encode_entry};
use super::error::tx_error;
use super::{Result, Store};
use crate::model::AlertKind;

/// Delivery state of an alert in the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    Pending,
    Delivered,
}

/// One alert, from the moment it is decided until it is delivered: the
/// event only. The e-mail is rendered from it when it is sent or shown
/// ([`crate::alert`]), so the entry keeps just what the store cannot give
/// back later. Entries written with a rendered `message` still decode: the
/// field is ignored and the alert rendered like any other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// Stable key, e.g. `changed/jiangsu/v3`: the same event can never be
    /// queued twice.
    pub key: String,
    pub kind: AlertKind,
    pub source: String,
    pub version: Option<u32>,
    pub created_at: Timestamp,
    /// A `failing` alert's fetch error, as it was when the alert was raised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// A `failing` alert's count of consecutive failed checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures: Option<u32>,
    pub state: DeliveryState,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub next_attempt: Timestamp,
    pub delivered_at: Option<Timestamp>,
}

impl OutboxEntry {
    pub fn new(key: String, kind: AlertKind, source: &str, version: Option<u32>) -> Self {
        let now = Timestamp::now();
        OutboxEntry {
            key,
            kind,
            source: source.to_string(),
            version,
            created_at: now,
            detail: None,
            failures: None,
            state: DeliveryState::Pending,
            attempts: 0,
            last_error: None,
            next_attempt: now,
            delivered_at: None,
        }
    }
}

impl Store {
    /// Builds the pending-alert index of a store written before it existed
    /// (once; a flag in `meta` records it).
    pub(super) fn index_pending(&self) -> Result<()> {
        if self.meta.contains_key("pending-index")? {
            return Ok(());
        }
        for kv in self.outbox.iter() {
            let (k, v) = kv?;
            if decode_entry(&k, &v)?.state == DeliveryState::Pending {
                self.pending.insert(k, &[])?;
            }
        }
        self.meta.insert("pending-index", "1")?;
        Ok(())
    }

    /// Queues alerts that are not tied to a version (failing/recovered).
    pub fn enqueue(&self, entry: &OutboxEntry) -> Result<bool> {
        self.write(|| self.enqueue_inner(entry))
    }

    fn enqueue_inner(&self, entry: &OutboxEntry) -> Result<bool> {
        let bytes = encode_entry(entry)?;
        let inserted = (&self.outbox, &self.pending)
            .transaction(|(o, p)| {
                if o.get(entry.key.as_bytes())?.is_some() {
                    return Ok(false);
                }
                o.insert(entry.key.as_bytes(), bytes.as_slice())?;
                if entry.state == DeliveryState::Pending {
                    p.insert(entry.key.as_bytes(), &[])?;
                }
                Ok::<_, ConflictableTransactionError<()>>(true)
            })
            .map_err(tx_error(&entry.key))?;
        self.flush()?;
        Ok(inserted)
    }

    pub fn outbox(&self) -> Result<Vec<OutboxEntry>> {
        let mut all: Vec<OutboxEntry> = self
            .outbox
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                decode_entry(&k, &v)
            })
            .collect::<Result<_>>()?;
        all.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.key.cmp(&b.key)));
        Ok(all)
    }

    /// The alerts not delivered yet, oldest first.
    pub fn pending(&self) -> Result<Vec<OutboxEntry>> {
        let mut out = Vec::new();
        for k in self.pending.iter().keys() {
            let k = k?;
            if let Some(v) = self.outbox.get(&k)? {
                let e = decode_entry(&k, &v)?;
                if e.state == DeliveryState::Pending {
                    out.push(e);
                }
            }
        }
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.key.cmp(&b.key)));
        Ok(out)
    }

    /// Replaces outbox entries after a delivery attempt, atomically (a digest
    /// covers them all: either all are marked delivered or none is), and
    /// flushes, so that a delivered alert is durably marked before anything
    /// else happens.
    pub fn update_entries(&self, entries: &[OutboxEntry]) -> Result<()> {
        self.write(|| self.update_entries_inner(entries))
    }

    fn update_entries_inner(&self, entries: &[OutboxEntry]) -> Result<()> {
        let encoded = entries
            .iter()
            .map(|e| Ok((e, encode_entry(e)?)))
            .collect::<Result<Vec<_>>>()?;
        (&self.outbox, &self.pending)
            .transaction(|(o, p)| {
                for (e, bytes) in &encoded {
                    o.insert(e.key.as_bytes(), bytes.as_slice())?;
                    if e.state == DeliveryState::Pending {
                        p.insert(e.key.as_bytes(), &[])?;
                    } else {
                        p.remove(e.key.as_bytes())?;
                    }
                }
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .map_err(tx_error("outbox"))?;
        self.flush()
    }

    /// [`Store::update_entries`] for one entry.
    pub fn update_entry(&self, entry: &OutboxEntry) -> Result<()> {
        self.update_entries(std::slice::from_ref(entry))
    }
}
