//! Trusted timestamps (RFC 3161) over the history, against a real TSA on
//! loopback (`openssl ts -reply`, tests/tsa): anchoring, offline
//! verification after tampering and after new versions, rejected replies,
//! a TSA that is down for a while under the daemon, and exported tokens
//! that OpenSSL alone accepts.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::*;
use crate::tsa::{Mode, Tsa};
use bulletin_watch::site::Site;
use bulletin_watch::store::VersionRecord;
use serde_json::Value;

const USER: &str = "bw-tsa-user";
const PASSWORD: &str = "tsa-pa55word-never-shown";

struct Env {
    project: Project,
    site: Site,
    tsa: Tsa,
    /// The sources file without `[[evidence.tsa]]`.
    base: String,
}

impl Env {
    /// Two watched articles and `[evidence]` with a loopback TSA that wants
    /// basic auth (down from the start if `down`); unless down, the
    /// articles are checked once.
    fn new(interval: &str, down: bool) -> Env {
        let tsa = Tsa::start_with_auth(Some((USER, PASSWORD)));
        if down {
            tsa.set(Mode::Down);
        }
        let m = manifest();
        let site = fixture_site(&m);
        for p in ["shanghai", "jiangsu"] {
            site.set(
                &format!("/watched/{p}.html"),
                fixture_page(&m, &format!("{p}/article.v1.html")),
            );
        }
        let mut base = FAST_SETTINGS.to_string();
        base += &article_source("shanghai", "上海市", &site.url("/watched/shanghai.html"));
        base += &article_source("jiangsu", "江苏省", &site.url("/watched/jiangsu.html"));
        base += &format!("\n[evidence]\nanchor_interval = \"{interval}\"\n");
        let project = Project::new("");
        std::fs::write(project.dir.path().join("tsa-password"), PASSWORD).unwrap();
        let env = Env {
            project,
            site,
            tsa,
            base,
        };
        let ca = env.tsa.ca_file();
        env.configure(&[("test-tsa", &ca)]);
        if !down {
            ok(&env.cli(&["check"]));
        }
        env
    }

    /// Writes the sources file with these TSAs (id, CA file), all at the
    /// loopback TSA, with the right credentials.
    fn configure(&self, tsas: &[(&str, &Path)]) {
        self.configure_with(tsas, "password_file = \"tsa-password\"");
    }

    fn configure_with(&self, tsas: &[(&str, &Path)], password: &str) {
        let mut toml = self.base.clone();
        for (id, ca) in tsas {
            toml += &format!(
                "[[evidence.tsa]]\nid = \"{id}\"\nurl = \"{}\"\nca_file = \"{}\"\n\
                 username_env = \"BW_TEST_TSA_USER\"\n{password}\n",
                self.tsa.url(),
                ca.display()
            );
        }
        std::fs::write(self.project.config_path(), toml).unwrap();
    }

    fn cli(&self, args: &[&str]) -> std::process::Output {
        let out = Command::new(env!("CARGO_BIN_EXE_bulletin-watch"))
            .arg("--config")
            .arg(self.project.config_path())
            .args(args)
            .env_remove("BULLETIN_WATCH_STORE")
            .env("BW_TEST_TSA_USER", USER)
            .output()
            .expect("binary runs");
        // No credential ever reaches what the program prints.
        for stream in [&out.stdout, &out.stderr] {
            let s = text(stream);
            assert!(!s.contains(PASSWORD), "password shown by {args:?}: {s}");
        }
        out
    }

