//! `bulletin-watch run`: the long-running watcher, as a few services under
//! one shutdown signal.
//!
//! - the **scheduler** ([`scheduler`]) runs each source when it is due;
//! - **delivery** sends queued alerts, woken by the scheduler or every 5 s;
//! - **reload** re-reads `sources.toml` on SIGHUP and swaps in a new
//!   [`Live`] (configuration, checker, mailer) — or keeps the old one if the
//!   file is invalid;
//! - the **control socket** ([`crate::control`]) answers read-only queries
//!   from the CLI while we hold the store;
//! - **anchoring** ([`anchoring`]) gets a trusted timestamp over the
//!   history every `[evidence] anchor_interval` and on `bulletin-watch anchor`;
//! - optionally **`/healthz` + `/metrics`** ([`metrics`]) and the web view.
//!
//! SIGINT/SIGTERM fire the [`Shutdown`]: the scheduler stops starting
//! checks and lets in-flight ones finish (bounded), the other services
//! stop, the store is flushed and we exit 0. Every stored version and
//! queued alert is already durable when its check returns, so a `kill -9`
//! loses nothing and a restart repeats nothing.

pub mod anchoring;
pub mod metrics;
pub mod notices;
pub mod plan;
pub mod scheduler;
pub mod shutdown;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::signal::unix::Signal;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

use crate::catalog::Catalog;
use crate::check::Checker;
use crate::config::{self, Config, ConfigError};
use crate::delivery::{Channels, DeliveryError, Mailer};
use crate::fetch::{FetchError, Politeness};
use crate::outbox;
use crate::search::SearchIndex;
use crate::store::{Store, StoreError};
use crate::web::{ConfigHandle, WebError, WebState};

pub use metrics::Metrics;
pub use scheduler::failure_backoff;
pub use shutdown::Shutdown;

/// How long the other services get to stop once the scheduler is done.
const SERVICES_GRACE: Duration = Duration::from_secs(5);

