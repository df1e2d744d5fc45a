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
//! In digest mode (`[mail] digest = "1h"`), alerts for the same recipients
//! wait until the oldest of them is a window old and then go out as one
//! message, marked delivered together.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;

use crate::alert::{self, message_id, AlertConfig, Message, Renderer};
use crate::config::Config;
use crate::delivery::{Mailer, Verdict};
use crate::store::{DeliveryState, OutboxEntry, Store, StoreError};

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

/// Attempts every pending alert whose backoff has expired — or every
/// pending alert when `force` (a manual `check` tries them all once). A
/// digest window (`config.mail.digest`) is honoured even when forced: it is
/// a choice of the recipients, not a retry policy.
pub async fn drain(
    store: &Store,
    config: &Config,
    mailer: &Mailer,
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
    for entry in pending {
        if !force && entry.next_attempt > now {
            out.waiting += 1;
        } else {
            due.push(entry);
        }
    }
    if due.is_empty() {
        return Ok(out);
    }
    let alerts = AlertConfig::from_config(config);
    let renderer = Renderer::new(store, &alerts);
    let Some(window) = config.mail.digest else {
        for entry in due {
            deliver(store, &renderer, mailer, vec![entry], &mut out).await?;
        }
        return Ok(out);
    };
    // Digest mode: one message per recipient group, once its oldest alert
    // has waited a full window.
    let mut groups: BTreeMap<Vec<String>, Vec<OutboxEntry>> = BTreeMap::new();
    for e in due {
        match renderer.recipients(&e) {
            Ok(mut to) => {
                to.sort();
                groups.entry(to).or_default().push(e);
            }
            Err(err) => not_rendered(store, vec![(e, err)], &mut out)?,
        }
    }
    for (_, group) in groups {
        let oldest = group.iter().map(|e| e.created_at).min().unwrap_or(now);
        if later(oldest, window) > now {
            out.waiting += group.len();
            continue;
        }
        deliver(store, &renderer, mailer, group, &mut out).await?;
    }
    Ok(out)
}

/// Renders and sends one alert, or several as one digest, and records the
/// result for all of them in one atomic write.
async fn deliver(
    store: &Store,
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
            }
            Verdict::Retryable(err) => {
                e.last_error = Some(err.to_string());
                e.next_attempt = later(now, backoff(e.attempts));
            }
            Verdict::Permanent(err) => {
                // A permanent refusal waits the longest pause at once: it
                // is kept (never lost) and retried hourly until fixed.
                e.last_error = Some(err.to_string());
                e.next_attempt = later(now, MAX_BACKOFF);
            }
        }
    }
    store.update_entries(&entries)?;
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