    fn anchors(&self) -> Vec<Value> {
        let out = self.cli(&["anchors", "--json"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("anchors --json")
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[test]
fn a_version_changed_after_an_anchor_fails_verify_naming_the_anchor() {
    let env = Env::new("1d", false);
    let out = ok(&env.cli(&["anchor"]));
    assert!(out.contains("over 2 sources"), "{out}");
    assert!(
        out.contains("test-tsa") && out.contains("anchored at"),
        "{out}"
    );
    let anchors = env.anchors();
    assert_eq!(anchors.len(), 1);
    assert_eq!(anchors[0]["sources"], 2);
    assert_eq!(anchors[0]["tsa"], "test-tsa");
    let gen_time = anchors[0]["gen_time"].as_str().unwrap().to_string();
    let listed = ok(&env.cli(&["anchors"]));
    assert!(
        listed.contains("test-tsa") && listed.contains("1 anchors"),
        "{listed}"
    );

    let verified = ok(&env.cli(&["verify"]));
    assert!(verified.starts_with("OK: 2 sources"), "{verified}");
    assert!(
        verified.contains("anchors: 1 verified (test-tsa)"),
        "{verified}"
    );
    assert!(!verified.contains("not yet anchored"), "{verified}");

    // Rewrite the latest version of a source together with its hashes: the
    // chain still holds, so only the anchor can tell.
    {
        let store = reopen(&env.project.store_path());
        let mut rec: VersionRecord = store.latest("shanghai").unwrap().unwrap();
        rec.fetched_at = rec
            .fetched_at
            .checked_add(jiff::SignedDuration::from_secs(3600))
            .unwrap();
        rec.record_hash = rec.compute_record_hash();
        store.tamper().overwrite_record(&rec).unwrap();
        store.flush().unwrap();
        assert!(bulletin_watch::verify::verify(&store, None).is_ok());
    }
    let out = env.cli(&["verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(err.contains("anchor FAILED"), "{err}");
    assert!(err.contains("shanghai v1 was changed"), "{err}");
    assert!(err.contains(&gen_time), "{err}");
    assert!(err.contains("TSA test-tsa"), "{err}");
}

#[test]
fn a_version_removed_after_an_anchor_fails_verify() {
    let env = Env::new("1d", false);
    ok(&env.cli(&["anchor"]));
    {
        let store = reopen(&env.project.store_path());
        assert!(store.tamper().remove_version("jiangsu", 1).unwrap());
        store.flush().unwrap();
    }
    let out = env.cli(&["verify"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("jiangsu v1 was removed after the anchor"),
        "{err}"
    );
}

#[test]
fn versions_added_after_the_last_anchor_are_not_yet_anchored_not_an_error() {
    let env = Env::new("1d", false);
    let ca = env.tsa.ca_file();
    env.configure_with(&[("test-tsa", &ca)], "password_env = \"BW_TEST_TSA_USER\"");
    // The TSA wants the real password: a wrong one is refused, and says so
    // without showing either.
    let out = env.cli(&["anchor"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("HTTP 401"),
        "{}",
        text(&out.stdout)
    );
    assert!(env.anchors().is_empty());
    env.configure(&[("test-tsa", &ca)]);
    ok(&env.cli(&["anchor"]));

    let m = manifest();
    env.site.set(
        "/watched/jiangsu.html",
        fixture_page(&m, "jiangsu/article.v2-edit.html"),
    );
    let out = ok(&env.cli(&["check"]));
    assert!(out.contains("new versions 1"), "{out}");
    let verified = ok(&env.cli(&["verify"]));
    assert!(verified.contains("anchors: 1 verified"), "{verified}");
    let not_yet: Vec<&str> = verified
        .lines()
        .filter(|l| l.starts_with("not yet anchored"))
        .collect();
    assert_eq!(not_yet.len(), 1, "{verified}");
    assert!(not_yet[0].contains("jiangsu v2"), "{verified}");
    // A new anchor covers it.
    ok(&env.cli(&["anchor"]));
    let verified = ok(&env.cli(&["verify"]));
    assert!(verified.contains("anchors: 2 verified"), "{verified}");
    assert!(!verified.contains("not yet anchored"), "{verified}");
    // A backup carries the anchors: the restored store verifies them too.
    let backup = env.project.dir.path().join("backup.bwb");
    let restored = env.project.dir.path().join("restored");
    ok(&env.cli(&["store", "backup", backup.to_str().unwrap()]));
    ok(&env.cli(&[
        "store",
        "restore",
        backup.to_str().unwrap(),
        "--into",
        restored.to_str().unwrap(),
    ]));
    let verified = ok(&env.cli(&["--store", restored.to_str().unwrap(), "verify"]));
    assert!(verified.contains("anchors: 2 verified"), "{verified}");
}

#[test]
fn bad_replies_are_rejected_and_nothing_is_stored() {
    let env = Env::new("1d", false);
    let (ca, other_ca) = (env.tsa.ca_file(), env.tsa.other_ca_file());
    env.configure(&[("picky", &ca)]);
    let listed = ok(&env.cli(&["sources", "list"]));
    assert!(
        listed.contains("tsa     picky") && !listed.contains(USER),
        "{listed}"
    );
    for (mode, says) in [
        (Mode::WrongNonce, "the nonce is not the one sent"),
        (
            Mode::WrongImprint,
            "the message imprint is not the one asked for",
        ),
        (Mode::OtherCa, "does not chain to ca_file"),
        (Mode::Expired, "was not valid at the token's time"),
        (Mode::Reject, "the TSA refused: status rejection"),
    ] {
        env.tsa.set(mode);
        let out = env.cli(&["anchor"]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{mode:?}: {}",
            text(&out.stdout)
        );
        let shown = text(&out.stdout);
        assert!(
            shown.contains("picky") && shown.contains("FAILED"),
            "{mode:?}: {shown}"
        );
        assert!(shown.contains(says), "{mode:?}: {shown}");
        assert!(env.anchors().is_empty(), "{mode:?}: an anchor was stored");
    }
    // A good reply, but ca_file is another CA: the signer does not chain.
    env.tsa.set(Mode::Good);
    env.configure(&[("picky", &other_ca)]);
    let out = env.cli(&["anchor"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("does not chain to ca_file"));
    assert!(env.anchors().is_empty());
    // The same TSA with its own CA: accepted, fractional seconds too.
    env.configure(&[("picky", &ca)]);
    env.tsa.set(Mode::Precise);
    ok(&env.cli(&["anchor"]));
    let anchors = env.anchors();
    assert_eq!(anchors.len(), 1);
    assert!(
        anchors[0]["gen_time"].as_str().unwrap().contains('.'),
        "{anchors:?}"
    );
    let verified = ok(&env.cli(&["verify"]));
    assert!(
        verified.contains("anchors: 1 verified (picky)"),
        "{verified}"
    );
    // A store without anchors exports and verifies as before; with one,
    // the export carries it after the versions.
    let jsonl = ok(&env.cli(&["export", "--format", "jsonl"]));
    let lines: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2]["record"], "anchor");
    assert_eq!(lines[2]["tsa"], "picky");
    assert!(!jsonl.contains(PASSWORD));
}

#[test]
fn openssl_accepts_every_exported_token_with_the_exported_data() {
    let env = Env::new("1d", false);
    let ca = env.tsa.ca_file();
    env.configure(&[("first", &ca), ("second", &ca)]);
    ok(&env.cli(&["anchor"]));
    ok(&env.cli(&["anchor"]));
    assert_eq!(env.anchors().len(), 4);
    let dir = env.project.dir.path().join("exported");
    let out = ok(&env.cli(&["anchors", "--export", dir.to_str().unwrap()]));
    assert!(out.contains("4 anchors exported"), "{out}");
    let mut folders: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    folders.sort();
    assert_eq!(folders.len(), 4);
    for f in &folders {
        for file in [
            "anchor.tsr",
            "root.bin",
            "heads.json",
            "ca.pem",
            "README.txt",
        ] {
            assert!(f.join(file).is_file(), "{} lacks {file}", f.display());
        }
        let v = Command::new("openssl")
            .current_dir(f)
            .args([
                "ts",
                "-verify",
                "-data",
                "root.bin",
                "-in",
                "anchor.tsr",
                "-CAfile",
                "ca.pem",
            ])
            .output()
            .unwrap();
        assert!(
            v.status.success() && text(&v.stdout).contains("Verification: OK"),
            "openssl ts -verify in {}: {}{}",
            f.display(),
            text(&v.stdout),
            text(&v.stderr)
        );
        // The README's recipe recomputes the root from heads.json.
        let readme = std::fs::read_to_string(f.join("README.txt")).unwrap();
        assert!(readme.contains("openssl ts -verify -data root.bin -in anchor.tsr -CAfile ca.pem"));
        let script: String = readme
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("python3 - <<'PY'"))
            .skip(1)
            .take_while(|l| l.trim() != "PY")
            .map(|l| format!("{}\n", l.strip_prefix("     ").unwrap_or(l)))
            .collect();
        let py = Command::new("/usr/bin/python3")
            .current_dir(f)
            .arg("-c")
            .arg(&script)
            .stdout(Stdio::piped())
            .output();
        if let Ok(py) = py {
            assert!(py.status.success(), "{}", text(&py.stderr));
            let root: String = std::fs::read(f.join("root.bin"))
                .unwrap()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(text(&py.stdout).trim(), root);
        }
        // And a changed root.bin is refused.
        std::fs::write(f.join("other.bin"), [0u8; 32]).unwrap();
        let v = Command::new("openssl")
            .current_dir(f)
            .args([
                "ts",
                "-verify",
                "-data",
                "other.bin",
                "-in",
                "anchor.tsr",
                "-CAfile",
                "ca.pem",
            ])
            .output()
            .unwrap();
        assert!(!v.status.success());
    }
    let jsonl = ok(&env.cli(&["export", "--format", "jsonl"]));
    assert_eq!(jsonl.matches("\"record\":\"anchor\"").count(), 4);
}

fn spawn_daemon(env: &Env) -> Daemon {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bulletin-watch"));
    cmd.arg("--config")
        .arg(env.project.config_path())
        .arg("run")
        .env("BULLETIN_WATCH_LOG", "bulletin_watch=info")
        .env("BW_TEST_TSA_USER", USER);
    Daemon::start(cmd)
}

fn notices(env: &Env) -> Vec<String> {
    let out = env.cli(&["outbox", "--json"]);
    if !out.status.success() {
        return Vec::new();
    }
    serde_json::from_slice::<Vec<Value>>(&out.stdout)
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e["kind"].as_str().map(str::to_string))
        .filter(|k| k.starts_with("anchor-"))
        .collect()
}

#[test]
fn a_tsa_down_for_a_while_gets_one_failing_and_one_recovered_notice() {
    let env = Env::new("2s", true);
    let mut daemon = spawn_daemon(&env);
    let history = |source: &str| -> usize {
        let out = env.cli(&["history", source, "--json"]);
        serde_json::from_slice::<Vec<Value>>(&out.stdout)
            .map(|v| v.len())
            .unwrap_or(0)
    };
    // Checks go on while the TSA is down, and after two intervals without
    // an anchor one `anchor-failing` notice is queued.
    daemon.wait_for("versions stored", Duration::from_secs(30), || {
        history("shanghai") == 1 && history("jiangsu") == 1
    });
    daemon.wait_for("an anchor-failing notice", Duration::from_secs(30), || {
        notices(&env).contains(&"anchor-failing".to_string())
    });
    // Still failing for a few more rounds: no second notice.
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(notices(&env), vec!["anchor-failing"]);
    assert!(env.anchors().is_empty());
    let m = manifest();
    env.site.set(
        "/watched/jiangsu.html",
        fixture_page(&m, "jiangsu/article.v2-edit.html"),
    );
    daemon.wait_for(
        "a check while the TSA is down",
        Duration::from_secs(30),
        || history("jiangsu") == 2,
    );

    env.tsa.set(Mode::Good);
    daemon.wait_for("an anchor", Duration::from_secs(30), || {
        !env.anchors().is_empty()
    });
    daemon.wait_for(
        "an anchor-recovered notice",
        Duration::from_secs(30),
        || notices(&env).contains(&"anchor-recovered".to_string()),
    );
    // `anchor` while the daemon holds the store: the daemon anchors.
    let before = env.anchors().len();
    let out = ok(&env.cli(&["anchor"]));
    assert!(out.contains("anchored at"), "{out}");
    assert!(env.anchors().len() > before);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(notices(&env), vec!["anchor-failing", "anchor-recovered"]);
    // The notices went out by e-mail (.eml files, the default setup).
    daemon.wait_for("the notices delivered", Duration::from_secs(20), || {
        let out = env.cli(&["outbox", "--json"]);
        serde_json::from_slice::<Vec<Value>>(&out.stdout)
            .unwrap_or_default()
            .iter()
            .filter(|e| {
                e["kind"].as_str().is_some_and(|k| k.starts_with("anchor-"))
                    && e["state"] == "delivered"
            })
            .count()
            == 2
    });
    let verified = ok(&env.cli(&["verify"]));
    assert!(verified.contains("verified (test-tsa)"), "{verified}");
    let log = daemon.terminate();
    assert!(
        log.contains("anchoring failed") && log.contains("test-tsa"),
        "{log}"
    );
    assert!(!log.contains(PASSWORD));
}
