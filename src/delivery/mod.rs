//! Delivery: getting a rendered [`Message`] to people, and saying how it
//! went. Each channel is one file beside this one — [`email`] (SMTP),
//! [`files`] (`.eml` files in `<store>/mail/`) and [`chat`] (WeCom,
//! DingTalk, Feishu robots and signed webhooks, through a [`Channels`]
//! registry); [`notify_test`] sends one test message through each.
//! Rendering is not done here ([`crate::alert`]), and neither is
//! durability ([`crate::outbox`] hands messages over and records the
//! [`Verdict`]; a chat robot's verdict is a [`crate::channel::Verdict`],
//! which also carries the platform's code).

pub mod chat;
pub mod email;
pub mod files;
pub mod notify_test;

use std::path::{Path, PathBuf};

use crate::alert::{Message, MessageError};
use crate::config::MailConfig;

pub use chat::{Channels, ChatChannel};
pub use email::SmtpMailer;

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The message cannot be made into an e-mail (an address, the id).
    #[error(transparent)]
    Message(#[from] MessageError),
    #[error("invalid SMTP URL {url:?}: {reason}")]
    SmtpUrl { url: String, reason: String },
    /// The server could not be reached or answered with a temporary error;
    /// the text names the server (never its password).
    #[error("SMTP delivery failed: {0}")]
    Smtp(String),
    /// The server answered with a permanent (5xx) refusal: retrying soon
    /// will not help, a person must look (recipient, relay rules).
    #[error("SMTP server refused the message permanently: {0}")]
    Rejected(String),
    /// The HTTP client for chat robots could not be set up.
    #[error("setting up the HTTP client")]
    Http(#[source] reqwest::Error),
    /// A configured channel cannot be made into a robot (never shows its
    /// URL or secret).
    #[error("channel {id}: {source}")]
    Channel {
        id: String,
        #[source]
        source: crate::channel::ChannelError,
    },
    #[error("no channel {0:?} is configured")]
    UnknownChannel(String),
    #[error("writing {path}: {source}")]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl DeliveryError {
    /// Whether retrying the same message cannot succeed without someone
    /// changing the configuration (a refused or invalid recipient).
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            DeliveryError::Rejected(_) | DeliveryError::Message(MessageError::Address(..))
        )
    }
}

/// How one delivery attempt went, as the outbox records it.
#[derive(Debug)]
pub enum Verdict {
    /// The channel accepted the message.
    Delivered,
    /// Worth trying again later (server down, temporary refusal, I/O).
    Retryable(DeliveryError),
    /// Will fail again until someone changes the configuration.
    Permanent(DeliveryError),
}

impl From<Result<(), DeliveryError>> for Verdict {
    fn from(r: Result<(), DeliveryError>) -> Verdict {
        match r {
            Ok(()) => Verdict::Delivered,
            Err(e) if e.is_permanent() => Verdict::Permanent(e),
            Err(e) => Verdict::Retryable(e),
        }
    }
}

impl Verdict {
    /// The same verdict in the chat channels' vocabulary (SMTP gives no
    /// code), so that one outbox row per channel can record either.
    pub fn to_chat(&self) -> crate::channel::Verdict {
        match self {
            Verdict::Delivered => crate::channel::Verdict::Delivered,
            Verdict::Retryable(e) => crate::channel::Verdict::Retryable {
                after: None,
                code: None,
                message: e.to_string(),
            },
            Verdict::Permanent(e) => crate::channel::Verdict::Permanent {
                code: None,
                message: e.to_string(),
                body_too_large: false,
            },
        }
    }
}

/// Where alerts go.
#[derive(Debug)]
pub enum Mailer {
    Smtp(Box<SmtpMailer>),
    /// `.eml` files in this directory, one per Message-ID.
    Files(PathBuf),
}

impl Mailer {
    /// No `smtp_url` means files in `<store>/mail/`: alerts are kept, not lost,
    /// on a machine that has no relay yet.
    pub fn from_config(mail: &MailConfig, store_dir: &Path) -> Result<Mailer, DeliveryError> {
        match mail.smtp_url.as_deref().map(str::trim) {
            None | Some("") => Ok(Mailer::Files(store_dir.join("mail"))),
            Some(url) => SmtpMailer::new(url, mail.username.as_deref(), mail.password.as_deref())
                .map(|s| Mailer::Smtp(Box::new(s))),
        }
    }

    /// For logs; never contains a password.
    pub fn describe(&self) -> String {
        match self {
            Mailer::Smtp(s) => format!("SMTP {}", s.shown()),
            Mailer::Files(dir) => format!(".eml files in {}", dir.display()),
        }
    }

    /// Delivers one message. Sending the same message again is safe for the
    /// file mailer (one file per Message-ID) and recognisable for SMTP
    /// readers (same Message-ID).
    pub async fn send(&self, msg: &Message) -> Result<(), DeliveryError> {
        match self {
            Mailer::Smtp(s) => s.send(msg.email()?).await,
            Mailer::Files(dir) => files::deliver(dir, msg).await,
        }
    }

    /// [`Mailer::send`], as a verdict.
    pub async fn deliver(&self, msg: &Message) -> Verdict {
        self.send(msg).await.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use email::{percent_decode, redact_unparsed, scrub_secrets};

    #[test]
    fn passwords_never_shown() {
        let mail = MailConfig {
            from: "bw@example.org".into(),
            to: vec!["ops@example.org".into()],
            smtp_url: Some("smtp://alerts:s%40cret@127.0.0.1:2525".into()),
            username: Some("alerts".into()),
            password: Some("hunter2".into()),
            ..MailConfig::default()
        };
        let m = Mailer::from_config(&mail, Path::new("/tmp/store")).expect("valid URL");
        let shown = format!("{} {m:?}", m.describe());
        assert!(shown.contains("127.0.0.1:2525"), "{shown}");
        for secret in ["s%40cret", "s@cret", "hunter2"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert_eq!(redact_unparsed("smtp://u:pw@ho st"), "smtp://***@ho st");
        assert_eq!(percent_decode("s%40cret%zz"), "s@cret%zz");
        assert_eq!(
            scrub_secrets("auth failed for hunter2".into(), &["hunter2".into()]),
            "auth failed for ***"
        );
    }

    #[test]
    fn no_smtp_url_means_files() {
        let m = Mailer::from_config(&MailConfig::default(), Path::new("/srv/bw")).expect("files");
        match m {
            Mailer::Files(dir) => assert_eq!(dir, Path::new("/srv/bw/mail")),
            other => panic!("expected Files, got {other:?}"),
        }
        let bad = MailConfig {
            smtp_url: Some("http://example.org".into()),
            ..MailConfig::default()
        };
        assert!(matches!(
            Mailer::from_config(&bad, Path::new("/srv/bw")),
            Err(DeliveryError::SmtpUrl { .. })
        ));
    }
}
