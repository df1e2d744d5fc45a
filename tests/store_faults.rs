//! Configuration and store faults, through the real binary where that is
//! what an operator would meet: a broken sources.toml gives one located
//! message; an unusable, locked, killed or corrupted store gives a clear
//! error (never a panic, never a hang) and never loses stored history.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use crate::faults_support::{Behavior, RawServer};
use bulletin_watch::store::{Store, StoreError};

const GOOD: &str = "[settings]\ntimeout = \"5s\"\n\n[[source]]\nid = \"sh\"\nprovince = \"上海市\"\nregion = \"华东\"\nurl = \"http://127.0.0.1:1/a.html\"\nkind = \"article\"\n";

fn no_panic(out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(101), "panicked: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Runs `sources validate` on `text`; returns (exit code, stderr).
fn validate(text: &str) -> (Option<i32>, String, String) {
    let p = Project::new(text);
    let out = p.cli(&["sources", "validate"]);
    no_panic(&out);
    let path = p.config_path().display().to_string();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        path,
    )
}

#[test]
fn broken_sources_files_give_one_located_message() {
    assert_eq!(validate(GOOD).0, Some(0));
    let cases = [
        // (what, text, line, column, field, phrase)
        (
            "syntax",
            GOOD.replace("[settings]", "[settings"),
            1,
            10,
            "settings",
            "expected",
        ),
        (
            "wrong type",
            GOOD.replace("timeout = \"5s\"", "timeout = 5"),
            2,
            11,
            "settings.timeout",
            "string",
        ),
        (
            "unknown key",
            GOOD.replace("kind = \"article\"", "kind = \"article\"\ncolour = \"red\""),
            10,
            1,
            "source.colour",
            "unknown field",
        ),
        (
            "missing field",
            GOOD.replace("url = \"http://127.0.0.1:1/a.html\"\n", ""),
            4,
            1,
            "source",
            "missing field `url`",
        ),
        (
            "bad value",
            GOOD.replace("\"华东\"", "\"火星\""),
            7,
            10,
            "source[0].region",
            "unknown region",
        ),
    ];
    for (what, text, line, col, field, phrase) in cases {
        let (code, stderr, path) = validate(&text);
        assert_eq!(code, Some(2), "{what}: {stderr}");
        let located = format!("{path}:{line}:{col}: ");
        let lines: Vec<&str> = stderr.lines().filter(|l| l.contains(&path)).collect();
        assert_eq!(lines.len(), 1, "{what}: one message, got {stderr}");
        assert!(lines[0].contains(&located), "{what}: {located} in {stderr}");
        assert!(
            lines[0].contains(field),
            "{what}: field {field} in {stderr}"
        );
        assert!(stderr.contains(phrase), "{what}: {phrase:?} in {stderr}");
    }
}

/// Whether this process can write into a folder without write permission
/// (it can when running as root).
fn permission_bits_are_bypassed() -> bool {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o500)).unwrap();
    let bypassed = std::fs::write(d.path().join("probe"), b"x").is_ok();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    bypassed
}

fn assert_clear_store_error(out: &Output, store: &Path) {
    no_panic(out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&store.display().to_string()),
        "names the store: {stderr}"
    );
}

#[test]
fn unusable_store_paths_give_a_clear_error() {
    let p = Project::new(GOOD);
    // The store path lies under a regular file.
    std::fs::write(p.dir.path().join("afile"), b"not a folder").unwrap();
    let under = p.dir.path().join("afile/store");
    let out = p.cli(&["--store", under.to_str().unwrap(), "history"]);
    assert_clear_store_error(&out, &under);
    // The store path is itself a regular file.
    let file = p.dir.path().join("afile");
    let out = p.cli(&["--store", file.to_str().unwrap(), "history"]);
    assert_clear_store_error(&out, &file);
    assert_eq!(
        std::fs::read(&file).unwrap(),
        b"not a folder",
        "the file is left alone"
    );
    // A read-only folder.
    if permission_bits_are_bypassed() {
        println!(
            "skipped the read-only-folder sub-case: running with privileges that ignore \
             permission bits (root); the two cases above cover an unwritable store path"
        );
    } else {
        use std::os::unix::fs::PermissionsExt;
        let ro = p.dir.path().join("ro");
        std::fs::create_dir(&ro).unwrap();
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o500)).unwrap();
        let store = ro.join("store");
        let out = p.cli(&["--store", store.to_str().unwrap(), "history"]);
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_clear_store_error(&out, &store);
    }
}

