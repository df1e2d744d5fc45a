//! The scheduler's decisions, apart from tokio time: when each source is
//! next due, how its interval adapts, when a discovered article retires,
//! and in which order a host's due work goes when it exceeds the host's
//! capacity.
//!
//! Everything here takes `now` as an argument (an [`Instant`], and the wall
//! clock as seconds since the Unix epoch through [`Timetable::new`]), so a
//! virtual clock can drive it: the unit tests and `bench/schedule_sim.rs`
//! run years of schedule in seconds.
//!
//! - An unchanged check multiplies a source's interval by 1.5, up to its
//!   `max_interval`; a change snaps it back to the base.
//! - A discovered article stays at the base interval for `fresh_for` after
//!   its publish (or discovery) date, and is no longer checked once older
//!   than `retire_after`.
//! - Each host has a lane: checks start on it at most once per
//!   `host_interval / host_concurrency`; the due ones wait in value order
//!   (configured sources, then fresh articles, then the rest by staleness).
//!   When the checks due per hour exceed what its pacing allows, the host
//!   is over budget, and one notice is raised per streak.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{Config, SourceKind};
use crate::runner::Job;
pub use crate::schedule::{
    capacity_per_hour, exceeds, failure_backoff, per_hour, spacing, thousands, HostBudget, Plan,
    Verdict, GROWTH,
};

/// How a job is planned: its source's rules, or its listing's.
impl Plan {
    /// The plan of `job` under `config`; `born` as in [`Plan::born`].
    pub fn of(job: &Job, config: &Config, born: Option<i64>) -> Plan {
        let base = job.interval(config);
        match job {
            Job::Source(s) => Plan {
                base,
                max: match s.kind {
                    // A listing is never stretched: it is how articles are found.
                    SourceKind::Listing => base,
                    SourceKind::Article => s.rules.max_interval.unwrap_or(base).max(base),
                },
                configured: true,
                born: None,
                fresh_for: Duration::ZERO,
                retire_after: None,
            },
            Job::Article(t) => Plan::article(
                t.listing.as_deref().and_then(|l| config.source(l)),
                config,
                born,
            ),
        }
    }
}

/// Where a host's lane stands in the timetable's indexes of lanes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LaneSlot {
    /// Nothing waits for the host.
    Idle,
    /// Due work waits until the host is free at this time.
    Pending(Instant),
    /// The host is free and its most valuable waiting job has this key.
    Eligible(u8, Instant),
}

/// One host's share of the schedule.
#[derive(Debug)]
struct Lane {
    /// Checks start on the host at most this far apart.
    spacing: Duration,
    /// When the next check may start.
    next_free: Option<Instant>,
    /// Due jobs waiting for the host: (rank, due, id).
    ready: BTreeSet<(u8, Instant, Id)>,
    /// Checks per hour the scheduled jobs ask for.
    demand: f64,
    over: bool,
    /// Over-budget streaks so far.
    streaks: u64,
    slot: LaneSlot,
}

impl Lane {
    fn capacity(&self) -> f64 {
        if self.spacing.is_zero() {
            f64::INFINITY
        } else {
            per_hour(self.spacing)
        }
    }
}

/// The text of the `host-over-budget` notice, raised once per streak
/// (and of the `host-within-budget` line that ends it).
pub fn over_budget_notice(b: &HostBudget) -> String {
    b.line()
}

/// The host a job's requests go to (the lane it waits in).
pub fn host_of(job: &Job) -> String {
    let url = match job {
        Job::Source(s) => &s.url,
        Job::Article(t) => &t.url,
    };
    url.host_str().unwrap_or_default().to_ascii_lowercase()
}

/// A job's id or a host's name, shared by the maps and queues that name
/// it (one allocation each, not one per index).
type Id = Arc<str>;

struct Entry {
    job: Job,
    host: Id,
    /// Its plan: the shared rules at this index of [`Timetable::rules`],
    /// with its own date.
    rules: u32,
    born: Option<i64>,
    /// The current (adapted) interval.
    interval: Duration,
    stage: Stage,
    /// The last [`Timetable::replace`] that named it.
    epoch: u32,
    /// The interval as the store last recorded it (`Some(None)`: the
    /// base; `None`: the store records no schedule for it yet).
    saved: Option<Option<Duration>>,
}

/// Where a job stands between its checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Idle, due at this time (and in the queue under it).
    Due(Instant),
    /// Due since this time, waiting in its host's lane with this rank.
    Waiting(u8, Instant),
    /// Being checked.
    Running,
    /// No longer checked.
    Retired,
}

impl Stage {
    fn due(self) -> Option<Instant> {
        match self {
            Stage::Due(t) => Some(t),
            _ => None,
        }
    }

    fn waiting(self) -> Option<(u8, Instant)> {
        match self {
            Stage::Waiting(rank, t) => Some((rank, t)),
            _ => None,
        }
    }

    fn retired(self) -> bool {
        self == Stage::Retired
    }
}

/// The rules of one job's plan without its date, one shared copy per
/// distinct set: a timetable of 100,000 sources holds a handful, where a
/// [`Plan`] in every entry would cost 88 bytes each.
#[derive(Default)]
struct Rules {
    plans: Vec<Plan>,
    ids: HashMap<Plan, u32>,
}

impl Rules {
    /// The index of `plan`'s rules (its date is kept apart).
    fn intern(&mut self, plan: Plan) -> u32 {
        let rules = Plan { born: None, ..plan };
        if let Some(&i) = self.ids.get(&rules) {
            return i;
        }
        let i = self.plans.len() as u32;
        self.plans.push(rules);
        self.ids.insert(rules, i);
        i
    }

