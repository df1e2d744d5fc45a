//! One configured robot: where it is, how it signs, what it adds to every
//! message; rendering an alert into the parts it will accept, and posting
//! them one at a time. The robot URL carries its token and is shown only
//! as [`RobotUrl`]'s redacted form; every message a verdict records is
//! scrubbed of the URL, its token and the signing secret.

use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::markdown::{self, Decor};
use super::sign::{dingtalk_signed_url, feishu_sign, Secret, WebhookKey};
use super::split::split;
use super::{feishu, verdict, webhook, ChannelError, ChannelKind, ChatAlert, Verdict};

/// A robot's URL. `Display` and `Debug` show scheme, host, port and path
/// only, with any path segment that may be a token (Feishu's hook id, any
/// long segment) replaced by `***`; never the query, which holds WeCom's
/// `key` and DingTalk's `access_token`.
#[derive(Clone, PartialEq, Eq)]
pub struct RobotUrl(url::Url);

impl RobotUrl {
    pub fn parse(url: &str) -> Result<RobotUrl, ChannelError> {
        let parsed = url::Url::parse(url.trim()).map_err(|e| ChannelError::InvalidUrl(Some(e)))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(ChannelError::InvalidUrl(None));
        }
        Ok(RobotUrl(parsed))
    }

    /// The URL as sent, token and all: for the request only.
    pub fn expose(&self) -> &url::Url {
        &self.0
    }

    /// `https://oapi.dingtalk.com/robot/send`, `https://open.feishu.cn/open-apis/bot/v2/hook/***`.
    pub fn redacted(&self) -> String {
        let url = &self.0;
        let mut out = format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""));
        if let Some(port) = url.port() {
            out.push_str(&format!(":{port}"));
        }
        let mut after_hook = false;
        for segment in url.path_segments().into_iter().flatten() {
            if segment.is_empty() {
                continue;
            }
            out.push('/');
            if after_hook || is_tokenlike(segment) {
                out.push_str("***");
            } else {
                out.push_str(segment);
            }
            after_hook = matches!(segment, "hook" | "hooks");
        }
        out
    }

    /// Every piece of the URL that may be a secret, longest first.
    fn secret_parts(&self) -> Vec<String> {
        let mut parts = vec![self.0.as_str().to_string()];
        parts.extend(
            self.0
                .query_pairs()
                .map(|(_, v)| v.into_owned())
                .filter(|v| v.len() >= 6),
        );
        let mut after_hook = false;
        for segment in self.0.path_segments().into_iter().flatten() {
            if (after_hook || is_tokenlike(segment)) && segment.len() >= 6 {
                parts.push(segment.to_string());
            }
            after_hook = matches!(segment, "hook" | "hooks");
        }
        if let Some(password) = self.0.password() {
            parts.push(password.to_string());
        }
        parts.sort_by_key(|p| std::cmp::Reverse(p.len()));
        parts
    }
}

fn is_tokenlike(segment: &str) -> bool {
    segment.len() >= 16
}

impl std::fmt::Display for RobotUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl std::fmt::Debug for RobotUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RobotUrl({})", self.redacted())
    }
}

/// One request's worth of an alert, ready to sign and send. It holds no
/// secret (signatures are added when it is sent), so it may be stored and
/// shown. `index` counts from 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outgoing {
    pub index: usize,
    pub total: usize,
    pub body: Value,
    /// The sections (or pieces of sections) this part shows.
    pub sections: Vec<super::ChatSection>,
}

impl Outgoing {
    /// The body as JSON bytes, before any signature.
    pub fn body_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.body).unwrap_or_default()
    }
}

/// A configured chat channel.
#[derive(Clone)]
pub struct Robot {
    pub id: String,
    pub kind: ChannelKind,
    url: RobotUrl,
    secret: Option<Secret>,
    webhook_key: Option<WebhookKey>,
    /// The security keyword the robot requires: every message carries it.
    pub keyword: Option<String>,
    /// WeCom and DingTalk: members to mention, by mobile number.
    pub mention_mobiles: Vec<String>,
    pub mention_all: bool,
    /// For one request, connection to answer.
    pub timeout: Duration,
}

