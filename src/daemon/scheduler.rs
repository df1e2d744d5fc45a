//! The scheduler service: owns the [`Timetable`] and feeds due checks to
//! the [`Runner`], on tokio time.
//!
//! Each job is due once per (adapted) interval, with ±10 % jitter so checks
//! spread out; a failing job backs off exponentially on its own. The
//! decisions themselves live in [`super::plan`], which takes the clock as
//! an argument. The timetable is keyed by next-due time, so finding what
//! is due costs a look at the front, not a walk over every source. A job
//! is out of the timetable while it runs, which is how one source never
//! runs twice at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{watch, Notify};

use super::metrics::Metrics;
pub use super::plan::{failure_backoff, Timetable};
use super::plan::{over_budget_notice, Remembered, Verdict};
use super::shutdown::Shutdown;
use super::Live;
use crate::check::{Outcome, Report};
use crate::runner::{self, Finished, Runner};

/// How long shutdown waits for in-flight checks.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);
/// How often the per-host loads are counted for `/metrics`.
const LOADS_EVERY: Duration = Duration::from_secs(10);
/// The longest the scheduler sleeps without looking again.
const IDLE: Duration = Duration::from_secs(60);

/// What the scheduler works with.
pub struct Scheduler {
    pub live: watch::Receiver<Arc<Live>>,
    pub metrics: Arc<Metrics>,
    /// Wakes the delivery service when a check queued something.
    pub wake_delivery: Arc<Notify>,
    /// When the per-host loads were last counted for `/metrics`.
    pub loads_at: std::cell::Cell<Option<Instant>>,
}

impl Scheduler {
    /// Runs until shutdown, then lets in-flight checks finish (bounded).
    pub async fn run(mut self, shutdown: Shutdown) {
        let live = self.live.borrow_and_update().clone();
        let mut runner = Runner::new(live.checker.clone());
        let mut table = Timetable::new(Instant::now(), jiff::Timestamp::now().as_second());
        self.load(&runner, &mut table);
        self.restore(&runner, &mut table);
        tracing::info!(sources = table.len(), store = %live.checker.store.path().display(), "bulletin-watch running");
        let mut reloads = true;
        let mut full_said = false;
        while !shutdown.is_triggered() {
            let now = Instant::now();
            // A full disk stops new checks: each would fetch a page only to
            // fail at its commit. The store has said where, once; delivery
            // and the read side go on.
            let full = runner::stop_pass(&self.live.borrow().checker);
            if full && !full_said {
                tracing::error!("no checks start while the store's disk is full: free space, then restart the daemon");
                full_said = true;
            }
            while runner.has_room() && !full {
                match table.pop_due(now) {
                    Some(job) => runner.spawn(job),
                    None => break,
                }
            }
            // Only a finishing check can change anything while every slot is busy.
            let wake = match table.next_due() {
                Some(due) if runner.has_room() => due.min(now + IDLE),
                _ => now + IDLE,
            };
            tokio::select! {
                _ = shutdown.wait() => break,
                Some(done) = runner.next(), if !runner.is_empty() => {
                    self.finished(done, &runner, &mut table);
                }
                changed = self.live.changed(), if reloads => {
                    if changed.is_err() {
                        // The reload service is gone: keep what we have.
                        reloads = false;
                        continue;
                    }
                    let live = self.live.borrow_and_update().clone();
                    runner.set_checker(live.checker.clone());
                    self.reschedule(&runner, &mut table);
                }
                _ = tokio::time::sleep_until(wake.into()) => {}
            }
        }
        for r in runner.finish(SHUTDOWN_GRACE).await {
            r.log();
        }
    }

    fn finished(
        &self,
        done: Result<Finished, runner::RunnerError>,
        runner: &Runner,
        table: &mut Timetable,
    ) {
        let (job, report) = match done {
            Ok(Finished { job, report }) => (job, report),
            Err(e) => {
                tracing::error!(error = %e, "a check task failed");
                // The job is known only by id; back it off as a failure.
                let runner::RunnerError::Panicked { job, .. } = &e;
                table.done(job, Verdict::Failed { streak: 1 }, Instant::now());
                self.budgets(runner, table);
                return;
            }
        };
        let id = job.id();
        let failed = report
            .as_ref()
            .is_none_or(|r| matches!(r.outcome, Outcome::Failed { .. }));
        if failed {
            // The persisted streak, so a restart keeps backing off.
            let n = runner
                .checker()
                .store
                .fetch_state(id)
                .map_or(1, |s| s.consecutive_failures.max(1));
            table.done(id, Verdict::Failed { streak: n }, Instant::now());
        } else {
            let changed = report.as_ref().is_some_and(|r| {
                matches!(r.outcome, Outcome::Stored { .. })
                    || matches!(r.outcome, Outcome::Listing { discovered, .. } if discovered > 0)
            });
            let verdict = if changed {
                Verdict::Changed
            } else {
                Verdict::Unchanged
            };
            table.done(id, verdict, Instant::now());
        }
        self.save(runner, table, id);
        self.budgets(runner, table);
        let Some(report) = report else { return };
        report.log();
        self.metrics.record(&report);
        if queued_something(&report) {
            self.wake_delivery.notify_one();
        }
        if matches!(report.outcome, Outcome::Listing { discovered, .. } if discovered > 0)
            || !report.discovered.is_empty()
        {
            self.reschedule(runner, table);
        }
    }

    /// Re-reads the job list (configured sources and tracked articles).
    fn reschedule(&self, runner: &Runner, table: &mut Timetable) {
        self.load(runner, table);
        self.budgets(runner, table);
    }