/// How long the search index's thread gets to stop: it may be inside a
/// tantivy commit, which cannot be cut short and under load takes minutes.
/// After this the daemon exits without it; an index left mid-commit is
/// caught up at the next start, as after a crash.
const INDEX_GRACE: Duration = Duration::from_secs(5);
/// How often delivery looks at the outbox without being woken.
/// How often the delivery service prunes delivered entries past their retention.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
const DELIVERY_POLL: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot set up the HTTP client")]
    Client(#[source] FetchError),
    #[error("cannot set up mail delivery")]
    Mail(#[source] DeliveryError),
    #[error("cannot install signal handler")]
    Signal(#[source] std::io::Error),
    #[error("cannot listen on {addr}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Web(#[from] WebError),
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

impl Options {
    fn load(&self) -> Result<Config, ConfigError> {
        config::load_with_store(&self.config_path, self.store.as_deref())
    }
}

/// What a reload swaps in at once: the configuration and what is built
/// from it.
pub struct Live {
    pub config: Arc<Config>,
    pub checker: Arc<Checker>,
    pub mailer: Arc<Mailer>,
    /// The chat robots and their rate limiters, shared by every drain.
    pub channels: Arc<Channels>,
    /// Who every configured source is: a view of `config`, shared by
    /// delivery and (after a reload) the search index.
    pub catalog: Catalog,
}

impl Live {
    /// Builds checker and mailer for `config`. Pacing state (and any
    /// Retry-After) is carried in `politeness` across reloads; changed host
    /// policies apply to hosts seen from then on.
    pub fn new(
        config: Arc<Config>,
        store: Arc<Store>,
        politeness: Arc<Politeness>,
    ) -> Result<Live, DaemonError> {
        Live::build(config, store, politeness, None, None)
    }

    /// [`Live::new`] for a reloaded configuration: the channels keep their
    /// rate limiters where the robot stayed the same.
    fn build(
        config: Arc<Config>,
        store: Arc<Store>,
        politeness: Arc<Politeness>,
        previous: Option<&Channels>,
        on_commit: Option<Arc<dyn crate::model::VersionSink>>,
    ) -> Result<Live, DaemonError> {
        let mailer =
            Mailer::from_config(&config.mail, &config.settings.store).map_err(DaemonError::Mail)?;
        let channels = match previous {
            Some(p) => p.reload(&config),
            None => Channels::from_config(&config),
        }
        .map_err(DaemonError::Mail)?;
        let mut checker = Checker::new(config.clone(), store).map_err(DaemonError::Client)?;
        checker.politeness = politeness;
        checker.on_commit = on_commit;
        Ok(Live {
            catalog: Catalog::of(config.clone()),
            config,
            checker: Arc::new(checker),
            mailer: Arc::new(mailer),
            channels: Arc::new(channels),
        })
    }
}

/// Runs until SIGINT/SIGTERM.
pub async fn run(opts: Options) -> Result<(), DaemonError> {
    // Handlers first: a SIGTERM during start-up must still be a clean stop.
    let (stop_signals, hangup) = shutdown::install()?;
    let shutdown = Shutdown::new();
    let config = Arc::new(opts.load()?);
    let cache = crate::store::daemon_cache_for(config.sources.len());
    let store = Arc::new(open_store_waiting(&config.settings.store, cache).await?);
    if store.was_recovered() {
        tracing::info!(store = %store.path().display(), "store recovered after an unclean stop");
    }
    // The search index catches up in the background: never a reason to
    // wait or to refuse to start. Its catalogue is a view of the
    // configuration, as `Live`'s is: nothing is copied.
    let index = SearchIndex::start(store.clone(), Catalog::of(config.clone()));
    let live = Live::build(
        config,
        store.clone(),
        Arc::new(Politeness::new()),
        None,
        Some(index.clone()),
    )?;
    let (live_tx, live_rx) = watch::channel(Arc::new(live));
    let metrics = Arc::new(Metrics::default());
    let wake_delivery = Arc::new(Notify::new());

    let mut services = JoinSet::new();
    services.spawn(stop_signals.serve(shutdown.clone()));
    let (anchor_tx, anchor_rx) = tokio::sync::mpsc::channel(4);
    services.spawn(control(
        store.clone(),
        index.clone(),
        Some(anchor_tx),
        shutdown.clone(),
    ));
    services.spawn(anchoring::serve(
        live_rx.clone(),
        anchor_rx,
        wake_delivery.clone(),
        shutdown.clone(),
    ));
    if let Some(addr) = opts.metrics {
        let listener = listen(addr).await?;
        tracing::info!(%addr, "serving /healthz and /metrics");
        services.spawn(metrics::serve(
            listener,
            store.clone(),
            metrics.clone(),
            shutdown.clone(),
        ));
    }
    if let Some((addr, token)) = &opts.web {
        crate::web::check_exposure(*addr, token.as_deref())?;
        let listener = listen(*addr).await?;
        tracing::info!(%addr, "serving the web view");
        let rx = live_rx.clone();
        let config = ConfigHandle::from_fn(move || rx.borrow().config.clone());
        let state = WebState::new(store.clone(), config)
            .with_token(token.clone())
            .with_search(index.clone());
        let stop = shutdown.wait_owned();
        services.spawn(async move {
            if let Err(e) = crate::web::serve(listener, state, stop).await {
                tracing::error!(error = %e, "web view stopped");
            }
        });
    }
    services.spawn(deliver(
        live_rx.clone(),
        metrics.clone(),
        wake_delivery.clone(),
        shutdown.clone(),
    ));
    services.spawn(reload(
        opts,
        hangup,
        live_tx,
        index.clone(),
        shutdown.clone(),
    ));

    scheduler::Scheduler {
        live: live_rx,
        metrics,
        wake_delivery,
        loads_at: Default::default(),
    }
    .run(shutdown.clone())
    .await;

    shutdown.trigger();
    if tokio::time::timeout(SERVICES_GRACE, async {
        while services.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        services.abort_all();
    }
    // A thread of its own, not `spawn_blocking`: dropping the runtime
    // would wait for a blocking task however long its commit takes.
    let closing = index.clone();
    let (closed, on_closed) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        closing.close(false);
        let _ = closed.send(());
    });
    if tokio::time::timeout(INDEX_GRACE, on_closed).await.is_err() {
        tracing::warn!(
            "the search index is still committing; exiting without it (it catches up at the next start)"
        );
    }
    store.flush()?;
    let _ = std::fs::remove_file(crate::control::socket_path(store.path()));
    tracing::info!("stopped");
    Ok(())
}

async fn listen(addr: SocketAddr) -> Result<TcpListener, DaemonError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| DaemonError::Listen { addr, source })
}

