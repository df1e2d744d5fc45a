//! Where each source stands in the schedule, as the read side shows it
//! without asking the scheduler: its current (adapted) interval, its next
//! check, whether it is retired, and each host's budget — all computed
//! from what the store records ([`Standings`]) and the configuration, with
//! the scheduler's own rules ([`crate::daemon::plan`]), so `sources list`,
//! the web view and `sources validate --fetch` agree with the daemon.
//!
//! `sources list` keeps its columns; what the store knows of a source's
//! schedule follows the URL in parentheses, and only where it is known
//! (a store no daemon of this release ran prints exactly as before):
//! `(next 2026-06-01 14:30)`, or `(every 3h now; next …)` when the interval
//! has adapted away from the configured one. Over-budget hosts follow the
//! sources, one `over budget:` line each.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use jiff::Timestamp;

use crate::config::{Config, Source, SourceKind};
use crate::present::beijing_minutes;
use crate::schedule::{self as plan, HostBudget, Plan};
use crate::store::{Schedule, Standings, Tracked};

/// How one source stands in the schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Standing {
    /// The configured interval (a discovered article's listing's).
    pub base: Duration,
    /// The current interval: adapted, as the store last recorded it.
    pub interval: Duration,
    /// When it is checked next (estimated from the last check where the
    /// store does not record it exactly); `None`: retired or never checked.
    pub next_check: Option<Timestamp>,
    /// A discovered article past `retire_after`: no longer checked.
    pub retired: bool,
    /// Whether the store records a schedule for it at all.
    pub known: bool,
}

impl Standing {
    /// A configured source.
    pub fn configured(s: &Source, sched: &Schedule, now: Timestamp) -> Standing {
        let max = match s.kind {
            SourceKind::Listing => s.interval,
            SourceKind::Article => s.rules.max_interval.unwrap_or(s.interval).max(s.interval),
        };
        Standing::with(s.interval, max, false, sched, now)
    }

    /// A discovered article found on `listing` (dated by its discovery, as
    /// the scheduler does).
    pub fn tracked(
        t: &Tracked,
        listing: &Source,
        config: &Config,
        sched: &Schedule,
        now: Timestamp,
    ) -> Standing {
        let p = Plan::article(Some(listing), config, Some(t.discovered_at.as_second()));
        Standing::with(p.base, p.max, p.is_retired(now.as_second()), sched, now)
    }

    fn with(
        base: Duration,
        max: Duration,
        retired: bool,
        sched: &Schedule,
        now: Timestamp,
    ) -> Standing {
        let interval = sched
            .interval_ms
            .map_or(base, Duration::from_millis)
            .clamp(base, max);
        Standing {
            base,
            interval,
            next_check: if retired {
                None
            } else {
                next_check(sched, interval, now)
            },
            retired,
            known: sched.interval_ms.is_some() || sched.next_check.is_some(),
        }
    }

    /// The words the web view and `sources list` use for the interval:
    /// `every 3h` or `every 3h (base 1h)`.
    pub fn every(&self) -> String {
        let now = shown(self.interval);
        if self.interval == self.base {
            format!("every {now}")
        } else {
            format!("every {now} (base {})", shown(self.base))
        }
    }
}

/// An interval as people read it: to the minute from an hour up, else to
/// the second (`3h 22m`, `1m 30s`).
pub fn shown(d: Duration) -> String {
    let secs = if d >= Duration::from_secs(3600) {
        (d.as_secs() + 30) / 60 * 60
    } else {
        d.as_secs_f64().round() as u64
    };
    humantime::format_duration(Duration::from_secs(secs)).to_string()
}

/// A check time is recorded at least this often (see the checker): below
/// it, the last check is known only this precisely.
const CHECK_TIME_PRECISION: Duration = Duration::from_secs(6 * 3600);

/// The later of the recorded next check and one interval after the last
/// check. A short interval whose check times are recorded coarsely is
/// rolled forward to the next one after `now`; a long one that is past is
/// overdue and shown as it is.
fn next_check(sched: &Schedule, interval: Duration, now: Timestamp) -> Option<Timestamp> {
    let secs = interval.as_secs().max(1) as i64;
    let by_check = sched
        .last_checked
        .and_then(|c| Timestamp::from_second(c.as_second() + secs).ok());
    let next = match (sched.next_check, by_check) {
        (Some(a), Some(b)) => a.max(b),
        (a, b) => a.or(b)?,
    };
    if next >= now || interval >= CHECK_TIME_PRECISION {
        return Some(next);
    }
    let behind = now.as_second() - next.as_second();
    let steps = behind / secs + 1;
    Timestamp::from_second(next.as_second() + steps * secs).ok()
}

/// Every source's standing and every host's budget.
#[derive(Debug, Clone, Default)]
pub struct Board {
    pub by_id: HashMap<String, Standing>,
    /// By host name.
    pub budgets: Vec<HostBudget>,
}

impl Board {
    /// The budget of the host `url` names, if it is over budget.
    pub fn over_budget(&self, url: &str) -> Option<&HostBudget> {
        let host = host_of(url)?;
        self.budgets.iter().find(|b| b.over && b.host == host)
    }
}

fn host_of(url: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .host_str()
        .map(str::to_ascii_lowercase)
}