impl std::fmt::Debug for Robot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Robot")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("url", &self.url)
            .field("signed", &self.secret.is_some())
            .field("keyword", &self.keyword)
            .field("mention_mobiles", &self.mention_mobiles.len())
            .field("mention_all", &self.mention_all)
            .finish()
    }
}

/// Feishu's `timestamp` and `sign` as sent, for measuring a body before
/// they are known: ten digits and 44 base64 characters.
const FEISHU_TIMESTAMP_PLACEHOLDER: &str = "1700000000";
const FEISHU_SIGN_PLACEHOLDER: &str = "0000000000000000000000000000000000000000000=";

impl Robot {
    /// A robot of `kind` at `url`. `secret` is DingTalk's 加签 secret,
    /// Feishu's 签名校验 secret or the webhook's `whsec_…` secret; a
    /// webhook needs one, DingTalk and Feishu sign only when given one.
    pub fn new(
        id: impl Into<String>,
        kind: ChannelKind,
        url: &str,
        secret: Option<Secret>,
    ) -> Result<Robot, ChannelError> {
        let url = RobotUrl::parse(url)?;
        let webhook_key = match (kind, &secret) {
            (ChannelKind::Webhook, Some(s)) => Some(WebhookKey::parse(s)?),
            (ChannelKind::Webhook, None) => return Err(ChannelError::MissingSecret(kind)),
            _ => None,
        };
        let secret = if kind == ChannelKind::Wecom {
            None
        } else {
            secret
        };
        Ok(Robot {
            id: id.into(),
            kind,
            url,
            secret,
            webhook_key,
            keyword: None,
            mention_mobiles: Vec::new(),
            mention_all: false,
            timeout: Duration::from_secs(15),
        })
    }

    pub fn with_keyword(mut self, keyword: Option<String>) -> Robot {
        self.keyword = keyword.filter(|k| !k.trim().is_empty());
        self
    }

    pub fn with_mentions(mut self, mobiles: Vec<String>, all: bool) -> Robot {
        self.mention_mobiles = mobiles;
        self.mention_all = all;
        self
    }

    pub fn url(&self) -> &RobotUrl {
        &self.url
    }

