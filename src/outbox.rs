//! Draining the durable outbox: every queued alert is handed to the mailer
//! until a channel ([`crate::delivery`]) delivers it, with exponential backoff while the mail server is
//! down. Delivered alerts are marked (and flushed) immediately after the
//! server accepted them, so a crash or a retry does not send them again; the
//! stable Message-ID lets mail systems recognise the rare resend that a crash
//! in exactly that gap can cause.
//!
//! Each alert is rendered ([`crate::alert`]) just before it is sent, with
//! the configuration of the moment. A render that fails on a store I/O
//! error counts as a failed attempt and is retried with the same backoff.
//!
//! A chat entry (one per alert and channel, see
//! [`OutboxEntry::channel`]) is rendered with [`Renderer::chat`] and sent
//! through the shared [`Channels`] registry; each part the robot accepts
//! is recorded at once, so a crash repeats at most the one part in flight.
//! A permanent refusal is kept, marked with the platform's code and
//! message, and tried again at the longest pause.
//!
//! In digest mode (`[mail] digest = "1h"`), alerts for the same recipients
//! wait until the oldest of them is a window old and then go out as one
//! message, marked delivered together.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;

use crate::alert::{self, message_id, AlertConfig, Message, Renderer};
use crate::catalog::Catalog;
use crate::channel;
use crate::config::Config;
use crate::delivery::{Channels, Mailer, Verdict};
use crate::model::AlertKind;
use crate::store::{DeliveryState, OutboxEntry, Refusal, Store, StoreError};

/// The longest pause between two attempts at one alert.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
const FIRST_BACKOFF: Duration = Duration::from_secs(30);

/// What one drain did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    /// Alerts delivered (a digest counts every alert it carried).
    pub sent: usize,
    /// Alerts whose delivery attempt failed.
    pub failed: usize,
    /// Pending alerts left for later: backoff not expired, or digest window open.
    pub waiting: usize,
}

/// The pause after `attempts` failed attempts.
pub fn backoff(attempts: u32) -> Duration {
    let exp = attempts.saturating_sub(1).min(16);
    (FIRST_BACKOFF * 2u32.pow(exp)).min(MAX_BACKOFF)
}

fn later(now: Timestamp, d: Duration) -> Timestamp {
    now.checked_add(jiff::SignedDuration::try_from(d).unwrap_or_default())
        .unwrap_or(now)
}

/// [`drain_all`] for e-mail only: chat entries are left pending.
pub async fn drain(
    store: &Store,
    config: &Config,
    mailer: &Mailer,
    force: bool,
) -> Result<Drained, StoreError> {
    drain_inner(store, config, None, mailer, None, force).await
}

/// Attempts every pending alert whose backoff has expired — or every
/// pending alert when `force` (a manual `check` tries them all once) —
/// e-mail through `mailer`, chat entries through `channels`. A
/// digest window (`config.mail.digest`) is honoured even when forced: it is
/// a choice of the recipients, not a retry policy.
pub async fn drain_all(
    store: &Store,
    config: &Config,
    mailer: &Mailer,
    channels: &Channels,
    force: bool,
) -> Result<Drained, StoreError> {
    drain_inner(store, config, None, mailer, Some(channels), force).await
}

/// [`drain_all`] naming sources from `catalog` (the configuration's,
/// built once) instead of a catalogue built for the drain.
pub async fn drain_shared(
    store: &Store,
    config: &Config,
    catalog: &Catalog,
    mailer: &Mailer,
    channels: &Channels,
    force: bool,
) -> Result<Drained, StoreError> {
    drain_inner(store, config, Some(catalog), mailer, Some(channels), force).await
}