fn wait_bounded(mut child: Child, max: Duration) -> Output {
    let deadline = Instant::now() + max;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("process still running after {max:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spawn_cli(p: &Project, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_bulletin-watch"))
        .arg("--config")
        .arg(p.config_path())
        .args(args)
        .env_remove("BULLETIN_WATCH_STORE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_locked_store_is_reported_at_once() {
    let p = Project::new(GOOD);
    let held = Store::open(&p.store_path()).unwrap();
    let out = wait_bounded(spawn_cli(&p, &["history"]), Duration::from_secs(20));
    assert_clear_store_error(&out, &p.store_path());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("in use"),
        "{out:?}"
    );
    // In-process, the same store opened twice is StoreError::Locked.
    assert!(matches!(
        Store::open(&p.store_path()),
        Err(StoreError::Locked { .. })
    ));
    drop(held);
    assert!(Store::open(&p.store_path()).is_ok(), "usable once released");
}

#[test]
fn a_store_killed_mid_check_reopens_with_history_intact() {
    let m = manifest();
    let site = fixture_site(&m);
    site.set("/fast.html", fixture_page(&m, "jiangsu/article.v1.html"));
    let slow = RawServer::start();
    let sh = fixture_page(&m, "shanghai/article.v1.html");
    slow.set(
        "/slow.html",
        Behavior::html(&sh.content_type, sh.body.clone()),
    );
    let p = Project::new(&format!(
        "[settings]\nhost_interval = \"1ms\"\nhost_concurrency = 4\ntimeout = \"30s\"\nretries = 0\n{}{}",
        article_source("fast", "江苏省", &site.url("/fast.html")),
        article_source("slow", "上海市", &slow.url("/slow.html")),
    ));
    let out = p.cli(&["check"]);
    assert!(out.status.success(), "{out:?}");

    // Second run: one source changes, the other hangs; kill -9 mid-check.
    site.set(
        "/fast.html",
        fixture_page(&m, "jiangsu/article.v2-edit.html"),
    );
    slow.set("/slow.html", Behavior::Hang);
    let mut child = spawn_cli(&p, &["check"]);
    assert!(
        slow.wait_for_hits("/slow.html", 2, Duration::from_secs(20)),
        "check reached the slow site"
    );
    std::thread::sleep(Duration::from_millis(100));
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();
    slow.release();

    let store = Store::open(&p.store_path()).expect("a killed store reopens");
    for id in ["fast", "slow"] {
        let vs = store.versions(id).unwrap();
        assert!(!vs.is_empty(), "{id}: history kept");
        for (i, v) in vs.iter().enumerate() {
            assert_eq!(
                v.record_hash,
                v.compute_record_hash(),
                "{id} v{}",
                v.version
            );
            let prev = i.checked_sub(1).map(|j| vs[j].record_hash.clone());
            assert_eq!(v.prev_hash, prev, "{id} v{}: chain", v.version);
        }
    }
    let first = &store.versions("fast").unwrap()[0];
    assert_eq!(
        store.raw(first).unwrap(),
        fixture("jiangsu/article.v1.html")
    );
    assert_eq!(store.versions("slow").unwrap().len(), 1);
    drop(store);

    // And the next normal run carries on from there.
    slow.set("/slow.html", Behavior::html(&sh.content_type, sh.body));
    let out = p.cli(&["check"]);
    assert!(out.status.success(), "{out:?}");
    let store = Store::open(&p.store_path()).unwrap();
    assert_eq!(store.versions("fast").unwrap().len(), 2);
    assert_eq!(store.versions("slow").unwrap().len(), 1);
}

