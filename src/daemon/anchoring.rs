//! The daemon's anchoring service: one anchoring round
//! ([`crate::evidence::anchor_all`]) every `[evidence] anchor_interval`,
//! and at once when `bulletin-watch anchor` asks over the control socket.
//!
//! A TSA that is unreachable, slow or gives a bad reply is retried with
//! [`super::failure_backoff`] (never longer than the interval); the other
//! TSAs are not asked again until the next interval. When no anchor at all
//! has succeeded for two intervals, one `anchor-failing` notice goes
//! through the durable outbox, and after the next success one
//! `anchor-recovered`; the streak is kept in the store, so a restart never
//! repeats a notice. Nothing here blocks checks or alerts: it is a service
//! of its own, under the daemon's one shutdown signal.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch, Notify};

use super::{failure_backoff, Live, Shutdown};
use crate::config::{Config, TsaConfig};
use crate::control::AnchorRequest;
use crate::evidence::anchor::{error_chain, AnchorError};
use crate::evidence::{anchor_all, Client, Round};
use crate::model::AlertKind;
use crate::store::{OutboxEntry, Store, StoreError};

/// The source id anchoring notices are filed under.
pub const NOTICE_SOURCE: &str = "anchors";
/// How long to wait before anchoring again when there was nothing to
/// anchor (a store with no versions yet), at most.
const EMPTY_RETRY: Duration = Duration::from_secs(60);

/// Where the service stands between rounds.
struct State {
    /// When an anchor last succeeded (or the service started).
    last_success: Instant,
    /// Failed rounds in a row, for the backoff.
    failures: u32,
    /// When the next round is due.
    next: Instant,
    /// TSAs that failed in the last round while others succeeded: only
    /// these are asked again before the next interval.
    retry: Vec<String>,
}

/// Runs until shutdown.
pub async fn serve(
    mut live: watch::Receiver<Arc<Live>>,
    mut requests: mpsc::Receiver<AnchorRequest>,
    wake_delivery: Arc<Notify>,
    shutdown: Shutdown,
) {
    let now = Instant::now();
    let store = live.borrow().checker.store.clone();
    let interval = anchor_interval(&live.borrow().config);
    // Pick up where the last run left off: the last anchor's age counts.
    let last_anchor_age = match store.anchors() {
        Ok(a) => a
            .iter()
            .map(|a| a.created_at)
            .max()
            .map(|t| jiff::Timestamp::now().duration_since(t).unsigned_abs()),
        Err(e) => {
            tracing::error!(error = %e, "cannot read the stored anchors");
            None
        }
    };
    let mut state = State {
        last_success: last_anchor_age
            .and_then(|age| now.checked_sub(age))
            .unwrap_or(now),
        failures: 0,
        next: match (last_anchor_age, interval) {
            (Some(age), Some(i)) if age < i => now + (i - age),
            _ => now,
        },
        retry: Vec::new(),
    };
    let mut open = true;
    loop {
        let current = live.borrow().clone();
        let wait = match anchor_interval(&current.config) {
            Some(_) => state.next.saturating_duration_since(Instant::now()),
            None => Duration::from_secs(24 * 3600),
        };
        tokio::select! {
            _ = shutdown.wait() => return,
            changed = live.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            req = requests.recv(), if open => match req {
                None => open = false,
                Some(reply) => {
                    let answer = match &current.config.evidence {
                        None => Err("no [evidence] section: nothing is anchored".to_string()),
                        Some(ev) => {
                            let r = round(&current, &ev.tsas, &mut state, &wake_delivery).await;
                            match r {
                                Ok(r) if r.all_stored() => Ok(r.to_string()),
                                Ok(r) => Err(r.to_string()),
                                Err(e) => Err(error_chain(&e)),
                            }
                        }
                    };
                    let _ = reply.send(answer);
                }
            },
            _ = tokio::time::sleep(wait) => {
                if let Some(ev) = &current.config.evidence {
                    let tsas: Vec<TsaConfig> = if state.retry.is_empty() {
                        ev.tsas.clone()
                    } else {
                        ev.tsas.iter().filter(|t| state.retry.contains(&t.id)).cloned().collect()
                    };
                    let _ = round(&current, &tsas, &mut state, &wake_delivery).await;
                }
            }
        }
    }
}

