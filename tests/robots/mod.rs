//! Loopback servers that behave like the chat platforms' robots: WeCom group
//! robot, DingTalk custom robot, Feishu custom bot, and a Standard Webhooks
//! receiver written from the spec. Each checks the token and the signature
//! the way the platform documents it, enforces the security keyword and the
//! byte limit, answers with the platform's real codes (HTTP 200 with a JSON
//! verdict for the chat robots), rate-limits over a window the test sets,
//! can be taken down (connections are accepted and dropped) and brought
//! back, can be told what to answer next, and records every message it
//! accepted.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Wecom,
    Dingtalk,
    Feishu,
    Webhook,
}

/// How a fake robot is set up.
#[derive(Debug, Clone)]
pub struct Setup {
    pub platform: Platform,
    /// WeCom `key`, DingTalk `access_token`, Feishu hook id (unused by the
    /// webhook receiver).
    pub token: String,
    /// DingTalk/Feishu signing secret, or the receiver's `whsec_…` secret.
    pub secret: Option<String>,
    /// The security keyword every message must contain.
    pub keyword: Option<String>,
    /// At most `rate.0` messages in any `rate.1`.
    pub rate: (usize, Duration),
    /// DingTalk: how long a robot stays throttled after 130101.
    pub throttle: Duration,
}

impl Setup {
    pub fn new(platform: Platform) -> Setup {
        Setup {
            platform,
            token: "tok3n-9f8e7d6c5b4a".to_string(),
            secret: None,
            keyword: None,
            rate: (20, Duration::from_secs(60)),
            throttle: Duration::from_secs(600),
        }
    }
    pub fn secret(mut self, secret: &str) -> Setup {
        self.secret = Some(secret.to_string());
        self
    }
    pub fn keyword(mut self, keyword: &str) -> Setup {
        self.keyword = Some(keyword.to_string());
        self
    }
    pub fn rate(mut self, count: usize, per: Duration) -> Setup {
        self.rate = (count, per);
        self
    }
    pub fn throttle(mut self, throttle: Duration) -> Setup {
        self.throttle = throttle;
        self
    }
}

/// A message the robot accepted.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub body: Value,
    /// The body's size as the platform counts it (WeCom: the markdown
    /// content; the others: the whole body).
    pub size: usize,
    pub webhook_id: Option<String>,
}

/// Every answer the robot gave: (code, message). The code is the JSON
/// code for the chat robots, the HTTP status for the webhook receiver.
pub type Answer = (i64, String);

#[derive(Default)]
struct State_ {
    down: bool,
    /// Answer only after this long (a hung platform).
    stall: Option<Duration>,
    next: VecDeque<Answer>,
    accepted: Vec<Accepted>,
    answers: Vec<Answer>,
    arrivals: VecDeque<Instant>,
    throttled_until: Option<Instant>,
    /// Webhook: attempts per `webhook-id`.
    attempts: HashMap<String, usize>,
}

struct Inner {
    setup: Setup,
    state: Mutex<State_>,
}

impl Inner {
    fn state(&self) -> std::sync::MutexGuard<'_, State_> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Clone)]
pub struct FakeRobot {
    inner: Arc<Inner>,
    addr: std::net::SocketAddr,
}

/// Accepts connections, and drops them at once while the robot is down.
struct DownListener {
    listener: TcpListener,
    inner: Arc<Inner>,
}

impl axum::serve::Listener for DownListener {
    type Io = TcpStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (TcpStream, std::net::SocketAddr) {
        loop {
            let Ok((stream, addr)) = self.listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            };
            if self.inner.state().down {
                drop(stream);
                continue;
            }
            return (stream, addr);
        }
    }

    fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }
}

impl FakeRobot {
    pub async fn start(setup: Setup) -> FakeRobot {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(Inner {
            setup,
            state: Mutex::new(State_::default()),
        });
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let listener = DownListener {
            listener,
            inner: inner.clone(),
        };
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeRobot { inner, addr }
    }

    /// The robot URL, token included, as the platform hands it out.
    pub fn url(&self) -> String {
        self.url_with_token(&self.inner.setup.token)
    }

    pub fn url_with_token(&self, token: &str) -> String {
        let base = format!("http://{}", self.addr);
        match self.inner.setup.platform {
            Platform::Wecom => format!("{base}/cgi-bin/webhook/send?key={token}"),
            Platform::Dingtalk => format!("{base}/robot/send?access_token={token}"),
            Platform::Feishu => format!("{base}/open-apis/bot/v2/hook/{token}"),
            Platform::Webhook => format!("{base}/bulletin"),
        }
    }

