//! `bulletin-watch run`: the long-running watcher.
//!
//! A single scheduler loop owns the timetable: each source is due once per
//! interval (with ±10 % jitter so checks spread out), failing sources back
//! off exponentially on their own, and at most `concurrency` checks run at
//! once — per-host pacing is [`crate::fetch::Politeness`]'s job. Alongside
//! it run the outbox sender, the control socket (read-only queries from the
//! CLI while we hold the store) and, optionally, `/healthz` + `/metrics`.
//!
//! Signals: SIGINT/SIGTERM stop scheduling, let in-flight checks finish
//! (bounded), flush and exit 0; SIGHUP re-reads `sources.toml` and keeps the
//! old configuration if the new one is invalid. Every stored version and
//! queued alert is already durable when its check returns, so a `kill -9`
//! loses nothing and a restart repeats nothing.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::check::{Checker, Outcome, Report, Target};
use crate::config::{self, Config, ConfigError, Source, SourceKind};
use crate::notify::Mailer;
use crate::outbox;
use crate::store::{Store, StoreError};

/// How long shutdown waits for in-flight checks.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);
/// The longest a failing source waits between attempts (or its interval, if longer).
const MAX_FAILURE_BACKOFF: Duration = Duration::from_secs(4 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Setup(String),
}

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub config_path: PathBuf,
    /// `--store`, overriding `[settings] store`.
    pub store: Option<PathBuf>,
    /// Serve `/healthz` and `/metrics` here.
    pub metrics: Option<SocketAddr>,
    /// Serve the read-only web view here, with this access token (required
    /// for a non-loopback address).
    pub web: Option<(SocketAddr, Option<String>)>,
}

/// Counters for `/metrics`.
#[derive(Default)]
pub struct Metrics {
    pub checks: AtomicU64,
    pub failures: AtomicU64,
    pub not_modified: AtomicU64,
    pub versions: AtomicU64,
    pub discovered: AtomicU64,
    pub alerts_sent: AtomicU64,
    pub alerts_failed: AtomicU64,
    pub fetch_ms_sum: AtomicU64,
    pub sources: AtomicU64,
}

impl Metrics {
    fn record(&self, r: &Report) {
        for d in &r.discovered {
            self.record(d);
        }
        self.checks.fetch_add(1, Ordering::Relaxed);
        self.fetch_ms_sum
            .fetch_add(r.elapsed.as_millis() as u64, Ordering::Relaxed);
        match &r.outcome {
            Outcome::Failed { .. } => self.failures.fetch_add(1, Ordering::Relaxed),
            Outcome::NotModified => self.not_modified.fetch_add(1, Ordering::Relaxed),
            Outcome::Stored { .. } => self.versions.fetch_add(1, Ordering::Relaxed),
            Outcome::Listing { discovered, .. } => self
                .discovered
                .fetch_add(*discovered as u64, Ordering::Relaxed),
            Outcome::Unchanged { .. } => 0,
        };
    }

