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

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
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

fn extraction(c: &mut Criterion) {
    let opts = ExtractOptions::default();
    let mut g = c.benchmark_group("extract+sections");
    for (name, page, ctype) in [
        ("utf8-35KB", V1, "text/html; charset=utf-8"),
        ("gbk-23KB", GBK, "text/html; charset=gbk"),
    ] {
        g.throughput(Throughput::Bytes(page.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| extract::document(black_box(page), Some(ctype), &opts).map(|d| d.0))
        });
    }
    g.finish();
}

fn section_diff(c: &mut Criterion) {
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
    let mut g = c.benchmark_group("diff");
    // Throughput counts the text of both versions that the diff reads.
    g.throughput(Throughput::Bytes(text_bytes(&old) + text_bytes(&new)));
    g.bench_function("one-paragraph-edit", |b| {
        b.iter(|| diff::diff(black_box(&old), black_box(&new)))
    });
    g.bench_function("identical", |b| {
        b.iter(|| diff::diff(black_box(&old), black_box(&old)))
    });
    g.finish();
}

fn fingerprint(c: &mut Criterion) {
    let doc = parse(V1, "text/html; charset=utf-8");
    let mut g = c.benchmark_group("fingerprint");
    g.throughput(Throughput::Bytes(V1.len() as u64));
    g.bench_function("utf8-35KB", |b| {
        b.iter(|| store::fingerprint(black_box(&doc)))
    });
    g.finish();
}

criterion_group!(benches, extraction, section_diff, fingerprint);
criterion_main!(benches);
