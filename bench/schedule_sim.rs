//! Years of scheduling in seconds: drives the daemon's real timetable
//! (`daemon::plan::Timetable`) with a virtual clock over a national
//! deployment, with and without adaptive intervals, and prints the table
//! BENCHMARKS.md quotes.
//!
//! The model: each province is one host paced at the default 1.5 s, one
//! request at a time; it has 3 listing columns, each publishing 20 items a
//! month at random times. A listing check discovers what was published
//! since the last one and fetches it at once (as the daemon does); 1 % of
//! articles are edited once in their first 30 days, and every article is
//! edited with probability 0.1 % per month after that. A check takes no
//! virtual time; it finds a change when an edit happened since the last
//! check, and the delay from that edit to the check is the edit-to-alert
//! delay.
//!
//! `cargo run --release --example schedule-sim -- [--provinces N]
//! [--years N] [--mode adaptive|fixed|both] [--per-host]`

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

use bulletin_watch::check::Target;
use bulletin_watch::config::{self, Config};
use bulletin_watch::daemon::plan::{Timetable, Verdict};
use bulletin_watch::runner::Job;

const DAY: u64 = 86_400;
const MONTH: u64 = 30 * DAY;
const YEAR: u64 = 365 * DAY;
const WALL: i64 = 1_767_225_600; // 2026-01-01
const COLUMNS: usize = 3;
const ITEMS_PER_MONTH: f64 = 20.0;

struct Article {
    published: u64,
    /// Edit times (virtual seconds), ascending; `next` is the first unseen.
    edits: Vec<u64>,
    next: usize,
    host: usize,
}

#[derive(Default, Clone)]
struct YearStats {
    requests: u64,
    checks: u64,
    changed: u64,
    fresh_delays: Vec<u64>,
    old_delays: Vec<u64>,
    days_over: u64,
}

struct Run {
    /// [host][year]
    stats: Vec<Vec<YearStats>>,
    notices: usize,
    elapsed: Duration,
}

fn exp(rate: f64) -> f64 {
    -(1.0 - fastrand::f64()).ln() / rate
}

fn sources(provinces: usize) -> Config {
    let mut text = String::from("[settings]\ninterval = \"30m\"\n");
    for p in 0..provinces {
        for c in 0..COLUMNS {
            text.push_str(&format!(
                "\n[[source]]\nid = \"p{p:02}c{c}\"\nprovince = \"省{p}\"\nregion = \"华东\"\nurl = \"http://p{p:02}.example.gov.cn/col{c}/\"\nkind = \"listing\"\nlink_pattern = \"会议\"\n"
            ));
        }
    }
    match config::parse(&text, std::path::Path::new("sim/sources.toml")) {
        Ok(c) => c,
        Err(e) => panic!("simulated configuration: {e}"),
    }
}