    /// Prometheus text exposition format.
    pub fn render(&self, pending_alerts: usize) -> String {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let checks = g(&self.checks);
        format!(
            "# HELP bulletin_watch_checks_total Checks run.\n# TYPE bulletin_watch_checks_total counter\nbulletin_watch_checks_total {checks}\n\
             # HELP bulletin_watch_check_failures_total Checks that failed.\n# TYPE bulletin_watch_check_failures_total counter\nbulletin_watch_check_failures_total {}\n\
             # HELP bulletin_watch_not_modified_total Checks answered 304.\n# TYPE bulletin_watch_not_modified_total counter\nbulletin_watch_not_modified_total {}\n\
             # HELP bulletin_watch_versions_stored_total New versions stored.\n# TYPE bulletin_watch_versions_stored_total counter\nbulletin_watch_versions_stored_total {}\n\
             # HELP bulletin_watch_discovered_total Articles discovered on listings.\n# TYPE bulletin_watch_discovered_total counter\nbulletin_watch_discovered_total {}\n\
             # HELP bulletin_watch_alerts_sent_total Alerts delivered.\n# TYPE bulletin_watch_alerts_sent_total counter\nbulletin_watch_alerts_sent_total {}\n\
             # HELP bulletin_watch_alert_attempts_failed_total Failed delivery attempts.\n# TYPE bulletin_watch_alert_attempts_failed_total counter\nbulletin_watch_alert_attempts_failed_total {}\n\
             # HELP bulletin_watch_alerts_pending Alerts queued, not yet delivered.\n# TYPE bulletin_watch_alerts_pending gauge\nbulletin_watch_alerts_pending {pending_alerts}\n\
             # HELP bulletin_watch_sources Sources and tracked articles scheduled.\n# TYPE bulletin_watch_sources gauge\nbulletin_watch_sources {}\n\
             # HELP bulletin_watch_check_duration_seconds Time spent in checks.\n# TYPE bulletin_watch_check_duration_seconds summary\nbulletin_watch_check_duration_seconds_sum {:.3}\nbulletin_watch_check_duration_seconds_count {checks}\n",
            g(&self.failures),
            g(&self.not_modified),
            g(&self.versions),
            g(&self.discovered),
            g(&self.alerts_sent),
            g(&self.alerts_failed),
            g(&self.sources),
            g(&self.fetch_ms_sum) as f64 / 1000.0,
        )
    }
}

/// One schedulable unit.
#[derive(Clone)]
enum Job {
    Source(Source),
    Article(Target),
}

impl Job {
    fn id(&self) -> &str {
        match self {
            Job::Source(s) => &s.id,
            Job::Article(t) => &t.id,
        }
    }
}

fn jobs(checker: &Checker) -> Result<Vec<(Job, Duration)>, StoreError> {
    let mut out: Vec<(Job, Duration)> = checker
        .config
        .sources
        .iter()
        .map(|s| (Job::Source(s.clone()), s.interval))
        .collect();
    for t in checker.article_targets()? {
        if t.listing.is_some() {
            let interval = t
                .listing
                .as_deref()
                .and_then(|l| checker.config.source(l))
                .map_or(checker.config.settings.interval, |s| s.interval);
            out.push((Job::Article(t), interval));
        }
    }
    Ok(out)
}

fn jittered(d: Duration) -> Duration {
    d.mul_f64(0.9 + fastrand::f64() * 0.2)
}

/// The pause before retrying a source that failed `n` times in a row.
pub fn failure_backoff(interval: Duration, n: u32) -> Duration {
    let exp = n.saturating_sub(1).min(6);
    (interval * 2u32.pow(exp)).min(MAX_FAILURE_BACKOFF.max(interval))
}

fn load(opts: &Options) -> Result<Config, ConfigError> {
    let mut c = config::load(&opts.config_path)?;
    if let Some(s) = &opts.store {
        c.settings.store = s.clone();
    }
    Ok(c)
}

