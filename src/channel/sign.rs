//! Request signing for the robots that check one: DingTalk 加签, Feishu
//! 签名校验 and Standard Webhooks 1.0. Each function takes its timestamp as
//! an argument so that it can be checked against fixed vectors; the client
//! passes the current time.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::ChannelError;

type HmacSha256 = Hmac<Sha256>;

/// A signing secret. Its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }
    /// The secret itself, for signing and for scrubbing it out of messages.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Result<[u8; 32], ChannelError> {
    let mut mac = HmacSha256::new_from_slice(key).map_err(|_| ChannelError::SigningKey)?;
    mac.update(message);
    Ok(mac.finalize().into_bytes().into())
}

/// DingTalk 加签: base64 of HMAC-SHA256 keyed by the secret over
/// `"{timestamp_ms}\n{secret}"` (not yet URL-encoded).
pub fn dingtalk_sign(secret: &Secret, timestamp_ms: i64) -> Result<String, ChannelError> {
    let message = format!("{timestamp_ms}\n{}", secret.expose());
    Ok(STANDARD.encode(hmac_sha256(secret.expose().as_bytes(), message.as_bytes())?))
}

/// The robot URL with DingTalk's `&timestamp=…&sign=…` appended, the
/// signature URL-encoded.
pub fn dingtalk_signed_url(
    url: &url::Url,
    secret: &Secret,
    timestamp_ms: i64,
) -> Result<url::Url, ChannelError> {
    let sign = dingtalk_sign(secret, timestamp_ms)?;
    let mut signed = url.clone();
    signed
        .query_pairs_mut()
        .append_pair("timestamp", &timestamp_ms.to_string())
        .append_pair("sign", &sign);
    Ok(signed)
}

/// Feishu 签名校验: base64 of HMAC-SHA256 keyed by
/// `"{timestamp_s}\n{secret}"` over an empty message.
pub fn feishu_sign(secret: &Secret, timestamp_s: i64) -> Result<String, ChannelError> {
    let key = format!("{timestamp_s}\n{}", secret.expose());
    Ok(STANDARD.encode(hmac_sha256(key.as_bytes(), b"")?))
}

/// A Standard Webhooks secret, given as `whsec_<base64>`: the key is the
/// decoded part.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookKey {
    key: Vec<u8>,
}

impl std::fmt::Debug for WebhookKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookKey(***)")
    }
}

impl WebhookKey {
    /// Parses `whsec_<base64>`. The error never contains the secret.
    pub fn parse(secret: &Secret) -> Result<WebhookKey, ChannelError> {
        let encoded = secret
            .expose()
            .strip_prefix("whsec_")
            .ok_or(ChannelError::WebhookSecret("it must start with whsec_"))?;
        let key = STANDARD
            .decode(encoded.trim())
            .map_err(|_| ChannelError::WebhookSecret("the part after whsec_ is not base64"))?;
        if key.is_empty() {
            return Err(ChannelError::WebhookSecret("the key is empty"));
        }
        Ok(WebhookKey { key })
    }

    /// `v1,<base64 of HMAC-SHA256 over "{id}.{timestamp}.{body}">`, the
    /// value of the `webhook-signature` header.
    pub fn signature(
        &self,
        id: &str,
        timestamp_s: i64,
        body: &[u8],
    ) -> Result<String, ChannelError> {
        let mut message = Vec::with_capacity(id.len() + body.len() + 24);
        message.extend_from_slice(id.as_bytes());
        message.push(b'.');
        message.extend_from_slice(timestamp_s.to_string().as_bytes());
        message.push(b'.');
        message.extend_from_slice(body);
        Ok(format!(
            "v1,{}",
            STANDARD.encode(hmac_sha256(&self.key, &message)?)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values computed independently with Python 3's standard library:
    //   base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest())
    // and urllib.parse.quote_plus for the URL-encoded DingTalk signature.

    #[test]
    fn dingtalk_vector() {
        // key = b"SEC0123456789abcdef", msg = b"1700000000000\nSEC0123456789abcdef"
        let secret = Secret::new("SEC0123456789abcdef");
        assert_eq!(
            dingtalk_sign(&secret, 1_700_000_000_000).unwrap(),
            "TSZbRFUuvaSQaRKUpF970OPCb2/LcQAP3wOvwZIzBZk="
        );
        let url = url::Url::parse("https://oapi.dingtalk.com/robot/send?access_token=abc").unwrap();
        let signed = dingtalk_signed_url(&url, &secret, 1_700_000_000_000).unwrap();
        assert_eq!(
            signed.as_str(),
            "https://oapi.dingtalk.com/robot/send?access_token=abc&timestamp=1700000000000\
             &sign=TSZbRFUuvaSQaRKUpF970OPCb2%2FLcQAP3wOvwZIzBZk%3D"
        );
    }

    #[test]
    fn feishu_vector() {
        // key = b"1700000000\nfeishu-secret", msg = b""
        let secret = Secret::new("feishu-secret");
        assert_eq!(
            feishu_sign(&secret, 1_700_000_000).unwrap(),
            "OrBzY1Y01Gq+HgJsl+7OfWcMVwc7YocohQm5iiZwjhU="
        );
    }

    #[test]
    fn standard_webhooks_vector() {
        // The example of the Standard Webhooks 1.0 spec; recomputed with
        // key = base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        // msg = b'msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}'.
        let key =
            WebhookKey::parse(&Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")).unwrap();
        assert_eq!(
            key.signature(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#
            )
            .unwrap(),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn bad_webhook_secrets_are_refused_without_showing_them() {
        for bad in [
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_!!notbase64!!",
            "whsec_",
        ] {
            let err = WebhookKey::parse(&Secret::new(bad))
                .unwrap_err()
                .to_string();
            assert!(!err.contains("MfKQ") && !err.contains("notbase64"), "{err}");
        }
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
    }
}
