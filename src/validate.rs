//! `sources validate --fetch`: every source fetched once through the same
//! pipeline a check runs ([`crate::check::Pipeline::dry_run`]) — pacing,
//! politeness, decoding, extraction, ignore rules, listing link matching —
//! without a store, so that what it reports is what a check would see.

use std::sync::Arc;

use tokio::task::JoinSet;

use crate::check::{DryRun, Found, Pipeline};
use crate::config::Config;
use crate::fetch::{Fetcher, Politeness};

#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    #[error("cannot build the HTTP client")]
    Client(#[source] reqwest::Error),
}

/// Dry-runs every configured source, at most `concurrency` at a time, and
/// returns the results in the order of the sources file.
pub async fn fetch_all(config: Arc<Config>) -> Result<Vec<DryRun>, ValidateError> {
    let fetcher = Fetcher::new(&config.settings).map_err(ValidateError::Client)?;
    let politeness = Arc::new(Politeness::new());
    let limit = config.settings.concurrency.max(1);
    let mut set = JoinSet::new();
    let mut out: Vec<Option<DryRun>> = vec![None; config.sources.len()];
    for i in 0..config.sources.len() {
        while set.len() >= limit {
            settle(set.join_next().await, &mut out);
        }
        let (config, fetcher, politeness) = (config.clone(), fetcher.clone(), politeness.clone());
        set.spawn(async move {
            let pipeline = Pipeline {
                config: &config,
                fetcher: &fetcher,
                politeness: &politeness,
            };
            (i, pipeline.dry_run(&config.sources[i]).await)
        });
    }
    while !set.is_empty() {
        settle(set.join_next().await, &mut out);
    }
    Ok(config
        .sources
        .iter()
        .zip(out)
        .map(|(s, r)| {
            r.unwrap_or_else(|| DryRun {
                source: s.id.clone(),
                result: Err("the check panicked".to_string()),
            })
        })
        .collect())
}

fn settle(
    done: Option<Result<(usize, DryRun), tokio::task::JoinError>>,
    out: &mut [Option<DryRun>],
) {
    if let Some(Ok((i, r))) = done {
        out[i] = Some(r);
    }
}

/// The hosts a first pass would put over budget, one line each
/// (`over budget: HOST: N checks due per hour, its pacing allows M`): every
/// configured source at its interval, and each link a listing would follow
/// at the listing's interval, on the listing's host (a fresh article is
/// checked at the base interval). Nothing when every host keeps up.
pub fn budget_lines(config: &Config, results: &[DryRun]) -> Vec<String> {
    use crate::schedule as plan;
    let mut demand: std::collections::BTreeMap<String, f64> = Default::default();
    for (s, r) in config.sources.iter().zip(results) {
        let Some(host) = s.url.host_str().map(str::to_ascii_lowercase) else {
            continue;
        };
        let links = match &r.result {
            Ok(Found::Listing { matching, .. }) => *matching,
            _ => 0,
        };
        *demand.entry(host).or_default() += (1 + links) as f64 * plan::per_hour(s.interval);
    }
    demand
        .into_iter()
        .filter_map(|(host, d)| {
            let cap = plan::capacity_per_hour(config, &host);
            plan::exceeds(d, cap, false).then(|| {
                let b = plan::HostBudget {
                    host,
                    due_per_hour: d,
                    capacity_per_hour: cap,
                    over: true,
                    streaks: 0,
                };
                format!("over budget: {}", b.line())
            })
        })
        .collect()
}

/// The line `validate --fetch` prints for one source:
/// `ok    ID  what was found` or `FAIL  ID  why`.
pub fn line(r: &DryRun) -> String {
    match (r.problem(), &r.result) {
        (Some(p), _) => format!("FAIL  {:<16} {p}", r.source),
        (None, Ok(Found::Article { title, sections })) => {
            format!("ok    {:<16} \"{title}\", {sections} sections", r.source)
        }
        (None, Ok(Found::Listing { items, matching })) => format!(
            "ok    {:<16} {items} items, {matching} matching link_pattern",
            r.source
        ),
        (None, Err(e)) => format!("FAIL  {:<16} {e}", r.source),
    }
}
