//! Chat channels: alerts delivered to WeCom (企业微信) group robots,
//! DingTalk (钉钉) custom robots, Feishu (飞书) custom bots and
//! Standard-Webhooks-signed webhooks.
//!
//! The parts here stand on their own, below the outbox that drives them:
//! an alert is described by a plain [`ChatAlert`]; a [`Robot`] renders it
//! into one or more [`Outgoing`] parts that each fit the platform's byte
//! limit ([`split`]), signs and posts one part at a time, and reads the
//! platform's answer into a [`Verdict`] ([`verdict`]). A [`RateLimiter`]
//! per robot paces bursts to what the platform accepts. Secrets (the token
//! in a robot URL, signing secrets) never appear in a `Debug`, a
//! `Display`, an error or a verdict: [`RobotUrl`] shows scheme, host and
//! path only.

mod feishu;
mod markdown;
mod rate;
mod robot;
pub mod sign;
pub mod split;
pub mod verdict;
mod webhook;

use serde::{Deserialize, Serialize};

use crate::model::{AlertKind, ChangeKind, Span};

pub use rate::{Rate, RateLimiter};
pub use robot::{Outgoing, Robot, RobotUrl};
pub use sign::{Secret, WebhookKey};
pub use verdict::Verdict;

/// The platforms a channel can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Wecom,
    Dingtalk,
    Feishu,
    Webhook,
}

impl ChannelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Wecom => "wecom",
            ChannelKind::Dingtalk => "dingtalk",
            ChannelKind::Feishu => "feishu",
            ChannelKind::Webhook => "webhook",
        }
    }

    /// The most one request may carry, in bytes, as the platform counts
    /// them: WeCom the markdown `content`, the others the whole body as
    /// sent. Feishu documents 20 KB; it is read as 20,000 bytes.
    pub fn byte_limit(self) -> Option<usize> {
        match self {
            ChannelKind::Wecom => Some(4096),
            ChannelKind::Dingtalk => Some(20_000),
            ChannelKind::Feishu => Some(20_000),
            ChannelKind::Webhook => None,
        }
    }
}

impl std::fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ChannelKind {
    type Err = ChannelError;
    fn from_str(s: &str) -> Result<ChannelKind, ChannelError> {
        match s {
            "wecom" => Ok(ChannelKind::Wecom),
            "dingtalk" => Ok(ChannelKind::Dingtalk),
            "feishu" => Ok(ChannelKind::Feishu),
            "webhook" => Ok(ChannelKind::Webhook),
            other => Err(ChannelError::UnknownKind(other.to_string())),
        }
    }
}

/// What a chat message is about: the alert kinds, and the notices about a
/// channel that stopped (or started again) accepting messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChatKind {
    Changed,
    Published,
    Failing,
    Recovered,
    DeliveryFailing,
    DeliveryRecovered,
    AnchorFailing,
    AnchorRecovered,
    HostOverBudget,
    HostWithinBudget,
    /// `notify test`: does the robot accept a message at all?
    Test,
}

impl From<AlertKind> for ChatKind {
    fn from(kind: AlertKind) -> ChatKind {
        match kind {
            AlertKind::Changed => ChatKind::Changed,
            AlertKind::Published => ChatKind::Published,
            AlertKind::Failing => ChatKind::Failing,
            AlertKind::Recovered => ChatKind::Recovered,
            AlertKind::DeliveryFailing => ChatKind::DeliveryFailing,
            AlertKind::DeliveryRecovered => ChatKind::DeliveryRecovered,
            AlertKind::AnchorFailing => ChatKind::AnchorFailing,
            AlertKind::AnchorRecovered => ChatKind::AnchorRecovered,
            AlertKind::HostOverBudget => ChatKind::HostOverBudget,
            AlertKind::HostWithinBudget => ChatKind::HostWithinBudget,
        }
    }
}

