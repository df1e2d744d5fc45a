//! What a robot's answer means. All three chat platforms answer HTTP 200
//! and put the verdict in a JSON code (`errcode`, `code` or the older
//! `StatusCode`), so the HTTP status alone says little: a revoked key, a
//! wrong signature, a missing keyword or a rate limit all arrive as 200.
//! These functions read both, per platform, into one [`Verdict`].

use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};

/// DingTalk throttles a robot for about ten minutes after 130101.
pub const DINGTALK_THROTTLE: Duration = Duration::from_secs(600);
/// WeCom counts 20 messages per minute; after 45009 wait for the window.
pub const WECOM_WINDOW: Duration = Duration::from_secs(60);
/// Platform replies are short; a long one is cut in what we record.
const MAX_MESSAGE_CHARS: usize = 300;

/// The outcome of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    Delivered,
    /// Try again later: rate limit, platform busy, outage, timeout.
    /// `after` is the pause the platform asked for, when it said one.
    Retryable {
        #[serde(with = "opt_secs", default)]
        after: Option<Duration>,
        code: Option<i64>,
        message: String,
    },
    /// Trying the same body again cannot succeed until someone changes the
    /// configuration (key, secret, keyword) — or, with `body_too_large`,
    /// the body itself.
    Permanent {
        code: Option<i64>,
        message: String,
        body_too_large: bool,
    },
}

mod opt_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let secs = Option::<f64>::deserialize(d)?;
        Ok(secs
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64))
    }
}

impl Verdict {
    pub fn is_delivered(&self) -> bool {
        matches!(self, Verdict::Delivered)
    }
    pub fn is_permanent(&self) -> bool {
        matches!(self, Verdict::Permanent { .. })
    }
    /// The platform's code, when it gave one.
    pub fn code(&self) -> Option<i64> {
        match self {
            Verdict::Delivered => None,
            Verdict::Retryable { code, .. } | Verdict::Permanent { code, .. } => *code,
        }
    }

    fn retry(after: Option<Duration>, code: Option<i64>, message: impl Into<String>) -> Verdict {
        Verdict::Retryable {
            after,
            code,
            message: clip(message.into()),
        }
    }
    fn permanent(code: Option<i64>, message: impl Into<String>) -> Verdict {
        Verdict::Permanent {
            code,
            message: clip(message.into()),
            body_too_large: false,
        }
    }
    fn too_large(code: Option<i64>, message: impl Into<String>) -> Verdict {
        Verdict::Permanent {
            code,
            message: clip(message.into()),
            body_too_large: true,
        }
    }

    /// A request that got no answer (connection refused or reset, timeout)
    /// may be tried again. The message must already be free of secrets:
    /// the client builds it from a URL-less error.
    pub fn unreachable(message: impl Into<String>) -> Verdict {
        Verdict::retry(None, None, message)
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let code = |c: &Option<i64>| c.map(|c| format!(" (code {c})")).unwrap_or_default();
        match self {
            Verdict::Delivered => f.write_str("delivered"),
            Verdict::Retryable {
                after,
                code: c,
                message,
            } => {
                write!(f, "retryable{}: {message}", code(c))?;
                if let Some(after) = after {
                    write!(f, "; retry after {}s", after.as_secs())?;
                }
                Ok(())
            }
            Verdict::Permanent {
                code: c,
                message,
                body_too_large,
            } => {
                write!(f, "permanent{}: {message}", code(c))?;
                if *body_too_large {
                    f.write_str(" (body too large)")?;
                }
                Ok(())
            }
        }
    }
}

fn clip(message: String) -> String {
    if message.chars().count() <= MAX_MESSAGE_CHARS {
        return message;
    }
    let mut cut: String = message.chars().take(MAX_MESSAGE_CHARS).collect();
    cut.push('…');
    cut
}

/// The JSON fields the platforms use, under every name they have used.
#[derive(Debug, Default, Deserialize)]
struct Reply {
    errcode: Option<i64>,
    errmsg: Option<String>,
    code: Option<i64>,
    msg: Option<String>,
    #[serde(rename = "StatusCode")]
    status_code: Option<i64>,
    #[serde(rename = "StatusMessage")]
    status_message: Option<String>,
}