    /// Connections are dropped until [`FakeRobot::up`].
    pub fn down(&self) {
        self.inner.state().down = true;
    }
    pub fn up(&self) {
        self.inner.state().down = false;
    }

    /// Every request is answered only after `stall` (None: at once).
    pub fn stall(&self, stall: Option<Duration>) {
        self.inner.state().stall = stall;
    }

    /// The next request is answered with this code (JSON code, or HTTP
    /// status for the webhook receiver), whatever it carries.
    pub fn answer_next(&self, code: i64, message: &str) {
        self.inner
            .state()
            .next
            .push_back((code, message.to_string()));
    }

    pub fn accepted(&self) -> Vec<Accepted> {
        self.inner.state().accepted.clone()
    }
    pub fn answers(&self) -> Vec<Answer> {
        self.inner.state().answers.clone()
    }
    /// Answers other than success.
    pub fn refusals(&self) -> Vec<Answer> {
        self.answers()
            .into_iter()
            .filter(|(c, _)| *c != 0 && !(200..300).contains(c))
            .collect()
    }
    /// Webhook: how often each `webhook-id` arrived with a valid signature.
    pub fn attempts(&self) -> HashMap<String, usize> {
        self.inner.state().attempts.clone()
    }
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn query(uri: &Uri) -> HashMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn now_s() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// A chat robot's JSON verdict, HTTP 200 as the platforms answer.
fn verdict(platform: Platform, code: i64, message: &str) -> Response {
    let body = match platform {
        Platform::Feishu if code == 0 => json!({
            "StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"
        }),
        Platform::Feishu => json!({"code": code, "msg": message, "data": {}}),
        _ => json!({"errcode": code, "errmsg": message}),
    };
    let mut response = (StatusCode::OK, body.to_string()).into_response();
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    response
}

fn with_close(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert("connection", HeaderValue::from_static("close"));
    response
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let stall = inner.state().stall;
    if let Some(stall) = stall {
        tokio::time::sleep(stall).await;
    }
    let (code, message, response) = judge(&inner, &uri, &headers, &body);
    inner.state().answers.push((code, message));
    with_close(response)
}

/// The platform's decision on one request: (code, message, response).
fn judge(inner: &Inner, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> (i64, String, Response) {
    let setup = &inner.setup;
    let platform = setup.platform;
    let forced = inner.state().next.pop_front();
    if let Some((code, message)) = forced {
        let response = match platform {
            Platform::Webhook => {
                let status = StatusCode::from_u16(code as u16).unwrap_or(StatusCode::IM_A_TEAPOT);
                (status, message.clone()).into_response()
            }
            Platform::Feishu if code == 99991400 => rate_limited_feishu(1),
            _ => verdict(platform, code, &message),
        };
        return (code, message, response);
    }
    let refuse =
        |code: i64, message: &str| (code, message.to_string(), verdict(platform, code, message));
    match platform {
        Platform::Wecom => {
            if uri.path() != "/cgi-bin/webhook/send" || query(uri).get("key") != Some(&setup.token)
            {
                return refuse(93000, "invalid webhook url, hint: [1700000000_1_abc]");
            }
            let Ok(json) = serde_json::from_slice::<Value>(body) else {
                return refuse(40016, "invalid button size, or invalid json");
            };
            let content = match json["msgtype"].as_str() {
                Some("markdown") => json["markdown"]["content"].as_str(),
                Some("text") => json["text"]["content"].as_str(),
                _ => return refuse(40008, "invalid message type"),
            };
            let Some(content) = content else {
                return refuse(44004, "empty content");
            };
            if content.len() > 4096 {
                return refuse(40058, "markdown.content exceed max length 4096");
            }
            if !inner.admit(None) {
                return refuse(45009, "api freq out of limit");
            }
            let size = content.len();
            inner.accept(json, size, None);
            refuse(0, "ok")
        }
        Platform::Dingtalk => {
            let q = query(uri);
            if uri.path() != "/robot/send" || q.get("access_token") != Some(&setup.token) {
                return refuse(300005, "token is not exist");
            }
            if let Some(secret) = &setup.secret {
                let (Some(ts), Some(sign)) = (q.get("timestamp"), q.get("sign")) else {
                    return refuse(310000, "sign not match, more: [timestamp or sign missing]");
                };
                let Ok(ms) = ts.parse::<i64>() else {
                    return refuse(310000, "invalid timestamp");
                };
                if (now_s() * 1000 - ms).abs() > 3_600_000 {
                    return refuse(310000, "invalid timestamp");
                }
                let expected = STANDARD.encode(hmac_sha256(
                    secret.as_bytes(),
                    format!("{ts}\n{secret}").as_bytes(),
                ));
                if !same(expected.as_bytes(), sign.as_bytes()) {
                    return refuse(310000, "sign not match, more: [sign not match]");
                }
            }
            if body.len() > 20_000 {
                return refuse(460101, "message too long, exceed 20000 bytes");
            }
            let Ok(json) = serde_json::from_slice::<Value>(body) else {
                return refuse(40035, "缺少参数 json");
            };
            let text = match json["msgtype"].as_str() {
                Some("markdown") => format!(
                    "{}{}",
                    json["markdown"]["title"].as_str().unwrap_or(""),
                    json["markdown"]["text"].as_str().unwrap_or("")
                ),
                Some("text") => json["text"]["content"].as_str().unwrap_or("").to_string(),
                _ => return refuse(40035, "不合法的消息类型"),
            };
            if let Some(k) = &setup.keyword {
                if !text.contains(k.as_str()) {
                    return refuse(310000, "keywords not in content, more: [关键词不匹配]");
                }
            }
            if !inner.admit(Some(setup.throttle)) {
                return refuse(130101, "send too fast, exceed 20 times per minute");
            }
            inner.accept(json, body.len(), None);
            refuse(0, "ok")
        }
        Platform::Feishu => {
            let expected_path = format!("/open-apis/bot/v2/hook/{}", setup.token);
            if uri.path() != expected_path {
                return refuse(
                    19001,
                    "param invalid: incoming webhook access token invalid",
                );
            }
            if body.len() > 20_000 {
                return refuse(9499, "Bad Request: request body too large");
            }
            let Ok(mut json) = serde_json::from_slice::<Value>(body) else {
                return refuse(9499, "Bad Request");
            };
            if let Some(secret) = &setup.secret {
                let ts = json["timestamp"].as_str().unwrap_or("").to_string();
                let sign = json["sign"].as_str().unwrap_or("").to_string();
                let fresh = ts.parse::<i64>().is_ok_and(|t| (now_s() - t).abs() <= 3600);
                let expected =
                    STANDARD.encode(hmac_sha256(format!("{ts}\n{secret}").as_bytes(), b""));
                if !fresh || !same(expected.as_bytes(), sign.as_bytes()) {
                    return refuse(
                        19021,
                        "sign match fail or timestamp is not within one hour from current time",
                    );
                }
            }
            if let Some(k) = &setup.keyword {
                if !json["content"].to_string().contains(k.as_str()) {
                    return refuse(19024, "Key Words Not Found");
                }
            }
            if !inner.admit(None) {
                let reset = setup.rate.1.as_secs().max(1);
                return (
                    99991400,
                    "request trigger frequency limit".into(),
                    rate_limited_feishu(reset),
                );
            }
            if let Some(o) = json.as_object_mut() {
                o.remove("timestamp");
                o.remove("sign");
            }
            inner.accept(json, body.len(), None);
            refuse(0, "success")
        }
        Platform::Webhook => webhook(inner, headers, body),
    }
}

fn rate_limited_feishu(reset_s: u64) -> Response {
    let body = json!({"code": 99991400, "msg": "request trigger frequency limit", "data": {}});
    let mut response = (StatusCode::TOO_MANY_REQUESTS, body.to_string()).into_response();
    response.headers_mut().insert(
        "x-ogw-ratelimit-reset",
        HeaderValue::from_str(&reset_s.to_string()).unwrap(),
    );
    response
}

/// Standard Webhooks 1.0, receiver side: `webhook-id`, `webhook-timestamp`
/// and `webhook-signature` must be present; the timestamp within five
/// minutes of now; one of the space-separated `v1,<base64>` signatures
/// equal to HMAC-SHA256 keyed by the base64-decoded part of `whsec_…` over
/// `"{id}.{timestamp}.{body}"`. A repeated `webhook-id` is acknowledged and
/// not recorded again.
fn webhook(inner: &Inner, headers: &HeaderMap, body: &[u8]) -> (i64, String, Response) {
    let refuse = |status: StatusCode, why: &str| {
        (
            i64::from(status.as_u16()),
            why.to_string(),
            (status, why.to_string()).into_response(),
        )
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (Some(id), Some(ts), Some(signatures)) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    ) else {
        return refuse(StatusCode::BAD_REQUEST, "missing webhook headers");
    };
    let Ok(ts_s) = ts.parse::<i64>() else {
        return refuse(StatusCode::BAD_REQUEST, "bad timestamp");
    };
    if (now_s() - ts_s).abs() > 300 {
        return refuse(StatusCode::UNAUTHORIZED, "timestamp too old or too new");
    }
    let secret = inner.setup.secret.clone().unwrap_or_default();
    let Some(key) = secret
        .strip_prefix("whsec_")
        .and_then(|k| STANDARD.decode(k).ok())
    else {
        return refuse(StatusCode::INTERNAL_SERVER_ERROR, "receiver misconfigured");
    };
    let mut signed = format!("{id}.{ts}.").into_bytes();
    signed.extend_from_slice(body);
    let expected = STANDARD.encode(hmac_sha256(&key, &signed));
    let valid = signatures.split(' ').any(|s| {
        s.split_once(',')
            .is_some_and(|(v, sig)| v == "v1" && same(sig.as_bytes(), expected.as_bytes()))
    });
    if !valid {
        return refuse(StatusCode::UNAUTHORIZED, "no matching signature");
    }
    if header("idempotency-key").as_deref() != Some(id.as_str()) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "Idempotency-Key differs from webhook-id",
        );
    }
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        return refuse(StatusCode::BAD_REQUEST, "body is not JSON");
    };
    let first = {
        let mut state = inner.state();
        let n = state.attempts.entry(id.clone()).or_insert(0);
        *n += 1;
        *n == 1
    };
    if !first {
        return (
            204,
            "duplicate".into(),
            StatusCode::NO_CONTENT.into_response(),
        );
    }
    if !inner.admit(None) {
        inner.state().attempts.remove(&id);
        let mut r = refuse(StatusCode::TOO_MANY_REQUESTS, "slow down");
        r.2.headers_mut()
            .insert("retry-after", HeaderValue::from_static("1"));
        return r;
    }
    inner.accept(json, body.len(), Some(id));
    (
        204,
        "accepted".into(),
        StatusCode::NO_CONTENT.into_response(),
    )
}

