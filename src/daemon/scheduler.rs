//! The scheduler service: owns the timetable and feeds due checks to the
//! [`Runner`].
//!
//! Each job is due once per interval, with ±10 % jitter so checks spread
//! out; a failing job backs off exponentially on its own. The timetable is
//! keyed by next-due time, so finding what is due costs a look at the
//! front, not a walk over every source. A job is out of the timetable
//! while it runs, which is how one source never runs twice at once.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{watch, Notify};

use super::metrics::Metrics;
use super::shutdown::Shutdown;
use super::Live;
use crate::check::{Outcome, Report};
use crate::config::Config;
use crate::runner::{self, Finished, Job, Runner};

/// How long shutdown waits for in-flight checks.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);
/// The longest a failing source waits between attempts (or its interval, if longer).
const MAX_FAILURE_BACKOFF: Duration = Duration::from_secs(4 * 3600);
/// The longest the scheduler sleeps without looking again.
const IDLE: Duration = Duration::from_secs(60);

/// The pause before retrying a source that failed `n` times in a row.
pub fn failure_backoff(interval: Duration, n: u32) -> Duration {
    let exp = n.saturating_sub(1).min(6);
    (interval * 2u32.pow(exp)).min(MAX_FAILURE_BACKOFF.max(interval))
}

fn jittered(d: Duration) -> Duration {
    d.mul_f64(0.9 + fastrand::f64() * 0.2)
}

struct Entry {
    job: Job,
    interval: Duration,
    /// When it is next due; `None` while it runs.
    due: Option<Instant>,
}

/// Every scheduled job, and the queue of the idle ones by due time.
pub struct Timetable {
    entries: HashMap<String, Entry>,
    queue: BTreeSet<(Instant, String)>,
    /// First checks are spread over the few seconds after this.
    start: Instant,
}