async fn drain_inner(
    store: &Store,
    config: &Config,
    catalog: Option<&Catalog>,
    mailer: &Mailer,
    channels: Option<&Channels>,
    force: bool,
) -> Result<Drained, StoreError> {
    let mut out = Drained::default();
    let now = Timestamp::now();
    let pending = store.pending()?;
    if !pending.is_empty() {
        // An alert is queued with its version, which its check makes durable
        // by a group commit that may still be running: never send before.
        store.flush()?;
    }
    let mut due = Vec::new();
    let mut chat = Vec::new();
    for entry in pending {
        let not_here = entry.channel.is_some() && channels.is_none();
        if not_here || (!force && entry.next_attempt > now) {
            out.waiting += 1;
        } else if entry.channel.is_some() {
            chat.push(entry);
        } else {
            due.push(entry);
        }
    }
    if due.is_empty() && chat.is_empty() {
        return Ok(out);
    }
    let alerts = match catalog {
        Some(c) => AlertConfig::with_sources(config, c.clone()),
        None => AlertConfig::from_config(config),
    };
    let renderer = Renderer::new(store, &alerts);
    // E-mail first: a chat burst paced at a robot's rate must not hold
    // the e-mail back.
    drain_mail(store, config, &renderer, mailer, due, now, &mut out).await?;
    if let Some(channels) = channels {
        for entry in chat {
            deliver_chat(store, config, &renderer, channels, entry, &mut out).await?;
        }
    }
    Ok(out)
}

/// The due e-mail entries: each on its own, or in digest mode one message
/// per recipient group once its oldest alert has waited a full window.
async fn drain_mail(
    store: &Store,
    config: &Config,
    renderer: &Renderer<'_>,
    mailer: &Mailer,
    due: Vec<OutboxEntry>,
    now: Timestamp,
    out: &mut Drained,
) -> Result<(), StoreError> {
    let Some(window) = config.mail.digest else {
        for entry in due {
            deliver(store, config, renderer, mailer, vec![entry], out).await?;
        }
        return Ok(());
    };
    let mut groups: BTreeMap<Vec<String>, Vec<OutboxEntry>> = BTreeMap::new();
    for e in due {
        match renderer.recipients(&e) {
            Ok(mut to) => {
                to.sort();
                groups.entry(to).or_default().push(e);
            }
            Err(err) => not_rendered(store, vec![(e, err)], out)?,
        }
    }
    for (_, group) in groups {
        let oldest = group.iter().map(|e| e.created_at).min().unwrap_or(now);
        if later(oldest, window) > now {
            out.waiting += group.len();
            continue;
        }
        deliver(store, config, renderer, mailer, group, out).await?;
    }
    Ok(())
}

/// Renders and sends one alert, or several as one digest, and records the
/// result for all of them in one atomic write.
async fn deliver(
    store: &Store,
    config: &Config,
    renderer: &Renderer<'_>,
    mailer: &Mailer,
    mut entries: Vec<OutboxEntry>,
    out: &mut Drained,
) -> Result<(), StoreError> {
    entries.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.key.cmp(&b.key)));
    let (mut entries, mut messages) = render(store, renderer, entries, out)?;
    let message = match messages.len() {
        0 => return Ok(()),
        1 => messages.remove(0),
        _ => {
            // The id covers exactly these alerts, so a retry of the same
            // digest carries the same Message-ID.
            let keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
            let id = message_id::for_digest(&keys, store.instance_id());
            alert::digest(id, &messages)
        }
    };
    let verdict = mailer.deliver(&message).await;
    let now = Timestamp::now();
    for e in &mut entries {
        e.attempts += 1;
        match &verdict {
            Verdict::Delivered => {
                e.state = DeliveryState::Delivered;
                e.delivered_at = Some(now);
                e.last_error = None;
                e.permanent = None;
            }
            Verdict::Retryable(err) => {
                e.last_error = Some(err.to_string());
                e.permanent = None;
                e.next_attempt = later(now, backoff(e.attempts));
            }
            Verdict::Permanent(err) => {
                // A permanent refusal waits the longest pause at once: it
                // is kept (never lost) and retried hourly until fixed.
                e.last_error = Some(err.to_string());
                e.permanent = Some(Refusal {
                    code: None,
                    message: err.to_string(),
                });
                e.next_attempt = later(now, MAX_BACKOFF);
            }
        }
    }
    store.update_entries(&entries)?;
    if let Some(first) = entries.first() {
        match &verdict {
            Verdict::Delivered => note_streak(store, config, MAIL, &first.source, None)?,
            Verdict::Permanent(e) => {
                note_streak(store, config, MAIL, &first.source, Some(&e.to_string()))?
            }
            Verdict::Retryable(_) => {}
        }
    }
    let keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
    match verdict {
        Verdict::Delivered => {
            tracing::info!(alerts = ?keys, message_id = %message.message_id, via = %mailer.describe(), "alert delivered");
            out.sent += entries.len();
        }
        Verdict::Retryable(e) | Verdict::Permanent(e) => {
            tracing::warn!(alerts = ?keys, error = %e, "alert not delivered; will retry with backoff");
            out.failed += entries.len();
        }
    }
    Ok(())
}

