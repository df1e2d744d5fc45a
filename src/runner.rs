//! Running checks: what `bulletin-watch check` and the daemon share.
//!
//! A [`Job`] is one configured source or one article discovered on a
//! listing. A [`Runner`] runs jobs on a [`Checker`] with at most
//! `concurrency` of them in flight (per-host pacing is
//! [`crate::fetch::Politeness`]'s job). `check` hands it one [`Runner::pass`]
//! over every source; the daemon's scheduler feeds it due jobs one at a
//! time. Both count what happened in a [`Summary`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::{Id, JoinSet};

use crate::check::{Checker, Outcome, Report, Target};
use crate::config::{Config, Source, SourceKind};
use crate::delivery::{Channels, DeliveryError, Mailer};
use crate::fetch::FetchError;
use crate::outbox::{self, Drained};
use crate::store::{Store, StoreError};

/// One schedulable unit of work.
#[derive(Debug, Clone)]
pub enum Job {
    /// A configured source (article or listing), shared with the `Config`.
    Source(Arc<Source>),
    /// An article discovered on a listing (shared: a job is two words,
    /// and handing one to a check copies no strings).
    Article(Arc<Target>),
}

impl Job {
    pub fn id(&self) -> &str {
        match self {
            Job::Source(s) => &s.id,
            Job::Article(t) => &t.id,
        }
    }

    /// How often the job is due: its source's interval; a discovered
    /// article's listing's.
    pub fn interval(&self, config: &Config) -> Duration {
        match self {
            Job::Source(s) => s.interval,
            Job::Article(t) => t
                .listing
                .as_deref()
                .and_then(|l| config.source(l))
                .map_or(config.settings.interval, |s| s.interval),
        }
    }

    /// Runs the check.
    pub async fn run(&self, checker: &Checker) -> Report {
        match self {
            Job::Source(s) if s.kind == SourceKind::Listing => checker.check_listing(s).await,
            Job::Source(s) => checker.check_source(s).await,
            Job::Article(t) => checker.check_article(t, None).await,
        }
    }
}

/// The jobs of a pass: the configured sources (only those named in `only`,
/// if any), then — for a full pass — the articles discovered on listings.
pub fn jobs(checker: &Checker, only: &[String]) -> Result<Vec<Job>, StoreError> {
    Ok(lazy_jobs(checker, only)?.0.collect())
}

/// [`jobs`] made one at a time as a pass starts them, so a pass over many
/// sources never holds a copy of every configured source: the iterator
/// and how many jobs it yields.
pub fn lazy_jobs<'a>(
    checker: &'a Checker,
    only: &'a [String],
) -> Result<(impl Iterator<Item = Job> + Send + 'a, usize), StoreError> {
    let configured = move || {
        checker
            .config
            .sources
            .iter()
            .filter(move |s| only.is_empty() || only.contains(&s.id))
    };
    let discovered = if only.is_empty() {
        without_retired(checker, checker.discovered_targets()?)?
    } else {
        Vec::new()
    };
    let n = configured().count() + discovered.len();
    let jobs = configured()
        .cloned()
        .map(Job::Source)
        .chain(discovered.into_iter().map(|t| Job::Article(Arc::new(t))));
    Ok((jobs, n))
}

/// Whether a pass must stop starting checks: the store's disk is full.
/// Every further check would fetch a page only to fail at its commit, so
/// the pass ends at the first one; the store says once where the disk is
/// full and that what is stored is intact.
pub fn stop_pass(checker: &Checker) -> bool {
    checker.store.disk_full().is_some()
}

/// A check that ended: its job, and its report (`None` if the task panicked).
pub struct Finished {
    pub job: Job,
    pub report: Option<Report>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("check of {job} panicked")]
    Panicked {
        job: String,
        #[source]
        source: tokio::task::JoinError,
    },
}

/// Runs checks with a concurrency limit.
pub struct Runner {
    checker: Arc<Checker>,
    limit: usize,
    set: JoinSet<Report>,
    /// Which job each task runs, so that even a task that panicked is
    /// accounted for.
    running: HashMap<Id, Job>,
}

impl Runner {
    /// A runner with the checker's `concurrency` setting as its limit.
    pub fn new(checker: Arc<Checker>) -> Runner {
        let limit = checker.config.settings.concurrency.max(1);
        Runner {
            checker,
            limit,
            set: JoinSet::new(),
            running: HashMap::new(),
        }
    }

