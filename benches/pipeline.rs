//! Micro-benchmarks of the CPU-bound pipeline stages, in MB/s of input
//! (`cargo bench --bench pipeline`; see BENCHMARKS.md):
//!
//! * extraction + section parsing of one page (`extract::document`: decode,
//!   find the article, split it into numbered sections), UTF-8 and GBK;
//! * the section diff of two versions of a page (`diff::diff`);
//! * the comparison fingerprint that decides whether a version is new.
//!
//! The pages in `benches/data/` were written by `bench/fixture_server.py`'s
//! generator: a 35 KB UTF-8 page, the same page with one paragraph edited,
//! and a 23 KB GBK page.

mod harness;

use std::hint::black_box;

use bulletin_watch::extract;
use bulletin_watch::model::Document;
use bulletin_watch::model::ExtractOptions;
use bulletin_watch::{diff, store};

const V1: &[u8] = include_bytes!("data/page.v1.html");
const V2: &[u8] = include_bytes!("data/page.v2.html");
const GBK: &[u8] = include_bytes!("data/page.gbk.html");

fn parse(bytes: &[u8], ctype: &str) -> Document {
    extract::document(bytes, Some(ctype), &ExtractOptions::default())
        .expect("benchmark page extracts")
        .0
}

fn main() {
    let h = harness::Harness::from_args();
    let opts = ExtractOptions::default();
    for (name, page, ctype) in [
        ("utf8-35KB", V1, "text/html; charset=utf-8"),
        ("gbk-23KB", GBK, "text/html; charset=gbk"),
    ] {
        h.bench(
            &format!("extract+sections/{name}"),
            Some(page.len() as u64),
            || extract::document(black_box(page), Some(ctype), &opts).map(|d| d.0),
        );
    }

    let old = parse(V1, "text/html; charset=utf-8");
    let new = parse(V2, "text/html; charset=utf-8");
    assert!(!diff::diff(&old, &new).is_empty(), "the versions differ");
    let text_bytes = |d: &Document| -> u64 {
        d.sections
            .iter()
            .map(|s| (s.heading.len() + s.text.len()) as u64)
            .sum::<u64>()
            + d.preamble.len() as u64
    };
    // Throughput counts the text of both versions that the diff reads.
    let both = Some(text_bytes(&old) + text_bytes(&new));
    h.bench("diff/one-paragraph-edit", both, || {
        diff::diff(black_box(&old), black_box(&new))
    });
    h.bench("diff/identical", both, || {
        diff::diff(black_box(&old), black_box(&old))
    });

    h.bench("fingerprint/utf8-35KB", Some(V1.len() as u64), || {
        store::fingerprint(black_box(&old))
    });
}