/// Runs until SIGINT/SIGTERM.
pub async fn run(opts: Options) -> Result<(), DaemonError> {
    // Handlers first: a SIGTERM during start-up must still be a clean stop.
    let mut term = unix_signal(SignalKind::Terminate)?;
    let mut hup = unix_signal(SignalKind::Hangup)?;
    let config = Arc::new(load(&opts)?);
    let store = Arc::new(open_store_waiting(&config.settings.store).await?);
    if store.was_recovered() {
        tracing::info!(store = %store.path().display(), "store recovered after an unclean stop");
    }
    let metrics = Arc::new(Metrics::default());
    let mailer = Arc::new(RwLock::new(Arc::new(
        Mailer::from_config(&config.mail, &config.settings.store)
            .map_err(|e| DaemonError::Setup(e.to_string()))?,
    )));
    let mut checker = Arc::new(
        Checker::new(config.clone(), store.clone())
            .map_err(|e| DaemonError::Setup(e.to_string()))?,
    );

    let mut background = JoinSet::new();
    {
        let store = store.clone();
        background.spawn(async move {
            if let Err(e) = crate::control::serve(store).await {
                tracing::error!(error = %e, "control socket stopped");
            }
        });
    }
    if let Some(addr) = opts.metrics {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| DaemonError::Setup(format!("cannot listen on {addr}: {e}")))?;
        tracing::info!(%addr, "serving /healthz and /metrics");
        let (store, metrics) = (store.clone(), metrics.clone());
        background.spawn(serve_metrics(listener, store, metrics));
    }
    let shared_config = Arc::new(RwLock::new(config.clone()));
    if let Some((addr, token)) = &opts.web {
        crate::web::check_exposure(*addr, token.as_deref())
            .map_err(|e| DaemonError::Setup(e.to_string()))?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| DaemonError::Setup(format!("cannot listen on {addr}: {e}")))?;
        tracing::info!(%addr, "serving the web view");
        let state = crate::web::WebState::new(store.clone(), shared_config.clone())
            .with_token(token.clone());
        background.spawn(async move {
            if let Err(e) = crate::web::serve(listener, state, std::future::pending()).await {
                tracing::error!(error = %e, "web view stopped");
            }
        });
    }
    let wake_sender = Arc::new(Notify::new());
    {
        let (store, mailer, metrics, wake, config) = (
            store.clone(),
            mailer.clone(),
            metrics.clone(),
            wake_sender.clone(),
            shared_config.clone(),
        );
        background.spawn(async move {
            loop {
                let m = mailer.read().unwrap_or_else(|p| p.into_inner()).clone();
                let c = config.read().unwrap_or_else(|p| p.into_inner()).clone();
                match outbox::drain(&store, &c, &m, false).await {
                    Ok(d) => {
                        metrics
                            .alerts_sent
                            .fetch_add(d.sent as u64, Ordering::Relaxed);
                        metrics
                            .alerts_failed
                            .fetch_add(d.failed as u64, Ordering::Relaxed);
                    }
                    Err(e) => tracing::error!(error = %e, "outbox drain failed"),
                }
                let _ = tokio::time::timeout(Duration::from_secs(5), wake.notified()).await;
            }
        });
    }

    let mut jobs_list = jobs(&checker)?;
    metrics
        .sources
        .store(jobs_list.len() as u64, Ordering::Relaxed);
    let mut due: HashMap<String, Instant> = HashMap::new();
    let mut in_flight: HashSet<String> = HashSet::new();
    // Which source each running task checks, so that even a task that
    // panicked releases its source and gets it rescheduled.
    let mut tasks: HashMap<tokio::task::Id, (String, Duration)> = HashMap::new();
    let mut running: JoinSet<Report> = JoinSet::new();
    let mut interrupt = unix_signal(SignalKind::Interrupt)?;
    let start = Instant::now();
    tracing::info!(sources = jobs_list.len(), store = %store.path().display(), "bulletin-watch running");

    loop {
        let now = Instant::now();
        let concurrency = checker.config.settings.concurrency;
        // Due jobs, most overdue first, as many as there are free slots.
        let mut ready: Vec<(Instant, &Job, Duration)> = Vec::new();
        for (job, interval) in &jobs_list {
            // First checks are spread over the first few seconds.
            let when = *due.entry(job.id().to_string()).or_insert_with(|| {
                start
                    + (*interval / 10)
                        .min(Duration::from_secs(5))
                        .mul_f64(fastrand::f64())
            });
            if when <= now && !in_flight.contains(job.id()) {
                ready.push((when, job, *interval));
            }
        }
        ready.sort_by_key(|(when, _, _)| *when);
        for (_, job, interval) in ready
            .into_iter()
            .take(concurrency.saturating_sub(running.len()))
        {
            let id = job.id().to_string();
            in_flight.insert(id.clone());
            let (checker, job) = (checker.clone(), job.clone());
            let handle = running.spawn(async move {
                match &job {
                    Job::Source(s) if s.kind == SourceKind::Listing => {
                        checker.check_listing(s).await
                    }
                    Job::Source(s) => checker.check_source(s).await,
                    Job::Article(t) => checker.check_article(t, None).await,
                }
            });
            tasks.insert(handle.id(), (id, interval));
        }
        // Sleep until the next job is due — unless every slot is busy, in
        // which case only a finishing check can change anything.
        let sleep = if running.len() >= concurrency {
            Duration::from_secs(60)
        } else {
            jobs_list
                .iter()
                .filter(|(j, _)| !in_flight.contains(j.id()))
                .filter_map(|(j, _)| due.get(j.id()))
                .min()
                .map_or(Duration::from_secs(60), |t| {
                    t.saturating_duration_since(Instant::now())
                })
                .min(Duration::from_secs(60))
        };
        tokio::select! {
            Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                let (task, report) = match done {
                    Ok((task, report)) => (task, Some(report)),
                    Err(e) => {
                        tracing::error!(error = %e, "a check task failed");
                        (e.id(), None)
                    }
                };
                let Some((id, interval)) = tasks.remove(&task) else { continue };
                in_flight.remove(&id);
                let failed = match &report {
                    Some(r) => {
                        r.log();
                        metrics.record(r);
                        matches!(r.outcome, Outcome::Failed { .. })
                    }
                    None => true,
                };
                let next = if failed {
                    // The persisted streak, so a restart keeps backing off.
                    let n = checker.store.fetch_state(&id).map_or(1, |s| s.consecutive_failures.max(1));
                    failure_backoff(interval, n)
                } else {
                    interval
                };
                // A source dropped by a reload while it was running stays dropped.
                if jobs_list.iter().any(|(j, _)| j.id() == id) {
                    due.insert(id, Instant::now() + jittered(next));
                }
                let Some(report) = report else { continue };
                let stored = matches!(report.outcome, Outcome::Stored { .. } | Outcome::Failed { .. })
                    || report.discovered.iter().any(|d| matches!(d.outcome, Outcome::Stored { .. }));
                if stored {
                    wake_sender.notify_one();
                }
                if matches!(report.outcome, Outcome::Listing { discovered, .. } if discovered > 0)
                    || !report.discovered.is_empty()
                {
                    match jobs(&checker) {
                        Ok(j) => jobs_list = j,
                        Err(e) => tracing::error!(error = %e, "cannot read tracked articles; keeping the current schedule"),
                    }
                    metrics.sources.store(jobs_list.len() as u64, Ordering::Relaxed);
                }
            }
            _ = tokio::time::sleep(sleep) => {}
            _ = interrupt.recv() => { tracing::info!("interrupt: shutting down"); break; }
            _ = term.recv() => { tracing::info!("terminate: shutting down"); break; }
            _ = hup.recv() => {
                match load(&opts) {
                    Err(e) => tracing::error!("reload refused, keeping the running configuration:\n{e}"),
                    Ok(new) if new.settings.store != checker.config.settings.store => {
                        tracing::error!("reload refused: the store path cannot change while running");
                    }
                    Ok(new) => {
                        let new = Arc::new(new);
                        match (Checker::new(new.clone(), store.clone()), Mailer::from_config(&new.mail, &new.settings.store)) {
                            (Ok(mut c), Ok(m)) => {
                                // Pacing state (and any Retry-After) survives a reload;
                                // changed host policies apply to hosts seen from now on.
                                c.politeness = checker.politeness.clone();
                                let new_jobs = match jobs(&c) {
                                    Ok(j) => j,
                                    Err(e) => {
                                        tracing::error!(error = %e, "reload refused: cannot read tracked articles");
                                        continue;
                                    }
                                };
                                checker = Arc::new(c);
                                *shared_config.write().unwrap_or_else(|p| p.into_inner()) = new.clone();
                                *mailer.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(m);
                                jobs_list = new_jobs;
                                let ids: HashSet<&str> = jobs_list.iter().map(|(j, _)| j.id()).collect();
                                due.retain(|id, _| ids.contains(id.as_str()));
                                metrics.sources.store(jobs_list.len() as u64, Ordering::Relaxed);
                                tracing::info!(sources = jobs_list.len(), "configuration reloaded");
                            }
                            (Err(e), _) => tracing::error!(error = %e, "reload refused"),
                            (_, Err(e)) => tracing::error!(error = %e, "reload refused"),
                        }
                    }
                }
            }
        }
    }

    // Shutdown: no new checks; let the running ones finish, within reason.
    let grace = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while let Some(done) = running.join_next().await {
            if let Ok(report) = done {
                report.log();
            }
        }
    })
    .await;
    if grace.is_err() {
        tracing::warn!("in-flight checks did not finish within {SHUTDOWN_GRACE:?}; abandoning them (nothing half-written is kept)");
        running.abort_all();
    }
    background.abort_all();
    store.flush()?;
    let _ = std::fs::remove_file(crate::control::socket_path(store.path()));
    tracing::info!("stopped");
    Ok(())
}