    /// The whole plan of `e`.
    fn of(&self, e: &Entry) -> Plan {
        let rules = self.plans.get(e.rules as usize).copied().unwrap_or(Plan {
            base: e.interval,
            max: e.interval,
            configured: false,
            born: None,
            fresh_for: Duration::ZERO,
            retire_after: None,
        });
        Plan {
            born: e.born,
            ..rules
        }
    }
}

/// A host's share of the schedule as `/metrics` shows it: aggregates, so
/// the series stay few at 100,000 sources.
#[derive(Debug, Clone, PartialEq)]
pub struct HostLoad {
    pub host: String,
    /// Jobs checked on it (not retired).
    pub scheduled: usize,
    pub retired: usize,
    /// Due checks waiting for the host's pacing.
    pub waiting: usize,
    /// How long the oldest of them has been due.
    pub oldest_wait: Duration,
    /// The mean current interval of its scheduled jobs.
    pub mean_interval: Duration,
}

/// What one scheduled job looks like from outside (for listings/metrics).
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    pub interval: Duration,
    pub base: Duration,
    pub due: Option<Instant>,
    pub retired: bool,
}

/// What the store remembers of a job's schedule (its fetch state), for a
/// restart to go on from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Remembered {
    /// The adapted interval (`None`: the base).
    pub interval: Option<Duration>,
    /// When it was due next, in seconds since the Unix epoch.
    pub next_check: Option<i64>,
    /// The last check, in seconds since the Unix epoch.
    pub last_checked: Option<i64>,
}

/// A job whose adapted interval the store should record (see
/// [`Timetable::unsaved`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToSave {
    /// `None`: back at the base.
    pub interval: Option<Duration>,
    /// When it is next due, in seconds since the Unix epoch.
    pub next_check: Option<i64>,
}

/// Every scheduled job, the queue of the idle ones by due time, and each
/// host's lane.
pub struct Timetable {
    entries: HashMap<Id, Entry>,
    rules: Rules,
    queue: BTreeSet<(Instant, Id)>,
    lanes: HashMap<Id, Lane>,
    /// Every host name an entry or lane holds, one copy each.
    hosts: HashSet<Id>,
    /// Lanes with due work waiting for their host, by when it is free.
    pending: BTreeSet<(Instant, Id)>,
    /// Lanes free to start a check, by their most valuable waiting job.
    eligible: BTreeSet<(u8, Instant, Id)>,
    /// Counts [`Timetable::replace`] calls.
    epoch: u32,
    /// First checks are spread over the few seconds after this.
    start: Instant,
    /// The wall clock at `start`, in seconds since the Unix epoch.
    wall_start: i64,
    /// Off: every job keeps its base interval (the simulation's baseline).
    pub adaptive: bool,
    /// Jitter: each pause is stretched by a factor in `1 ± jitter`.
    pub jitter: f64,
    notices: Vec<HostBudget>,
}