impl Reply {
    fn parse(body: &[u8]) -> Option<Reply> {
        serde_json::from_slice(body).ok()
    }
    fn errcode(&self) -> Option<(i64, String)> {
        self.errcode
            .map(|c| (c, self.errmsg.clone().unwrap_or_default()))
    }
    /// Feishu: `code`/`msg`, or the older `StatusCode`/`StatusMessage`. A
    /// non-zero value in either wins over a zero in the other.
    fn feishu(&self) -> Option<(i64, String)> {
        let new = self.code.map(|c| (c, self.msg.clone().unwrap_or_default()));
        let old = self
            .status_code
            .map(|c| (c, self.status_message.clone().unwrap_or_default()));
        match (new, old) {
            (Some(n), Some(o)) => Some(if n.0 == 0 { o } else { n }),
            (n, o) => n.or(o),
        }
    }
}

/// The verdict from the HTTP status alone, for answers without a JSON
/// code (a proxy's error page, a generic webhook receiver).
fn by_status(status: StatusCode, headers: &HeaderMap) -> Verdict {
    let code = Some(i64::from(status.as_u16()));
    let message = format!("HTTP {status}");
    if status.is_success() {
        return Verdict::Delivered;
    }
    match status.as_u16() {
        408 | 425 | 429 | 500..=599 => Verdict::retry(retry_after(headers), code, message),
        413 => Verdict::too_large(code, message),
        _ => Verdict::permanent(code, message),
    }
}

/// A 2xx answer whose body we cannot read: the robot may or may not have
/// taken it. A repeat is better than a loss, so it is tried again.
fn unreadable(status: StatusCode) -> Verdict {
    Verdict::retry(
        None,
        None,
        format!("HTTP {status} with an unreadable reply"),
    )
}

/// `Retry-After`: delay-seconds or an HTTP-date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let wait = when.duration_since(jiff::Timestamp::now());
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

