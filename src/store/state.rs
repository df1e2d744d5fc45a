//! Per-source fetch bookkeeping (validators, check times, failure
//! streaks), written only when it changes in a way that matters: sled
//! reclaims overwritten space late.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::codec::{decode_state, encode_state};
use super::{Result, Store};
use crate::model::{Validators, VolatileMask};

/// Per-source fetch bookkeeping.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchState {
    pub validators: Validators,
    pub last_checked: Option<Timestamp>,
    pub last_success: Option<Timestamp>,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
    /// Whether a `failing` alert went out for the current failure streak.
    pub failing_alerted: bool,
    /// Number of failure streaks that were alerted (keys the alerts).
    pub failing_episodes: u32,
    /// The source's volatile text, learned by the checker.
    #[serde(default, skip_serializing_if = "VolatileMask::is_empty")]
    pub volatile: VolatileMask,
}

impl Store {
    /// A source's fetch state (the default for a source never checked).
    pub fn fetch_state(&self, source: &str) -> Result<FetchState> {
        Ok(self
            .state
            .get(source.as_bytes())?
            .map(|v| decode_state(source.as_bytes(), &v))
            .transpose()?
            .unwrap_or_default())
    }

    /// Writes the fetch state only when it differs from what is stored in
    /// something other than `last_checked`, or when the stored check time is
    /// more than `refresh` old: an unchanged check must not rewrite sled.
    pub fn put_fetch_state(
        &self,
        source: &str,
        state: &FetchState,
        refresh: std::time::Duration,
    ) -> Result<bool> {
        self.write(|| self.put_fetch_state_inner(source, state, refresh))
    }

    fn put_fetch_state_inner(
        &self,
        source: &str,
        state: &FetchState,
        refresh: std::time::Duration,
    ) -> Result<bool> {
        let old = self.fetch_state(source)?;
        let mut old_cmp = old.clone();
        old_cmp.last_checked = state.last_checked;
        old_cmp.last_success = state.last_success;
        let stale = match (old.last_checked, state.last_checked) {
            (Some(o), Some(n)) => n.duration_since(o).as_secs_f64() >= refresh.as_secs_f64(),
            (None, Some(_)) => true,
            _ => false,
        };
        if old_cmp == *state && !stale {
            return Ok(false);
        }
        self.state.insert(source.as_bytes(), encode_state(state)?)?;
        Ok(true)
    }
}