#[test]
fn a_corrupted_store_names_the_folder_and_recovery() {
    let p = Project::new(GOOD);
    {
        let s = Store::open(&p.store_path()).unwrap();
        s.flush().unwrap();
    }
    let mut garbage = Vec::new();
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..64 * 1024 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        garbage.push(x as u8);
    }
    for entry in std::fs::read_dir(p.store_path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::write(&path, &garbage).unwrap();
        }
    }
    let opened = std::panic::catch_unwind(|| Store::open(&p.store_path()));
    match opened {
        Err(_) => panic!("Store::open panicked on a corrupted store"),
        Ok(Ok(_)) => panic!("a store full of garbage opened"),
        Ok(Err(e)) => {
            let msg = e.to_string();
            assert!(msg.contains(&p.store_path().display().to_string()), "{msg}");
            assert!(msg.contains("recovery"), "{msg}");
        }
    }
    let out = p.cli(&["history"]);
    assert_clear_store_error(&out, &p.store_path());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("recovery"),
        "{out:?}"
    );
}

/// A small filesystem mounted for one test (tmpfs with `size=`), unmounted
/// when dropped. `None` where this process may not mount (not root, or no
/// mount namespace for it): the test then injects the full disk instead.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().ok()?;
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallDisk { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// A page of `len` bytes no compressor can shrink, and its document.
fn incompressible(i: usize, len: usize) -> (Vec<u8>, bulletin_watch::model::Document) {
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ (i as u64).wrapping_mul(0x2545_F491_4F6C_DD1D);
    let raw: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b'a' + (x % 26) as u8
        })
        .collect();
    let text = String::from_utf8_lossy(&raw[..len / 2]).into_owned();
    let doc = bulletin_watch::model::Document {
        title: format!("第{i}号通知"),
        published: None,
        encoding: "UTF-8".into(),
        preamble: String::new(),
        sections: vec![bulletin_watch::model::Section {
            label: "(一)".into(),
            raw_label: "（一）".into(),
            path: vec!["(一)".into()],
            level: 1,
            heading: String::new(),
            text,
        }],
    };
    (raw, doc)
}

fn new_version(i: usize, len: usize) -> bulletin_watch::store::NewVersion {
    let (raw, document) = incompressible(i, len);
    bulletin_watch::store::NewVersion {
        source: format!("s{i:04}"),
        fetched_at: jiff::Timestamp::now(),
        url: format!("http://127.0.0.1:1/{i}.html"),
        final_url: format!("http://127.0.0.1:1/{i}.html"),
        status: 200,
        content_type: Some("text/html; charset=utf-8".into()),
        validators: Default::default(),
        raw,
        document,
        encoding_source: bulletin_watch::model::EncodingSource::Header,
    }
}