    fn decor(&self) -> Decor<'_> {
        Decor {
            keyword: self.keyword.as_deref(),
            mention_mobiles: &self.mention_mobiles,
            mention_all: self.mention_all,
        }
    }

    /// The alert as the parts this robot will accept, each within the
    /// platform's byte limit as the body is sent (WeCom: its markdown
    /// content). With mentions configured, WeCom gets one short `text`
    /// message after the parts (its markdown cannot mention by mobile).
    pub fn render(&self, alert: &ChatAlert) -> Result<Vec<Outgoing>, ChannelError> {
        let decor = self.decor();
        let mut bodies: Vec<(Value, Vec<super::ChatSection>)> = Vec::new();
        match self.kind {
            ChannelKind::Wecom => {
                let limit = ChannelKind::Wecom.byte_limit().unwrap_or(usize::MAX);
                let groups = split(&alert.sections, limit, |s, n| {
                    markdown::wecom_content(alert, s, n, decor).len() <= limit
                })?;
                let total = groups.len();
                for (i, group) in groups.into_iter().enumerate() {
                    let numbering = (total > 1).then_some((i + 1, total));
                    let content = markdown::wecom_content(alert, &group, numbering, decor);
                    bodies.push((markdown::wecom_markdown(content), group));
                }
                if let Some(mention) = markdown::wecom_mention(alert, decor) {
                    bodies.push((mention, Vec::new()));
                }
            }
            ChannelKind::Dingtalk => {
                let limit = ChannelKind::Dingtalk.byte_limit().unwrap_or(usize::MAX);
                let size = |v: &Value| serde_json::to_vec(v).map_or(usize::MAX, |b| b.len());
                let groups = split(&alert.sections, limit, |s, n| {
                    size(&markdown::dingtalk_body(alert, s, n, decor, true)) <= limit
                })?;
                let total = groups.len();
                for (i, group) in groups.into_iter().enumerate() {
                    let numbering = (total > 1).then_some((i + 1, total));
                    let body = markdown::dingtalk_body(alert, &group, numbering, decor, i == 0);
                    bodies.push((body, group));
                }
            }
            ChannelKind::Feishu => {
                let limit = ChannelKind::Feishu.byte_limit().unwrap_or(usize::MAX);
                let signed = self.secret.is_some();
                let size = |mut v: Value| {
                    if signed {
                        v["timestamp"] = Value::from(FEISHU_TIMESTAMP_PLACEHOLDER);
                        v["sign"] = Value::from(FEISHU_SIGN_PLACEHOLDER);
                    }
                    serde_json::to_vec(&v).map_or(usize::MAX, |b| b.len())
                };
                let groups = split(&alert.sections, limit, |s, n| {
                    size(feishu::post_body(alert, s, n, decor, true)) <= limit
                })?;
                let total = groups.len();
                for (i, group) in groups.into_iter().enumerate() {
                    let numbering = (total > 1).then_some((i + 1, total));
                    let body = feishu::post_body(alert, &group, numbering, decor, i == 0);
                    bodies.push((body, group));
                }
            }
            ChannelKind::Webhook => {
                bodies.push((webhook::body(alert), alert.sections.clone()));
            }
        }
        let total = bodies.len();
        Ok(bodies
            .into_iter()
            .enumerate()
            .map(|(i, (body, sections))| Outgoing {
                index: i + 1,
                total,
                body,
                sections,
            })
            .collect())
    }

    /// Signs and posts one part, and reads the answer. `delivery_id` is the
    /// outbox entry's id: the webhook's `webhook-id` and `Idempotency-Key`,
    /// the same on every retry.
    pub async fn send(
        &self,
        http: &reqwest::Client,
        part: &Outgoing,
        delivery_id: &str,
    ) -> Verdict {
        match self.try_send(http, part, delivery_id).await {
            Ok(verdict) => self.scrub_verdict(verdict),
            Err(err) => Verdict::Permanent {
                code: None,
                message: self.scrub(&err.to_string()),
                body_too_large: false,
            },
        }
    }

    async fn try_send(
        &self,
        http: &reqwest::Client,
        part: &Outgoing,
        delivery_id: &str,
    ) -> Result<Verdict, ChannelError> {
        let now = jiff::Timestamp::now();
        let mut url = self.url.expose().clone();
        let mut body = part.body.clone();
        match (self.kind, &self.secret) {
            (ChannelKind::Dingtalk, Some(secret)) => {
                url = dingtalk_signed_url(&url, secret, now.as_millisecond())?;
            }
            (ChannelKind::Feishu, Some(secret)) => {
                let ts = now.as_second();
                body["timestamp"] = Value::from(ts.to_string());
                body["sign"] = Value::from(feishu_sign(secret, ts)?);
            }
            _ => {}
        }
        let bytes = serde_json::to_vec(&body).map_err(ChannelError::Json)?;
        let mut request = http
            .post(url)
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .timeout(self.timeout);
        if let Some(key) = &self.webhook_key {
            let ts = now.as_second();
            request = request
                .header("webhook-id", delivery_id)
                .header("webhook-timestamp", ts.to_string())
                .header("webhook-signature", key.signature(delivery_id, ts, &bytes)?)
                .header("Idempotency-Key", delivery_id);
        }
        let response = match request.body(bytes).send().await {
            Ok(r) => r,
            Err(e) => return Ok(Verdict::unreachable(error_chain(e.without_url()))),
        };
        let status = response.status();
        let headers = response.headers().clone();
        let reply = match response.bytes().await {
            Ok(b) => b,
            Err(e) => {
                return Ok(Verdict::unreachable(format!(
                    "HTTP {status}, reply lost: {}",
                    error_chain(e.without_url())
                )))
            }
        };
        Ok(match self.kind {
            ChannelKind::Wecom => verdict::wecom(status, &headers, &reply),
            ChannelKind::Dingtalk => verdict::dingtalk(status, &headers, &reply),
            ChannelKind::Feishu => verdict::feishu(status, &headers, &reply),
            ChannelKind::Webhook => verdict::webhook(status, &headers, &reply),
        })
    }

    /// Sends `parts` in order through `limiter`, calling `on_delivered`
    /// with each part the robot accepted the moment it did (so that the
    /// outbox can record it before the next goes), and stops at the first
    /// that was not: its verdict is returned. A pause the platform asked
    /// for holds the limiter, so other alerts to this robot wait too.
    pub async fn deliver(
        &self,
        http: &reqwest::Client,
        limiter: &super::RateLimiter,
        parts: &[Outgoing],
        delivery_id: &str,
        mut on_delivered: impl FnMut(&Outgoing),
    ) -> Verdict {
        for part in parts {
            let permit = limiter.acquire().await;
            let verdict = self.send(http, part, delivery_id).await;
            drop(permit);
            match &verdict {
                Verdict::Delivered => on_delivered(part),
                Verdict::Retryable {
                    after: Some(after), ..
                } => {
                    limiter.hold(*after);
                    return verdict;
                }
                _ => return verdict,
            }
        }
        Verdict::Delivered
    }

    /// `text` with the robot URL, its token and the signing secret replaced
    /// by `***`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        let mut secrets = self.url.secret_parts();
        if let Some(s) = &self.secret {
            secrets.push(s.expose().to_string());
        }
        secrets.retain(|s| !s.is_empty());
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for s in secrets {
            out = out.replace(&s, "***");
        }
        out
    }

    fn scrub_verdict(&self, verdict: Verdict) -> Verdict {
        match verdict {
            Verdict::Delivered => Verdict::Delivered,
            Verdict::Retryable {
                after,
                code,
                message,
            } => Verdict::Retryable {
                after,
                code,
                message: self.scrub(&message),
            },
            Verdict::Permanent {
                code,
                message,
                body_too_large,
            } => Verdict::Permanent {
                code,
                message: self.scrub(&message),
                body_too_large,
            },
        }
    }
}

