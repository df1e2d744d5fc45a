//! Draining the durable outbox: every queued alert is handed to the mailer
//! until it is delivered, with exponential backoff while the mail server is
//! down. Delivered alerts are marked (and flushed) immediately after the
//! server accepted them, so a crash or a retry does not send them again; the
//! stable Message-ID lets mail systems recognise the rare resend that a crash
//! in exactly that gap can cause.

use std::time::Duration;

use jiff::Timestamp;

use crate::notify::Mailer;
use crate::store::{DeliveryState, Store, StoreError};

/// The longest pause between two attempts at one alert.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
const FIRST_BACKOFF: Duration = Duration::from_secs(30);

/// What one drain did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    pub sent: usize,
    pub failed: usize,
    /// Pending alerts left for later because their backoff has not expired.
    pub waiting: usize,
}

/// The pause after `attempts` failed attempts.
pub fn backoff(attempts: u32) -> Duration {
    let exp = attempts.saturating_sub(1).min(16);
    (FIRST_BACKOFF * 2u32.pow(exp)).min(MAX_BACKOFF)
}

/// Attempts every pending alert whose backoff has expired — or every
/// pending alert when `force` (a manual `check` tries them all once).
pub async fn drain(store: &Store, mailer: &Mailer, force: bool) -> Result<Drained, StoreError> {
    let mut out = Drained::default();
    let now = Timestamp::now();
    let pending = store.pending()?;
    if !pending.is_empty() {
        // An alert is queued with its version, which its check makes durable
        // by a group commit that may still be running: never send before.
        store.flush()?;
    }
    for mut entry in pending {
        if !force && entry.next_attempt > now {
            out.waiting += 1;
            continue;
        }
        entry.attempts += 1;
        match mailer.send(&entry.message).await {
            Ok(()) => {
                entry.state = DeliveryState::Delivered;
                entry.delivered_at = Some(Timestamp::now());
                entry.last_error = None;
                store.update_entry(&entry)?;
                tracing::info!(alert = %entry.key, via = %mailer.describe(), "alert delivered");
                out.sent += 1;
            }
            Err(e) => {
                let pause = backoff(entry.attempts);
                entry.last_error = Some(e.to_string());
                entry.next_attempt = Timestamp::now()
                    .checked_add(jiff::SignedDuration::try_from(pause).unwrap_or_default())
                    .unwrap_or(now);
                store.update_entry(&entry)?;
                tracing::warn!(alert = %entry.key, attempts = entry.attempts, error = %e, "alert not delivered; retrying in {pause:?}");
                out.failed += 1;
            }
        }
    }
    Ok(out)
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
