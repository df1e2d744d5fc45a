//! The promise to users across releases: a store written by the previous
//! release opens, verifies and prints identical output with this one.
//!
//! `tests/fixtures/store-prev/store` was written by the previous release
//! (commit 73989d9) through real HTTP `check` passes, and every read
//! command's output was recorded by that same binary into
//! `tests/fixtures/store-prev/expected/`, listed in `expected/commands.tsv`
//! (file, exit code, arguments); `make.sh` beside them regenerates all of it.
//! This test copies the store into a temporary directory (the committed copy is
//! never opened) and replays every recorded command with the current binary,
//! comparing stdout byte for byte and the exit code. No output is masked: none
//! of the recorded commands embeds the current time (the only "now" the
//! previous release printed is the header of `export --format html`, which is
//! not recorded). If a command differs, the test fails listing every differing
//! command with the first differing lines: that is a regression of the current
//! code, not a reason to re-record.

use std::path::{Path, PathBuf};
use std::process::Command;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/store-prev");
/// The port every URL in the fixture's `sources.toml` names.
const FIXTURE_PORT: u16 = 47231;

struct Recorded {
    file: String,
    code: i32,
    args: Vec<String>,
}

fn recorded() -> Vec<Recorded> {
    let tsv = std::fs::read_to_string(Path::new(FIXTURE).join("expected/commands.tsv")).unwrap();
    tsv.lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let mut cols = line.split('\t');
            let file = cols.next().unwrap().to_string();
            let code = cols.next().unwrap().parse().unwrap();
            let args = cols.map(str::to_string).collect();
            Recorded { file, code, args }
        })
        .collect()
}