impl ChatKind {
    /// The `type` of the webhook body.
    pub fn as_str(self) -> &'static str {
        match self {
            ChatKind::Changed => "changed",
            ChatKind::Published => "published",
            ChatKind::Failing => "failing",
            ChatKind::Recovered => "recovered",
            ChatKind::DeliveryFailing => "delivery-failing",
            ChatKind::DeliveryRecovered => "delivery-recovered",
            ChatKind::AnchorFailing => "anchor-failing",
            ChatKind::AnchorRecovered => "anchor-recovered",
            ChatKind::HostOverBudget => "host-over-budget",
            ChatKind::HostWithinBudget => "host-within-budget",
            ChatKind::Test => "test",
        }
    }
    /// The label readers see.
    pub fn label(self) -> &'static str {
        match self {
            ChatKind::Changed => "内容变更",
            ChatKind::Published => "新发布",
            ChatKind::Failing => "抓取失败",
            ChatKind::Recovered => "恢复正常",
            ChatKind::DeliveryFailing => "推送失败",
            ChatKind::DeliveryRecovered => "推送恢复",
            ChatKind::AnchorFailing => "时间戳失败",
            ChatKind::AnchorRecovered => "时间戳恢复",
            ChatKind::HostOverBudget => "检查超出主机配额",
            ChatKind::HostWithinBudget => "主机配额恢复",
            ChatKind::Test => "测试消息",
        }
    }
}

/// One section of an alert: for `changed` its inline diff, for `published`
/// its text as one `Equal` span.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatSection {
    pub path: String,
    pub heading: String,
    /// How the section changed; `None` for a published section.
    pub change: Option<ChangeKind>,
    pub spans: Vec<Span>,
    /// This piece continues the same section from the previous part (a
    /// section too long for one message is cut).
    #[serde(default)]
    pub continued: bool,
}

/// Everything a chat message shows, in plain data; filled by the caller
/// from the outbox entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatAlert {
    pub kind: ChatKind,
    pub source: String,
    /// e.g. `江苏省`.
    pub province: String,
    pub region: Option<String>,
    pub title: String,
    /// The original article (原文链接).
    pub url: String,
    /// e.g. `v3 → v4`.
    pub version: String,
    pub fetched_at: jiff::Timestamp,
    /// One line under the title: `3 节变更`, an error for `failing`.
    pub summary: Option<String>,
    pub sections: Vec<ChatSection>,
    /// The plain-text rendering (the webhook body's `text`).
    pub text: String,
    /// The `diff --json` object, for `changed` (the webhook body's `diff`).
    pub diff: Option<serde_json::Value>,
    /// The web view's diff page for this version, when `[web] base_url`
    /// is set: every part links to it.
    pub diff_url: Option<String>,
}

/// Beijing time as a chat message prints it (short: a phone's line is
/// narrow), from the one clock of [`crate::present::time`].
pub fn beijing_time(ts: jiff::Timestamp) -> String {
    format!("{} 北京时间", crate::present::time::beijing_seconds(ts))
}

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("unknown channel kind {0:?} (wecom, dingtalk, feishu or webhook)")]
    UnknownKind(String),
    /// The URL itself is never shown: it carries the robot's token.
    #[error("the robot URL is not a valid http(s) URL")]
    InvalidUrl(#[source] Option<url::ParseError>),
    #[error("a {0} channel needs a signing secret")]
    MissingSecret(ChannelKind),
    #[error("invalid webhook secret: {0}")]
    WebhookSecret(&'static str),
    #[error("the signing key was refused")]
    SigningKey,
    #[error("invalid rate {value:?}: {reason}")]
    Rate { value: String, reason: String },
    #[error("the message header alone is longer than the {limit}-byte limit")]
    TooLarge { limit: usize },
    #[error("encoding a message body")]
    Json(#[source] serde_json::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_and_show() {
        for k in [
            ChannelKind::Wecom,
            ChannelKind::Dingtalk,
            ChannelKind::Feishu,
            ChannelKind::Webhook,
        ] {
            assert_eq!(k.as_str().parse::<ChannelKind>().unwrap(), k);
        }
        assert!("slack".parse::<ChannelKind>().is_err());
        assert_eq!(ChatKind::from(AlertKind::Failing).as_str(), "failing");
    }

    #[test]
    fn beijing_time_is_utc_plus_eight() {
        let ts: jiff::Timestamp = "2026-03-01T16:30:00Z".parse().unwrap();
        assert_eq!(beijing_time(ts), "2026-03-02 00:30:00 北京时间");
    }
}

#[cfg(test)]
mod render_tests;
