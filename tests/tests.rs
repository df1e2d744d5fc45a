//! The one integration-test binary: every suite below is a module of it, so
//! the library and its dependencies are linked once instead of once per suite.
//!
//! Cargo's automatic discovery of `tests/*.rs` is off (`autotests = false` in
//! `Cargo.toml`): a new suite `tests/foo.rs` runs only once `mod foo;` is added
//! here, and `every_suite_file_is_a_module_of_this_binary` fails until it is.
//! Run one suite with `cargo test --test integration foo::`.

// Shared support, used by the suites as `crate::common` and
// `crate::faults_support`.
mod common;
mod faults_support;
mod robots;
mod tsa;

mod alerts;
mod audit;
mod channels;
mod chat_delivery;
mod chat_outbox;
mod compat;
mod daemon;
mod demo;
mod deploy;
mod diff_fixtures;
mod evidence;
mod extract_fixtures;
mod extract_patterns;
mod faults;
mod listing_fixtures;
mod noise;
mod notify_smtp;
mod pipeline;
mod props;
mod schedule;
mod search;
mod sections_fixtures;
mod security;
mod store_faults;
mod volatile;
mod web;

/// A suite file that this binary does not declare would silently never run.
#[test]
fn every_suite_file_is_a_module_of_this_binary() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let this = std::fs::read_to_string(root.join("tests.rs")).expect("tests/tests.rs");
    let declared: Vec<&str> = this
        .lines()
        .filter_map(|l| l.strip_prefix("mod ")?.strip_suffix(';'))
        .collect();
    let mut missing = Vec::new();
    let mut found = 0;
    for entry in std::fs::read_dir(&root).expect("tests/") {
        let path = entry.expect("dir entry").path();
        let name = if path.is_dir() {
            if !path.join("mod.rs").is_file() {
                continue; // data, e.g. tests/fixtures
            }
            path.file_name().and_then(|n| n.to_str()).map(str::to_owned)
        } else if path.extension().is_some_and(|e| e == "rs") {
            path.file_stem().and_then(|n| n.to_str()).map(str::to_owned)
        } else {
            None
        };
        let Some(name) = name.filter(|n| n != "tests") else {
            continue;
        };
        found += 1;
        if !declared.contains(&name.as_str()) {
            missing.push(name);
        }
    }
    assert!(found >= 18, "only {found} suite files under tests/");
    assert!(
        missing.is_empty(),
        "add `mod NAME;` to tests/tests.rs for: {missing:?}"
    );
}
