//! The shipped deployment files run as written. The systemd unit's and the
//! container's command lines, with their paths moved into a temporary
//! folder and their ports onto free loopback ones, validate, start, reload
//! and stop the real daemon the way systemd and Docker would; the unit's
//! environment file is the shipped example. A flag renamed in the binary, a
//! subcommand moved or a signal no longer handled fails here before it
//! fails on a server.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::*;

const BIN: &str = "/usr/local/bin/bulletin-watch";
const CONFIG: &str = "/etc/bulletin-watch/sources.toml";
const STATE: &str = "/var/lib/bulletin-watch";

fn deploy(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(file)
}

/// The `[Service]` section of the unit: each key with its values in order
/// (`ExecReload=` may be given more than once).
fn service() -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(deploy("bulletin-watch.service")).unwrap();
    let mut section = String::new();
    let mut keys: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            section = line.to_string();
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not a key=value line in the unit: {line}"));
        if section == "[Service]" {
            keys.entry(k.to_string()).or_default().push(v.to_string());
        }
    }
    keys
}

/// The one value of `key` in `[Service]`.
fn one(unit: &BTreeMap<String, Vec<String>>, key: &str) -> String {
    match unit.get(key).map(Vec::as_slice) {
        Some([v]) => v.clone(),
        other => panic!("the unit should set {key} once, has {other:?}"),
    }
}

/// The uncommented `NAME=value` lines of the example environment file,
/// as systemd's `EnvironmentFile=` reads them.
fn environment() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(deploy("bulletin-watch.env.example")).unwrap();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l
                .split_once('=')
                .unwrap_or_else(|| panic!("not NAME=value in the env example: {l}"));
            assert!(
                !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "bad variable name {k:?} in the env example"
            );
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// Where the deployment's paths and ports go in this test.
struct Moved {
    project: Project,
    metrics_port: u16,
    /// The listening address the deployment file names, replaced by
    /// `127.0.0.1:metrics_port`.
    listen: &'static str,
}

impl Moved {
    /// A deployment's word with its paths and port moved. Every absolute
    /// path it names must be one this test moves.
    fn word(&self, w: &str) -> String {
        let out = w
            .replace(BIN, env!("CARGO_BIN_EXE_bulletin-watch"))
            .replace(CONFIG, self.project.config_path().to_str().unwrap())
            .replace(STATE, self.project.store_path().to_str().unwrap())
            .replace(self.listen, &format!("127.0.0.1:{}", self.metrics_port));
        assert!(
            !out.contains("/etc/") && !out.contains("/var/"),
            "{w}: a path this test does not know; teach it where it goes"
        );
        out
    }

    /// A command from its words, the unit's environment file applied.
    fn command(&self, words: &[String], env: &[(String, String)]) -> Command {
        let words: Vec<String> = words.iter().map(|w| self.word(w)).collect();
        let mut cmd = Command::new(&words[0]);
        cmd.args(&words[1..])
            .env_remove("BULLETIN_WATCH_STORE")
            .env_remove("BULLETIN_WATCH_CONFIG")
            .envs(env.iter().map(|(k, v)| (k, v)));
        cmd
    }
}

/// An `Exec*=` value as words (the unit quotes nothing; a prefix such as
/// `-` or `@` would change how systemd runs it, so none is expected).
fn words(exec: &str) -> Vec<String> {
    assert!(
        !exec.contains(['"', '\'']) && !exec.starts_with(['-', '@', '+', '!', ':']),
        "{exec}: quoting or a prefix this test does not read"
    );
    exec.split_whitespace().map(str::to_string).collect()
}

/// A site with one article, and a project watching it.
fn watched(site: &bulletin_watch::site::Site, listen: &'static str) -> Moved {
    let project = Project::new(&format!(
        "{FAST_SETTINGS}{}",
        article_source("sh", "上海市", &site.url("/sh.html"))
    ));
    Moved {
        project,
        metrics_port: free_port(),
        listen,
    }
}

