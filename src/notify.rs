//! Alerts: rendering a change or a newly published deployment into an e-mail
//! that reads well on a phone, and delivering it over SMTP (lettre) or, when
//! no SMTP server is configured, as `.eml` files in `<store>/mail/`.
//!
//! Durability lives elsewhere: an alert is rendered once, written to the
//! store's outbox in the same transaction as the version that caused it, and
//! only then handed to a [`Mailer`]. The stable Message-ID makes a retried
//! delivery recognisable as the same message.

use serde::{Deserialize, Serialize};

/// Why an alert was raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertKind {
    Published,
    Changed,
    Failing,
    Recovered,
}

/// A fully rendered message, ready to send as is, any number of times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Stable Message-ID (without angle brackets), e.g. `alert-42.jiangsu@bulletin-watch`.
    pub message_id: String,
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// What an alert is about, for rendering.
#[derive(Debug, Clone)]
pub struct AlertContext {
    pub source_id: String,
    pub source_name: String,
    /// e.g. `江苏省`.
    pub province: String,
    /// The article title (latest version).
    pub title: String,
    /// The original article URL (原文链接).
    pub url: String,
    /// Version compared against (None for a first/published version).
    pub from_version: Option<u32>,
    pub to_version: u32,
    pub fetched_at: jiff::Timestamp,
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("invalid mail address {0:?}: {1}")]
    Address(String, String),
    #[error("invalid SMTP URL {url:?}: {reason}")]
    SmtpUrl { url: String, reason: String },
    #[error("could not build message: {0}")]
    Build(String),
    #[error("SMTP delivery failed: {0}")]
    Smtp(String),
    #[error("writing {path}: {source}")]
    File {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// Subject and both bodies of an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub fn render_changed(ctx: &AlertContext, diff: &crate::diff::DocDiff) -> Rendered {
    let _ = diff;
    Rendered {
        subject: format!("[bulletin-watch] {} · 变更 · {}", ctx.province, ctx.title),
        text: String::new(),
        html: String::new(),
    }
}
pub fn render_published(ctx: &AlertContext, doc: &crate::extract::Document) -> Rendered {
    let _ = doc;
    Rendered {
        subject: format!("[bulletin-watch] {} · 新发布 · {}", ctx.province, ctx.title),
        text: String::new(),
        html: String::new(),
    }
}
pub fn render_failing(ctx: &AlertContext, error: &str, n: u32) -> Rendered {
    let _ = (error, n);
    Rendered {
        subject: format!(
            "[bulletin-watch] {} · 抓取失败 · {}",
            ctx.province, ctx.source_name
        ),
        text: String::new(),
        html: String::new(),
    }
}
pub fn render_recovered(ctx: &AlertContext) -> Rendered {
    Rendered {
        subject: format!(
            "[bulletin-watch] {} · 已恢复 · {}",
            ctx.province, ctx.source_name
        ),
        text: String::new(),
        html: String::new(),
    }
}