/// Renders one chat entry and sends the parts its robot has not accepted
/// yet, recording each accepted part at once.
async fn deliver_chat(
    store: &Store,
    config: &Config,
    renderer: &Renderer<'_>,
    channels: &Channels,
    mut entry: OutboxEntry,
    out: &mut Drained,
) -> Result<(), StoreError> {
    let alert = match renderer.chat(&entry, &config.web) {
        Ok(a) => a,
        Err(err) => return not_rendered(store, vec![(entry, err)], out),
    };
    let id = entry.via().to_string();
    let key = entry.key.clone();
    let done = entry.parts_done.clone();
    let mut unrecorded = None;
    let verdict = channels
        .deliver(&id, &alert, &key, &done, |part| {
            entry.parts_done.push(part.index);
            if unrecorded.is_none() {
                if let Err(e) = store.update_entry(&entry) {
                    unrecorded = Some(e);
                }
            }
        })
        .await;
    if let Some(e) = unrecorded {
        return Err(e);
    }
    let now = Timestamp::now();
    entry.attempts += 1;
    match &verdict {
        channel::Verdict::Delivered => {
            entry.state = DeliveryState::Delivered;
            entry.delivered_at = Some(now);
            entry.last_error = None;
            entry.permanent = None;
        }
        channel::Verdict::Retryable { after, .. } => {
            entry.last_error = Some(verdict.to_string());
            entry.permanent = None;
            let pause = after.unwrap_or_else(|| backoff(entry.attempts));
            entry.next_attempt = later(now, pause);
        }
        channel::Verdict::Permanent { code, message, .. } => {
            entry.last_error = Some(verdict.to_string());
            entry.permanent = Some(Refusal {
                code: *code,
                message: message.clone(),
            });
            entry.next_attempt = later(now, MAX_BACKOFF);
        }
    }
    store.update_entry(&entry)?;
    match &verdict {
        channel::Verdict::Delivered => note_streak(store, config, &id, &entry.source, None)?,
        channel::Verdict::Permanent { .. } => {
            let refusal = verdict.to_string();
            note_streak(store, config, &id, &entry.source, Some(&refusal))?;
        }
        channel::Verdict::Retryable { .. } => {}
    }
    if verdict.is_delivered() {
        tracing::info!(alert = %entry.key, channel = %id, parts = entry.parts_done.len(), "alert delivered");
        out.sent += 1;
    } else {
        tracing::warn!(alert = %entry.key, channel = %id, verdict = %verdict, "alert not delivered; will retry");
        out.failed += 1;
    }
    Ok(())
}