fn simulate(provinces: usize, years: u64, adaptive: bool) -> Run {
    fastrand::seed(17);
    let began = Instant::now();
    let config = sources(provinces);
    let start = Instant::now();
    let mut table = Timetable::new(start, WALL);
    table.adaptive = adaptive;
    let jobs: Vec<Job> = config.sources.iter().cloned().map(Job::Source).collect();
    table.replace(jobs, &config, &HashMap::new());
    let end = years * YEAR;
    let ncol = provinces * COLUMNS;
    // Per column: the next publication time and what is published, unseen.
    let rate = ITEMS_PER_MONTH / MONTH as f64;
    // The next publication of each column, earliest first.
    let mut next_pub: BinaryHeap<Reverse<(u64, usize)>> =
        (0..ncol).map(|c| Reverse((exp(rate) as u64, c))).collect();
    let mut unseen: Vec<Vec<u64>> = vec![Vec::new(); ncol];
    let mut counter = vec![0usize; ncol];
    let mut articles: HashMap<String, Article> = HashMap::new();
    let mut stats = vec![vec![YearStats::default(); years as usize]; provinces];
    let mut notices = 0;
    let mut next_day = 0u64;
    let mut now_s = 0u64;
    loop {
        // The next thing to happen: a publication, a day boundary, or a check.
        let due = table.next_due().map_or(u64::MAX, |d| {
            // Whole seconds, rounded up, so the check is due when we look;
            // in integers: years into the run, an f64 of seconds no longer
            // holds a few nanoseconds, rounds a due time just past a second
            // down to it, and the loop would look at that second for ever.
            let d = d.saturating_duration_since(start);
            d.as_secs() + u64::from(d.subsec_nanos() > 0)
        });
        let (publish, col) = next_pub.peek().map_or((u64::MAX, 0), |r| r.0);
        let step = due.min(publish).min(next_day).max(now_s);
        if step >= end {
            break;
        }
        now_s = step;
        let now = start + Duration::from_secs(now_s);
        let year = (now_s / YEAR) as usize;
        if next_day <= now_s {
            for b in table.budgets() {
                let h = host_index(&b.host);
                if b.over {
                    stats[h][year].days_over += 1;
                }
            }
            next_day += DAY;
            continue;
        }
        if publish <= now_s {
            unseen[col].push(now_s);
            next_pub.pop();
            next_pub.push(Reverse((now_s + exp(rate).max(1.0) as u64, col)));
            continue;
        }
        while let Some(job) = table.pop_due(now) {
            let id = job.id().to_string();
            let verdict = match &job {
                Job::Source(s) => {
                    let col = col_index(&s.id);
                    let host = col / COLUMNS;
                    let found = std::mem::take(&mut unseen[col]);
                    let st = &mut stats[host][year];
                    st.requests += 1 + found.len() as u64;
                    st.checks += 1;
                    if !found.is_empty() {
                        st.changed += 1;
                    }
                    for published in &found {
                        counter[col] += 1;
                        let aid = format!("{}a{}", s.id, counter[col]);
                        let url = match url::Url::parse(&format!("{}{}.html", s.url, counter[col]))
                        {
                            Ok(u) => u,
                            Err(e) => panic!("{e}"),
                        };
                        let mut edits = Vec::new();
                        if fastrand::f64() < 0.01 {
                            edits.push(published + fastrand::u64(0..MONTH));
                        }
                        let mut t = published + MONTH;
                        loop {
                            t += (exp(0.001 / MONTH as f64)) as u64;
                            if t >= end {
                                break;
                            }
                            edits.push(t);
                        }
                        edits.sort_unstable();
                        // Edits before discovery are in the first version.
                        let next = edits.iter().take_while(|e| **e <= now_s).count();
                        articles.insert(
                            aid.clone(),
                            Article {
                                published: *published,
                                edits,
                                next,
                                host,
                            },
                        );
                        let target = Target::discovered(s, aid, url, "会议");
                        let born = WALL + *published as i64;
                        table.insert(
                            Job::Article(std::sync::Arc::new(target)),
                            &config,
                            Some(born),
                            now + Duration::from_secs(1800),
                        );
                    }
                    if found.is_empty() {
                        Verdict::Unchanged
                    } else {
                        Verdict::Changed
                    }
                }
                Job::Article(_) => {
                    let Some(a) = articles.get_mut(&id) else {
                        continue;
                    };
                    let st = &mut stats[a.host][year];
                    st.requests += 1;
                    st.checks += 1;
                    let mut changed = false;
                    while a.next < a.edits.len() && a.edits[a.next] <= now_s {
                        let edit = a.edits[a.next];
                        let delay = now_s - edit;
                        if edit - a.published < MONTH {
                            st.fresh_delays.push(delay);
                        } else {
                            st.old_delays.push(delay);
                        }
                        a.next += 1;
                        changed = true;
                    }
                    if changed {
                        st.changed += 1;
                        Verdict::Changed
                    } else {
                        Verdict::Unchanged
                    }
                }
            };
            table.done(&id, verdict, now);
        }
        notices += table.take_notices().len();
        // Guard against a stuck clock (nothing due now, nothing advanced).
        if table.next_due().is_some_and(|d| d <= now) {
            now_s += 1;
        }
    }
    Run {
        stats,
        notices,
        elapsed: began.elapsed(),
    }
}

