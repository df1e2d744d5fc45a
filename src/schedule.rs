//! The schedule's rules, apart from any clock and any job queue: how a
//! source's interval adapts, when a discovered article is fresh or retired,
//! and what a host's pacing allows. The daemon's timetable
//! ([`crate::daemon`]) applies them over time; the read side (`sources
//! list`, the web view, `sources validate`) asks them of the store's records,
//! so both tell the same story.

use std::time::Duration;

use crate::config::{Cadence, Config, Source};

/// Interval growth per unchanged check.
pub const GROWTH: f64 = 1.5;

/// The longest a failing source waits between attempts (or its interval, if longer).
pub const MAX_FAILURE_BACKOFF: Duration = Duration::from_secs(4 * 3600);

/// The pause before retrying a source that failed `n` times in a row.
pub fn failure_backoff(interval: Duration, n: u32) -> Duration {
    let exp = n.saturating_sub(1).min(6);
    (interval * 2u32.pow(exp)).min(MAX_FAILURE_BACKOFF.max(interval))
}

/// What a check found, as far as scheduling cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A new version (or, for a listing, new articles).
    Changed,
    Unchanged,
    /// Failed `streak` times in a row.
    Failed {
        streak: u32,
    },
}

/// How one job is scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Plan {
    pub base: Duration,
    /// The interval never grows past this (`base`: it does not grow).
    pub max: Duration,
    /// A configured source (ranked first when its host is over budget).
    pub configured: bool,
    /// A discovered article's publish (else discovery) date, in seconds
    /// since the Unix epoch.
    pub born: Option<i64>,
    pub fresh_for: Duration,
    pub retire_after: Option<Duration>,
}

impl Plan {
    /// The plan of an article discovered on `listing` (without a job: the
    /// read side asks this of tracked articles).
    pub fn article(listing: Option<&Source>, config: &Config, born: Option<i64>) -> Plan {
        let base = listing.map_or(config.settings.interval, |s| s.interval);
        let c: Cadence = listing.map_or(config.settings.articles, |s| s.rules.articles);
        Plan {
            base,
            max: c.max_interval.unwrap_or(base).max(base),
            configured: false,
            born,
            fresh_for: c.fresh_for,
            retire_after: c.retire_after,
        }
    }

    fn age(&self, wall: i64) -> Option<Duration> {
        self.born
            .map(|b| Duration::from_secs(wall.saturating_sub(b).max(0) as u64))
    }

    /// Within `fresh_for` of its publication (discovered articles only).
    pub fn is_fresh(&self, wall: i64) -> bool {
        self.age(wall).is_some_and(|a| a < self.fresh_for)
    }

    /// Older than `retire_after`: no longer checked.
    pub fn is_retired(&self, wall: i64) -> bool {
        match (self.age(wall), self.retire_after) {
            (Some(a), Some(r)) => a >= r,
            _ => false,
        }
    }

    /// The interval after a check that found `verdict`, from `current`.
    pub fn next_interval(&self, current: Duration, verdict: Verdict, wall: i64) -> Duration {
        match verdict {
            Verdict::Changed => self.base,
            _ if self.is_fresh(wall) => self.base,
            Verdict::Unchanged => current.mul_f64(GROWTH).clamp(self.base, self.max),
            Verdict::Failed { .. } => current.clamp(self.base, self.max),
        }
    }

    /// The interval to start from when nothing better is known (a restart):
    /// what ×1.5 growth reaches when unchanged since the fresh period ended
    /// (after unchanged time `t` the interval is about `base + t / 2`).
    pub fn derived_interval(&self, wall: i64) -> Duration {
        match self.age(wall) {
            Some(age) if age > self.fresh_for => {
                (self.base + (age - self.fresh_for) / 2).clamp(self.base, self.max)
            }
            _ => self.base,
        }
    }

    /// Rank under an over-budget host: lower goes first.
    pub fn rank(&self, wall: i64) -> u8 {
        if self.configured {
            0
        } else if self.is_fresh(wall) {
            1
        } else {
            2
        }
    }
}

/// Checks per hour a job at `interval` asks for.
pub fn per_hour(interval: Duration) -> f64 {
    3600.0 / interval.as_secs_f64().max(1e-3)
}

/// Checks per hour a host's pacing allows (infinite with pacing off).
pub fn capacity_per_hour(config: &Config, host: &str) -> f64 {
    let spacing = spacing(config, host);
    if spacing.is_zero() {
        f64::INFINITY
    } else {
        per_hour(spacing)
    }
}

/// How far apart checks may start on `host`.
pub fn spacing(config: &Config, host: &str) -> Duration {
    let p = config.host_policy(host);
    p.interval / p.concurrency.max(1) as u32
}

/// Whether `demand` checks per hour exceed `capacity`; a host already
/// over budget stays so until it is 5 % below, so it does not flap.
pub fn exceeds(demand: f64, capacity: f64, was_over: bool) -> bool {
    if was_over {
        demand > capacity * 0.95
    } else {
        demand > capacity
    }
}

/// A host's budget, as `sources validate --fetch`, metrics and logs show it.
#[derive(Debug, Clone, PartialEq)]
pub struct HostBudget {
    pub host: String,
    /// Checks due per hour at the current intervals.
    pub due_per_hour: f64,
    /// Checks per hour its pacing allows (infinite with pacing off).
    pub capacity_per_hour: f64,
    pub over: bool,
    pub streaks: u64,
}

impl HostBudget {
    /// "yjt.example.gov.cn: 3,100 checks due per hour, its pacing allows 2,400".
    pub fn line(&self) -> String {
        let cap = if self.capacity_per_hour.is_finite() {
            thousands(self.capacity_per_hour)
        } else {
            "any number (pacing off)".into()
        };
        format!(
            "{}: {} checks due per hour, its pacing allows {cap}",
            self.host,
            thousands(self.due_per_hour)
        )
    }
}

/// `3100.4` → `"3,100"`.
pub fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
