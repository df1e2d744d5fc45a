//! `notify test`: one test message through every configured channel (or
//! the one named) and through e-mail, and each verdict as the platform
//! gave it. It answers the admin's first question — does the robot accept
//! our messages at all? — before an alert depends on it. Nothing is
//! recorded in the store: a test message is no alert.

use crate::alert::render::SUBJECT_TAG;
use crate::alert::Message;
use crate::channel::{ChatAlert, ChatKind, Verdict};
use crate::config::Config;

use super::{Channels, DeliveryError, Mailer};

/// `--channel email` names the e-mail recipients.
pub const EMAIL: &str = "email";

/// How one channel answered the test message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The channel id, or [`EMAIL`].
    pub channel: String,
    /// `wecom`, `dingtalk`, `feishu`, `webhook`, `smtp` or `files`.
    pub kind: String,
    /// Where it went, without token or password.
    pub target: String,
    pub verdict: Verdict,
}

impl Outcome {
    /// `zj-ding  dingtalk  delivered`, `zj-wecom wecom permanent 93000
    /// invalid webhook url`: id, kind, verdict, the platform's code and
    /// message.
    pub fn line(&self) -> String {
        let verdict = match &self.verdict {
            Verdict::Delivered => "delivered".to_string(),
            Verdict::Retryable { code, message, .. } => with_code("retryable", *code, message),
            Verdict::Permanent { code, message, .. } => with_code("permanent", *code, message),
        };
        format!(
            "{:<16} {:<8} {verdict}    ({})",
            self.channel, self.kind, self.target
        )
    }
}

fn with_code(word: &str, code: Option<i64>, message: &str) -> String {
    match code {
        Some(c) => format!("{word} {c} {message}"),
        None => format!("{word} {message}"),
    }
}

/// The test message, as every chat platform shows it.
pub fn test_alert(config: &Config) -> ChatAlert {
    let now = jiff::Timestamp::now();
    let text = format!(
        "bulletin-watch 测试消息 test message\n若在群里看到这条消息，说明此机器人可以收到告警。\n{}",
        crate::channel::beijing_time(now)
    );
    ChatAlert {
        kind: ChatKind::Test,
        source: "bulletin-watch".to_string(),
        province: String::new(),
        region: None,
        title: "bulletin-watch 测试消息 test message".to_string(),
        url: config
            .web
            .base_url
            .as_ref()
            .map(|u| u.to_string())
            .unwrap_or_default(),
        version: String::new(),
        fetched_at: now,
        summary: Some("若在群里看到这条消息，说明此机器人可以收到告警。".to_string()),
        sections: Vec::new(),
        text,
        diff: None,
        diff_url: None,
    }
}

/// Sends the test message through each channel of `config` (only `only`
/// when given: a channel id or [`EMAIL`]) and through e-mail, one after
/// the other, and returns each outcome in that order.
pub async fn run(config: &Config, only: Option<&str>) -> Result<Vec<Outcome>, DeliveryError> {
    if let Some(id) = only {
        if id != EMAIL && config.channel(id).is_none() {
            return Err(DeliveryError::UnknownChannel(id.to_string()));
        }
    }
    let channels = Channels::from_config(config)?;
    let alert = test_alert(config);
    let delivery_id = format!("test.{}", alert.fetched_at.as_millisecond());
    let mut out = Vec::new();
    for channel in channels.iter() {
        if only.is_some_and(|id| id != channel.id()) {
            continue;
        }
        let verdict = channels
            .deliver(channel.id(), &alert, &delivery_id, &[], |_| {})
            .await;
        out.push(Outcome {
            channel: channel.id().to_string(),
            kind: channel.robot.kind.to_string(),
            target: channel.url().to_string(),
            verdict,
        });
    }
    if only.is_none_or(|id| id == EMAIL) {
        out.push(email(config, &alert).await?);
    }
    Ok(out)
}

async fn email(config: &Config, alert: &ChatAlert) -> Result<Outcome, DeliveryError> {
    let mailer = Mailer::from_config(&config.mail, &config.settings.store)?;
    let mut to = config.mail.to.clone();
    if to.is_empty() {
        to.push(config.mail.from.clone());
    }
    let html = format!(
        "<p>{}</p>",
        crate::text::escape_html(&alert.text).replace('\n', "<br>")
    );
    let message = Message {
        message_id: format!("test.{}@bulletin-watch", alert.fetched_at.as_millisecond()),
        from: config.mail.from.clone(),
        to,
        subject: format!("{SUBJECT_TAG} 测试消息 test message"),
        text: alert.text.clone(),
        html,
    };
    let verdict = mailer.deliver(&message).await.to_chat();
    Ok(Outcome {
        channel: EMAIL.to_string(),
        kind: match mailer {
            Mailer::Smtp(_) => "smtp",
            Mailer::Files(_) => "files",
        }
        .to_string(),
        target: mailer.describe(),
        verdict,
    })
}
