//! A real Time-Stamp Authority on loopback: OpenSSL's `openssl ts -reply`
//! behind a small HTTP server on a thread of its own, with a test CA and a
//! TSA certificate (extended key usage `critical, timeStamping`) made by
//! `openssl` commands. It can be told to misbehave the ways a reply must be
//! rejected for — a reply to another query (wrong nonce, wrong imprint), a
//! signer from another CA, an expired signer, a status rejection — or be
//! taken down (connections dropped) and brought back. It checks HTTP basic
//! auth when given credentials.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use der::Decode;

/// How the TSA answers the next requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Good,
    /// Connections are accepted and dropped.
    Down,
    /// A valid reply to a query with the same imprint and another nonce.
    WrongNonce,
    /// A valid reply to a query for other data.
    WrongImprint,
    /// Signed by a TSA certificate of another CA.
    OtherCa,
    /// Signed by a TSA certificate that expired in 2021.
    Expired,
    /// The TSA accepts no SHA-256 imprints: status `rejection`.
    Reject,
    /// A good reply whose genTime has milliseconds.
    Precise,
}

pub struct Tsa {
    /// Keys, certificates and OpenSSL's files; removed with the `Tsa`.
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub port: u16,
    mode: Arc<Mutex<Mode>>,
    /// Requests answered with a token (any mode but `Down`).
    pub served: Arc<AtomicUsize>,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl runs (scripts/test installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const EXTENSIONS: &str = "\
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[tsa_ext]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
";

/// A minimal `openssl ca` setup, for a certificate with dates in the past.
const CA_CONFIG: &str = "\
[ca]
default_ca = test_ca
[test_ca]
dir = .
database = index.txt
new_certs_dir = .
serial = ca.srl
default_md = sha256
policy = anything
copy_extensions = none
[anything]
commonName = supplied
";

fn tsa_section(name: &str, cert: &str, key: &str, digests: &str, precision: u8) -> String {
    format!(
        "[{name}]\ndir = .\nserial = tsaserial\ncrypto_device = builtin\nsigner_cert = {cert}\n\
         signer_key = {key}\ncerts = {cert}\nsigner_digest = sha256\ndefault_policy = 1.2.3.4.1\n\
         digests = {digests}\naccuracy = secs:1\nclock_precision_digits = {precision}\n\
         ess_cert_id_alg = sha256\n\n"
    )
}

impl Tsa {
    /// Makes the CAs and certificates in a new folder and starts serving.
    pub fn start() -> Tsa {
        Tsa::start_with_auth(None)
    }

    /// [`Tsa::start`], requiring HTTP basic auth `user:password`.
    pub fn start_with_auth(auth: Option<(&str, &str)>) -> Tsa {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        std::fs::write(dir.join("ext.cnf"), EXTENSIONS).unwrap();
        std::fs::write(dir.join("ca.cnf"), CA_CONFIG).unwrap();
        std::fs::write(dir.join("index.txt"), "").unwrap();
        std::fs::write(dir.join("tsaserial"), "01\n").unwrap();
        for ca in ["ca", "other-ca"] {
            openssl(
                &dir,
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-keyout",
                    &format!("{ca}.key"),
                    "-out",
                    &format!("{ca}.pem"),
                    "-days",
                    "30",
                    "-subj",
                    &format!("/CN=bulletin-watch test {ca}"),
                    "-config",
                    "ext.cnf",
                    "-extensions",
                    "ca_ext",
                ],
            );
        }
        for (name, ca) in [("tsa", "ca"), ("other-tsa", "other-ca"), ("old-tsa", "ca")] {
            openssl(
                &dir,
                &[
                    "req",
                    "-new",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-keyout",
                    &format!("{name}.key"),
                    "-out",
                    &format!("{name}.csr"),
                    "-subj",
                    &format!("/CN=bulletin-watch test {name}"),
                ],
            );
            if name == "old-tsa" {
                std::fs::write(dir.join("ca.srl"), "1000\n").unwrap();
                openssl(
                    &dir,
                    &[
                        "ca",
                        "-batch",
                        "-config",
                        "ca.cnf",
                        "-cert",
                        "ca.pem",
                        "-keyfile",
                        "ca.key",
                        "-in",
                        "old-tsa.csr",
                        "-out",
                        "old-tsa.pem",
                        "-startdate",
                        "20200101000000Z",
                        "-enddate",
                        "20210101000000Z",
                        "-extfile",
                        "ext.cnf",
                        "-extensions",
                        "tsa_ext",
                        "-notext",
                    ],
                );
            } else {
                openssl(
                    &dir,
                    &[
                        "x509",
                        "-req",
                        "-in",
                        &format!("{name}.csr"),
                        "-CA",
                        &format!("{ca}.pem"),
                        "-CAkey",
                        &format!("{ca}.key"),
                        "-CAcreateserial",
                        "-out",
                        &format!("{name}.pem"),
                        "-days",
                        "30",
                        "-extfile",
                        "ext.cnf",
                        "-extensions",
                        "tsa_ext",
                    ],
                );
            }
        }
        let config = [
            tsa_section("good", "tsa.pem", "tsa.key", "sha256, sha384, sha512", 0),
            tsa_section("other", "other-tsa.pem", "other-tsa.key", "sha256", 0),
            tsa_section("old", "old-tsa.pem", "old-tsa.key", "sha256", 0),
            tsa_section("reject", "tsa.pem", "tsa.key", "sha512", 0),
            tsa_section("precise", "tsa.pem", "tsa.key", "sha256", 3),
        ]
        .concat();
        std::fs::write(dir.join("tsa.cnf"), config).unwrap();

        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(Mutex::new(Mode::Good));
        let served = Arc::new(AtomicUsize::new(0));
        let auth = auth.map(|(u, p)| {
            use base64::Engine as _;
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        });
        {
            let (dir, mode, served) = (dir.clone(), mode.clone(), served.clone());
            std::thread::spawn(move || {
                let n = AtomicUsize::new(0);
                for conn in listener.incoming() {
                    let Ok(conn) = conn else { continue };
                    let current = *mode.lock().unwrap();
                    if current == Mode::Down {
                        drop(conn);
                        continue;
                    }
                    let i = n.fetch_add(1, Ordering::SeqCst);
                    if handle(conn, &dir, current, i, auth.as_deref()) {
                        served.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
        Tsa {
            _tmp: tmp,
            dir,
            port,
            mode,
            served,
        }
    }

    pub fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/tsa", self.port)
    }

    /// The test CA that the good TSA certificate chains to.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// Another CA, which the good TSA certificate does not chain to.
    pub fn other_ca_file(&self) -> PathBuf {
        self.dir.join("other-ca.pem")
    }
}

/// Answers one HTTP request; whether a token was sent.
fn handle(conn: TcpStream, dir: &Path, mode: Mode, i: usize, auth: Option<&str>) -> bool {
    let mut reader = BufReader::new(conn);
    let mut len = 0usize;
    let mut authorized = auth.is_none();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return false;
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let lower = l.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
        if let (Some(expected), Some((name, value))) = (auth, l.split_once(':')) {
            if name.eq_ignore_ascii_case("authorization") && value.trim() == expected {
                authorized = true;
            }
        }
    }
    let mut body = vec![0u8; len];
    if reader.read_exact(&mut body).is_err() {
        return false;
    }
    let mut conn = reader.into_inner();
    if !authorized {
        let _ = conn.write_all(
            b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return false;
    }
    let q = dir.join(format!("q{i}.tsq"));
    let r = dir.join(format!("r{i}.tsr"));
    std::fs::write(&q, &body).unwrap();
    let query = match mode {
        Mode::WrongNonce | Mode::WrongImprint => {
            let req = x509_tsp::TimeStampReq::from_der(&body).expect("a TimeStampReq");
            let mut digest: Vec<u8> = req.message_imprint.hashed_message.as_bytes().to_vec();
            if mode == Mode::WrongImprint {
                digest[0] ^= 0xff;
            }
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            let other = dir.join(format!("q{i}-other.tsq"));
            // A fresh query: OpenSSL gives it a random nonce of its own.
            let out = Command::new("openssl")
                .current_dir(dir)
                .args(["ts", "-query", "-sha256", "-digest", &hex, "-cert", "-out"])
                .arg(&other)
                .output()
                .unwrap();
            assert!(out.status.success());
            other
        }
        _ => q.clone(),
    };
    let section = match mode {
        Mode::OtherCa => "other",
        Mode::Expired => "old",
        Mode::Reject => "reject",
        Mode::Precise => "precise",
        _ => "good",
    };
    let out = Command::new("openssl")
        .current_dir(dir)
        .args([
            "ts",
            "-reply",
            "-config",
            "tsa.cnf",
            "-section",
            section,
            "-queryfile",
        ])
        .arg(&query)
        .arg("-out")
        .arg(&r)
        .output()
        .unwrap();
    let reply = std::fs::read(&r).unwrap_or_default();
    if !out.status.success() || reply.is_empty() {
        let _ = conn.write_all(
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return false;
    }
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/timestamp-reply\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        reply.len()
    );
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(&reply);
    true
}