fn host_index(host: &str) -> usize {
    host.get(1..3).and_then(|n| n.parse().ok()).unwrap_or(0)
}

fn col_index(id: &str) -> usize {
    let p: usize = id.get(1..3).and_then(|n| n.parse().ok()).unwrap_or(0);
    let c: usize = id.get(4..5).and_then(|n| n.parse().ok()).unwrap_or(0);
    p * COLUMNS + c
}

fn median(v: &mut [u64]) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    Some(v[v.len() / 2])
}

fn fmt_delay(d: Option<u64>) -> String {
    match d {
        None => "—".into(),
        Some(s) if s < 3600 => format!("{} min", s / 60),
        Some(s) if s < 2 * DAY => format!("{:.1} h", s as f64 / 3600.0),
        Some(s) => format!("{:.1} d", s as f64 / DAY as f64),
    }
}

fn report(name: &str, run: &Run, years: u64, per_host: bool) {
    let hosts = run.stats.len();
    println!(
        "\n{name}: {hosts} hosts, {years} years, {} over-budget notices, simulated in {:.1} s",
        run.notices,
        run.elapsed.as_secs_f64()
    );
    println!("| year | requests/day per host (mean, max) | checks finding a change | median delay, fresh edits | median delay, old edits | host-days over budget |");
    println!("|---|---|---|---|---|---|");
    for y in 0..years as usize {
        let mut all = YearStats::default();
        let mut max_req = 0;
        for h in &run.stats {
            let s = &h[y];
            max_req = max_req.max(s.requests);
            all.requests += s.requests;
            all.checks += s.checks;
            all.changed += s.changed;
            all.days_over += s.days_over;
            all.fresh_delays.extend(&s.fresh_delays);
            all.old_delays.extend(&s.old_delays);
        }
        println!(
            "| {} | {:.0}, {:.0} | {:.2} % | {} | {} | {:.1} % |",
            y + 1,
            all.requests as f64 / 365.0 / hosts as f64,
            max_req as f64 / 365.0,
            100.0 * all.changed as f64 / all.checks.max(1) as f64,
            fmt_delay(median(&mut all.fresh_delays)),
            fmt_delay(median(&mut all.old_delays)),
            100.0 * all.days_over as f64 / (365.0 * hosts as f64),
        );
    }
    if per_host {
        println!("\nhost,year,requests_per_day,change_share,fresh_median_s,old_median_s,days_over");
        for (h, ys) in run.stats.iter().enumerate() {
            for (y, s) in ys.iter().enumerate() {
                let mut s = s.clone();
                println!(
                    "p{h:02}.example.gov.cn,{},{:.0},{:.4},{},{},{}",
                    y + 1,
                    s.requests as f64 / 365.0,
                    s.changed as f64 / s.checks.max(1) as f64,
                    median(&mut s.fresh_delays).map_or(String::new(), |d| d.to_string()),
                    median(&mut s.old_delays).map_or(String::new(), |d| d.to_string()),
                    s.days_over
                );
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let provinces = arg("--provinces")
        .and_then(|v| v.parse().ok())
        .unwrap_or(31);
    let years = arg("--years").and_then(|v| v.parse().ok()).unwrap_or(5);
    let mode = arg("--mode").unwrap_or_else(|| "both".into());
    let per_host = args.iter().any(|a| a == "--per-host");
    let mut totals = Vec::new();
    for (name, adaptive) in [("adaptive intervals", true), ("fixed intervals", false)] {
        if mode != "both" && (mode == "adaptive") != adaptive {
            continue;
        }
        let run = simulate(provinces, years, adaptive);
        report(name, &run, years, per_host);
        let year3: u64 = run
            .stats
            .iter()
            .map(|h| h.get(2).map_or(0, |s| s.requests))
            .sum();
        totals.push((name, year3));
    }
    if let [(_, a), (_, f)] = totals[..] {
        println!(
            "\nyear 3 requests: fixed / adaptive = {:.1}×",
            f as f64 / a.max(1) as f64
        );
    }
}