    pub fn checker(&self) -> &Arc<Checker> {
        &self.checker
    }

    /// Checks started from now on use `checker` (a reloaded configuration);
    /// running ones finish with the old one.
    pub fn set_checker(&mut self, checker: Arc<Checker>) {
        self.limit = checker.config.settings.concurrency.max(1);
        self.checker = checker;
    }

    pub fn has_room(&self) -> bool {
        self.set.len() < self.limit
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// Starts a check (whether or not there is room: callers ask first).
    pub fn spawn(&mut self, job: Job) {
        let checker = self.checker.clone();
        let task = job.clone();
        let handle = self.set.spawn(async move { task.run(&checker).await });
        self.running.insert(handle.id(), job);
    }

    /// Waits for the next check to end; `None` when none is running.
    /// Cancel-safe, so it can sit in a `select!`.
    pub async fn next(&mut self) -> Option<Result<Finished, RunnerError>> {
        let done = self.set.join_next_with_id().await?;
        let (id, report, error) = match done {
            Ok((id, report)) => (id, Some(report), None),
            Err(e) => (e.id(), None, Some(e)),
        };
        let job = self.running.remove(&id)?;
        Some(match error {
            Some(source) if source.is_panic() => Err(RunnerError::Panicked {
                job: job.id().to_string(),
                source,
            }),
            _ => Ok(Finished { job, report }),
        })
    }

    /// One pass over `jobs`: every job checked once, at most `concurrency`
    /// at a time; `on_report` sees each report as it comes in. Stops
    /// starting new checks when [`stop_pass`] says so.
    pub async fn pass(
        &mut self,
        jobs: impl IntoIterator<Item = Job>,
        on_report: &mut (dyn FnMut(&Report) + Send),
    ) -> Result<Summary, RunnerError> {
        let mut summary = Summary::default();
        let checker = self.checker.clone();
        let mut settle = |f: Finished, summary: &mut Summary| {
            if let Some(r) = f.report {
                on_report(&r);
                summary.add(&r);
                if stop_pass(&checker) {
                    summary.stopped = true;
                }
            }
        };
        for job in jobs {
            while !self.has_room() {
                match self.next().await {
                    Some(f) => settle(f?, &mut summary),
                    None => break,
                }
            }
            if summary.stopped {
                break;
            }
            self.spawn(job);
        }
        while let Some(f) = self.next().await {
            settle(f?, &mut summary);
        }
        Ok(summary)
    }

    /// Lets running checks finish, for at most `grace`; abandons the rest
    /// (a check writes nothing half-done). Returns the reports that came in.
    pub async fn finish(&mut self, grace: Duration) -> Vec<Report> {
        let mut reports = Vec::new();
        let waited = tokio::time::timeout(grace, async {
            while let Some(f) = self.next().await {
                if let Ok(Finished {
                    report: Some(r), ..
                }) = f
                {
                    reports.push(r);
                }
            }
        })
        .await;
        if waited.is_err() {
            tracing::warn!("in-flight checks did not finish within {grace:?}; abandoning them (nothing half-written is kept)");
            self.set.abort_all();
            self.running.clear();
        }
        reports
    }
}

/// What a pass did, in the counts `check` prints.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub checked: usize,
    pub new_versions: usize,
    pub unchanged: usize,
    pub failed: usize,
    pub discovered: usize,
    /// The pass stopped early ([`stop_pass`]).
    pub stopped: bool,
}

impl Summary {
    pub fn add(&mut self, r: &Report) {
        self.checked += 1;
        match &r.outcome {
            Outcome::NotModified | Outcome::Unchanged { .. } => self.unchanged += 1,
            Outcome::Stored { .. } => self.new_versions += 1,
            Outcome::Listing { discovered, .. } => self.discovered += discovered,
            Outcome::Failed { .. } => self.failed += 1,
        }
        for d in &r.discovered {
            if let Outcome::Stored { .. } = d.outcome {
                self.new_versions += 1;
            }
        }
    }

    /// `checked N, new versions N, unchanged N, failed N, discovered N`.
    pub fn line(&self) -> String {
        format!(
            "checked {}, new versions {}, unchanged {}, failed {}, discovered {}",
            self.checked, self.new_versions, self.unchanged, self.failed, self.discovered
        )
    }
}

