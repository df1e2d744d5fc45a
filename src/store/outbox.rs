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
    /// The chat channel this entry goes to; `None` is e-mail (every entry
    /// written before channels existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The parts of a split chat message the robot already accepted,
    /// recorded one by one so that a retry or a crash repeats none of them
    /// (at most the one in flight).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts_done: Vec<usize>,
    /// Set while the last attempt was refused for good: the platform's
    /// code and message. The entry is kept, retried at the longest pause,
    /// on a configuration reload and by `outbox retry`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permanent: Option<Refusal>,
    /// A `delivery-failing`/`delivery-recovered` notice: the channel it
    /// is about (`e-mail` for the mail server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
}

/// Why a delivery was refused for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    pub message: String,
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
            channel: None,
            parts_done: Vec::new(),
            permanent: None,
            notice: None,
        }
    }

    /// The channel a delivery notice is about (empty for other alerts).
    pub fn notice_of(&self) -> &str {
        self.notice.as_deref().unwrap_or_default()
    }

    /// The same alert for chat channel `channel`: its own key
    /// (`changed/sh/v2@zj-ding`) and its own delivery state.
    pub fn for_channel(&self, channel: &str) -> OutboxEntry {
        let mut e = self.clone();
        e.key = format!("{}@{channel}", self.key);
        e.channel = Some(channel.to_string());
        e.state = DeliveryState::Pending;
        e.attempts = 0;
        e.last_error = None;
        e.next_attempt = self.created_at;
        e.delivered_at = None;
        e.parts_done = Vec::new();
        e.permanent = None;
        e
    }

    /// `e-mail`, or the channel id.
    pub fn via(&self) -> &str {
        self.channel.as_deref().unwrap_or("e-mail")
    }

    /// `pending`, `permanent` or `delivered`.
    pub fn state_name(&self) -> &'static str {
        match (self.state, &self.permanent) {
            (DeliveryState::Delivered, _) => "delivered",
            (DeliveryState::Pending, Some(_)) => "permanent",
            (DeliveryState::Pending, None) => "pending",
        }
    }
}

/// A delivery channel's streak of permanent refusals, as a source's fetch
/// state keeps its failure streak: `failing` from the first refusal until
/// the next delivery; `episodes` numbers the streaks (and the keys of their
/// notices).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelStreak {
    pub failing: bool,
    pub episodes: u32,
}

fn streak_key(channel: &str) -> String {
    format!("channel-streak/{channel}")
}

impl Store {
    /// The refusal streak of channel `channel` (`e-mail` for the mail
    /// server); none recorded yet is a channel that never failed.
    pub fn channel_streak(&self, channel: &str) -> Result<ChannelStreak> {
        let key = streak_key(channel);
        match self.meta.get(key.as_bytes())? {
            Some(v) => serde_json::from_slice(&v).map_err(super::error::damaged(
                key,
                "cannot decode a channel's streak",
            )),
            None => Ok(ChannelStreak::default()),
        }
    }

    pub fn put_channel_streak(&self, channel: &str, streak: &ChannelStreak) -> Result<()> {
        let bytes = serde_json::to_vec(streak).map_err(super::error::damaged(
            streak_key(channel),
            "cannot encode a channel's streak",
        ))?;
        self.write(|| {
            self.meta.insert(streak_key(channel).as_bytes(), bytes)?;
            self.flush()
        })
    }

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
        self.enqueue_all(std::slice::from_ref(entry)).map(|n| n > 0)
    }

    /// Queues the deliveries of one event (its e-mail and its channels)
    /// in one transaction; an entry whose key is already queued is kept
    /// as it is. Returns how many were new.
    pub fn enqueue_all(&self, entries: &[OutboxEntry]) -> Result<usize> {
        self.write(|| self.enqueue_inner(entries))
    }

    fn enqueue_inner(&self, entries: &[OutboxEntry]) -> Result<usize> {
        let Some(first) = entries.first() else {
            return Ok(0);
        };
        let encoded = entries
            .iter()
            .map(|e| Ok((e, encode_entry(e)?)))
            .collect::<Result<Vec<_>>>()?;
        let inserted = (&self.outbox, &self.pending)
            .transaction(|(o, p)| {
                let mut n = 0;
                for (entry, bytes) in &encoded {
                    if o.get(entry.key.as_bytes())?.is_some() {
                        continue;
                    }
                    o.insert(entry.key.as_bytes(), bytes.as_slice())?;
                    if entry.state == DeliveryState::Pending {
                        p.insert(entry.key.as_bytes(), &[])?;
                    }
                    n += 1;
                }
                Ok::<_, ConflictableTransactionError<()>>(n)
            })
            .map_err(tx_error(&first.key))?;
        self.flush()?;
        Ok(inserted)
    }

    /// Makes permanently refused entries due again: all of them, those of
    /// one channel (`e-mail` for e-mail), or the one with key `key`.
    /// Returns how many.
    pub fn retry_refused(&self, key: Option<&str>, channel: Option<&str>) -> Result<usize> {
        let now = Timestamp::now();
        let mut again = Vec::new();
        for mut e in self.pending()? {
            if e.permanent.is_none()
                || key.is_some_and(|k| k != e.key)
                || channel.is_some_and(|c| c != e.via())
            {
                continue;
            }
            e.permanent = None;
            e.next_attempt = now;
            again.push(e);
        }
        if !again.is_empty() {
            self.update_entries(&again)?;
        }
        Ok(again.len())
    }

    /// Removes delivered entries delivered before `before`. Pending and
    /// refused entries, and the version history, are never pruned.
    /// Returns how many were removed.
    pub fn prune_delivered(&self, before: Timestamp) -> Result<usize> {
        self.write(|| {
            let mut n = 0;
            for kv in self.outbox.iter() {
                let (k, v) = kv?;
                let e = decode_entry(&k, &v)?;
                let old = e.delivered_at.is_some_and(|at| at < before);
                if e.state == DeliveryState::Delivered && old {
                    self.outbox.remove(&k)?;
                    self.pending.remove(&k)?;
                    n += 1;
                }
            }
            if n > 0 {
                self.flush()?;
            }
            Ok(n)
        })
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
