//! `[mail]`: the sender, the recipients and the SMTP server, with the
//! password read from its environment variable or file (never from the TOML
//! itself, and never shown by `Debug`).

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use url::Url;

use super::{Validator, DEFAULT_FROM};

/// Resolved `[mail]` settings (the password already read from its
/// environment variable or file; never stored in the TOML itself).
#[derive(Clone, Default)]
pub struct MailConfig {
    pub from: String,
    pub to: Vec<String>,
    /// lettre connection URL; `None` = write `.eml` files into `<store>/mail/`.
    pub smtp_url: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Digest mode: alerts for the same recipients within this window go
    /// out as one e-mail. `None` sends each alert on its own.
    pub digest: Option<Duration>,
}

impl fmt::Debug for MailConfig {
    // Hand-written so that the password can never reach a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailConfig")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("smtp_url", &self.smtp_url)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("digest", &self.digest)
            .finish()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMail {
    from: Option<Spanned<String>>,
    #[serde(default)]
    to: Vec<Spanned<String>>,
    smtp_url: Option<Spanned<String>>,
    username: Option<String>,
    password_env: Option<Spanned<String>>,
    password_file: Option<Spanned<String>>,
    digest: Option<Spanned<String>>,
}

impl Validator<'_> {
    /// A bare `addr@host` or an RFC 5322 name-addr mailbox
    /// (`应急监测 <monitor@example.org>`), as lettre's `Mailbox` parses it.
    pub(super) fn address(&mut self, s: &Spanned<String>, field: &str) -> Option<String> {
        let a = s.get_ref().trim();
        match a.parse::<lettre::message::Mailbox>() {
            Ok(_) => Some(a.to_string()),
            Err(e) => {
                self.push(
                    s.span().start,
                    field,
                    format!("invalid e-mail address {a:?}: {e}"),
                );
                None
            }
        }
    }

    pub(super) fn mail(&mut self, raw: &RawMail, base_dir: &Path) -> MailConfig {
        let from = match &raw.from {
            Some(f) => self.address(f, "mail.from").unwrap_or_default(),
            None => DEFAULT_FROM.to_string(),
        };
        let to = raw
            .to
            .iter()
            .enumerate()
            .filter_map(|(i, a)| self.address(a, &format!("mail.to[{i}]")))
            .collect();
        let smtp_url = raw.smtp_url.as_ref().and_then(|u| {
            let s = u.get_ref().trim();
            match Url::parse(s) {
                Ok(p) if matches!(p.scheme(), "smtp" | "smtps") && p.host_str().is_some() => Some(s.to_string()),
                Ok(_) => {
                    self.push(
                        u.span().start,
                        "mail.smtp_url",
                        format!("{s:?} is not an SMTP URL; write smtp://host:port, smtps://host or smtp://host:587?tls=required"),
                    );
                    None
                }
                Err(e) => {
                    self.push(u.span().start, "mail.smtp_url", format!("invalid URL {s:?}: {e}"));
                    None
                }
            }
        });
        if let Some(u) = &smtp_url {
            if Url::parse(u).is_ok_and(|p| p.password().is_some()) {
                self.push(
                    raw.smtp_url.as_ref().map_or(0, |s| s.span().start),
                    "mail.smtp_url",
                    "must not contain a password; use password_env or password_file".into(),
                );
            }
        }
        let password = self.password(
            raw.password_env.as_ref(),
            raw.password_file.as_ref(),
            "mail",
            base_dir,
        );
        MailConfig {
            from,
            to,
            smtp_url,
            username: raw.username.clone(),
            password,
            digest: raw
                .digest
                .as_ref()
                .and_then(|d| self.duration(d, "mail.digest")),
        }
    }
}
