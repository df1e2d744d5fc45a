//! E-mail over SMTP (lettre): one relay, its connection pool, and the
//! password kept out of everything it reports.

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::AsyncSmtpTransportBuilder;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::DeliveryError;

/// Per SMTP command (connect, greeting, each reply).
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);
/// For a whole delivery: a server that answers slowly but never finishes must
/// not hold up the check loop.
const SEND_DEADLINE: Duration = Duration::from_secs(120);

/// An SMTP relay. The lettre transport (with its connection pool) is built on
/// first use, because building it spawns a tokio task and configuration is
/// loaded before the runtime exists.
pub struct SmtpMailer {
    builder: AsyncSmtpTransportBuilder,
    transport: OnceLock<AsyncSmtpTransport<Tokio1Executor>>,
    /// The URL without its password, for logs and errors.
    shown: String,
    /// Strings that must never appear in anything this mailer reports.
    secrets: Vec<String>,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("url", &self.shown)
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// The URL without its password (and the user name, when one is set).
    pub fn shown(&self) -> &str {
        &self.shown
    }

    pub(super) fn new(
        url: &str,
        username: Option<&str>,
        password: Option<&str>,
    ) -> Result<SmtpMailer, DeliveryError> {
        let parsed = url::Url::parse(url).map_err(|e| DeliveryError::SmtpUrl {
            url: redact_unparsed(url),
            reason: e.to_string(),
        })?;
        let shown = redact(&parsed);
        if !matches!(parsed.scheme(), "smtp" | "smtps") {
            return Err(DeliveryError::SmtpUrl {
                url: shown,
                reason: "scheme must be smtp:// or smtps://".into(),
            });
        }
        let mut secrets = Vec::new();
        if let Some(p) = parsed.password() {
            secrets.push(p.to_string());
            secrets.push(percent_decode(p));
        }
        if let Some(p) = password {
            secrets.push(p.to_string());
        }
        secrets.retain(|s| !s.is_empty());

        let scrub = |s: String| scrub_secrets(s, &secrets);
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| DeliveryError::SmtpUrl {
                url: shown.clone(),
                reason: scrub(e.to_string()),
            })?
            .timeout(Some(SMTP_TIMEOUT));
        let mut shown = shown;
        if let (Some(user), Some(pass)) = (username, password) {
            builder = builder.credentials(Credentials::new(user.to_string(), pass.to_string()));
            let _ = write!(shown, " (user {user})");
        }
        Ok(SmtpMailer {
            builder,
            transport: OnceLock::new(),
            shown,
            secrets,
        })
    }

    pub(super) async fn send(&self, email: lettre::Message) -> Result<(), DeliveryError> {
        let transport = self.transport.get_or_init(|| self.builder.clone().build());
        match tokio::time::timeout(SEND_DEADLINE, transport.send(email)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if e.is_permanent() => Err(DeliveryError::Rejected(scrub_secrets(
                format!("{}: {e}", self.shown),
                &self.secrets,
            ))),
            Ok(Err(e)) => Err(DeliveryError::Smtp(scrub_secrets(
                format!("{}: {e}", self.shown),
                &self.secrets,
            ))),
            Err(_) => Err(DeliveryError::Smtp(format!(
                "{}: not finished after {} s",
                self.shown,
                SEND_DEADLINE.as_secs()
            ))),
        }
    }
}

/// `scheme://user@host:port/path?query` — the password, if any, dropped.
fn redact(u: &url::Url) -> String {
    let mut u = u.clone();
    if u.password().is_some() {
        let _ = u.set_password(None);
    }
    u.to_string()
}

/// An unparseable URL may still hold `user:password@`: keep only the scheme
/// and what follows the last `@`.
pub(super) fn redact_unparsed(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        (None, Some(at)) => format!("***{}", &url[at..]),
        _ => url.to_string(),
    }
}

pub(super) fn scrub_secrets(mut s: String, secrets: &[String]) -> String {
    for secret in secrets {
        if !secret.is_empty() && s.contains(secret.as_str()) {
            s = s.replace(secret.as_str(), "***");
        }
    }
    s
}

/// `%XX` decoding for a password taken from the URL, so that its decoded
/// form is scrubbed from error messages too.
pub(super) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
