//! The daemon as deployed: the real binary, `run`, against a loopback site
//! whose pages change while it runs.

use std::path::Path;
use std::time::Duration;

use crate::common::*;
use bulletin_watch::site::Page;
use bulletin_watch::store::{DeliveryState, Store};

const PATTERN: &str = "应急管理工作会议";

/// Waits until the daemon answers on its control socket (signal handlers
/// and store are set up by then).
fn wait_running(daemon: &mut Daemon, project: &Project) {
    let store = project.store_path();
    daemon.wait_for(
        "daemon answering on its control socket",
        Duration::from_secs(20),
        || {
            bulletin_watch::control::ask(
                &store,
                &bulletin_watch::audit::Query::Outbox {
                    json: true,
                    config: Default::default(),
                },
            )
            .is_ok()
        },
    );
}

fn eml_files(store: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(store.join("mail"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.retain(|n| n.ends_with(".eml"));
    v.sort();
    v
}

#[test]
fn daemon_stores_alerts_discovers_and_recovers() {
    let m = manifest();
    let site = fixture_site(&m);
    site.set(
        "/watched.html",
        fixture_page(&m, "shanghai/article.v1.html"),
    );
    site.set("/flaky.html", Page::status(500, "down"));

    let project = Project::new(&format!(
        "{FAST_SETTINGS}failure_threshold = 2\n{}{}{}",
        article_source("sh", "上海市", &site.url("/watched.html")),
        article_source("flaky", "江苏省", &site.url("/flaky.html")),
        listing_source("jx", "江西省", &site.url("/jiangxi/list.v1.html"), PATTERN),
    ));
    let store = project.store_path();
    let (metrics_port, web_port) = (free_port(), free_port());
    let metrics_addr = format!("127.0.0.1:{metrics_port}");
    let web_addr = format!("127.0.0.1:{web_port}");
    let mut daemon = Daemon::run(
        &project,
        &["--metrics", &metrics_addr, "--serve", &web_addr],
    );

    daemon.wait_for("first version of sh", Duration::from_secs(20), || {
        version_count(&project, "sh") == 1
    });
    // Unchanged re-checks are 304s: the page is downloaded once.
    let full_before = site.hits("/watched.html").0;
    daemon.wait_for(
        "a few conditional re-checks",
        Duration::from_secs(20),
        || site.hits("/watched.html").1 >= 2,
    );
    assert_eq!(
        site.hits("/watched.html").0,
        full_before,
        "an unchanged page must not be downloaded again"
    );
    assert!(
        eml_files(&store).iter().all(|f| f.starts_with("failing")),
        "no alert for first versions or the first listing check"
    );

    // An edit is stored and alerted within about one interval.
    site.set(
        "/watched.html",
        fixture_page(&m, "shanghai/article.v2-edit.html"),
    );
    daemon.wait_for("version 2", Duration::from_secs(20), || {
        version_count(&project, "sh") == 2
    });
    daemon.wait_for("changed alert file", Duration::from_secs(20), || {
        eml_files(&store)
            .iter()
            .any(|f| f.starts_with("changed.sh.v2"))
    });

    // A newly listed deployment: exactly one published alert.
    site.set(
        "/jiangxi/list.v1.html",
        fixture_page(&m, "jiangxi/list.v2.html"),
    );
    daemon.wait_for("published alert", Duration::from_secs(20), || {
        eml_files(&store)
            .iter()
            .any(|f| f.starts_with("published.jx."))
    });

    // The flaky source: one failing alert, then one recovered alert.
    daemon.wait_for("failing alert", Duration::from_secs(20), || {
        eml_files(&store)
            .iter()
            .any(|f| f.starts_with("failing.flaky"))
    });
    site.set("/flaky.html", fixture_page(&m, "jiangsu/article.v1.html"));
    daemon.wait_for("recovered alert", Duration::from_secs(30), || {
        eml_files(&store)
            .iter()
            .any(|f| f.starts_with("recovered.flaky"))
    });

    // The same process serves health, metrics and the web view.
    assert!(http_get(metrics_port, "/healthz").contains("ok"));
    let metrics = http_get(metrics_port, "/metrics");
    assert!(
        metrics.contains("bulletin_watch_versions_stored_total"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("bulletin_watch_checks_total 0\n"),
        "{metrics}"
    );
    assert!(
        metrics.starts_with("HTTP/1.1 200")
            && metrics
                .to_ascii_lowercase()
                .contains("content-type: text/plain; version=0.0.4"),
        "{metrics}"
    );
    assert!(
        metrics.contains("# TYPE bulletin_watch_alerts_pending gauge\n"),
        "{metrics}"
    );
    assert!(http_get(metrics_port, "/nothing-here").starts_with("HTTP/1.1 404"));
    let page = http_get(web_port, "/");
    assert!(
        page.starts_with("HTTP/1.1 200") && page.contains("上海市"),
        "{page}"
    );

    // The daemon writes an alert's file before it records the delivery, and
    // its shutdown aborts a delivery in flight: SIGTERM only once every
    // delivery is recorded (read through the control socket).
    daemon.wait_for("every delivery recorded", Duration::from_secs(20), || {
        bulletin_watch::control::ask(
            &store,
            &bulletin_watch::audit::Query::Outbox {
                json: true,
                config: Default::default(),
            },
        )
        .ok()
        .and_then(|out| serde_json::from_slice::<Vec<serde_json::Value>>(&out).ok())
        .is_some_and(|all| all.iter().all(|e| e["state"] == "delivered"))
    });
    let log = daemon.terminate();
    assert!(
        log.contains("source=sh"),
        "one log line per check names the source:\n{log}"
    );
    let files = eml_files(&store);
    let count = |p: &str| files.iter().filter(|f| f.starts_with(p)).count();
    assert_eq!(count("changed."), 1, "{files:?}");
    assert_eq!(count("published."), 1, "{files:?}");
    assert_eq!(count("failing."), 1, "{files:?}");
    assert_eq!(count("recovered."), 1, "{files:?}");
    let s = Store::open(&store).expect("store reopens after SIGTERM");
    assert!(s
        .outbox()
        .unwrap()
        .iter()
        .all(|e| e.state == DeliveryState::Delivered));
    assert_eq!(
        s.tracked().unwrap().len(),
        2,
        "the listing's old and new deployments are tracked"
    );
}

#[test]
fn writing_commands_refuse_clearly_while_daemon_runs_and_reload_keeps_good_config() {
    let m = manifest();
    let site = fixture_site(&m);
    site.set("/a.html", fixture_page(&m, "zhejiang/article.v1.html"));
    let good = format!(
        "{FAST_SETTINGS}{}",
        article_source("zj", "浙江省", &site.url("/a.html"))
    );
    let project = Project::new(&good);
    let mut daemon = Daemon::run(&project, &[]);
    daemon.wait_for("first version", Duration::from_secs(20), || {
        version_count(&project, "zj") == 1
    });

    let out = project.cli(&["check"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use by another process"), "{err}");

    // A broken file on SIGHUP is refused; the daemon keeps watching.
    std::fs::write(project.config_path(), "[[source]\nbroken").unwrap();
    daemon.signal("HUP");
    std::thread::sleep(Duration::from_millis(500));
    site.set("/a.html", fixture_page(&m, "zhejiang/article.v2-edit.html"));
    daemon.wait_for(
        "version 2 after a refused reload",
        Duration::from_secs(20),
        || version_count(&project, "zj") == 2,
    );

    // A good file on SIGHUP is applied: a newly added source gets checked.
    site.set("/b.html", fixture_page(&m, "shanghai/article.v1.html"));
    std::fs::write(
        project.config_path(),
        format!(
            "{good}{}",
            article_source("sh", "上海市", &site.url("/b.html"))
        ),
    )
    .unwrap();
    daemon.signal("HUP");
    daemon.wait_for(
        "the source added by a reload",
        Duration::from_secs(20),
        || version_count(&project, "sh") == 1,
    );
    let log = daemon.terminate();
    assert!(log.contains("reload refused"), "{log}");
    assert!(log.contains("configuration reloaded"), "{log}");
}

/// kill -9 at random moments across many cycles while the page keeps
/// changing: no stored version or queued alert is lost, none is duplicated.
#[test]
fn kill_9_loses_and_duplicates_nothing() {
    let m = manifest();
    let site = fixture_site(&m);
    let variants = [
        "fujian/article.v1.html",
        "fujian/article.v2-edit.html",
        "fujian/article.v4-section-added.html",
        "fujian/article.v5-section-removed.html",
    ];
    site.set("/p.html", fixture_page(&m, variants[0]));
    let project = Project::new(&format!(
        "{FAST_SETTINGS}{}",
        article_source("fj", "福建省", &site.url("/p.html"))
    ));
    let store = project.store_path();
    let mut rng = fastrand::Rng::with_seed(7);
    let mut reported = std::collections::BTreeSet::new();
    for cycle in 0..10 {
        site.set(
            "/p.html",
            fixture_page(&m, variants[cycle % variants.len()]),
        );
        let child = Daemon::run(&project, &[]);
        std::thread::sleep(Duration::from_millis(300 + rng.u64(0..1500)));
        let err = child.kill();
        // Every version the daemon said it stored must survive the kill.
        for line in err
            .lines()
            .filter(|l| l.contains("source=fj") && l.contains("Stored"))
        {
            if let Some(v) = line
                .split("version: ")
                .nth(1)
                .and_then(|r| r.split([',', ' ']).next())
            {
                reported.insert(v.parse::<u32>().unwrap());
            }
        }
    }
    // Let a last run settle: everything fetched and every alert delivered.
    let last = variants[9 % variants.len()];
    // Settled means this run has finished a check of the page and its
    // alert, if any, is delivered. A check that stores a change fetches the
    // page twice (the second fetch confirms it), so only a fourth fetch
    // shows that the first check, and its commit, are over.
    let fetches = || {
        let (full, conditional) = site.hits("/p.html");
        full + conditional
    };
    let before = fetches();
    let mut daemon = Daemon::run(&project, &[]);
    wait_running(&mut daemon, &project);
    daemon.wait_for("settled", Duration::from_secs(30), || {
        if fetches() < before + 4 {
            return false;
        }
        let out = project.cli(&["outbox", "--json"]);
        let pending = serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout)
            .map(|v| v.iter().filter(|e| e["state"] == "pending").count())
            .unwrap_or(1);
        version_count(&project, "fj") > 0 && pending == 0
    });
    daemon.terminate();

    let s = Store::open(&store).unwrap();
    let versions = s.versions("fj").unwrap();
    for (i, v) in versions.iter().enumerate() {
        assert_eq!(v.version as usize, i + 1, "versions are contiguous");
        assert_eq!(v.record_hash, v.compute_record_hash());
        if i > 0 {
            assert_eq!(
                v.prev_hash.as_deref(),
                Some(versions[i - 1].record_hash.as_str()),
                "chain intact"
            );
            assert_ne!(
                v.fingerprint,
                versions[i - 1].fingerprint,
                "no duplicated version"
            );
        }
    }
    for r in &reported {
        assert!(
            versions.iter().any(|v| v.version == *r),
            "reported version {r} was lost"
        );
    }
    let latest = s.document(versions.last().unwrap()).unwrap();
    let expected = m.article(last);
    assert_eq!(
        latest.sections.len(),
        expected.sections.len(),
        "the latest version is the page as last served"
    );
    let outbox = s.outbox().unwrap();
    for v in versions.iter().skip(1) {
        let n = outbox
            .iter()
            .filter(|e| e.key == format!("changed/fj/v{}", v.version))
            .count();
        assert_eq!(n, 1, "exactly one alert for version {}", v.version);
    }
    assert_eq!(
        outbox.len(),
        versions.len() - 1,
        "no alert without a version"
    );
    assert!(outbox.iter().all(|e| e.state == DeliveryState::Delivered));
    let files = eml_files(&store);
    assert_eq!(
        files.len(),
        outbox.len(),
        "one message file per alert: {files:?}"
    );
}

/// SIGTERM while a check waits on a slow server: the check finishes, its
/// version is stored and flushed, and the daemon exits 0.
#[test]
fn sigterm_lets_an_in_flight_check_finish() {
    let m = manifest();
    let site = fixture_site(&m);
    site.set("/slow.html", fixture_page(&m, "anhui/article.v1.html"));
    site.delay("/slow.html", Duration::from_millis(1500));
    let project = Project::new(&format!(
        "{FAST_SETTINGS}{}",
        article_source("slow", "安徽省", &site.url("/slow.html"))
    ));
    let mut daemon = Daemon::run(&project, &[]);
    daemon.wait_for(
        "the slow request to arrive",
        Duration::from_secs(20),
        || site.hits("/slow.html").0 >= 1,
    );
    let log = daemon.terminate();
    let s = Store::open(&project.store_path()).expect("store reopens");
    assert_eq!(
        s.versions("slow").unwrap().len(),
        1,
        "the in-flight check was finished before exiting:\n{log}"
    );
    assert!(log.contains("stopped"), "{log}");
}