impl Inner {
    /// Counts one arrival against the window; false when over the rate (or
    /// still throttled: DingTalk then throttles for `penalty`).
    fn admit(&self, penalty: Option<Duration>) -> bool {
        let (count, per) = self.setup.rate;
        let now = Instant::now();
        let mut state = self.state();
        if state.throttled_until.is_some_and(|t| t > now) {
            return false;
        }
        while state
            .arrivals
            .front()
            .is_some_and(|t| now.duration_since(*t) >= per)
        {
            state.arrivals.pop_front();
        }
        if state.arrivals.len() >= count {
            if let Some(p) = penalty {
                state.throttled_until = Some(now + p);
            }
            return false;
        }
        state.arrivals.push_back(now);
        true
    }

    fn accept(&self, body: Value, size: usize, webhook_id: Option<String>) {
        self.state().accepted.push(Accepted {
            body,
            size,
            webhook_id,
        });
    }
}

/// The secrets the channel suites configure, and the check that none of
/// them shows in an output, a log line or an error.
pub const DING_SECRET: &str = "SECb7f1a2c3d4e5f60718293a4b5c6d7e8f90";
pub const FEISHU_SECRET: &str = "fs-sign-5a6b7c8d9e";
pub const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const TOKEN: &str = "tok3n-9f8e7d6c5b4a";
pub const WRONG_TOKEN: &str = "wr0ng-t0ken-77a1b2c3";
pub const WRONG_SECRET: &str = "fs-wr0ng-s1gn-0a1b2c";
pub const SECRETS: [&str; 7] = [
    WRONG_SECRET,
    DING_SECRET,
    FEISHU_SECRET,
    WHSEC,
    "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    TOKEN,
    WRONG_TOKEN,
];

#[track_caller]
pub fn assert_clean(what: &str, text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{what} shows secret {s:?}:\n{text}");
    }
}
