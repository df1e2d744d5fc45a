//! The micro-benchmarks' timing loop, small enough to read in a minute and
//! with nothing to build beside the crate: calls are timed in batches of a
//! calibrated size (about 10 ms each, so the clock's resolution does not
//! matter), after a warm-up, for a fixed budget per benchmark; each line
//! gives the median time per call, the fastest and slowest batch, and the
//! throughput where the input's size is known.
//!
//! `cargo bench --bench NAME` runs them all; `cargo bench --bench NAME --
//! FILTER` those whose name contains FILTER; `BENCH_SECS` sets the budget
//! (default 3 s). Figures are noisy on a shared machine: compare runs made
//! in the same minutes.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// The selected benchmarks and their budget.
pub struct Harness {
    filters: Vec<String>,
    budget: Duration,
}

impl Harness {
    /// From the command line `cargo bench` passes (`--bench`, then the
    /// words after `--`).
    pub fn from_args() -> Harness {
        let filters = std::env::args()
            .skip(1)
            .filter(|a| !a.starts_with("--"))
            .collect();
        let secs = std::env::var("BENCH_SECS")
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|s| *s > 0.0)
            .unwrap_or(3.0);
        Harness {
            filters,
            budget: Duration::from_secs_f64(secs),
        }
    }

    /// Times `f` as benchmark `name`; `bytes` is the input one call reads,
    /// for a throughput.
    pub fn bench<R>(&self, name: &str, bytes: Option<u64>, mut f: impl FnMut() -> R) {
        if !self.filters.is_empty() && !self.filters.iter().any(|w| name.contains(w.as_str())) {
            return;
        }
        // Warm-up and calibration: double the batch until one takes 10 ms.
        let mut per_batch: u64 = 1;
        loop {
            let t = time(&mut f, per_batch);
            if t >= Duration::from_millis(10) || per_batch >= 1 << 30 {
                break;
            }
            per_batch *= 2;
        }
        let start = Instant::now();
        let mut per_call: Vec<f64> = Vec::new();
        while per_call.len() < 10 || (start.elapsed() < self.budget && per_call.len() < 1_000) {
            per_call.push(time(&mut f, per_batch).as_secs_f64() / per_batch as f64);
        }
        per_call.sort_by(f64::total_cmp);
        let median = per_call[per_call.len() / 2];
        let throughput = bytes
            .map(|b| format!("  {:.1} MiB/s", b as f64 / median / (1024.0 * 1024.0)))
            .unwrap_or_default();
        println!(
            "{name:<40} {:>10}  (fastest {}, slowest {}, {} batches of {per_batch}){throughput}",
            show(median),
            show(per_call[0]),
            show(per_call[per_call.len() - 1]),
            per_call.len(),
        );
    }
}

fn time<R>(f: &mut impl FnMut() -> R, n: u64) -> Duration {
    let t = Instant::now();
    for _ in 0..n {
        black_box(f());
    }
    t.elapsed()
}

/// Seconds as ns, µs, ms or s, with four digits or so.
fn show(secs: f64) -> String {
    let (v, unit) = if secs < 1e-6 {
        (secs * 1e9, "ns")
    } else if secs < 1e-3 {
        (secs * 1e6, "µs")
    } else if secs < 1.0 {
        (secs * 1e3, "ms")
    } else {
        (secs, "s")
    };
    let decimals = if v >= 100.0 {
        1
    } else if v >= 10.0 {
        2
    } else {
        3
    };
    format!("{v:.decimals$} {unit}")
}
