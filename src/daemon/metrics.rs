//! The daemon's counters, and `/healthz` + `/metrics` (Prometheus text
//! exposition format) served with axum for probes and scrapers.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use super::plan::{HostBudget, HostLoad};
use super::shutdown::Shutdown;
use crate::check::{Outcome, Report};
use crate::store::Store;

/// A per-host gauge: its name, its help text and how to read it.
type Gauge = (&'static str, &'static str, fn(&HostLoad) -> f64);

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
    /// `host-over-budget` streaks begun.
    pub over_budget_notices: AtomicU64,
    /// Each host's budget, as the scheduler last saw it.
    pub budgets: Mutex<Vec<HostBudget>>,
    /// Each host's load, as the scheduler last counted it.
    pub loads: Mutex<Vec<HostLoad>>,
    /// Seconds until the next check is due (negative: overdue).
    pub next_check_in: Mutex<Option<f64>>,
}

impl Metrics {
    /// Counts one check (and the articles discovered in it).
    pub fn record(&self, r: &Report) {
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

    /// Counts one outbox drain.
    pub fn delivered(&self, sent: usize, failed: usize) {
        self.alerts_sent.fetch_add(sent as u64, Ordering::Relaxed);
        self.alerts_failed
            .fetch_add(failed as u64, Ordering::Relaxed);
    }

    pub fn set_sources(&self, n: usize) {
        self.sources.store(n as u64, Ordering::Relaxed);
    }

    pub fn over_budget_notice(&self) {
        self.over_budget_notices.fetch_add(1, Ordering::Relaxed);
    }

    pub fn set_budgets(&self, budgets: &[HostBudget]) {
        if let Ok(mut b) = self.budgets.lock() {
            b.clear();
            b.extend_from_slice(budgets);
        }
    }

    pub fn set_loads(&self, loads: Vec<HostLoad>, next_check_in: Option<f64>) {
        if let Ok(mut l) = self.loads.lock() {
            *l = loads;
        }
        if let Ok(mut n) = self.next_check_in.lock() {
            *n = next_check_in;
        }
    }

    /// The per-host schedule gauges: one series per host and metric, never
    /// one per source.
    fn render_loads(&self) -> String {
        let loads = self.loads.lock().map(|l| l.clone()).unwrap_or_default();
        let mut out = String::new();
        let gauges: [Gauge; 4] = [
            (
                "host_sources",
                "Sources and articles checked on a host (not retired).",
                |l| l.scheduled as f64,
            ),
            (
                "host_checks_waiting",
                "Due checks waiting for a host's pacing.",
                |l| l.waiting as f64,
            ),
            (
                "host_oldest_wait_seconds",
                "How long the oldest waiting check on a host has been due.",
                |l| l.oldest_wait.as_secs_f64(),
            ),
            (
                "host_interval_seconds",
                "Mean current (adapted) interval of a host's sources.",
                |l| l.mean_interval.as_secs_f64(),
            ),
        ];
        for (name, help, value) in gauges {
            let _ = write!(
                out,
                "# HELP bulletin_watch_{name} {help}\n# TYPE bulletin_watch_{name} gauge\n"
            );
            for l in &loads {
                let _ = writeln!(
                    out,
                    "bulletin_watch_{name}{{host=\"{}\"}} {:.1}",
                    l.host,
                    value(l)
                );
            }
        }
        let retired: usize = loads.iter().map(|l| l.retired).sum();
        let _ = write!(
            out,
            "# HELP bulletin_watch_sources_retired Discovered articles past retire_after, no longer checked.\n# TYPE bulletin_watch_sources_retired gauge\nbulletin_watch_sources_retired {retired}\n"
        );
        if let Some(n) = self.next_check_in.lock().ok().and_then(|n| *n) {
            let _ = write!(
                out,
                "# HELP bulletin_watch_next_check_seconds Seconds until the next check is due (negative: overdue).\n# TYPE bulletin_watch_next_check_seconds gauge\nbulletin_watch_next_check_seconds {n:.1}\n"
            );
        }
        out
    }

    /// The per-host budget gauges.
    fn render_budgets(&self) -> String {
        let mut out = String::from(
            "# HELP bulletin_watch_host_checks_due_per_hour Checks due per hour on a host at the current intervals.\n# TYPE bulletin_watch_host_checks_due_per_hour gauge\n",
        );
        let budgets = self.budgets.lock().map(|b| b.clone()).unwrap_or_default();
        for b in &budgets {
            out.push_str(&format!(
                "bulletin_watch_host_checks_due_per_hour{{host=\"{}\"}} {:.1}\n",
                b.host, b.due_per_hour
            ));
        }
        out.push_str("# HELP bulletin_watch_host_capacity_per_hour Checks per hour a host's pacing allows.\n# TYPE bulletin_watch_host_capacity_per_hour gauge\n");
        for b in budgets.iter().filter(|b| b.capacity_per_hour.is_finite()) {
            out.push_str(&format!(
                "bulletin_watch_host_capacity_per_hour{{host=\"{}\"}} {:.1}\n",
                b.host, b.capacity_per_hour
            ));
        }
        let over = budgets.iter().filter(|b| b.over).count();
        out.push_str(&format!(
            "# HELP bulletin_watch_hosts_over_budget Hosts with more checks due than their pacing allows.\n# TYPE bulletin_watch_hosts_over_budget gauge\nbulletin_watch_hosts_over_budget {over}\n\
             # HELP bulletin_watch_host_over_budget_notices_total Over-budget streaks begun (one notice each).\n# TYPE bulletin_watch_host_over_budget_notices_total counter\nbulletin_watch_host_over_budget_notices_total {}\n",
            self.over_budget_notices.load(Ordering::Relaxed)
        ));
        out
    }

    /// Prometheus text exposition format.
    pub fn render(&self, pending_alerts: usize) -> String {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let checks = g(&self.checks);
        let mut text = format!(
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
        );
        text.push_str(&self.render_budgets());
        text.push_str(&self.render_loads());
        text
    }
}

#[derive(Clone)]
struct MetricsState {
    store: Arc<Store>,
    metrics: Arc<Metrics>,
}

/// `/healthz` and `/metrics`; anything else is a plain 404.
pub fn router(store: Arc<Store>, metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(|| async { ([(header::CONTENT_TYPE, "text/plain")], "ok\n") }),
        )
        .route("/metrics", get(render))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                [(header::CONTENT_TYPE, "text/plain")],
                "not found\n",
            )
        })
        .with_state(MetricsState { store, metrics })
}