fn expected(file: &str) -> Vec<u8> {
    std::fs::read(Path::new(FIXTURE).join("expected").join(file)).unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Every file under `dir` with its length and content, to show the committed
/// fixture is left exactly as it was.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            } else {
                out.push((entry.path(), std::fs::read(entry.path()).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn run(store: &Path, args: &[String]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_bulletin-watch"))
        .arg("--config")
        .arg(Path::new(FIXTURE).join("sources.toml"))
        .arg("--store")
        .arg(store)
        .args(args)
        .env_remove("BULLETIN_WATCH_CONFIG")
        .env_remove("BULLETIN_WATCH_STORE")
        .env_remove("BULLETIN_WATCH_LOG")
        .output()
        .unwrap()
}

/// The first few differing lines of two outputs, for the failure report.
fn first_differences(want: &[u8], got: &[u8]) -> String {
    let want = String::from_utf8_lossy(want);
    let got = String::from_utf8_lossy(got);
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    let mut out = String::new();
    let mut shown = 0;
    for i in 0..w.len().max(g.len()) {
        let (a, b) = (w.get(i), g.get(i));
        if a != b {
            out.push_str(&format!(
                "    line {}:\n      - {}\n      + {}\n",
                i + 1,
                a.copied().unwrap_or("<none>"),
                b.copied().unwrap_or("<none>")
            ));
            shown += 1;
            if shown == 5 {
                out.push_str("    …\n");
                break;
            }
        }
    }
    if out.is_empty() {
        out.push_str("    (same lines; differs in line endings or trailing bytes)\n");
    }
    out
}

/// Replays `rows` on `store`; returns one report entry per differing command.
fn replay(store: &Path, rows: &[&Recorded]) -> Vec<String> {
    let mut failures = Vec::new();
    for r in rows {
        let out = run(store, &r.args);
        let want = expected(&r.file);
        let code = out.status.code().unwrap_or(-1);
        if out.stdout != want || code != r.code {
            let mut report = format!(
                "`bulletin-watch {}` (expected/{}): exit {} (recorded {}), {} bytes (recorded {})\n",
                r.args.join(" "),
                r.file,
                code,
                r.code,
                out.stdout.len(),
                want.len()
            );
            if out.stdout != want {
                report.push_str(&first_differences(&want, &out.stdout));
            }
            if !out.stderr.is_empty() {
                report.push_str(&format!(
                    "    stderr: {}\n",
                    String::from_utf8_lossy(&out.stderr).trim_end()
                ));
            }
            failures.push(report);
        }
    }
    failures
}

#[test]
fn the_recorded_commands_cover_the_contract_and_the_store_is_representative() {
    let rows = recorded();
    let has = |args: &[&str]| rows.iter().any(|r| r.args == args);
    for args in [
        &["history", "--json"][..],
        &["outbox", "--json"],
        &["outbox"],
        &["verify"],
        &["export", "--format", "jsonl"],
        &["export", "--format", "csv"],
        &["compile", "--format", "markdown"],
        &["sources", "list"],
    ] {
        assert!(has(args), "commands.tsv records `{}`", args.join(" "));
    }
    let history: serde_json::Value = serde_json::from_slice(&expected("history.json")).unwrap();
    let sources: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["source"].as_str().unwrap())
        .collect();
    assert!(sources.len() >= 5, "{sources:?}");
    assert!(
        sources.iter().any(|s| s.starts_with("ah-list.")),
        "an article discovered on the listing: {sources:?}"
    );
    for s in &sources {
        for args in [
            vec!["history", s, "--json"],
            vec!["show", s, "--json"],
            vec!["show", s, "--version", "1", "--json"],
            vec!["show", s, "--raw"],
            vec!["diff", s, "--json"],
            vec!["diff", s],
        ] {
            assert!(has(&args), "commands.tsv records `{}`", args.join(" "));
        }
    }

    // UTF-8 and GBK pages, kept as fetched.
    let sh = expected("show.sh.v1.raw");
    assert!(std::str::from_utf8(&sh).is_ok());
    let js = expected("show.js.v1.raw");
    assert!(
        std::str::from_utf8(&js).is_err(),
        "jiangsu is served as GBK"
    );
    let js_show: serde_json::Value = serde_json::from_slice(&expected("show.js.json")).unwrap();
    assert_eq!(js_show["encoding"], "GBK", "{js_show}");

    // Several versions; an edited section; a renumbered one.
    let sh_history: serde_json::Value =
        serde_json::from_slice(&expected("history.sh.json")).unwrap();
    assert_eq!(sh_history.as_array().unwrap().len(), 3);
    let sh_edit: serde_json::Value = serde_json::from_slice(&expected("diff.sh.1-2.json")).unwrap();
    assert_eq!(sh_edit["changed"], serde_json::json!(["(一)"]), "{sh_edit}");
    let sh_added: serde_json::Value =
        serde_json::from_slice(&expected("diff.sh.1-3.json")).unwrap();
    assert_eq!(sh_added["added"], serde_json::json!(["(三)"]), "{sh_added}");
    let zj_diff: serde_json::Value = serde_json::from_slice(&expected("diff.zj.json")).unwrap();
    assert!(
        !zj_diff["renumbered"].as_array().unwrap().is_empty(),
        "{zj_diff}"
    );

    // Every kind of alert, some delivered as .eml files, some still pending.
    let outbox: serde_json::Value = serde_json::from_slice(&expected("outbox.json")).unwrap();
    let outbox = outbox.as_array().unwrap();
    for kind in ["published", "changed", "failing", "recovered"] {
        assert!(
            outbox.iter().any(|a| a["kind"] == kind),
            "a {kind} alert in {outbox:?}"
        );
    }
    for state in ["delivered", "pending"] {
        assert!(
            outbox.iter().any(|a| a["state"] == state),
            "a {state} alert in {outbox:?}"
        );
    }
    let mails = std::fs::read_dir(Path::new(FIXTURE).join("store/mail"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".eml"))
        .count();
    let delivered = outbox.iter().filter(|a| a["state"] == "delivered").count();
    assert_eq!(mails, delivered, "each delivered alert is an .eml file");

    // Kept small enough to live in the repository.
    let bytes: usize = snapshot(&Path::new(FIXTURE).join("store"))
        .iter()
        .map(|(_, b)| b.len())
        .sum();
    assert!(bytes < 1024 * 1024, "fixture store is {bytes} bytes");
}

#[test]
fn a_store_of_the_previous_release_prints_identical_output() {
    let committed = Path::new(FIXTURE).join("store");
    let before = snapshot(&committed);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    copy_dir(&committed, &store);

    let rows = recorded();
    let verify = rows
        .iter()
        .find(|r| r.args == ["verify"])
        .expect("verify is recorded");
    assert_eq!(verify.code, 0, "the previous release verified its store");

    let all: Vec<&Recorded> = rows.iter().collect();
    let failures = replay(&store, &all);
    assert!(
        failures.is_empty(),
        "{} of {} commands print differently from the previous release on its store:\n{}",
        failures.len(),
        rows.len(),
        failures.join("")
    );

    // The store still takes writes: one pass with every source unreachable
    // (nothing listens on the fixture's port) records a failure for each and
    // no version, and retries the pending alerts against a closed SMTP port.
    match std::net::TcpListener::bind(("127.0.0.1", FIXTURE_PORT)) {
        Ok(listener) => drop(listener),
        Err(e) => {
            eprintln!("port {FIXTURE_PORT} is in use ({e}): the write pass is skipped");
            assert_eq!(snapshot(&committed), before);
            return;
        }
    }
    let check = run(&store, &["check".to_string()]);
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&check.stderr)
    );
    // Every configured source (the listing included) and every discovered one.
    let configured = String::from_utf8(expected("sources-list.txt"))
        .unwrap()
        .lines()
        .count();
    let history: serde_json::Value = serde_json::from_slice(&expected("history.json")).unwrap();
    let discovered = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["source"].as_str().unwrap().starts_with("ah-list."))
        .count();
    let n = configured + discovered;
    assert!(
        stdout.contains(&format!(
            "checked {n}, new versions 0, unchanged 0, failed {n}"
        )),
        "{stdout}"
    );
    // Failures create no version: what the history says is unchanged, and
    // the store still verifies.
    let reads: Vec<&Recorded> = rows
        .iter()
        .filter(|r| {
            matches!(
                r.args[0].as_str(),
                "history" | "show" | "diff" | "verify" | "compile"
            )
        })
        .collect();
    let failures = replay(&store, &reads);
    assert!(
        failures.is_empty(),
        "after a failed pass on the old store:\n{}",
        failures.join("")
    );
    let outbox: serde_json::Value =
        serde_json::from_slice(&run(&store, &["outbox".into(), "--json".into()]).stdout).unwrap();
    let old: serde_json::Value = serde_json::from_slice(&expected("outbox.json")).unwrap();
    let attempts = |v: &serde_json::Value, state: &str| -> u64 {
        v.as_array()
            .unwrap()
            .iter()
            .filter(|a| a["state"] == state)
            .map(|a| a["attempts"].as_u64().unwrap())
            .sum()
    };
    assert!(
        attempts(&outbox, "pending") > attempts(&old, "pending"),
        "the pass retried the pending alerts: {outbox}"
    );

    assert_eq!(
        snapshot(&committed),
        before,
        "the committed fixture is never written"
    );
}
