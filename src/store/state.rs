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
    /// The scheduler's adapted interval in milliseconds, recorded when it
    /// changes (`None`: the base interval; every state written before
    /// intervals adapted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_ms: Option<u64>,
    /// When the source was due next as the interval last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_check: Option<Timestamp>,
}

/// What the read side shows of a source's schedule: the parts of its
/// fetch state that say when it was and will be checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_check: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_checked: Option<Timestamp>,
    #[serde(default)]
    pub failures: u32,
}

impl From<&FetchState> for Schedule {
    fn from(s: &FetchState) -> Schedule {
        Schedule {
            interval_ms: s.interval_ms,
            next_check: s.next_check,
            last_checked: s.last_checked,
            failures: s.consecutive_failures,
        }
    }
}

/// Every source's schedule and every tracked article: what `sources list`
/// and the host budgets are computed from (also over the control socket).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Standings {
    pub states: Vec<(String, Schedule)>,
    pub tracked: Vec<super::Tracked>,
}

/// A host's over-budget streak, as the `host-over-budget` notices follow
/// it across restarts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostStreak {
    pub over: bool,
    /// Streaks so far (keys the notices).
    pub episodes: u32,
}

const HOST_STREAK: &str = "host-streak/";

fn host_streak_key(host: &str) -> String {
    format!("{HOST_STREAK}{host}")
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
        self.write(|| {
            let old = self.fetch_state(source)?;
            self.put_fetch_state_inner(source, &old, state, refresh)
        })
    }

    /// [`Store::put_fetch_state`] against `read`, the state as the caller
    /// read it before changing it (a check reads its source's state once,
    /// at its start): no second read of the tree just to compare.
    pub fn put_fetch_state_over(
        &self,
        source: &str,
        read: &FetchState,
        state: &FetchState,
        refresh: std::time::Duration,
    ) -> Result<bool> {
        self.write(|| self.put_fetch_state_inner(source, read, state, refresh))
    }

    /// Records the scheduler's adapted interval (`None`: back at the base)
    /// and the next check in the source's fetch state. Written only when
    /// the interval changed (or nothing was recorded yet): a steady source
    /// never rewrites it.
    pub fn put_schedule(
        &self,
        source: &str,
        interval: Option<std::time::Duration>,
        next_check: Option<Timestamp>,
    ) -> Result<bool> {
        self.write(|| {
            let mut state = self.fetch_state(source)?;
            let secs = interval.map(|i| i.as_millis() as u64);
            if state.interval_ms == secs && state.next_check.is_some() {
                return Ok(false);
            }
            state.interval_ms = secs;
            state.next_check = next_check;
            self.state
                .insert(source.as_bytes(), encode_state(&state)?)?;
            Ok(true)
        })
    }

    /// Every source's [`Schedule`] and every tracked article.
    pub fn standings(&self) -> Result<Standings> {
        let mut states = Vec::new();
        for kv in self.state.iter() {
            let (k, v) = kv?;
            let state = decode_state(&k, &v)?;
            states.push((
                String::from_utf8_lossy(&k).into_owned(),
                Schedule::from(&state),
            ));
        }
        Ok(Standings {
            states,
            tracked: self.tracked()?,
        })
    }

    /// A host's over-budget streak (none recorded: never over budget).
    pub fn host_streak(&self, host: &str) -> Result<HostStreak> {
        let key = host_streak_key(host);
        match self.meta.get(key.as_bytes())? {
            Some(v) => serde_json::from_slice(&v)
                .map_err(super::error::damaged(key, "cannot decode a host's streak")),
            None => Ok(HostStreak::default()),
        }
    }

    /// Every host with a recorded over-budget streak, by host name.
    pub fn host_streaks(&self) -> Result<Vec<(String, HostStreak)>> {
        let mut out = Vec::new();
        for kv in self.meta.scan_prefix(HOST_STREAK.as_bytes()) {
            let (k, v) = kv?;
            let key = String::from_utf8_lossy(&k).into_owned();
            let streak: HostStreak = serde_json::from_slice(&v).map_err(super::error::damaged(
                key.clone(),
                "cannot decode a host's streak",
            ))?;
            out.push((key[HOST_STREAK.len()..].to_string(), streak));
        }
        Ok(out)
    }

    pub fn put_host_streak(&self, host: &str, streak: &HostStreak) -> Result<()> {
        let key = host_streak_key(host);
        let bytes = serde_json::to_vec(streak).map_err(super::error::damaged(
            key.clone(),
            "cannot encode a host's streak",
        ))?;
        self.write(|| {
            self.meta.insert(key.as_bytes(), bytes)?;
            self.flush()
        })
    }

    fn put_fetch_state_inner(
        &self,
        source: &str,
        old: &FetchState,
        state: &FetchState,
        refresh: std::time::Duration,
    ) -> Result<bool> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_written_over_what_was_read_is_compared_with_that_not_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open_with_cache(dir.path(), super::super::cache_for(100_000)).unwrap();
        let hour = std::time::Duration::from_secs(3600);
        let read = s.fetch_state("a").unwrap();
        let mut st = read.clone();
        st.last_checked = Some(Timestamp::now());
        assert!(s.put_fetch_state_over("a", &read, &st, hour).unwrap());
        let read = s.fetch_state("a").unwrap();
        assert_eq!(read, st);
        // Only the check time moved: nothing written.
        let mut again = read.clone();
        again.last_checked = Some(Timestamp::now());
        assert!(!s.put_fetch_state_over("a", &read, &again, hour).unwrap());
        assert_eq!(s.fetch_state("a").unwrap(), st);
        // A new validator is written.
        again.validators.etag = Some("\"x\"".into());
        assert!(s.put_fetch_state_over("a", &read, &again, hour).unwrap());
        assert_eq!(
            s.fetch_state("a").unwrap().validators.etag,
            again.validators.etag
        );
    }

    #[test]
    fn the_page_cache_grows_with_the_sources_within_its_bounds() {
        use super::super::{
            cache_for, daemon_cache_for, DAEMON_MAX_CACHE, DEFAULT_CACHE, MAX_CACHE,
        };
        if std::env::var_os("BULLETIN_WATCH_CACHE_MB").is_some() {
            return;
        }
        assert_eq!(cache_for(0), DEFAULT_CACHE);
        assert_eq!(cache_for(10_000), DEFAULT_CACHE);
        assert!(cache_for(50_000) > DEFAULT_CACHE);
        assert!(cache_for(100_000) > cache_for(50_000));
        assert_eq!(cache_for(10_000_000), MAX_CACHE);
        assert_eq!(daemon_cache_for(10_000), DAEMON_MAX_CACHE);
        assert!(daemon_cache_for(10_000) < cache_for(10_000));
        assert_eq!(daemon_cache_for(100_000), DAEMON_MAX_CACHE);
        assert!(daemon_cache_for(100_000) < cache_for(100_000));
        assert_eq!(daemon_cache_for(10_000_000), DAEMON_MAX_CACHE);
    }
}