/// Log lines, as the store writes them through `tracing`.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// A first pass into a store on a filesystem that fills up: every version
/// stored before the disk filled reads back byte-exact, the first write
/// that finds no space is a typed `DiskFull` naming where, said once in the
/// log, and every later write is refused at once with the same error
/// (no retry storm); reads go on working, and after space is freed the
/// history verifies and takes new versions again.
#[test]
fn a_full_disk_is_said_once_and_loses_nothing() {
    use bulletin_watch::store::{Commit, OutboxEntry};
    let disk = match std::env::var_os("BULLETIN_WATCH_TEST_NO_MOUNT") {
        Some(_) => None,
        None => SmallDisk::mount("3m"),
    };
    let scratch = tempfile::tempdir().unwrap();
    let root = match &disk {
        Some(d) => d.path().to_path_buf(),
        None => {
            println!("cannot mount a small tmpfs here: the full disk is injected instead");
            scratch.path().to_path_buf()
        }
    };
    let store_path = root.join("store");
    let page = 48 * 1024;
    let log = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(log.clone())
        .with_ansi(false)
        .finish();
    let mut stored = Vec::new();
    let (first_error, attempts_after) = tracing::subscriber::with_default(subscriber, || {
        let store = Store::open(&store_path).unwrap();
        let mut first_error = None;
        let mut attempts_after = 0;
        for i in 0..400 {
            if disk.is_none() && i == 20 {
                store.tamper().fill_disk();
            }
            let nv = new_version(i, page);
            let alert = OutboxEntry::new(
                format!("published/{}/v1", nv.source),
                bulletin_watch::model::AlertKind::Published,
                &nv.source,
                Some(1),
            );
            match store.commit_version(&nv, None, vec![alert]) {
                Ok(Commit::Stored { record, alerts, .. }) => {
                    assert_eq!(alerts, 1);
                    assert!(
                        first_error.is_none(),
                        "a write succeeded after the disk was full"
                    );
                    stored.push((record, nv.raw));
                }
                Ok(Commit::Unchanged(_)) => panic!("every page is new"),
                Err(e) if first_error.is_none() => {
                    assert!(e.is_disk_full(), "the first failure is a full disk: {e}");
                    first_error = Some(e);
                }
                Err(e) => {
                    // Refused at once, with the same error, without touching the disk.
                    assert!(e.is_disk_full(), "{e}");
                    attempts_after += 1;
                    if attempts_after == 5 {
                        break;
                    }
                }
            }
        }
        let path = store.disk_full().expect("the store knows its disk is full");
        assert!(path.starts_with(&store_path), "{}", path.display());
        // Every other kind of write is refused the same way.
        assert!(store.flush().unwrap_err().is_disk_full());
        let state = bulletin_watch::store::FetchState::default();
        assert!(store
            .put_fetch_state("s0000", &state, Duration::ZERO)
            .unwrap_err()
            .is_disk_full());
        let e = OutboxEntry::new(
            "failing/s0000/1".into(),
            bulletin_watch::model::AlertKind::Failing,
            "s0000",
            None,
        );
        assert!(store.enqueue(&e).unwrap_err().is_disk_full());
        // Reads go on working in the same process.
        for (rec, raw) in &stored {
            assert_eq!(&store.raw(rec).unwrap(), raw, "{} v1", rec.source);
        }
        (first_error, attempts_after)
    });
    let first_error = first_error.expect("the disk filled up");
    assert_eq!(attempts_after, 5);
    assert!(stored.len() >= 10, "only {} versions fit", stored.len());
    let message = first_error.to_string();
    assert!(message.contains("no space left"), "{message}");
    assert!(message.contains("intact"), "{message}");
    assert!(message.contains("free space"), "{message}");
    assert!(!message.contains("restore"), "{message}");
    let log = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let said: Vec<&str> = log.lines().filter(|l| l.contains("disk is full")).collect();
    assert_eq!(said.len(), 1, "said once: {log}");
    assert!(said[0].contains("intact"), "{}", said[0]);
    assert!(
        said[0].contains(&store_path.display().to_string()),
        "names where: {}",
        said[0]
    );

    // Reopened on the still-full disk: it opens and reads, or — if even
    // opening needs space — says so, with the right recovery step.
    match Store::open(&store_path) {
        Ok(store) => {
            println!("reopened on the full disk");
            for (rec, raw) in &stored {
                let got = store.version(&rec.source, 1).unwrap().unwrap();
                assert_eq!(&got, rec);
                assert_eq!(&store.raw(rec).unwrap(), raw);
            }
        }
        Err(e) => {
            let m = e.to_string();
            println!("reopening on the full disk: {m}");
            assert!(e.is_disk_full(), "{m}");
            assert!(m.contains("free space") && !m.contains("restore"), "{m}");
        }
    }
    // The read-only commands, through the real binary, say nothing about
    // restoring a backup either.
    let p = Project::new(GOOD);
    let out = p.cli(&["--store", store_path.to_str().unwrap(), "history"]);
    no_panic(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("history on the full disk: {:?}\n{stderr}", out.status);
    assert!(!stderr.contains("restore"), "{stderr}");
    if !out.status.success() {
        assert!(stderr.contains("free space"), "{stderr}");
    }

    // Space freed (or the injected fault gone with the process): nothing
    // was lost, the chain verifies, and the store takes new versions.
    if let Some(d) = &disk {
        let freed = Command::new("mount")
            .args(["-o", "remount,size=64m"])
            .arg(d.path())
            .status()
            .unwrap();
        assert!(freed.success(), "remount");
    }
    let store = Store::open(&store_path).unwrap();
    let summary = bulletin_watch::verify::verify(&store, None).unwrap();
    assert_eq!(summary.versions, stored.len());
    for (rec, raw) in &stored {
        assert_eq!(&store.raw(rec).unwrap(), raw);
    }
    assert_eq!(
        store.pending().unwrap().len(),
        stored.len(),
        "every alert kept"
    );
    let next = new_version(9999, 1024);
    assert!(matches!(
        store.commit_version(&next, None, Vec::new()).unwrap(),
        Commit::Stored { .. }
    ));
}

/// An article page of about `chars` CJK characters no compressor can
/// shrink much, different for every `i`.
fn noisy_article(i: usize, chars: usize) -> String {
    let mut x = 0x2545_F491_4F6C_DD1Du64 ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut body = String::new();
    for p in 0..chars / 100 {
        body.push_str("<p>");
        if p > 0 && p % 10 == 0 {
            body.push_str(&format!(
                "（{}）",
                ["一", "二", "三", "四", "五"][(p / 10 - 1) % 5]
            ));
        }
        for _ in 0..100 {
            body.push(char::from_u32(0x4E00 + (next() % 0x51A0) as u32).unwrap_or('字'));
        }
        body.push_str("。</p>\n");
    }
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>测试文章{i}</title></head>\
         <body><h1>测试文章{i}</h1><div class=\"info\">发布时间：2025-02-01</div>\
         <div class=\"article-content\">{body}</div></body></html>"
    )
}