impl Timetable {
    /// A timetable whose clock reads `start` when the wall clock reads
    /// `wall_start` (seconds since the Unix epoch).
    pub fn new(start: Instant, wall_start: i64) -> Timetable {
        Timetable {
            entries: HashMap::new(),
            rules: Rules::default(),
            queue: BTreeSet::new(),
            lanes: HashMap::new(),
            hosts: HashSet::new(),
            pending: BTreeSet::new(),
            eligible: BTreeSet::new(),
            epoch: 0,
            start,
            wall_start,
            adaptive: true,
            jitter: 0.1,
            notices: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The wall clock at `now`.
    pub fn wall(&self, now: Instant) -> i64 {
        self.wall_start + now.saturating_duration_since(self.start).as_secs() as i64
    }

    /// The instant the wall clock reads `wall` (never before the start).
    fn instant(&self, wall: i64) -> Instant {
        self.start + Duration::from_secs(wall.saturating_sub(self.wall_start).max(0) as u64)
    }

    fn jittered(&self, d: Duration) -> Duration {
        d.mul_f64(1.0 - self.jitter + fastrand::f64() * 2.0 * self.jitter)
    }

    /// Makes `jobs` the scheduled set: known jobs keep their due time and
    /// interval (and pick up a changed definition), new ones are due
    /// within the first seconds after start, dropped ones go — even while
    /// running, they are not rescheduled when they end. `born` gives
    /// discovered articles' publish (else discovery) dates.
    pub fn replace(&mut self, jobs: Vec<Job>, config: &Config, born: &HashMap<String, i64>) {
        // Updated in place: a second map beside the first would double
        // the timetable's memory for the moment of the swap.
        self.epoch = self.epoch.wrapping_add(1);
        let epoch = self.epoch;
        let wall = self.wall(self.start);
        self.entries
            .reserve(jobs.len().saturating_sub(self.entries.len()));
        for job in jobs {
            let plan = Plan::of(&job, config, born.get(job.id()).copied());
            let host = self.intern(host_of(&job));
            let rules = self.rules.intern(plan);
            if let Some(old) = self.entries.get_mut(job.id()) {
                old.interval = old.interval.clamp(plan.base, plan.max);
                old.host = host;
                old.job = job;
                old.rules = rules;
                old.born = plan.born;
                old.epoch = epoch;
                continue;
            }
            let id: Id = Arc::from(job.id());
            let spread = (plan.base / 10)
                .min(Duration::from_secs(5))
                .mul_f64(fastrand::f64());
            let stage = if plan.is_retired(wall) {
                Stage::Retired
            } else {
                let due = self.start + spread;
                self.queue.insert((due, id.clone()));
                Stage::Due(due)
            };
            let interval = if self.adaptive {
                plan.derived_interval(wall)
            } else {
                plan.base
            };
            self.entries.insert(
                id,
                Entry {
                    host,
                    job,
                    rules,
                    born: plan.born,
                    interval,
                    stage,
                    epoch,
                    saved: None,
                },
            );
        }
        let gone: Vec<Id> = self
            .entries
            .iter()
            .filter(|(_, e)| e.epoch != epoch)
            .map(|(id, _)| id.clone())
            .collect();
        let mut touched = Vec::new();
        for id in gone {
            let Some(old) = self.entries.remove(&id) else {
                continue;
            };
            if let Some(due) = old.stage.due() {
                self.queue.remove(&(due, id.clone()));
            }
            if let (Some(lane), Some((rank, due))) =
                (self.lanes.get_mut(&old.host), old.stage.waiting())
            {
                lane.ready.remove(&(rank, due, id));
                touched.push(old.host);
            }
        }
        for host in touched {
            self.index_lane(&host);
        }
        self.rebuild_lanes(config);
    }

    /// The one shared copy of a host name.
    fn intern(&mut self, host: String) -> Id {
        if let Some(h) = self.hosts.get(host.as_str()) {
            return h.clone();
        }
        let h: Id = Arc::from(host);
        self.hosts.insert(h.clone());
        h
    }

    /// Goes on from what the store remembers after a restart: each job
    /// named in `known` takes its recorded interval, and is due when it
    /// was due (not before the first seconds after start, and not later
    /// than one interval after its last check, or after start).
    pub fn restore(&mut self, known: &HashMap<String, Remembered>, config: &Config) {
        let start = self.start;
        let wall_start = self.wall_start;
        for (id, k) in known {
            let Some((id, e)) = self.entries.get_key_value(id.as_str()) else {
                continue;
            };
            let id = id.clone();
            let Stage::Due(old_due) = e.stage else {
                continue;
            };
            let plan = self.rules.of(e);
            let interval = match (self.adaptive, k.interval) {
                (true, Some(i)) => i.clamp(plan.base, plan.max),
                (true, None) => plan.base,
                (false, _) => plan.base,
            };
            // The later of the recorded due time and one interval after
            // the last check (a check time is recorded less often than
            // checks run), never later than one interval from now.
            let by_check = k.last_checked.map(|c| c + interval.as_secs() as i64);
            let next = match (k.next_check, by_check) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            let earliest = old_due;
            let due = match next {
                Some(w) if w > wall_start => self.instant(w).min(start + interval).max(earliest),
                _ => earliest,
            };
            if let Some(e) = self.entries.get_mut(&id) {
                e.interval = interval;
                e.saved = k.next_check.map(|_| k.interval);
                e.stage = Stage::Due(due);
            }
            self.queue.remove(&(old_due, id.clone()));
            self.queue.insert((due, id.clone()));
        }
        self.rebuild_lanes(config);
    }

    /// Adds one job, first due at `due` (a discovered article whose first
    /// version was fetched with its listing). Replaces a job of that id.
    pub fn insert(&mut self, job: Job, config: &Config, born: Option<i64>, due: Instant) {
        let plan = Plan::of(&job, config, born);
        let id: Id = Arc::from(job.id());
        self.remove(&id);
        let host = self.intern(host_of(&job));
        self.lane(&host, config).demand += per_hour(plan.base);
        self.check_budget(&host);
        self.queue.insert((due, id.clone()));
        let rules = self.rules.intern(plan);
        self.entries.insert(
            id,
            Entry {
                job,
                host,
                rules,
                born: plan.born,
                interval: plan.base,
                stage: Stage::Due(due),
                epoch: self.epoch,
                saved: None,
            },
        );
    }

    fn remove(&mut self, id: &str) {
        let Some((id, old)) = self.entries.remove_entry(id) else {
            return;
        };
        if let Some(due) = old.stage.due() {
            self.queue.remove(&(due, id.clone()));
        }
        if let Some(lane) = self.lanes.get_mut(&old.host) {
            if let Some((rank, due)) = old.stage.waiting() {
                lane.ready.remove(&(rank, due, id));
            }
            if !old.stage.retired() {
                lane.demand -= per_hour(old.interval);
            }
        }
        self.index_lane(&old.host);
    }

    fn lane(&mut self, host: &Id, config: &Config) -> &mut Lane {
        self.lanes.entry(host.clone()).or_insert_with(|| Lane {
            spacing: spacing(config, host),
            next_free: None,
            ready: BTreeSet::new(),
            demand: 0.0,
            over: false,
            streaks: 0,
            slot: LaneSlot::Idle,
        })
    }

    /// Puts a lane where it belongs in `pending`/`eligible` after its
    /// waiting jobs or its next free time changed.
    fn index_lane(&mut self, host: &Id) {
        let Some(lane) = self.lanes.get_mut(host) else {
            return;
        };
        let new = match lane.ready.first() {
            None => LaneSlot::Idle,
            Some((rank, due, _)) => match (lane.slot, lane.next_free) {
                // A free lane stays free until it starts a check.
                (LaneSlot::Eligible(..), _) => LaneSlot::Eligible(*rank, *due),
                (_, Some(free)) => LaneSlot::Pending(free.max(*due)),
                (_, None) => LaneSlot::Pending(*due),
            },
        };
        let old = std::mem::replace(&mut lane.slot, new);
        if old == new {
            return;
        }
        match old {
            LaneSlot::Idle => {}
            LaneSlot::Pending(t) => {
                self.pending.remove(&(t, host.clone()));
            }
            LaneSlot::Eligible(r, d) => {
                self.eligible.remove(&(r, d, host.clone()));
            }
        }
        match new {
            LaneSlot::Idle => {}
            LaneSlot::Pending(t) => {
                self.pending.insert((t, host.clone()));
            }
            LaneSlot::Eligible(r, d) => {
                self.eligible.insert((r, d, host.clone()));
            }
        }
    }

    fn rebuild_lanes(&mut self, config: &Config) {
        let mut demand: HashMap<Id, f64> = HashMap::new();
        for e in self.entries.values().filter(|e| !e.stage.retired()) {
            *demand.entry(e.host.clone()).or_default() += per_hour(e.interval);
        }
        let gone: Vec<Id> = self
            .lanes
            .iter()
            .filter(|(h, l)| !demand.contains_key(*h) && l.ready.is_empty())
            .map(|(h, _)| h.clone())
            .collect();
        for h in gone {
            if let Some(l) = self.lanes.remove(&h) {
                // The end of a streak is still said.
                if l.over {
                    let mut b = budget(&h, &l);
                    b.over = false;
                    b.due_per_hour = 0.0;
                    self.notices.push(b);
                }
                match l.slot {
                    LaneSlot::Pending(t) => {
                        self.pending.remove(&(t, h));
                    }
                    LaneSlot::Eligible(r, d) => {
                        self.eligible.remove(&(r, d, h));
                    }
                    LaneSlot::Idle => {}
                }
            }
        }
        for lane in self.lanes.values_mut() {
            lane.demand = 0.0;
        }
        for (host, d) in demand {
            let spacing = spacing(config, &host);
            let lane = self.lane(&host, config);
            lane.spacing = spacing;
            lane.demand = d;
        }
        let hosts: Vec<Id> = self.lanes.keys().cloned().collect();
        for h in hosts {
            self.check_budget(&h);
        }
    }

    /// Starts or ends a host's over-budget streak; each edge raises a
    /// notice (`over` says which).
    fn check_budget(&mut self, host: &str) {
        let Some(lane) = self.lanes.get_mut(host) else {
            return;
        };
        let over = exceeds(lane.demand, lane.capacity(), lane.over);
        if over == lane.over {
            return;
        }
        lane.over = over;
        if over {
            lane.streaks += 1;
        }
        let b = budget(host, lane);
        self.notices.push(b);
    }

    /// The edges of over-budget streaks since the last call: one with
    /// `over` when a streak starts, one without when it ends.
    pub fn take_notices(&mut self) -> Vec<HostBudget> {
        std::mem::take(&mut self.notices)
    }

    /// Every host's budget, by host name.
    pub fn budgets(&self) -> Vec<HostBudget> {
        let mut out: Vec<HostBudget> = self.lanes.iter().map(|(h, l)| budget(h, l)).collect();
        out.sort_by(|a, b| a.host.cmp(&b.host));
        out
    }

    /// Every host's load at `now`, by host name (a walk over every job).
    pub fn loads(&self, now: Instant) -> Vec<HostLoad> {
        let mut by: HashMap<&str, (usize, usize, f64)> = HashMap::new();
        for e in self.entries.values() {
            let l = by.entry(&*e.host).or_default();
            if e.stage.retired() {
                l.1 += 1;
            } else {
                l.0 += 1;
                l.2 += e.interval.as_secs_f64();
            }
        }
        let mut out: Vec<HostLoad> = by
            .into_iter()
            .map(|(host, (scheduled, retired, sum))| {
                let lane = self.lanes.get(host);
                HostLoad {
                    host: host.to_string(),
                    scheduled,
                    retired,
                    waiting: lane.map_or(0, |l| l.ready.len()),
                    oldest_wait: lane
                        .and_then(|l| l.ready.iter().map(|(_, d, _)| *d).min())
                        .map_or(Duration::ZERO, |d| now.saturating_duration_since(d)),
                    mean_interval: Duration::from_secs_f64(sum / scheduled.max(1) as f64),
                }
            })
            .collect();
        out.sort_by(|a, b| a.host.cmp(&b.host));
        out
    }

    /// How a job is scheduled right now.
    pub fn slot(&self, id: &str) -> Option<Slot> {
        self.entries.get(id).map(|e| Slot {
            interval: e.interval,
            base: self.rules.of(e).base,
            due: e.stage.due(),
            retired: e.stage.retired(),
        })
    }

    /// A job on `host` to name a notice about the host by: a configured
    /// source if there is one (the smallest id, so it is stable).
    pub fn sample_on(&self, host: &str) -> Option<String> {
        self.entries
            .iter()
            .filter(|(_, e)| &*e.host == host)
            .min_by_key(|(id, e)| (!self.rules.of(e).configured, &**id))
            .map(|(id, _)| id.to_string())
    }

    /// If the store does not yet record `id`'s adapted interval (or any
    /// schedule: once per source), what it should record; the caller
    /// writes it, and it counts as saved. A steady source writes nothing.
    pub fn unsaved(&mut self, id: &str) -> Option<ToSave> {
        let e = self.entries.get(id)?;
        let interval = (e.interval != self.rules.of(e).base).then_some(e.interval);
        if Some(interval) == e.saved {
            return None;
        }
        let next_check = e.stage.due().map(|d| self.wall(d));
        if let Some(e) = self.entries.get_mut(id) {
            e.saved = Some(interval);
        }
        Some(ToSave {
            interval,
            next_check,
        })
    }

    /// When the scheduler should look again: the earliest idle job's due
    /// time, or the time a host with due work waiting can take the next.
    pub fn next_due(&self) -> Option<Instant> {
        let queued = self.queue.first().map(|(due, _)| *due);
        let waiting = self.pending.first().map(|(t, _)| *t);
        let now = self.eligible.iter().map(|(_, d, _)| *d).next();
        [queued, waiting, now].into_iter().flatten().min()
    }

    /// Takes the most valuable due job whose host can take a check at
    /// `now`; it counts as running until [`Timetable::done`].
    pub fn pop_due(&mut self, now: Instant) -> Option<Job> {
        let wall = self.wall(now);
        while let Some((due, _)) = self.queue.first() {
            if *due > now {
                break;
            }
            let Some((due, id)) = self.queue.pop_first() else {
                break;
            };
            let Some(e) = self.entries.get_mut(&id) else {
                continue;
            };
            let rank = self.rules.of(e).rank(wall);
            e.stage = Stage::Waiting(rank, due);
            let host = e.host.clone();
            if let Some(lane) = self.lanes.get_mut(&host) {
                lane.ready.insert((rank, due, id));
            }
            self.index_lane(&host);
        }
        // Hosts that became free.
        while let Some((t, _)) = self.pending.first() {
            if *t > now {
                break;
            }
            let Some((_, host)) = self.pending.pop_first() else {
                break;
            };
            let Some(lane) = self.lanes.get_mut(&host) else {
                continue;
            };
            lane.slot = LaneSlot::Idle;
            if let Some((rank, due, _)) = lane.ready.first() {
                lane.slot = LaneSlot::Eligible(*rank, *due);
                self.eligible.insert((*rank, *due, host));
            }
        }
        let (_, _, host) = self.eligible.pop_first()?;
        let lane = self.lanes.get_mut(&host)?;
        lane.slot = LaneSlot::Idle;
        let popped = lane.ready.pop_first();
        lane.next_free = Some(now + lane.spacing);
        self.index_lane(&host);
        let (_, _, id) = popped?;
        let e = self.entries.get_mut(&id)?;
        e.stage = Stage::Running;
        Some(e.job.clone())
    }

    /// A job ended with `verdict` at `now`: due again after its adapted
    /// interval (or its failure backoff), jittered — unless it was dropped
    /// meanwhile or is now retired.
    pub fn done(&mut self, id: &str, verdict: Verdict, now: Instant) {
        let wall = self.wall(now);
        let adaptive = self.adaptive;
        let Some((key, _)) = self.entries.get_key_value(id) else {
            return;
        };
        let key = key.clone();
        let Some(e) = self.entries.get_mut(id) else {
            return;
        };
        let plan = self.rules.of(e);
        let old = e.interval;
        if adaptive {
            e.interval = plan.next_interval(e.interval, verdict, wall);
        }
        let retired = plan.is_retired(wall);
        let pause = match verdict {
            Verdict::Failed { streak } => failure_backoff(plan.base, streak),
            _ => e.interval,
        };
        let host = e.host.clone();
        let (new, was_retired) = (e.interval, e.stage.retired());
        e.stage = if retired {
            Stage::Retired
        } else {
            Stage::Running
        };
        if !retired {
            let due = now + self.jittered(pause);
            if let Some(e) = self.entries.get_mut(id) {
                e.stage = Stage::Due(due);
            }
            self.queue.insert((due, key));
        }
        if let Some(lane) = self.lanes.get_mut(&host) {
            if !was_retired {
                lane.demand -= per_hour(old);
            }
            if !retired {
                lane.demand += per_hour(new);
            }
        }
        if old != new || retired != was_retired {
            self.check_budget(&host);
        }
    }
}

fn budget(host: &str, l: &Lane) -> HostBudget {
    HostBudget {
        host: host.to_string(),
        due_per_hour: l.demand.max(0.0),
        capacity_per_hour: l.capacity(),
        over: l.over,
        streaks: l.streaks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Target;

    const DAY: u64 = 86400;
    /// The wall clock at the virtual start: 2026-01-01.
    const WALL: i64 = 1_767_225_600;

    fn config(settings: &str, ids: &[&str], extra: &str) -> Config {
        let default = if settings.lines().any(|l| l.starts_with("interval ")) {
            ""
        } else {
            "interval = \"60s\"\n"
        };
        let mut text = format!("[settings]\n{default}{settings}\n");
        for id in ids {
            text.push_str(&format!(
                "\n[[source]]\nid = \"{id}\"\nprovince = \"上海市\"\nregion = \"华东\"\nurl = \"http://127.0.0.1:1/{id}.html\"\nkind = \"article\"\n{extra}\n"
            ));
        }
        text.push_str("\n[[source]]\nid = \"col\"\nprovince = \"上海市\"\nregion = \"华东\"\nurl = \"http://127.0.0.1:1/col/\"\nkind = \"listing\"\nlink_pattern = \"会议\"\n");
        crate::config::parse(&text, std::path::Path::new("t/sources.toml")).unwrap()
    }

    fn sources(c: &Config, ids: &[&str]) -> Vec<Job> {
        c.sources
            .iter()
            .filter(|s| ids.contains(&s.id.as_str()))
            .cloned()
            .map(Job::Source)
            .collect()
    }

    fn article(c: &Config, n: usize) -> Job {
        let listing = c.source("col").unwrap();
        let url = url::Url::parse(&format!("http://127.0.0.1:1/col/{n}.html")).unwrap();
        Job::Article(Arc::new(Target::discovered(
            listing,
            format!("a{n}"),
            url,
            "会议",
        )))
    }

    fn table(start: Instant) -> Timetable {
        let mut t = Timetable::new(start, WALL);
        t.jitter = 0.0;
        t
    }

    /// Pops `id` when due and ends it with `verdict`; returns when it ran.
    fn run_once(t: &mut Timetable, id: &str, verdict: Verdict) -> Instant {
        let due = t.slot(id).unwrap().due.unwrap();
        assert_eq!(t.pop_due(due).unwrap().id(), id);
        t.done(id, verdict, due);
        due
    }

    fn interval(t: &Timetable, id: &str) -> Duration {
        t.slot(id).unwrap().interval
    }

    #[test]
    fn due_jobs_come_out_once_in_due_order_and_come_back_after_their_interval() {
        let start = Instant::now();
        let c = config("host_interval = \"0s\"", &["a", "b", "c"], "");
        let mut t = Timetable::new(start, WALL);
        t.replace(sources(&c, &["a", "b", "c"]), &c, &HashMap::new());
        assert_eq!(t.len(), 3);
        // First checks are spread over at most 5 s after start.
        assert!(t.next_due().unwrap() <= start + Duration::from_secs(5));
        let mut popped = Vec::new();
        while let Some(job) = t.pop_due(start + Duration::from_secs(6)) {
            popped.push(job.id().to_string());
        }
        popped.sort();
        assert_eq!(popped, ["a", "b", "c"]);
        assert_eq!(t.next_due(), None, "running jobs are not due");
        let now = start + Duration::from_secs(10);
        t.done("b", Verdict::Unchanged, now);
        let due = t.next_due().unwrap();
        assert!(due >= now + Duration::from_secs(53) && due <= now + Duration::from_secs(67));
        assert!(t.pop_due(now).is_none(), "not due before its interval");
        assert_eq!(t.pop_due(due).unwrap().id(), "b");
    }

    #[test]
    fn a_reload_keeps_due_times_and_drops_removed_jobs_even_while_running() {
        let start = Instant::now();
        let c = config("host_interval = \"0s\"", &["a", "b"], "");
        let mut t = table(start);
        t.replace(sources(&c, &["a", "b"]), &c, &HashMap::new());
        let dues = [t.slot("a").unwrap().due, t.slot("b").unwrap().due];
        let running = t.pop_due(start + Duration::from_secs(6)).unwrap();
        let keep = if running.id() == "a" { "b" } else { "a" };
        let c2 = config("host_interval = \"0s\"", &[keep, "new"], "");
        t.replace(sources(&c2, &[keep, "new"]), &c2, &HashMap::new());
        assert_eq!(t.len(), 2);
        assert!(dues
            .iter()
            .all(|d| d.unwrap() <= start + Duration::from_secs(5)));
        let mut ids = Vec::new();
        while let Some(j) = t.pop_due(start + Duration::from_secs(6)) {
            ids.push(j.id().to_string());
        }
        ids.sort();
        assert_eq!(ids, [keep.to_string(), "new".to_string()]);
        // The dropped job ends and is not rescheduled.
        t.done(
            running.id(),
            Verdict::Unchanged,
            start + Duration::from_secs(7),
        );
        assert_eq!(t.next_due(), None);
    }

    #[test]
    fn failure_backoff_doubles_and_caps() {
        let i = Duration::from_secs(60);
        assert_eq!(failure_backoff(i, 1), i);
        assert_eq!(failure_backoff(i, 3), i * 4);
        assert_eq!(
            failure_backoff(Duration::from_secs(600), 20),
            crate::schedule::MAX_FAILURE_BACKOFF
        );
        let long = Duration::from_secs(24 * 3600);
        assert_eq!(failure_backoff(long, 5), long);
    }

    #[test]
    fn an_unchanged_source_grows_by_half_up_to_max_interval_and_a_change_resets_it() {
        let start = Instant::now();
        let c = config("host_interval = \"0s\"", &["a"], "max_interval = \"10m\"");
        let mut t = table(start);
        t.replace(sources(&c, &["a"]), &c, &HashMap::new());
        let s = Duration::from_secs;
        assert_eq!(interval(&t, "a"), s(60));
        let mut seen = Vec::new();
        for _ in 0..8 {
            run_once(&mut t, "a", Verdict::Unchanged);
            seen.push(interval(&t, "a").as_secs());
        }
        assert_eq!(seen, [90, 135, 202, 303, 455, 600, 600, 600]);
        // The next check is due after the grown interval.
        let ran = run_once(&mut t, "a", Verdict::Unchanged);
        assert_eq!(t.slot("a").unwrap().due, Some(ran + s(600)));
        run_once(&mut t, "a", Verdict::Changed);
        assert_eq!(interval(&t, "a"), s(60), "a change snaps it back");
        let ran = run_once(&mut t, "a", Verdict::Failed { streak: 2 });
        assert_eq!(interval(&t, "a"), s(60), "a failure does not grow it");
        assert_eq!(t.slot("a").unwrap().due, Some(ran + s(120)), "it backs off");
    }

    #[test]
    fn configured_sources_keep_their_interval_without_max_interval() {
        let start = Instant::now();
        // `[settings] max_interval` is for discovered articles only.
        let c = config("host_interval = \"0s\"\nmax_interval = \"1d\"", &["a"], "");
        for id in ["a", "col"] {
            let mut t = table(start);
            t.replace(sources(&c, &[id]), &c, &HashMap::new());
            for _ in 0..5 {
                run_once(&mut t, id, Verdict::Unchanged);
            }
            // Not even a listing's `max_interval`: that is for its articles.
            assert_eq!(interval(&t, id), Duration::from_secs(60), "{id}");
        }
    }

    #[test]
    fn a_fresh_article_stays_at_the_base_for_fresh_for_then_grows_to_the_default_week() {
        let start = Instant::now();
        let c = config("host_interval = \"0s\"\ninterval = \"1h\"", &[], "");
        let mut t = table(start);
        // Published at the start; `fresh_for` defaults to 30 days.
        t.insert(article(&c, 1), &c, Some(WALL), start);
        let mut last = start;
        while last < start + Duration::from_secs(29 * DAY) {
            last = run_once(&mut t, "a1", Verdict::Unchanged);
            assert_eq!(interval(&t, "a1"), Duration::from_secs(3600), "fresh");
        }
        while last < start + Duration::from_secs(60 * DAY) {
            last = run_once(&mut t, "a1", Verdict::Unchanged);
        }
        assert_eq!(interval(&t, "a1"), Duration::from_secs(7 * DAY));
        run_once(&mut t, "a1", Verdict::Changed);
        assert_eq!(interval(&t, "a1"), Duration::from_secs(3600));
    }

    #[test]
    fn a_restart_derives_an_old_articles_interval_from_its_age() {
        let start = Instant::now();
        let c = config("host_interval = \"0s\"\ninterval = \"1h\"", &[], "");
        let mut t = table(start);
        let born: HashMap<String, i64> = [
            ("a1".to_string(), WALL - 10 * DAY as i64),
            ("a2".to_string(), WALL - 32 * DAY as i64),
            ("a3".to_string(), WALL - 400 * DAY as i64),
        ]
        .into();
        let jobs = (1..=3).map(|n| article(&c, n)).collect();
        t.replace(jobs, &c, &born);
        assert_eq!(interval(&t, "a1"), Duration::from_secs(3600), "still fresh");
        assert_eq!(interval(&t, "a2"), Duration::from_secs(3600 + DAY));
        assert_eq!(interval(&t, "a3"), Duration::from_secs(7 * DAY));
    }

    #[test]
    fn retire_after_stops_checking_old_articles_but_keeps_them_known() {
        let start = Instant::now();
        let c = config(
            "host_interval = \"0s\"\ninterval = \"1d\"\nretire_after = \"3y\"",
            &[],
            "",
        );
        let mut t = table(start);
        let three_years = 3 * 365 * DAY + 3 * DAY / 4; // humantime's year is 365.25 days
        let born: HashMap<String, i64> = [
            ("a1".to_string(), WALL - three_years as i64 - 1),
            ("a2".to_string(), WALL - three_years as i64 + 2 * DAY as i64),
        ]
        .into();
        t.replace(vec![article(&c, 1), article(&c, 2)], &c, &born);
        assert_eq!(t.len(), 2);
        assert!(t.slot("a1").unwrap().retired);
        assert_eq!(t.slot("a1").unwrap().due, None, "never due");
        assert!(!t.slot("a2").unwrap().retired);
        let ran = run_once(&mut t, "a2", Verdict::Unchanged);
        assert!(t.slot("a2").unwrap().due.is_some());
        // Its next check finds it past `retire_after`: no more checks.
        let due = t.slot("a2").unwrap().due.unwrap();
        assert!(due > ran);
        assert_eq!(t.pop_due(due).unwrap().id(), "a2");
        t.done(
            "a2",
            Verdict::Unchanged,
            start + Duration::from_secs(3 * DAY),
        );
        assert!(t.slot("a2").unwrap().retired);
        assert_eq!(t.next_due(), None);
    }

    #[test]
    fn a_host_over_budget_gets_one_notice_per_streak_and_its_listing_stays_on_time() {
        let start = Instant::now();
        // One check per 10 s: 360 an hour. The listing alone asks 60.
        let c = config("host_interval = \"10s\"", &[], "");
        let mut t = table(start);
        t.adaptive = false;
        let mut jobs = sources(&c, &["col"]);
        jobs.extend((0..200).map(|n| article(&c, n)));
        let born: HashMap<String, i64> = (0..200)
            .map(|n| (format!("a{n}"), WALL - 400 * DAY as i64))
            .collect();
        t.replace(jobs, &c, &born);
        let notices = t.take_notices();
        assert_eq!(notices.len(), 1);
        assert_eq!(
            over_budget_notice(&notices[0]),
            "127.0.0.1: 12,060 checks due per hour, its pacing allows 360"
        );
        // An hour of virtual time: every check takes a second.
        let mut now = start;
        let mut listing_runs = Vec::new();
        let mut articles = 0;
        while now < start + Duration::from_secs(3600) {
            match t.pop_due(now) {
                Some(job) => {
                    if job.id() == "col" {
                        listing_runs.push(now);
                    } else {
                        articles += 1;
                    }
                    t.done(job.id(), Verdict::Unchanged, now + Duration::from_secs(1));
                }
                None => now = t.next_due().unwrap().max(now),
            }
        }
        assert!(t.take_notices().is_empty(), "one notice per streak");
        assert!(
            listing_runs.len() >= 50,
            "{} listing checks",
            listing_runs.len()
        );
        for w in listing_runs.windows(2) {
            assert!(w[1] - w[0] <= Duration::from_secs(71), "{:?}", w[1] - w[0]);
        }
        assert!(
            articles > 200 && articles < 360,
            "{articles}: the host's pacing holds"
        );
        assert!(t.budgets()[0].over);
        // Retiring the articles ends the streak; a new one notices again.
        let c2 = config("host_interval = \"10s\"", &[], "");
        t.replace(sources(&c2, &["col"]), &c2, &HashMap::new());
        assert!(!t.budgets()[0].over);
        let ended = t.take_notices();
        assert_eq!(ended.len(), 1, "the end of the streak is said once");
        assert!(!ended[0].over);
        let mut jobs = sources(&c2, &["col"]);
        jobs.extend((0..200).map(|n| article(&c2, n)));
        t.replace(jobs, &c2, &born);
        let again = t.take_notices();
        assert_eq!(again.len(), 1);
        assert!(again[0].over);
        assert_eq!(t.budgets()[0].streaks, 2);
    }
    #[test]
    fn a_restart_goes_on_from_the_remembered_interval_and_due_time() {
        let start = Instant::now();
        let s = Duration::from_secs;
        let c = config(
            "host_interval = \"0s\"",
            &["a", "b", "c"],
            "max_interval = \"10m\"",
        );
        let mut t = table(start);
        t.replace(sources(&c, &["a", "b", "c"]), &c, &HashMap::new());
        let known: HashMap<String, Remembered> = [
            // Due in two minutes (one interval after the last check is earlier).
            (
                "a".to_string(),
                Remembered {
                    interval: Some(s(300)),
                    next_check: Some(WALL + 120),
                    last_checked: Some(WALL - 200),
                },
            ),
            // Recorded as due much later than one interval from now: capped.
            (
                "b".to_string(),
                Remembered {
                    interval: Some(s(300)),
                    next_check: Some(WALL + 10_000),
                    last_checked: None,
                },
            ),
            // Overdue: checked in the first seconds, at its grown interval;
            // an interval past `max_interval` is clamped.
            (
                "c".to_string(),
                Remembered {
                    interval: Some(s(86_400)),
                    next_check: Some(WALL - 50),
                    last_checked: Some(WALL - 4000),
                },
            ),
        ]
        .into();
        t.restore(&known, &c);
        assert_eq!(interval(&t, "a"), s(300));
        assert_eq!(t.slot("a").unwrap().due, Some(start + s(120)));
        assert_eq!(t.slot("b").unwrap().due, Some(start + s(300)));
        assert_eq!(interval(&t, "c"), s(600));
        assert!(t.slot("c").unwrap().due.unwrap() <= start + s(5));
        // What the store recorded is not written again.
        assert_eq!(t.unsaved("a"), None);
        // The budget counts the restored intervals.
        let due = t.budgets()[0].due_per_hour;
        assert!((due - (12.0 + 12.0 + 6.0)).abs() < 0.01, "{due}");
    }

    #[test]
    fn each_change_of_interval_is_to_be_saved_once_and_a_steady_source_never() {
        let start = Instant::now();
        let c = config("host_interval = \"0s\"", &["a"], "max_interval = \"2m\"");
        let mut t = table(start);
        t.replace(sources(&c, &["a"]), &c, &HashMap::new());
        // Nothing recorded yet: once, at the base.
        assert_eq!(t.unsaved("a").map(|u| u.interval), Some(None));
        assert_eq!(t.unsaved("a"), None);
        let ran = run_once(&mut t, "a", Verdict::Unchanged);
        let u = t.unsaved("a").unwrap();
        assert_eq!(u.interval, Some(Duration::from_secs(90)));
        assert_eq!(u.next_check, Some(t.wall(ran + Duration::from_secs(90))));
        assert_eq!(t.unsaved("a"), None);
        run_once(&mut t, "a", Verdict::Unchanged);
        assert_eq!(
            t.unsaved("a").map(|u| u.interval),
            Some(Some(Duration::from_secs(120)))
        );
        for _ in 0..3 {
            run_once(&mut t, "a", Verdict::Unchanged);
            assert_eq!(t.unsaved("a"), None, "at max_interval: steady");
        }
        run_once(&mut t, "a", Verdict::Changed);
        assert_eq!(
            t.unsaved("a").map(|u| u.interval),
            Some(None),
            "back at the base"
        );
        // A listing keeps its interval: recorded once, then never.
        let mut t = table(start);
        t.replace(sources(&c, &["col"]), &c, &HashMap::new());
        assert!(t.unsaved("col").is_some());
        run_once(&mut t, "col", Verdict::Unchanged);
        assert_eq!(t.unsaved("col"), None);
    }

    #[test]
    fn many_hosts_keep_their_own_pacing_and_the_most_valuable_goes_first() {
        let start = Instant::now();
        let mut text = String::from("[settings]\ninterval = \"60s\"\nhost_interval = \"10s\"\n");
        for h in 0..3 {
            for k in ["article", "listing"] {
                text.push_str(&format!(
                    "\n[[source]]\nid = \"h{h}{k}\"\nprovince = \"上海市\"\nregion = \"华东\"\nurl = \"http://h{h}.example/{k}/\"\nkind = \"{k}\"\n{}",
                    if k == "listing" { "link_pattern = \"会议\"\n" } else { "" }
                ));
            }
        }
        let c = crate::config::parse(&text, std::path::Path::new("t/sources.toml")).unwrap();
        let mut t = table(start);
        let mut jobs: Vec<Job> = c.sources.iter().cloned().map(Job::Source).collect();
        // Old articles on host 0, due first but ranked last.
        let listing = c.source("h0listing").unwrap();
        for n in 0..3 {
            let url = url::Url::parse(&format!("http://h0.example/a/{n}.html")).unwrap();
            jobs.push(Job::Article(Arc::new(Target::discovered(
                listing,
                format!("old{n}"),
                url,
                "会议",
            ))));
        }
        let born: HashMap<String, i64> = (0..3)
            .map(|n| (format!("old{n}"), WALL - 400 * DAY as i64))
            .collect();
        t.replace(jobs, &c, &born);
        let at = start + Duration::from_secs(6);
        let mut first: Vec<String> = std::iter::from_fn(|| t.pop_due(at))
            .map(|j| j.id().to_string())
            .collect();
        first.sort();
        // One check per host at once; configured sources before old articles.
        assert_eq!(first.len(), 3, "{first:?}");
        assert!(first.iter().all(|id| !id.starts_with("old")), "{first:?}");
        let hosts: std::collections::HashSet<char> =
            first.iter().map(|id| id.as_bytes()[1] as char).collect();
        assert_eq!(hosts.len(), 3);
        assert_eq!(t.next_due(), Some(at + Duration::from_secs(10)));
        assert!(
            t.pop_due(at + Duration::from_secs(9)).is_none(),
            "pacing holds"
        );
        let second: Vec<String> = std::iter::from_fn(|| t.pop_due(at + Duration::from_secs(10)))
            .map(|j| j.id().to_string())
            .collect();
        assert_eq!(second.len(), 3, "{second:?}");
        assert!(second.iter().all(|id| !id.starts_with("old")), "{second:?}");
        // Host 0 then works through its old articles, one per 10 s.
        let third: Vec<String> = std::iter::from_fn(|| t.pop_due(at + Duration::from_secs(20)))
            .map(|j| j.id().to_string())
            .collect();
        assert_eq!(third.len(), 1, "{third:?}");
        assert!(third[0].starts_with("old"), "{third:?}");
    }
}