    /// [`Scheduler::reschedule`] without the budgets' notices.
    fn load(&self, runner: &Runner, table: &mut Timetable) {
        let checker = runner.checker();
        // Discovered articles are dated by their discovery (the publish
        // date lives in their versions, too costly to read for each).
        let born = checker.store.tracked().map(|ts| {
            ts.into_iter()
                .map(|t| (t.id, t.discovered_at.as_second()))
                .collect::<HashMap<_, _>>()
        });
        match runner::jobs(checker, &[]).and_then(|jobs| Ok((jobs, born?))) {
            Ok((jobs, born)) => table.replace(jobs, &checker.config, &born),
            Err(e) => {
                tracing::error!(error = %e, "cannot read tracked articles; keeping the current schedule")
            }
        }
        self.metrics.set_sources(table.len());
    }

    /// Goes on from the intervals and due times the store recorded before
    /// a restart, and ends the streaks of hosts no longer over budget.
    fn restore(&self, runner: &Runner, table: &mut Timetable) {
        let checker = runner.checker();
        let store = &checker.store;
        let ids: Vec<String> = checker
            .config
            .sources
            .iter()
            .map(|s| s.id.clone())
            .chain(
                store
                    .tracked()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|t| t.id),
            )
            .collect();
        let mut known = HashMap::new();
        for id in ids {
            match store.fetch_state(&id) {
                Ok(s) if s.interval_ms.is_some() || s.next_check.is_some() => {
                    known.insert(
                        id,
                        Remembered {
                            interval: s.interval_ms.map(Duration::from_millis),
                            next_check: s.next_check.map(|t| t.as_second()),
                            last_checked: s.last_checked.map(|t| t.as_second()),
                        },
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(source = %id, error = %e, "cannot read fetch state"),
            }
        }
        let restored = known.len();
        table.restore(&known, &checker.config);
        if restored > 0 {
            tracing::info!(sources = restored, "adapted intervals restored");
        }
        // The edges seen while loading are not news: what counts is each
        // host's budget now against the streak the store remembers (a
        // notice is queued only where they differ).
        table.take_notices();
        let budgets = table.budgets();
        for b in &budgets {
            self.notice(runner, table, b);
        }
        for (host, streak) in store.host_streaks().unwrap_or_default() {
            if streak.over && !budgets.iter().any(|b| b.host == host) {
                let gone = super::plan::HostBudget {
                    capacity_per_hour: super::plan::capacity_per_hour(&checker.config, &host),
                    host,
                    due_per_hour: 0.0,
                    over: false,
                    streaks: 0,
                };
                self.notice(runner, table, &gone);
            }
        }
        self.metrics.set_budgets(&budgets);
    }

    /// Records `id`'s adapted interval in its fetch state when it changed,
    /// so a restart goes on from it.
    fn save(&self, runner: &Runner, table: &mut Timetable, id: &str) {
        let Some(s) = table.unsaved(id) else { return };
        let next = s
            .next_check
            .and_then(|w| jiff::Timestamp::from_second(w).ok());
        if let Err(e) = runner.checker().store.put_schedule(id, s.interval, next) {
            tracing::warn!(source = %id, error = %e, "cannot record the adapted interval");
        }
    }

    /// Queues the notice of each over-budget streak's start and end (the
    /// `host-over-budget` and `host-within-budget` alerts) and updates the
    /// budget metrics.
    fn budgets(&self, runner: &Runner, table: &mut Timetable) {
        for b in table.take_notices() {
            self.notice(runner, table, &b);
        }
        self.metrics.set_budgets(&table.budgets());
        // The per-host loads walk every job: at most every few seconds.
        let now = Instant::now();
        let stale = self
            .loads_at
            .get()
            .is_none_or(|t| now.duration_since(t) >= LOADS_EVERY);
        if stale {
            self.loads_at.set(Some(now));
            let next = table.next_due().map(|d| {
                if d >= now {
                    d.duration_since(now).as_secs_f64()
                } else {
                    -now.duration_since(d).as_secs_f64()
                }
            });
            self.metrics.set_loads(table.loads(now), next);
        }
    }

    fn notice(&self, runner: &Runner, table: &Timetable, b: &super::plan::HostBudget) {
        let checker = runner.checker();
        let kind = if b.over {
            "host-over-budget"
        } else {
            "host-within-budget"
        };
        let Some(source) = table.sample_on(&b.host).or_else(|| {
            checker
                .config
                .sources
                .iter()
                .find(|s| {
                    s.url
                        .host_str()
                        .is_some_and(|h| h.eq_ignore_ascii_case(&b.host))
                })
                .map(|s| s.id.clone())
        }) else {
            return;
        };
        match super::notices::host_notice(&checker.store, &checker.config, b, &source) {
            Ok(Some(_)) => {
                tracing::warn!(host = %b.host, notice = kind, "{}", over_budget_notice(b));
                if b.over {
                    self.metrics.over_budget_notice();
                }
                self.wake_delivery.notify_one();
            }
            Ok(None) => {}
            Err(e) => tracing::error!(host = %b.host, error = %e, "cannot queue the {kind} notice"),
        }
    }
}

/// Whether a check may have queued an alert for delivery.
fn queued_something(r: &Report) -> bool {
    matches!(r.outcome, Outcome::Stored { .. } | Outcome::Failed { .. })
        || r.discovered
            .iter()
            .any(|d| matches!(d.outcome, Outcome::Stored { .. }))
}