/// A `check` pass into a store on a filesystem that fills up stops at the
/// first "no space" error, says so once with the right advice, loses
/// nothing, and the next pass after the disk grew completes.
#[test]
fn a_pass_stops_at_a_full_disk_and_the_next_one_completes() {
    let Some(disk) = SmallDisk::mount("3m") else {
        println!(
            "cannot mount a small tmpfs here (needs root): pass-level full disk not exercised"
        );
        return;
    };
    let site = bulletin_watch::site::Site::start().unwrap();
    let pages = 300;
    let mut toml = format!(
        "[settings]\nstore = \"{}\"\ninterval = \"1s\"\nhost_interval = \"0s\"\nhost_concurrency = 4\ntimeout = \"5s\"\nretries = 0\n",
        disk.path().join("store").display()
    );
    for i in 0..pages {
        let path = format!("/a/{i}.html");
        site.set(
            &path,
            bulletin_watch::site::Page::html("text/html; charset=utf-8", noisy_article(i, 6000)),
        );
        toml.push_str(&article_source(
            &format!("a{i}"),
            "测试省",
            &site.url(&path),
        ));
    }
    let p = Project::new(&toml);

    let out = p.cli(&["check"]);
    no_panic(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a pass that hit a full disk must not claim success"
    );
    let full_lines = stderr
        .lines()
        .filter(|l| l.to_lowercase().contains("no space left"))
        .count();
    assert!(full_lines >= 1, "the full disk is said: {stderr}");
    assert!(
        full_lines <= 2,
        "the full disk is said once, not once per source ({full_lines} lines):\n{stderr}"
    );
    assert!(
        stderr.contains("free"),
        "the advice is to free space: {stderr}"
    );
    assert!(
        !stderr.contains("restore"),
        "an intact store needs no restore: {stderr}"
    );
    let (requested, _) = (0..pages)
        .map(|i| site.hits(&format!("/a/{i}.html")))
        .fold((0, 0), |a, h| (a.0 + (h.0 > 0) as u32, 0));
    assert!(
        (requested as usize) < pages,
        "the pass stopped early instead of fetching all {pages} pages"
    );

    // The disk grows: the next pass stores everything, and nothing is lost.
    let grown = Command::new("mount")
        .args(["-o", "remount,size=64m"])
        .arg(disk.path())
        .status()
        .is_ok_and(|s| s.success());
    assert!(grown, "remount with more space");
    let out = p.cli(&["check"]);
    no_panic(&out);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = p.cli(&["verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = p.cli(&["history", "--json"]);
    let history: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let versions = history.as_array().map_or(0, |a| a.len());
    assert_eq!(versions, pages, "every page has exactly one version");
}
