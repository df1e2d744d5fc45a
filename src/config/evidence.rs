//! `[evidence]`: how often the history is anchored with a trusted timestamp
//! and by which Time-Stamp Authorities (`[[evidence.tsa]]`), each with the
//! CA certificate its tokens must chain to and optional HTTP basic auth
//! (user and password from the environment or a file, never the TOML
//! itself, and never shown by `Debug`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use url::Url;

use super::Validator;

/// The default `anchor_interval`.
pub const DEFAULT_ANCHOR_INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// Resolved `[evidence]`.
#[derive(Debug, Clone)]
pub struct EvidenceConfig {
    pub anchor_interval: Duration,
    pub tsas: Vec<TsaConfig>,
}

/// One `[[evidence.tsa]]`, its CA file already read and its credentials
/// resolved.
#[derive(Clone)]
pub struct TsaConfig {
    pub id: String,
    pub url: Url,
    pub ca_file: PathBuf,
    /// The CA file's PEM text (at least one certificate).
    pub ca_pem: String,
    pub username: Option<String>,
    pub password: Option<String>,
}

impl fmt::Debug for TsaConfig {
    // Hand-written so that credentials can never reach a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TsaConfig")
            .field("id", &self.id)
            .field("url", &self.url.as_str())
            .field("ca_file", &self.ca_file)
            .field("username", &self.username.as_ref().map(|_| "<redacted>"))
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEvidence {
    anchor_interval: Option<Spanned<String>>,
    #[serde(default)]
    tsa: Vec<Spanned<RawTsa>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTsa {
    id: Spanned<String>,
    url: Spanned<String>,
    ca_file: Option<Spanned<String>>,
    username_env: Option<Spanned<String>>,
    password_env: Option<Spanned<String>>,
    password_file: Option<Spanned<String>>,
}

impl Validator<'_> {
    pub(super) fn evidence(&mut self, raw: &RawEvidence, base_dir: &Path) -> EvidenceConfig {
        let anchor_interval = raw
            .anchor_interval
            .as_ref()
            .and_then(|d| self.duration(d, "evidence.anchor_interval"))
            .unwrap_or(DEFAULT_ANCHOR_INTERVAL);
        if raw.tsa.is_empty() {
            let at = raw.anchor_interval.as_ref().map_or(0, |d| d.span().start);
            self.push(
                at,
                "evidence.tsa",
                "[evidence] needs at least one [[evidence.tsa]] (two independent authorities \
                 are recommended)"
                    .into(),
            );
        }
        let mut seen = std::collections::HashSet::new();
        let mut tsas = Vec::new();
        for (i, t) in raw.tsa.iter().enumerate() {
            let t = t.get_ref();
            let id = t.id.get_ref().trim().to_string();
            let name = format!("evidence.tsa[{i}] ({id})");
            let id_ok = !id.is_empty()
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !id_ok {
                self.push(
                    t.id.span().start,
                    &format!("evidence.tsa[{i}].id"),
                    format!("{id:?} is not a valid id (ASCII letters, digits, -, _, .)"),
                );
            } else if !seen.insert(id.clone()) {
                self.push(
                    t.id.span().start,
                    &format!("evidence.tsa[{i}].id"),
                    format!("duplicate TSA id {id:?}"),
                );
            }
            let url = match Url::parse(t.url.get_ref().trim()) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                    if u.password().is_some() || !u.username().is_empty() {
                        self.push(
                            t.url.span().start,
                            &format!("{name}.url"),
                            "must not contain credentials; use username_env and password_env \
                             or password_file"
                                .into(),
                        );
                        None
                    } else {
                        Some(u)
                    }
                }
                Ok(_) => {
                    self.push(
                        t.url.span().start,
                        &format!("{name}.url"),
                        format!("{:?} is not an http(s) URL", t.url.get_ref()),
                    );
                    None
                }
                Err(e) => {
                    self.push(
                        t.url.span().start,
                        &format!("{name}.url"),
                        format!("invalid URL {:?}: {e}", t.url.get_ref()),
                    );
                    None
                }
            };
            let ca = match &t.ca_file {
                None => {
                    self.push(
                        t.id.span().start,
                        &format!("{name}.ca_file"),
                        "missing: the CA certificate (PEM) this TSA's tokens must chain to".into(),
                    );
                    None
                }
                Some(f) => {
                    let path = base_dir.join(f.get_ref());
                    match read_ca(&path) {
                        Ok(pem) => Some((path, pem)),
                        Err(message) => {
                            self.push(f.span().start, &format!("{name}.ca_file"), message);
                            None
                        }
                    }
                }
            };
            let username = t
                .username_env
                .as_ref()
                .and_then(|var| self.env(var, &format!("{name}.username_env")));
            let password = match (&t.password_env, &t.password_file) {
                (Some(_), Some(f)) => {
                    self.push(
                        f.span().start,
                        &format!("{name}.password_file"),
                        "set either password_env or password_file, not both".into(),
                    );
                    None
                }
                (Some(var), None) => self.env(var, &format!("{name}.password_env")),
                (None, Some(file)) => {
                    let p = base_dir.join(file.get_ref());
                    match std::fs::read_to_string(&p) {
                        Ok(s) => Some(s.trim_end_matches(['\r', '\n']).to_string()),
                        Err(e) => {
                            self.push(
                                file.span().start,
                                &format!("{name}.password_file"),
                                format!("cannot read {}: {e}", p.display()),
                            );
                            None
                        }
                    }
                }
                (None, None) => None,
            };
            if password.is_some() && t.username_env.is_none() {
                self.push(
                    t.id.span().start,
                    &format!("{name}.username_env"),
                    "a password needs a user name (username_env)".into(),
                );
            }
            if let (true, Some(url), Some((ca_file, ca_pem))) = (id_ok, url, ca) {
                tsas.push(TsaConfig {
                    id,
                    url,
                    ca_file,
                    ca_pem,
                    username,
                    password,
                });
            }
        }
        EvidenceConfig {
            anchor_interval,
            tsas,
        }
    }

    /// The value of the environment variable named at `var`.
    fn env(&mut self, var: &Spanned<String>, field: &str) -> Option<String> {
        match std::env::var(var.get_ref()) {
            Ok(v) => Some(v),
            Err(_) => {
                self.push(
                    var.span().start,
                    field,
                    format!("environment variable {} is not set", var.get_ref()),
                );
                None
            }
        }
    }
}

/// A CA file's PEM text, with at least one readable certificate.
fn read_ca(path: &Path) -> Result<String, String> {
    let pem = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    match x509_cert::Certificate::load_pem_chain(pem.as_bytes()) {
        Ok(certs) if !certs.is_empty() => Ok(pem),
        Ok(_) => Err(format!("{}: no certificate in it", path.display())),
        Err(e) => Err(format!(
            "{}: not a readable PEM certificate: {e}",
            path.display()
        )),
    }
}
