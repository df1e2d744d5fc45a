//! The `host-over-budget` notice: when a host has more checks due than its
//! pacing allows, one notice goes through the durable outbox per streak
//! (e-mail and every chat channel), and one `host-within-budget` line when
//! the streak ends, so whoever was told the schedule slips is also told
//! it caught up. The streak is kept in the store, so a restart in the
//! middle of one says nothing new.

use super::plan::HostBudget;
use crate::config::Config;
use crate::model::AlertKind;
use crate::store::{OutboxEntry, Store, StoreError};

/// Follows `b`'s streak: queues a notice on its first edge of a streak
/// (`b.over`: it starts; otherwise: it ends), naming `source` (a source
/// on the host, whose recipients get the e-mail). Returns the kind queued.
pub fn host_notice(
    store: &Store,
    config: &Config,
    b: &HostBudget,
    source: &str,
) -> Result<Option<AlertKind>, StoreError> {
    let mut streak = store.host_streak(&b.host)?;
    let kind = match (b.over, streak.over) {
        (true, false) => {
            streak.over = true;
            streak.episodes += 1;
            AlertKind::HostOverBudget
        }
        (false, true) => {
            streak.over = false;
            AlertKind::HostWithinBudget
        }
        _ => return Ok(None),
    };
    let mut notice = OutboxEntry::new(
        format!("{}/{}/{}", kind.name(), b.host, streak.episodes),
        kind,
        source,
        None,
    );
    notice.notice = Some(b.host.clone());
    notice.detail = Some(b.line());
    let mut all = vec![notice.clone()];
    all.extend(config.channels.iter().map(|c| notice.for_channel(&c.id)));
    store.enqueue_all(&all)?;
    store.put_host_streak(&b.host, &streak)?;
    Ok(Some(kind))
}