/// Opens the store, waiting a little if a read-only command holds it for a
/// moment (an auditor's `history` must not stop the daemon from starting).
async fn open_store_waiting(path: &std::path::Path) -> Result<Store, StoreError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Store::open(path) {
            Err(StoreError::Locked { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50 + fastrand::u64(0..100))).await;
            }
            other => return other,
        }
    }
}

enum SignalKind {
    Terminate,
    Hangup,
    Interrupt,
}

#[cfg(unix)]
fn unix_signal(kind: SignalKind) -> Result<tokio::signal::unix::Signal, DaemonError> {
    use tokio::signal::unix::{signal, SignalKind as K};
    let k = match kind {
        SignalKind::Terminate => K::terminate(),
        SignalKind::Hangup => K::hangup(),
        SignalKind::Interrupt => K::interrupt(),
    };
    signal(k).map_err(|e| DaemonError::Setup(format!("cannot install signal handler: {e}")))
}

/// `/healthz` and `/metrics`: enough HTTP for a probe and a scraper.
async fn serve_metrics(
    listener: tokio::net::TcpListener,
    store: Arc<Store>,
    metrics: Arc<Metrics>,
) {
    loop {
        let Ok((mut conn, _)) = listener.accept().await else {
            continue;
        };
        let (store, metrics) = (store.clone(), metrics.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; 2048];
            let n = match tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf)).await {
                Ok(Ok(n)) => n,
                _ => return,
            };
            let req = String::from_utf8_lossy(&buf[..n]);
            let path = req.split_whitespace().nth(1).unwrap_or("/");
            let (status, ctype, body) = match path {
                "/healthz" => ("200 OK", "text/plain", "ok\n".to_string()),
                "/metrics" => {
                    let pending = tokio::task::spawn_blocking(move || {
                        store.pending().map(|p| p.len()).unwrap_or(0)
                    })
                    .await
                    .unwrap_or(0);
                    (
                        "200 OK",
                        "text/plain; version=0.0.4",
                        metrics.render(pending),
                    )
                }
                _ => ("404 Not Found", "text/plain", "not found\n".to_string()),
            };
            let resp = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(resp.as_bytes()).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn metrics_render_prometheus_text() {
        let m = Metrics::default();
        m.checks.store(3, Ordering::Relaxed);
        let text = m.render(2);
        assert!(text.contains("bulletin_watch_checks_total 3\n"));
        assert!(text.contains("bulletin_watch_alerts_pending 2\n"));
    }
}