async fn render(State(s): State<MetricsState>) -> impl IntoResponse {
    let store = s.store.clone();
    let pending =
        tokio::task::spawn_blocking(move || store.pending().map(|p| p.len()).unwrap_or(0))
            .await
            .unwrap_or(0);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(pending),
    )
}

/// The metrics service: serves [`router`] on `listener` until shutdown.
pub async fn serve(
    listener: tokio::net::TcpListener,
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    shutdown: Shutdown,
) {
    let served = axum::serve(listener, router(store, metrics))
        .with_graceful_shutdown(shutdown.wait_owned())
        .await;
    if let Err(e) = served {
        tracing::error!(error = %e, "metrics endpoint stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_render_prometheus_text() {
        let m = Metrics::default();
        m.checks.store(3, Ordering::Relaxed);
        m.set_budgets(&[HostBudget {
            host: "yjt.example.gov.cn".into(),
            due_per_hour: 3100.0,
            capacity_per_hour: 2400.0,
            over: true,
            streaks: 1,
        }]);
        let text = m.render(2);
        assert!(text.contains("bulletin_watch_checks_total 3\n"));
        assert!(text.contains(
            "bulletin_watch_host_checks_due_per_hour{host=\"yjt.example.gov.cn\"} 3100.0\n"
        ));
        assert!(text.contains("bulletin_watch_hosts_over_budget 1\n"));
        assert!(text.contains("bulletin_watch_alerts_pending 2\n"));
        m.set_loads(
            vec![HostLoad {
                host: "yjt.example.gov.cn".into(),
                scheduled: 500,
                retired: 20,
                waiting: 7,
                oldest_wait: std::time::Duration::from_secs(90),
                mean_interval: std::time::Duration::from_secs(86_400),
            }],
            Some(-3.0),
        );
        let text = m.render(0);
        for line in [
            "bulletin_watch_host_sources{host=\"yjt.example.gov.cn\"} 500.0\n",
            "bulletin_watch_host_checks_waiting{host=\"yjt.example.gov.cn\"} 7.0\n",
            "bulletin_watch_host_oldest_wait_seconds{host=\"yjt.example.gov.cn\"} 90.0\n",
            "bulletin_watch_host_interval_seconds{host=\"yjt.example.gov.cn\"} 86400.0\n",
            "bulletin_watch_sources_retired 20\n",
            "bulletin_watch_next_check_seconds -3.0\n",
        ] {
            assert!(text.contains(line), "{line}");
        }
    }
}