/// WeCom group robot (`errcode`/`errmsg`).
pub fn wecom(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Verdict {
    let Some((code, msg)) = Reply::parse(body).and_then(|r| r.errcode()) else {
        return if status.is_success() {
            unreadable(status)
        } else {
            by_status(status, headers)
        };
    };
    match code {
        0 if status.is_success() => Verdict::Delivered,
        0 => by_status(status, headers),
        45009 => Verdict::retry(Some(WECOM_WINDOW), Some(code), msg),
        -1 => Verdict::retry(None, Some(code), msg),
        40058 => Verdict::too_large(Some(code), msg),
        _ => Verdict::permanent(Some(code), msg),
    }
}

/// DingTalk custom robot (`errcode`/`errmsg`).
pub fn dingtalk(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Verdict {
    let Some((code, msg)) = Reply::parse(body).and_then(|r| r.errcode()) else {
        return if status.is_success() {
            unreadable(status)
        } else {
            by_status(status, headers)
        };
    };
    match code {
        0 if status.is_success() => Verdict::Delivered,
        0 => by_status(status, headers),
        130101 => Verdict::retry(Some(DINGTALK_THROTTLE), Some(code), msg),
        460101 => Verdict::too_large(Some(code), msg),
        _ => Verdict::permanent(Some(code), msg),
    }
}

/// Feishu custom bot (`code`/`msg`, or `StatusCode`/`StatusMessage`).
pub fn feishu(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Verdict {
    let reset = headers
        .get("x-ogw-ratelimit-reset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let reply = Reply::parse(body).and_then(|r| r.feishu());
    if status == StatusCode::TOO_MANY_REQUESTS {
        let (code, msg) = reply.unwrap_or((99991400, "HTTP 429 Too Many Requests".into()));
        return Verdict::retry(reset.or_else(|| retry_after(headers)), Some(code), msg);
    }
    let Some((code, msg)) = reply else {
        return if status.is_success() {
            unreadable(status)
        } else {
            by_status(status, headers)
        };
    };
    match code {
        0 if status.is_success() => Verdict::Delivered,
        0 => by_status(status, headers),
        11232 | 99991400 => Verdict::retry(reset, Some(code), msg),
        _ => Verdict::permanent(Some(code), msg),
    }
}

/// A Standard Webhooks receiver: the HTTP status decides.
pub fn webhook(status: StatusCode, headers: &HeaderMap, _body: &[u8]) -> Verdict {
    by_status(status, headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> StatusCode {
        StatusCode::OK
    }
    fn none() -> HeaderMap {
        HeaderMap::new()
    }

    #[test]
    fn wecom_codes() {
        assert_eq!(
            wecom(ok(), &none(), br#"{"errcode":0,"errmsg":"ok"}"#),
            Verdict::Delivered
        );
        let v = wecom(
            ok(),
            &none(),
            br#"{"errcode":45009,"errmsg":"api freq out of limit"}"#,
        );
        assert_eq!(
            v,
            Verdict::Retryable {
                after: Some(WECOM_WINDOW),
                code: Some(45009),
                message: "api freq out of limit".into()
            }
        );
        assert!(matches!(
            wecom(ok(), &none(), br#"{"errcode":-1,"errmsg":"system busy"}"#),
            Verdict::Retryable { code: Some(-1), .. }
        ));
        assert_eq!(
            wecom(
                ok(),
                &none(),
                br#"{"errcode":93000,"errmsg":"invalid webhook url"}"#
            ),
            Verdict::Permanent {
                code: Some(93000),
                message: "invalid webhook url".into(),
                body_too_large: false
            }
        );
        assert!(matches!(
            wecom(
                ok(),
                &none(),
                br#"{"errcode":40058,"errmsg":"content exceed max length"}"#
            ),
            Verdict::Permanent {
                code: Some(40058),
                body_too_large: true,
                ..
            }
        ));
        assert!(matches!(
            wecom(
                ok(),
                &none(),
                br#"{"errcode":40008,"errmsg":"invalid message type"}"#
            ),
            Verdict::Permanent {
                code: Some(40008),
                body_too_large: false,
                ..
            }
        ));
        assert!(matches!(
            wecom(ok(), &none(), b"<html>"),
            Verdict::Retryable { .. }
        ));
        assert!(matches!(
            wecom(StatusCode::BAD_GATEWAY, &none(), b"<html>"),
            Verdict::Retryable {
                code: Some(502),
                ..
            }
        ));
    }

    #[test]
    fn dingtalk_codes() {
        assert_eq!(
            dingtalk(ok(), &none(), br#"{"errcode":0,"errmsg":"ok"}"#),
            Verdict::Delivered
        );
        assert!(matches!(
            dingtalk(
                ok(),
                &none(),
                br#"{"errcode":130101,"errmsg":"send too fast"}"#
            ),
            Verdict::Retryable {
                code: Some(130101),
                after: Some(DINGTALK_THROTTLE),
                ..
            }
        ));
        assert_eq!(
            dingtalk(
                ok(),
                &none(),
                "{\"errcode\":310000,\"errmsg\":\"keywords not in content\"}".as_bytes()
            ),
            Verdict::Permanent {
                code: Some(310000),
                message: "keywords not in content".into(),
                body_too_large: false
            }
        );
        assert!(matches!(
            dingtalk(
                ok(),
                &none(),
                br#"{"errcode":460101,"errmsg":"message too long"}"#
            ),
            Verdict::Permanent {
                code: Some(460101),
                body_too_large: true,
                ..
            }
        ));
        assert!(matches!(
            dingtalk(
                ok(),
                &none(),
                br#"{"errcode":300005,"errmsg":"token is not exist"}"#
            ),
            Verdict::Permanent {
                code: Some(300005),
                ..
            }
        ));
    }

    #[test]
    fn feishu_codes_new_and_old() {
        assert_eq!(
            feishu(ok(), &none(), br#"{"code":0,"msg":"success","data":{}}"#),
            Verdict::Delivered
        );
        assert_eq!(
            feishu(
                ok(),
                &none(),
                br#"{"StatusCode":0,"StatusMessage":"success"}"#
            ),
            Verdict::Delivered
        );
        assert!(matches!(
            feishu(
                ok(),
                &none(),
                br#"{"code":11232,"msg":"frequency limited"}"#
            ),
            Verdict::Retryable {
                code: Some(11232),
                ..
            }
        ));
        let mut h = HeaderMap::new();
        h.insert("x-ogw-ratelimit-reset", "7".parse().unwrap());
        assert_eq!(
            feishu(
                StatusCode::TOO_MANY_REQUESTS,
                &h,
                br#"{"code":99991400,"msg":"request trigger frequency limit"}"#
            ),
            Verdict::Retryable {
                after: Some(Duration::from_secs(7)),
                code: Some(99991400),
                message: "request trigger frequency limit".into()
            }
        );
        for (body, code) in [
            (
                r#"{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}"#,
                19021,
            ),
            (r#"{"code":19024,"msg":"Key Words Not Found"}"#, 19024),
            (r#"{"code":9499,"msg":"Bad Request"}"#, 9499),
            (
                r#"{"StatusCode":19021,"StatusMessage":"sign match fail"}"#,
                19021,
            ),
        ] {
            assert!(
                matches!(feishu(ok(), &none(), body.as_bytes()), Verdict::Permanent { code: Some(c), .. } if c == code),
                "{body}"
            );
        }
        // A 400 with a JSON code is read by its code.
        assert!(matches!(
            feishu(
                StatusCode::BAD_REQUEST,
                &none(),
                br#"{"code":9499,"msg":"Bad Request"}"#
            ),
            Verdict::Permanent {
                code: Some(9499),
                ..
            }
        ));
    }

    #[test]
    fn webhook_statuses() {
        assert_eq!(
            webhook(StatusCode::NO_CONTENT, &none(), b""),
            Verdict::Delivered
        );
        let mut h = HeaderMap::new();
        h.insert("retry-after", "120".parse().unwrap());
        for s in [408u16, 425, 429, 500, 503] {
            let v = webhook(StatusCode::from_u16(s).unwrap(), &h, b"");
            assert_eq!(
                v,
                Verdict::Retryable {
                    after: Some(Duration::from_secs(120)),
                    code: Some(i64::from(s)),
                    message: format!("HTTP {}", StatusCode::from_u16(s).unwrap())
                }
            );
        }
        for s in [400u16, 401, 403, 404, 410, 422] {
            assert!(
                webhook(StatusCode::from_u16(s).unwrap(), &none(), b"").is_permanent(),
                "{s}"
            );
        }
        let mut h = HeaderMap::new();
        let later = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(3600);
        h.insert(
            "retry-after",
            jiff::fmt::rfc2822::to_string(&later.in_tz("UTC").unwrap())
                .unwrap()
                .parse()
                .unwrap(),
        );
        let Verdict::Retryable {
            after: Some(after), ..
        } = webhook(StatusCode::SERVICE_UNAVAILABLE, &h, b"")
        else {
            panic!("an HTTP-date Retry-After is read");
        };
        assert!(after > Duration::from_secs(3500) && after <= Duration::from_secs(3600));
    }

    #[test]
    fn retry_after_reads_an_imf_fixdate() {
        let mut h = HeaderMap::new();
        h.insert(
            "retry-after",
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
        );
        assert_eq!(
            retry_after(&h),
            Some(Duration::ZERO),
            "a date in the past: now"
        );
        h.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn verdicts_round_trip_through_json() {
        for v in [
            Verdict::Delivered,
            Verdict::Retryable {
                after: Some(Duration::from_secs(600)),
                code: Some(130101),
                message: "send too fast".into(),
            },
            Verdict::Permanent {
                code: Some(93000),
                message: "invalid webhook url".into(),
                body_too_large: false,
            },
        ] {
            let json = serde_json::to_string(&v).unwrap();
            assert_eq!(serde_json::from_str::<Verdict>(&json).unwrap(), v, "{json}");
        }
    }
}