/// What `check` shows while a pass runs.
pub trait Progress: Send {
    /// The pass is about to check `jobs` sources and articles.
    fn start(&mut self, _jobs: usize) {}
    /// One check ended.
    fn report(&mut self, r: &Report) {
        r.log();
    }
}

/// Logs each report and shows nothing else.
pub struct LogOnly;

impl Progress for LogOnly {}

/// What `bulletin-watch check` did.
#[derive(Debug, Clone)]
pub struct CheckRun {
    pub summary: Summary,
    pub drained: Drained,
}

impl CheckRun {
    /// The summary line `check` prints.
    pub fn line(&self) -> String {
        format!(
            "{}, alerts sent {}, alerts failed {}",
            self.summary.line(),
            self.drained.sent,
            self.drained.failed
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CheckRunError {
    #[error("cannot set up the HTTP client")]
    Client(#[source] FetchError),
    #[error("cannot set up mail delivery")]
    Mail(#[source] DeliveryError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Runner(#[from] RunnerError),
}

/// `targets` without the discovered articles past their listing's
/// `retire_after` (dated by their discovery, as the daemon does): a pass
/// does not check them either.
fn without_retired(checker: &Checker, jobs: Vec<Target>) -> Result<Vec<Target>, StoreError> {
    let config = &checker.config;
    let retire: HashMap<&str, Option<Duration>> = config
        .sources
        .iter()
        .map(|s| (s.id.as_str(), s.rules.articles.retire_after))
        .collect();
    if retire.values().all(Option::is_none) && config.settings.articles.retire_after.is_none() {
        return Ok(jobs);
    }
    let now = jiff::Timestamp::now().as_second();
    let found: HashMap<String, i64> = checker
        .store
        .tracked()?
        .into_iter()
        .map(|t| (t.id, t.discovered_at.as_second()))
        .collect();
    Ok(jobs
        .into_iter()
        .filter(|t| {
            let after = t
                .listing
                .as_deref()
                .and_then(|l| retire.get(l).copied())
                .unwrap_or(config.settings.articles.retire_after);
            !matches!((after, found.get(&t.id)), (Some(r), Some(b)) if now - b >= r.as_secs() as i64)
        })
        .collect())
}

/// `bulletin-watch check`: one pass over the configured sources (only those
/// in `only`, if any; with none, the articles discovered on listings too),
/// then one delivery attempt for every pending alert. A manual or cron run
/// tries every pending alert whatever its backoff; a mail failure is
/// counted, not fatal: the alert stays queued.
pub async fn check_all(
    config: Arc<Config>,
    store: Arc<Store>,
    only: &[String],
    progress: &mut dyn Progress,
) -> Result<CheckRun, CheckRunError> {
    check_all_with(config, store, only, progress, None).await
}

/// [`check_all`], telling `on_commit` of every version stored (the search
/// index).
pub async fn check_all_with(
    config: Arc<Config>,
    store: Arc<Store>,
    only: &[String],
    progress: &mut dyn Progress,
    on_commit: Option<Arc<dyn crate::model::VersionSink>>,
) -> Result<CheckRun, CheckRunError> {
    let mut checker = Checker::new(config.clone(), store.clone()).map_err(CheckRunError::Client)?;
    checker.on_commit = on_commit;
    let checker = Arc::new(checker);
    let (jobs, n) = lazy_jobs(&checker, only)?;
    progress.start(n);
    let summary = Runner::new(checker.clone())
        .pass(jobs, &mut |r| progress.report(r))
        .await?;
    // A full disk ends the pass: delivering would only fail to record what
    // it sent. Nothing stored is lost; the error says where and what next.
    if let Some(at) = store.disk_full() {
        return Err(CheckRunError::Store(StoreError::DiskFull {
            path: at.to_path_buf(),
        }));
    }
    let mailer =
        Mailer::from_config(&config.mail, &config.settings.store).map_err(CheckRunError::Mail)?;
    let channels = Channels::from_config(&config).map_err(CheckRunError::Mail)?;
    let drained = outbox::drain_all(&store, &config, &mailer, &channels, true).await?;
    outbox::prune(&store, &config)?;
    store.flush()?;
    Ok(CheckRun { summary, drained })
}