/// Prunes delivered entries older than `[settings] outbox_retention`
/// (pending and refused ones stay, and versions are never pruned).
/// Returns how many were removed.
pub fn prune(store: &Store, config: &Config) -> Result<usize, StoreError> {
    let retention = jiff::SignedDuration::try_from(config.settings.outbox_retention)
        .unwrap_or(jiff::SignedDuration::MAX);
    let Ok(before) = Timestamp::now().checked_sub(retention) else {
        return Ok(0);
    };
    let n = store.prune_delivered(before)?;
    if n > 0 {
        tracing::info!(
            pruned = n,
            "delivered outbox entries past their retention pruned"
        );
    }
    Ok(n)
}

/// How the outbox names e-mail among the channels.
pub const MAIL: &str = "e-mail";

/// Follows the refusal streak of channel `via` (`e-mail` for the mail
/// server) after a delivery (`refusal` = `None`) or a permanent refusal:
/// the first refusal of a streak queues one `delivery-failing` notice and
/// the first delivery after it one `delivery-recovered`, each for e-mail
/// and every other configured channel. A notice's key names the streak,
/// so a crash before the streak is recorded cannot queue it twice.
fn note_streak(
    store: &Store,
    config: &Config,
    via: &str,
    source: &str,
    refusal: Option<&str>,
) -> Result<(), StoreError> {
    let mut streak = store.channel_streak(via)?;
    let kind = match (refusal.is_some(), streak.failing) {
        (true, false) => {
            streak.failing = true;
            streak.episodes += 1;
            AlertKind::DeliveryFailing
        }
        (false, true) => {
            streak.failing = false;
            AlertKind::DeliveryRecovered
        }
        _ => return Ok(()),
    };
    let name = crate::present::alert_kind_name(kind);
    let mut notice = OutboxEntry::new(
        format!("{name}/{via}/{}", streak.episodes),
        kind,
        source,
        None,
    );
    notice.notice = Some(via.to_string());
    notice.detail = refusal.map(str::to_string);
    let mut all = Vec::new();
    for c in config.channels.iter().filter(|c| c.id != via) {
        all.push(notice.for_channel(&c.id));
    }
    if via != MAIL {
        all.insert(0, notice);
    }
    store.enqueue_all(&all)?;
    store.put_channel_streak(via, &streak)?;
    tracing::warn!(channel = %via, notice = name, "delivery channel streak changed");
    Ok(())
}

/// The messages of `entries`, each beside its entry. An entry that cannot
/// be rendered (the store could not be read) is left out: its attempt is
/// recorded as failed, and it is retried with backoff.
fn render(
    store: &Store,
    renderer: &Renderer<'_>,
    entries: Vec<OutboxEntry>,
    out: &mut Drained,
) -> Result<(Vec<OutboxEntry>, Vec<Message>), StoreError> {
    let mut rendered = (Vec::new(), Vec::new());
    let mut failed = Vec::new();
    for e in entries {
        match renderer.render(&e) {
            Ok(m) => {
                rendered.0.push(e);
                rendered.1.push(m);
            }
            Err(err) => failed.push((e, err)),
        }
    }
    not_rendered(store, failed, out)?;
    Ok(rendered)
}

fn not_rendered(
    store: &Store,
    failed: Vec<(OutboxEntry, StoreError)>,
    out: &mut Drained,
) -> Result<(), StoreError> {
    if failed.is_empty() {
        return Ok(());
    }
    let now = Timestamp::now();
    let mut entries = Vec::with_capacity(failed.len());
    for (mut e, err) in failed {
        tracing::warn!(alert = %e.key, error = %err, "alert not rendered; will retry with backoff");
        e.attempts += 1;
        e.last_error = Some(format!("cannot render the alert: {err}"));
        e.next_attempt = later(now, backoff(e.attempts));
        entries.push(e);
    }
    store.update_entries(&entries)?;
    out.failed += entries.len();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_secs(30));
        assert_eq!(backoff(2), Duration::from_secs(60));
        assert_eq!(backoff(30), MAX_BACKOFF);
    }
}
