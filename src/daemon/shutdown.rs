//! The daemon's one shutdown signal, and the Unix signals that pull it.
//!
//! Every service takes a [`Shutdown`] and ends when it fires; SIGINT and
//! SIGTERM fire it. The handlers are installed before anything else, so a
//! SIGTERM during start-up is still a clean stop and a SIGHUP never kills
//! the process.

use std::sync::Arc;

use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::watch;

use super::DaemonError;

/// A shutdown signal shared by every service. Cheap to clone.
#[derive(Clone)]
pub struct Shutdown {
    tx: Arc<watch::Sender<bool>>,
    rx: watch::Receiver<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    pub fn new() -> Shutdown {
        let (tx, rx) = watch::channel(false);
        Shutdown {
            tx: Arc::new(tx),
            rx,
        }
    }

    /// Asks every service to stop.
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow()
    }

    /// Completes once [`Shutdown::trigger`] was called (at once if it was).
    pub async fn wait(&self) {
        let mut rx = self.rx.clone();
        // The sender lives as long as any clone of `self`: no error here.
        let _ = rx.wait_for(|stop| *stop).await;
    }

    /// An owned future for APIs that want one (`axum`'s graceful shutdown).
    pub fn wait_owned(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let this = self.clone();
        async move { this.wait().await }
    }
}

/// SIGINT and SIGTERM, which stop the daemon.
pub struct StopSignals {
    interrupt: Signal,
    terminate: Signal,
}

/// Installs the handlers for SIGINT, SIGTERM and SIGHUP (returned apart:
/// SIGHUP belongs to the reload service).
pub fn install() -> Result<(StopSignals, Signal), DaemonError> {
    let install = |k: SignalKind| signal(k).map_err(DaemonError::Signal);
    Ok((
        StopSignals {
            interrupt: install(SignalKind::interrupt())?,
            terminate: install(SignalKind::terminate())?,
        },
        install(SignalKind::hangup())?,
    ))
}

impl StopSignals {
    /// The signal service: fires `shutdown` at the first SIGINT or SIGTERM.
    pub async fn serve(mut self, shutdown: Shutdown) {
        tokio::select! {
            _ = self.interrupt.recv() => tracing::info!("interrupt: shutting down"),
            _ = self.terminate.recv() => tracing::info!("terminate: shutting down"),
            _ = shutdown.wait() => return,
        }
        shutdown.trigger();
    }
}

/// Completes at the first SIGINT or SIGTERM (for `serve`, which has no
/// other services to stop). Without handlers, only Ctrl-C is awaited.
pub async fn stop_requested() {
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
