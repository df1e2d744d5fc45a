//! The extraction benchmark's bulletin-watch side (`cargo run --release
//! --example extract-eval -- DIR`): reads every article page listed in
//! `DIR/manifest.toml`, runs the same extraction a check runs on it, and
//! prints one JSON line per page: title, publish date, the body text as a
//! reader sees it, the top-level section labels, and the time it took.
//!
//! `bench/extract_eval.sh` runs this beside trafilatura and GNE on the same
//! pages and scores all three against the manifest (`bench/extract_eval.py`).

use std::path::PathBuf;
use std::time::Instant;

use bulletin_watch::extract;
use bulletin_watch::model::ExtractOptions;

/// Each page is extracted this many times and the median taken, so that
/// a page's time is not one cold cache miss.
const RUNS: usize = 5;

fn main() {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "../shared/realworld".into()),
    );
    let manifest = match std::fs::read_to_string(dir.join("manifest.toml")) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{}: {e}", dir.join("manifest.toml").display());
            std::process::exit(2);
        }
    };
    let value: toml::Value = match toml::from_str(&manifest) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{}: {e}", dir.join("manifest.toml").display());
            std::process::exit(2);
        }
    };
    let pages = value
        .get("page")
        .and_then(|p| p.as_array())
        .cloned()
        .unwrap_or_default();
    let opts = ExtractOptions::default();
    for page in pages {
        if page.get("kind").and_then(|k| k.as_str()) != Some("article") {
            continue;
        }
        let Some(file) = page.get("file").and_then(|f| f.as_str()) else {
            continue;
        };
        let bytes = match std::fs::read(dir.join(file)) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{file}: {e}");
                continue;
            }
        };
        let mut times = Vec::with_capacity(RUNS);
        let mut result = None;
        for _ in 0..RUNS {
            let start = Instant::now();
            let r = extract::document(&bytes, None, &opts);
            times.push(start.elapsed().as_secs_f64() * 1000.0);
            result = Some(r);
        }
        times.sort_by(|a, b| a.total_cmp(b));
        let ms = times[RUNS / 2];
        let line = match result {
            Some(Ok((doc, _))) => {
                let top: Vec<&str> = doc
                    .sections
                    .iter()
                    .filter(|s| s.level == 1)
                    .map(|s| s.label.as_str())
                    .collect();
                serde_json::json!({
                    "file": file,
                    "title": doc.title,
                    "published": doc.published.map(|d| d.to_string()),
                    "body": reading(&doc),
                    "sections": top,
                    "ms": ms,
                })
            }
            // A page without article text (an image-only body) still has
            // a headline and a date: `explain` reads them.
            Some(Err(e)) => match extract::explain(&bytes, None, &opts) {
                Ok(ex) => serde_json::json!({
                    "file": file,
                    "title": ex.title,
                    "published": ex.published.map(|d| d.to_string()),
                    "body": "",
                    "sections": [],
                    "note": e.to_string(),
                    "ms": ms,
                }),
                Err(e) => serde_json::json!({ "file": file, "error": e.to_string(), "ms": ms }),
            },
            None => continue,
        };
        println!("{line}");
    }
}

/// The body as a reader reads it: the preamble, then each section's label,
/// heading and text.
fn reading(doc: &bulletin_watch::model::Document) -> String {
    let mut body = doc.preamble.clone();
    for s in &doc.sections {
        if !body.is_empty() {
            body.push('\n');
        }
        body.push_str(&s.raw_label);
        body.push_str(&s.heading);
        if !s.text.is_empty() {
            if !s.heading.is_empty() {
                body.push('\n');
            }
            body.push_str(&s.text);
        }
    }
    body
}