fn anchor_interval(config: &Config) -> Option<Duration> {
    config.evidence.as_ref().map(|e| e.anchor_interval)
}

/// One round with `tsas`, then the schedule and the streak brought up to
/// date.
async fn round(
    live: &Live,
    tsas: &[TsaConfig],
    state: &mut State,
    wake_delivery: &Notify,
) -> Result<Round, AnchorError> {
    let config = &live.config;
    let interval = anchor_interval(config).unwrap_or(crate::config::DEFAULT_ANCHOR_INTERVAL);
    let store = &live.checker.store;
    let result = match Client::new(&config.settings.user_agent, config.settings.timeout) {
        Ok(client) => anchor_all(store, tsas, &client).await,
        Err(e) => Err(e.into()),
    };
    let now = Instant::now();
    let base = (interval / 8).clamp(Duration::from_secs(1), Duration::from_secs(60));
    let retry_in = |failures: u32| failure_backoff(base, failures).min(interval);
    let succeeded = match &result {
        Err(AnchorError::Empty) => {
            state.last_success = now;
            state.failures = 0;
            state.retry.clear();
            state.next = now + EMPTY_RETRY.min(interval);
            return result;
        }
        Ok(r) if r.all_stored() => {
            state.failures = 0;
            state.retry.clear();
            state.next = now + interval;
            true
        }
        Ok(r) if r.any_stored() => {
            state.failures += 1;
            state.retry = r
                .outcomes
                .iter()
                .filter(|o| o.result.is_err())
                .map(|o| o.tsa.clone())
                .collect();
            state.next = now + retry_in(state.failures);
            true
        }
        _ => {
            state.failures += 1;
            state.next = now + retry_in(state.failures);
            false
        }
    };
    if succeeded {
        state.last_success = now;
    }
    let stale = now.duration_since(state.last_success) >= interval * 2;
    let detail = match &result {
        Ok(r) => r.failures(),
        Err(e) => error_chain(e),
    };
    if let Err(e) = note_streak(store, config, succeeded, stale, &detail) {
        tracing::error!(error = %e, "cannot record the anchoring streak");
    } else {
        wake_delivery.notify_one();
    }
    result
}

/// Queues the one `anchor-failing` notice of a streak (no anchor for two
/// intervals) or the `anchor-recovered` after it, for e-mail and every
/// chat channel. A notice's key names the streak, so it is never queued
/// twice.
fn note_streak(
    store: &Store,
    config: &Config,
    succeeded: bool,
    stale: bool,
    detail: &str,
) -> Result<(), StoreError> {
    let mut streak = store.anchor_streak()?;
    let kind = match (succeeded, streak.failing) {
        (false, false) if stale => {
            streak.failing = true;
            streak.episodes += 1;
            AlertKind::AnchorFailing
        }
        (true, true) => {
            streak.failing = false;
            AlertKind::AnchorRecovered
        }
        _ => return Ok(()),
    };
    let mut notice = OutboxEntry::new(
        format!("{}/{}", kind.name(), streak.episodes),
        kind,
        NOTICE_SOURCE,
        None,
    );
    if kind == AlertKind::AnchorFailing {
        notice.detail = Some(detail.to_string());
    }
    let mut all: Vec<OutboxEntry> = config
        .channels
        .iter()
        .map(|c| notice.for_channel(&c.id))
        .collect();
    all.insert(0, notice);
    store.enqueue_all(&all)?;
    store.put_anchor_streak(&streak)?;
    tracing::warn!(notice = kind.name(), "anchoring streak changed");
    Ok(())
}