#[test]
fn the_systemd_unit_validates_starts_reloads_and_stops_the_daemon() {
    let m = manifest();
    let site = fixture_site(&m);
    site.set("/sh.html", fixture_page(&m, "shanghai/article.v1.html"));
    site.set("/zj.html", fixture_page(&m, "zhejiang/article.v1.html"));
    let at = watched(&site, "127.0.0.1:9187");
    let unit = service();
    assert_eq!(
        one(&unit, "EnvironmentFile"),
        "-/etc/bulletin-watch/bulletin-watch.env"
    );
    let env = environment();
    assert!(
        env.iter().any(|(k, _)| k == "BULLETIN_WATCH_LOG"),
        "the env example sets the log filter"
    );

    // ExecStartPre: the file is validated before the daemon starts.
    let pre = at
        .command(&words(&one(&unit, "ExecStartPre")), &env)
        .output()
        .unwrap();
    assert!(
        pre.status.success(),
        "{}",
        String::from_utf8_lossy(&pre.stderr)
    );

    // ExecStart: the daemon, its metrics on the unit's address.
    let mut daemon = Daemon::start(at.command(&words(&one(&unit, "ExecStart")), &env));
    daemon.wait_for(
        "the unit's daemon to store sh",
        Duration::from_secs(30),
        || version_count(&at.project, "sh") == 1,
    );
    assert!(http_get(at.metrics_port, "/healthz").contains("ok"));
    assert!(http_get(at.metrics_port, "/metrics").contains("bulletin_watch_"));

    // ExecReload runs its lines in order and stops at the first that
    // fails: a broken file fails validation, so no SIGHUP is sent and the
    // daemon keeps running on what it had.
    let reload = &unit["ExecReload"];
    assert_eq!(reload.len(), 2, "validate, then SIGHUP: {reload:?}");
    let good = std::fs::read_to_string(at.project.config_path()).unwrap();
    std::fs::write(at.project.config_path(), "[[source]\nbroken").unwrap();
    let refused = at.command(&words(&reload[0]), &env).output().unwrap();
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("sources.toml"),
        "the error names the file: {err}"
    );
    assert!(daemon.running());

    // A good file: validation passes and `kill -HUP $MAINPID` reloads it.
    std::fs::write(
        at.project.config_path(),
        format!(
            "{good}{}",
            article_source("zj", "浙江省", &site.url("/zj.html"))
        ),
    )
    .unwrap();
    for line in reload {
        let line = line.replace("$MAINPID", &daemon.pid().to_string());
        let out = at.command(&words(&line), &env).output().unwrap();
        assert!(
            out.status.success(),
            "{line}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    daemon.wait_for("the reloaded source", Duration::from_secs(30), || {
        version_count(&at.project, "zj") == 1
    });

    // KillSignal= and TimeoutStopSec=: a clean exit within the unit's bound.
    assert_eq!(one(&unit, "KillSignal"), "SIGTERM");
    let bound: u64 = one(&unit, "TimeoutStopSec").parse().unwrap();
    let log = daemon.terminate_within(Duration::from_secs(bound));
    assert!(log.contains("configuration reloaded"), "{log}");

    // ReadWritePaths= is the only place it may write (ProtectSystem=strict):
    // nothing appeared beside the store.
    assert_eq!(one(&unit, "ReadWritePaths"), STATE);
    let mut beside: Vec<String> = std::fs::read_dir(at.project.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    beside.sort();
    assert_eq!(beside, ["sources.toml", "store"]);
}

/// The JSON array of a Dockerfile instruction (`ENTRYPOINT [...]`), or of
/// the command after `CMD` in `HEALTHCHECK ... CMD [...]`.
fn exec_form(dockerfile: &str, instruction: &str) -> Vec<String> {
    let line = dockerfile
        .lines()
        .find(|l| l.starts_with(&format!("{instruction} ")))
        .unwrap_or_else(|| panic!("the Dockerfile has no {instruction}"));
    let json = &line[line.find('[').expect("exec form (a JSON array)")..];
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{line}: {e}"))
}

#[test]
fn the_container_runs_reports_healthy_reloads_and_stops() {
    let m = manifest();
    let site = fixture_site(&m);
    site.set("/sh.html", fixture_page(&m, "shanghai/article.v1.html"));
    let at = watched(&site, "0.0.0.0:9187");
    let dockerfile = std::fs::read_to_string(deploy("Dockerfile")).unwrap();
    let mut run = exec_form(&dockerfile, "ENTRYPOINT");
    run.extend(exec_form(&dockerfile, "CMD"));
    let health = exec_form(&dockerfile, "HEALTHCHECK");

    // `docker run`: ENTRYPOINT then CMD.
    let mut daemon = Daemon::start(at.command(&run, &environment()));
    daemon.wait_for(
        "the container's daemon to store sh",
        Duration::from_secs(30),
        || version_count(&at.project, "sh") == 1,
    );
    assert!(http_get(at.metrics_port, "/healthz").contains("ok"));
    // HEALTHCHECK while the daemon holds the store.
    let out = at.command(&health, &[]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // `docker kill -s HUP`, as the Dockerfile says, reloads sources.toml.
    assert!(dockerfile.contains("docker kill -s HUP"));
    let log = daemon.log_path().to_path_buf();
    daemon.signal("HUP");
    daemon.wait_for("the reload", Duration::from_secs(20), || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("configuration reloaded"))
    });
    // `docker stop`: SIGTERM, then SIGKILL after its default 10 s grace.
    assert!(
        !dockerfile.contains("STOPSIGNAL"),
        "docker stop sends SIGTERM"
    );
    daemon.terminate_within(Duration::from_secs(10));
}