/// The board of `config`'s sources and the tracked articles of its
/// listings, from what the store records.
pub fn board(config: &Config, standings: &Standings, now: Timestamp) -> Board {
    let scheds: HashMap<&str, &Schedule> = standings
        .states
        .iter()
        .map(|(id, s)| (id.as_str(), s))
        .collect();
    let none = Schedule::default();
    let sched = |id: &str| scheds.get(id).copied().unwrap_or(&none);
    let mut by_id = HashMap::new();
    let mut demand: HashMap<String, f64> = HashMap::new();
    let mut add = |id: &str, url: &str, st: Standing, by_id: &mut HashMap<String, Standing>| {
        if let Some(h) = host_of(url) {
            let d = demand.entry(h).or_default();
            if !st.retired {
                *d += plan::per_hour(st.interval);
            }
        }
        by_id.insert(id.to_string(), st);
    };
    for s in &config.sources {
        let st = Standing::configured(s, sched(&s.id), now);
        add(&s.id, s.url.as_str(), st, &mut by_id);
    }
    let listings: HashMap<&str, &Source> = config
        .sources
        .iter()
        .map(|s| (s.id.as_str(), &**s))
        .collect();
    for t in &standings.tracked {
        let Some(listing) = listings.get(t.listing.as_str()) else {
            continue;
        };
        let st = Standing::tracked(t, listing, config, sched(&t.id), now);
        add(&t.id, &t.url, st, &mut by_id);
    }
    let mut budgets: Vec<HostBudget> = demand
        .into_iter()
        .map(|(host, d)| {
            let cap = plan::capacity_per_hour(config, &host);
            HostBudget {
                over: plan::exceeds(d, cap, false),
                host,
                due_per_hour: d,
                capacity_per_hour: cap,
                streaks: 0,
            }
        })
        .collect();
    budgets.sort_by(|a, b| a.host.cmp(&b.host));
    Board { by_id, budgets }
}

/// `sources list`: one line per configured source, as it always was,
/// then what the store knows of its schedule; then each host over budget.
pub fn sources_list(config: &Config, standings: Option<&Standings>, now: Timestamp) -> String {
    let board = standings.map(|s| board(config, s, now));
    let mut out = String::new();
    for s in &config.sources {
        let kind = match s.kind {
            SourceKind::Article => "article",
            SourceKind::Listing => "listing",
        };
        let _ = write!(
            out,
            "{:<16} {:<8} {} {:<6} every {:<8} {}",
            s.id,
            kind,
            s.region,
            s.province,
            humantime::format_duration(s.interval).to_string(),
            s.url
        );
        if let Some(st) = board.as_ref().and_then(|b| b.by_id.get(&s.id)) {
            out.push_str(&suffix(st));
        }
        out.push('\n');
    }
    for b in board.iter().flat_map(|b| &b.budgets).filter(|b| b.over) {
        let _ = writeln!(out, "over budget: {}", b.line());
    }
    out
}

/// `  (every 3h now; next 2026-06-01 14:30)`, or nothing when the store
/// records no schedule for the source.
pub fn suffix(st: &Standing) -> String {
    if st.retired {
        return "  (retired)".to_string();
    }
    if !st.known {
        return String::new();
    }
    let next = st.next_check.map_or_else(
        || "first check soon".to_string(),
        |t| format!("next {}", beijing_minutes(t)),
    );
    if st.interval == st.base {
        format!("  ({next})")
    } else {
        format!("  (every {} now; {next})", shown(st.interval))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn the_next_check_is_the_recorded_one_or_one_interval_after_the_last() {
        let now = ts("2026-06-01T12:00:00Z");
        let hour = Duration::from_secs(3600);
        let day = Duration::from_secs(86400);
        let recorded = Schedule {
            next_check: Some(ts("2026-06-01T15:00:00Z")),
            last_checked: Some(ts("2026-06-01T11:30:00Z")),
            ..Schedule::default()
        };
        assert_eq!(
            next_check(&recorded, hour, now),
            Some(ts("2026-06-01T15:00:00Z"))
        );
        // Checked since the interval was recorded: one interval on.
        let later = Schedule {
            next_check: Some(ts("2026-05-01T00:00:00Z")),
            last_checked: Some(ts("2026-06-01T08:00:00Z")),
            ..Schedule::default()
        };
        assert_eq!(
            next_check(&later, day, now),
            Some(ts("2026-06-02T08:00:00Z"))
        );
        // A short interval with a coarse check time rolls forward…
        let coarse = Schedule {
            last_checked: Some(ts("2026-06-01T07:10:00Z")),
            ..Schedule::default()
        };
        assert_eq!(
            next_check(&coarse, hour, now),
            Some(ts("2026-06-01T12:10:00Z"))
        );
        // …a long one that is past is overdue.
        let overdue = Schedule {
            last_checked: Some(ts("2026-05-20T00:00:00Z")),
            ..Schedule::default()
        };
        assert_eq!(
            next_check(&overdue, 7 * day, now),
            Some(ts("2026-05-27T00:00:00Z"))
        );
        assert_eq!(next_check(&Schedule::default(), hour, now), None);
    }

    #[test]
    fn intervals_are_shown_to_the_minute_or_second() {
        assert_eq!(shown(Duration::from_millis(12_150_400)), "3h 23m");
        assert_eq!(shown(Duration::from_millis(90_400)), "1m 30s");
        assert_eq!(shown(Duration::from_secs(7 * 86400)), "7days");
    }
}