/// The control socket service.
async fn control(
    store: Arc<Store>,
    index: Arc<SearchIndex>,
    anchors: Option<crate::control::AnchorRequests>,
    shutdown: Shutdown,
) {
    tokio::select! {
        served = crate::control::serve_with(store, Some(index), anchors) => {
            if let Err(e) = served {
                tracing::error!(error = %e, "control socket stopped");
            }
        }
        _ = shutdown.wait() => {}
    }
}

/// The delivery service: drains the outbox when woken, or every few
/// seconds (for alerts waiting out a backoff). A drain cut short by
/// shutdown leaves its alerts pending, to be sent at the next start.
async fn deliver(
    live: watch::Receiver<Arc<Live>>,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
    shutdown: Shutdown,
) {
    let mut pruned_at: Option<Instant> = None;
    loop {
        let current = live.borrow().clone();
        let store = current.checker.store.clone();
        if pruned_at.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
            pruned_at = Some(Instant::now());
            if let Err(e) = outbox::prune(&store, &current.config) {
                tracing::error!(error = %e, "cannot prune the outbox");
            }
        }
        tokio::select! {
            _ = shutdown.wait() => return,
            drained = outbox::drain_shared(&store, &current.config, &current.catalog, &current.mailer, &current.channels, false) => match drained {
                Ok(d) => metrics.delivered(d.sent, d.failed),
                Err(e) => tracing::error!(error = %e, "outbox drain failed"),
            },
        }
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = tokio::time::timeout(DELIVERY_POLL, wake.notified()) => {}
        }
    }
}

/// The reload service: on SIGHUP, re-reads the sources file and publishes
/// a new [`Live`]; an invalid file (or one that moves the store) is
/// refused and the running configuration kept.
async fn reload(
    opts: Options,
    mut hangup: Signal,
    live: watch::Sender<Arc<Live>>,
    index: Arc<SearchIndex>,
    shutdown: Shutdown,
) {
    loop {
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = hangup.recv() => {}
        }
        let current = live.borrow().clone();
        match reloaded(&opts, &current) {
            Ok(new) => {
                let sources = new.config.sources.len();
                // A refusal may have been fixed by the new configuration
                // (key, secret, keyword): every refused delivery is due.
                match new.checker.store.retry_refused(None, None) {
                    Ok(n) if n > 0 => {
                        tracing::info!(deliveries = n, "refused deliveries due again")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "cannot retry refused deliveries"),
                }
                // Versions indexed from now on are named by the new sources.
                index.set_catalog(new.catalog.clone());
                live.send_replace(Arc::new(new));
                tracing::info!(sources, "configuration reloaded");
            }
            Err(e) => tracing::error!(
                "reload refused, keeping the running configuration:\n{}",
                error_chain(&e)
            ),
        }
    }
}

/// Why a reload was refused.
#[derive(Debug, thiserror::Error)]
enum ReloadError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("the store path cannot change while running")]
    StoreMoved,
    #[error(transparent)]
    Setup(#[from] DaemonError),
    #[error("cannot read tracked articles")]
    Tracked(#[source] StoreError),
}

fn reloaded(opts: &Options, current: &Live) -> Result<Live, ReloadError> {
    let new = opts.load()?;
    if new.settings.store != current.config.settings.store {
        return Err(ReloadError::StoreMoved);
    }
    let live = Live::build(
        Arc::new(new),
        current.checker.store.clone(),
        current.checker.politeness.clone(),
        Some(&current.channels),
        current.checker.on_commit.clone(),
    )?;
    crate::runner::jobs(&live.checker, &[]).map_err(ReloadError::Tracked)?;
    Ok(live)
}

/// An error and its causes on one line, for the log.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Opens the store, waiting a little if a read-only command holds it for a
/// moment (an auditor's `history` must not stop the daemon from starting).
async fn open_store_waiting(path: &std::path::Path, cache: u64) -> Result<Store, StoreError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Store::open_with_cache(path, cache) {
            Err(StoreError::Locked { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50 + fastrand::u64(0..100))).await;
            }
            other => return other,
        }
    }
}