fn error_chain(err: reqwest::Error) -> String {
    let mut message = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robot_urls_show_no_token() {
        let cases = [
            (
                "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa",
                "https://qyapi.weixin.qq.com/cgi-bin/webhook/send",
            ),
            (
                "https://oapi.dingtalk.com/robot/send?access_token=c0ffee1234",
                "https://oapi.dingtalk.com/robot/send",
            ),
            (
                "https://open.feishu.cn/open-apis/bot/v2/hook/abc-123",
                "https://open.feishu.cn/open-apis/bot/v2/hook/***",
            ),
            (
                "https://user:pw@example.org:8443/in/0123456789abcdef0123",
                "https://example.org:8443/in/***",
            ),
        ];
        for (url, shown) in cases {
            let r = RobotUrl::parse(url).unwrap();
            assert_eq!(r.to_string(), shown);
            assert_eq!(format!("{r:?}"), format!("RobotUrl({shown})"));
        }
        assert!(RobotUrl::parse("ftp://x.org/a").is_err());
        let err = RobotUrl::parse("https://exa mple.org/?key=SECRETKEY").unwrap_err();
        assert!(!err.to_string().contains("SECRETKEY"));
    }

    #[test]
    fn debug_and_scrub_hide_secrets() {
        let robot = Robot::new(
            "zj-ding",
            ChannelKind::Dingtalk,
            "https://oapi.dingtalk.com/robot/send?access_token=TOKEN123456",
            Some(Secret::new("SECabcdef")),
        )
        .unwrap();
        let debug = format!("{robot:?}");
        assert!(
            !debug.contains("TOKEN123456") && !debug.contains("SECabcdef"),
            "{debug}"
        );
        assert_eq!(
            robot.scrub("failed for https://oapi.dingtalk.com/robot/send?access_token=TOKEN123456 with SECabcdef; token TOKEN123456"),
            "failed for *** with ***; token ***"
        );
    }

    #[test]
    fn a_webhook_needs_its_secret() {
        assert!(matches!(
            Robot::new("hook", ChannelKind::Webhook, "https://example.org/in", None),
            Err(ChannelError::MissingSecret(ChannelKind::Webhook))
        ));
    }
}
