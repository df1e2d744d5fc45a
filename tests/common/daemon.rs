//! The real binary's daemon in a test: started with `run` (or any command
//! line a suite builds, such as the deployment files'), polled until
//! something holds, stopped with SIGTERM or SIGKILL. Its log goes to a file,
//! never to a pipe nobody drains, and a failure shows it.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::Project;

/// A running daemon and the file its log goes to.
pub struct Daemon {
    child: Child,
    log: tempfile::NamedTempFile,
}

impl Daemon {
    /// `bulletin-watch --config <project's> run EXTRA…`, logging at info.
    pub fn run(project: &Project, extra: &[&str]) -> Daemon {
        Daemon::run_config(&project.config_path(), extra)
    }

    /// `bulletin-watch --config CONFIG run EXTRA…`, logging at info.
    pub fn run_config(config: &Path, extra: &[&str]) -> Daemon {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bulletin-watch"));
        cmd.arg("--config")
            .arg(config)
            .arg("run")
            .args(extra)
            .env_remove("BULLETIN_WATCH_STORE")
            .env("BULLETIN_WATCH_LOG", "bulletin_watch=info");
        Daemon::start(cmd)
    }

    /// Starts `cmd` as it is, with its standard output discarded and its
    /// standard error written to the log file.
    pub fn start(mut cmd: Command) -> Daemon {
        let log = tempfile::NamedTempFile::new().expect("a log file");
        let err = log.reopen().expect("the log file opens");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("{:?} starts: {e}", cmd.get_program()));
        Daemon { child, log }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// The path of its log file.
    pub fn log_path(&self) -> &Path {
        self.log.path()
    }

    /// Polls `cond` every 100 ms for up to `timeout`; on a timeout kills the
    /// daemon and fails with its log.
    pub fn wait_for(&mut self, what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if cond() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "the daemon exited ({status}) while waiting for {what}; its log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        panic!(
            "timed out after {timeout:?} waiting for {what}; daemon log:\n{}",
            self.log()
        );
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends `signal` (a name `kill` knows: `HUP`, `TERM`).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} {}", self.pid());
    }

    /// SIGTERM, then waits up to `within` for a clean exit (status 0);
    /// returns the log.
    pub fn terminate_within(mut self, within: Duration) -> String {
        self.signal("TERM");
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(
                    status.success(),
                    "daemon exited with {status}; its log:\n{}",
                    self.log()
                );
                return self.log();
            }
            if start.elapsed() > within {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "daemon did not stop within {within:?} of SIGTERM; its log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM and a clean exit within 30 s; returns the log.
    pub fn terminate(self) -> String {
        self.terminate_within(Duration::from_secs(30))
    }

    /// SIGKILL (a crash, a power cut), reaped; returns the log.
    pub fn kill(mut self) -> String {
        self.child.kill().expect("kill -9");
        let _ = self.child.wait();
        self.log()
    }
}

impl Drop for Daemon {
    /// A failing test does not leave its daemon running.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `history SOURCE --json` through the CLI (which reaches the running daemon
/// over its control socket, since the daemon holds the store).
pub fn version_count(project: &Project, source: &str) -> usize {
    // --store: the sources file may be broken on purpose (reload test).
    let store = project.store_path();
    let out = project.cli(&[
        "--store",
        store.to_str().unwrap(),
        "history",
        source,
        "--json",
    ]);
    if !out.status.success() {
        return 0;
    }
    serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout)
        .map(|v| v.len())
        .unwrap_or(0)
}

/// A plain HTTP/1.1 GET on loopback; returns the whole response text. A
/// connection-level error is retried a few times (a server just started
/// may not listen yet); an HTTP error is not.
pub fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut last = None;
    for _ in 0..5 {
        let attempt = (|| -> std::io::Result<String> {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
            write!(
                s,
                "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            )?;
            let mut out = Vec::new();
            s.read_to_end(&mut out)?;
            Ok(String::from_utf8_lossy(&out).into_owned())
        })();
        match attempt {
            Ok(text) => return text,
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("GET {path} on port {port} failed: {last:?}");
}