impl Timetable {
    pub fn new(start: Instant) -> Timetable {
        Timetable {
            entries: HashMap::new(),
            queue: BTreeSet::new(),
            start,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Makes `jobs` the scheduled set: known jobs keep their due time (and
    /// pick up a changed definition), new ones are due within the first
    /// seconds after start, dropped ones go — even while running, they are
    /// not rescheduled when they end.
    pub fn replace(&mut self, jobs: Vec<Job>, config: &Config) {
        let mut next: HashMap<String, Entry> = HashMap::with_capacity(jobs.len());
        for job in jobs {
            let interval = job.interval(config);
            let id = job.id().to_string();
            let due = match self.entries.remove(&id) {
                Some(old) => old.due,
                None => {
                    let spread = (interval / 10)
                        .min(Duration::from_secs(5))
                        .mul_f64(fastrand::f64());
                    let due = self.start + spread;
                    self.queue.insert((due, id.clone()));
                    Some(due)
                }
            };
            next.insert(id, Entry { job, interval, due });
        }
        for (id, old) in self.entries.drain() {
            if let Some(due) = old.due {
                self.queue.remove(&(due, id));
            }
        }
        self.entries = next;
    }

    /// When the earliest idle job is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.queue.first().map(|(due, _)| *due)
    }

    /// Takes the most overdue job, if one is due at `now`; it counts as
    /// running until [`Timetable::done`].
    pub fn pop_due(&mut self, now: Instant) -> Option<Job> {
        loop {
            let (due, _) = self.queue.first()?;
            if *due > now {
                return None;
            }
            let (_, id) = self.queue.pop_first()?;
            if let Some(e) = self.entries.get_mut(&id) {
                e.due = None;
                return Some(e.job.clone());
            }
        }
    }

    /// A job ended: due again after `pause(interval)`, jittered — unless it
    /// was dropped meanwhile.
    pub fn done(&mut self, id: &str, pause: impl FnOnce(Duration) -> Duration) {
        if let Some(e) = self.entries.get_mut(id) {
            let due = Instant::now() + jittered(pause(e.interval));
            e.due = Some(due);
            self.queue.insert((due, id.to_string()));
        }
    }
}

/// What the scheduler works with.
pub struct Scheduler {
    pub live: watch::Receiver<Arc<Live>>,
    pub metrics: Arc<Metrics>,
    /// Wakes the delivery service when a check queued something.
    pub wake_delivery: Arc<Notify>,
}

impl Scheduler {
    /// Runs until shutdown, then lets in-flight checks finish (bounded).
    pub async fn run(mut self, shutdown: Shutdown) {
        let live = self.live.borrow_and_update().clone();
        let mut runner = Runner::new(live.checker.clone());
        let mut table = Timetable::new(Instant::now());
        self.reschedule(&runner, &mut table);
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
                table.done(job, |i| failure_backoff(i, 1));
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
            table.done(id, |i| failure_backoff(i, n));
        } else {
            table.done(id, |i| i);
        }
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
        let checker = runner.checker();
        match runner::jobs(checker, &[]) {
            Ok(jobs) => table.replace(jobs, &checker.config),
            Err(e) => {
                tracing::error!(error = %e, "cannot read tracked articles; keeping the current schedule")
            }
        }
        self.metrics.set_sources(table.len());
    }
}

/// Whether a check may have queued an alert for delivery.
fn queued_something(r: &Report) -> bool {
    matches!(r.outcome, Outcome::Stored { .. } | Outcome::Failed { .. })
        || r.discovered
            .iter()
            .any(|d| matches!(d.outcome, Outcome::Stored { .. }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(ids: &[&str]) -> Config {
        let mut text = String::from("[settings]\ninterval = \"60s\"\n");
        for id in ids {
            text.push_str(&format!(
                "\n[[source]]\nid = \"{id}\"\nprovince = \"上海市\"\nregion = \"华东\"\nurl = \"http://127.0.0.1:1/{id}.html\"\nkind = \"article\"\n"
            ));
        }
        crate::config::parse(&text, std::path::Path::new("t/sources.toml")).unwrap()
    }

    fn jobs(c: &Config) -> Vec<Job> {
        c.sources.iter().cloned().map(Job::Source).collect()
    }

    #[test]
    fn due_jobs_come_out_once_in_due_order_and_come_back_after_their_interval() {
        let start = Instant::now();
        let c = config(&["a", "b", "c"]);
        let mut t = Timetable::new(start);
        t.replace(jobs(&c), &c);
        assert_eq!(t.len(), 3);
        // First checks are spread over at most 5 s after start.
        assert!(t.next_due().unwrap() <= start + Duration::from_secs(5));
        let mut popped = Vec::new();
        let mut last = start;
        while let Some(due) = t.next_due() {
            assert!(due >= last, "most overdue first");
            last = due;
            let job = t.pop_due(start + Duration::from_secs(6)).unwrap();
            popped.push(job.id().to_string());
        }
        popped.sort();
        assert_eq!(popped, ["a", "b", "c"]);
        assert_eq!(t.next_due(), None, "running jobs are not due");
        t.done("b", |i| i);
        let due = t.next_due().unwrap();
        let now = Instant::now();
        assert!(due >= now + Duration::from_secs(53) && due <= now + Duration::from_secs(67));
        assert!(t.pop_due(now).is_none(), "not due before its interval");
        assert_eq!(t.pop_due(due).unwrap().id(), "b");
    }

    #[test]
    fn a_reload_keeps_due_times_and_drops_removed_jobs_even_while_running() {
        let start = Instant::now();
        let c = config(&["a", "b"]);
        let mut t = Timetable::new(start);
        t.replace(jobs(&c), &c);
        let running = t.pop_due(start + Duration::from_secs(6)).unwrap();
        let idle_due = t.next_due().unwrap();
        let keep = if running.id() == "a" { "b" } else { "a" };
        let c2 = config(&[keep, "new"]);
        t.replace(jobs(&c2), &c2);
        assert_eq!(t.len(), 2);
        // The idle job kept its time; the new one is due in the first seconds.
        let mut ids = Vec::new();
        while let Some(j) = t.pop_due(start + Duration::from_secs(6)) {
            ids.push(j.id().to_string());
        }
        ids.sort();
        assert_eq!(ids, [keep.to_string(), "new".to_string()]);
        assert!(idle_due <= start + Duration::from_secs(5));
        // The dropped job ends and is not rescheduled.
        t.done(running.id(), |i| i);
        assert_eq!(t.next_due(), None);
    }

    #[test]
    fn failure_backoff_doubles_and_caps() {
        let i = Duration::from_secs(60);
        assert_eq!(failure_backoff(i, 1), i);
        assert_eq!(failure_backoff(i, 3), i * 4);
        assert_eq!(
            failure_backoff(Duration::from_secs(600), 20),
            MAX_FAILURE_BACKOFF
        );
        let long = Duration::from_secs(24 * 3600);
        assert_eq!(failure_backoff(long, 5), long);
    }
}
