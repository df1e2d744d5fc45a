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
            let password = self.password(
                t.password_env.as_ref(),
                t.password_file.as_ref(),
                &name,
                base_dir,
            );
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

#[cfg(test)]
mod tests {
    use crate::config::{parse, ConfigError};

    const SOURCE: &str = "[[source]]\nid = \"sh\"\nprovince = \"上海市\"\nregion = \"华东\"\n\
                          url = \"http://127.0.0.1:1/a.html\"\nkind = \"article\"\n";

    /// A throwaway self-signed certificate (PEM), made once for these tests
    /// with `openssl req -x509`.
    const CA_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBpzCCAU2gAwIBAgIUOSRlOzPqkH/HN4UbtOU92kQqATgwCgYIKoZIzj0EAwIw
KDEmMCQGA1UEAwwdYnVsbGV0aW4td2F0Y2ggY29uZmlnIHRlc3QgQ0EwIBcNMjYx
MjAxMTIzMjA0WhgPMjEyNjExMDcxMjMyMDRaMCgxJjAkBgNVBAMMHWJ1bGxldGlu
LXdhdGNoIGNvbmZpZyB0ZXN0IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE
YYpTmSrpsIe01Vf86kW+mwldE+EIJiJenNp+z6+Lc4FDq4ayB6JYy+9qU923Xw+f
iVcyJJe4kZZErivloZn2W6NTMFEwHQYDVR0OBBYEFLQF0gxnXX5rBPS96ZBAF+1Z
XBjwMB8GA1UdIwQYMBaAFLQF0gxnXX5rBPS96ZBAF+1ZXBjwMA8GA1UdEwEB/wQF
MAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIgcsV/A//CaMGoiR5WkZBsDltUs5IUNsfX
JLGhwwJC6RsCIQCSDaIwG+HqBvihe9gMdKL17q929pVgj94P1q4ZFFhN6w==
-----END CERTIFICATE-----
";

    fn load(evidence: &str, files: &[(&str, &str)]) -> Result<crate::config::Config, String> {
        let dir = tempfile::tempdir().unwrap();
        for (name, body) in files {
            std::fs::write(dir.path().join(name), body).unwrap();
        }
        let path = dir.path().join("sources.toml");
        let text = format!("{SOURCE}\n{evidence}");
        parse(&text, &path).map_err(|e| match e {
            ConfigError::Invalid { .. } => e.to_string(),
            other => panic!("{other}"),
        })
    }

    #[test]
    fn a_good_section_loads_and_hides_credentials() {
        std::env::set_var("BW_UNIT_TSA_USER", "someone");
        let c = load(
            "[evidence]\nanchor_interval = \"12h\"\n[[evidence.tsa]]\nid = \"cn-tsa\"\n\
             url = \"http://127.0.0.1:1/tsa\"\nca_file = \"ca.pem\"\nusername_env = \"BW_UNIT_TSA_USER\"\n\
             password_file = \"pw\"\n",
            &[("ca.pem", CA_PEM), ("pw", "s3cret-pw\n")],
        );
        let ev = c.unwrap().evidence.unwrap();
        assert_eq!(
            ev.anchor_interval,
            std::time::Duration::from_secs(12 * 3600)
        );
        assert_eq!(ev.tsas[0].id, "cn-tsa");
        assert_eq!(ev.tsas[0].username.as_deref(), Some("someone"));
        assert_eq!(ev.tsas[0].password.as_deref(), Some("s3cret-pw"));
        let shown = format!("{:?}", ev.tsas[0]);
        assert!(
            !shown.contains("s3cret-pw") && !shown.contains("someone"),
            "{shown}"
        );
    }

    #[test]
    fn mistakes_are_named_with_file_line_and_tsa() {
        let e = load(
            "[evidence]\n[[evidence.tsa]]\nid = \"a\"\nurl = \"ftp://x/\"\nca_file = \"nope.pem\"\n\
             [[evidence.tsa]]\nid = \"a\"\nurl = \"http://x/\"\nca_file = \"bad.pem\"\n\
             [[evidence.tsa]]\nid = \"b\"\nurl = \"http://x/\"\n",
            &[("bad.pem", "not a certificate")],
        )
        .unwrap_err();
        assert!(e.contains("sources.toml:11:"), "{e}");
        assert!(
            e.contains("evidence.tsa[0] (a).url: \"ftp://x/\" is not an http(s) URL"),
            "{e}"
        );
        assert!(
            e.contains("evidence.tsa[0] (a).ca_file: cannot read"),
            "{e}"
        );
        assert!(e.contains("duplicate TSA id \"a\""), "{e}");
        assert!(
            e.contains("evidence.tsa[1] (a).ca_file:") && e.contains("bad.pem"),
            "{e}"
        );
        assert!(e.contains("evidence.tsa[2] (b).ca_file: missing"), "{e}");
        let e = load("[evidence]\nanchor_interval = \"1d\"\n", &[]).unwrap_err();
        assert!(e.contains("at least one [[evidence.tsa]]"), "{e}");
    }
}
