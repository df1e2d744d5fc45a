//! Polite HTTP fetching. Government sites are slow and fragile, so every
//! request here is bounded (connect and total timeouts, a body-size cap, a
//! redirect limit), conditional when we have validators from the last fetch,
//! retried only when retrying can help, and paced per host by [`Politeness`].
//!
//! Redirects are followed by hand rather than by reqwest so that every hop is
//! checked against the source's allowed hosts: a listing link or a redirect
//! must never make us fetch some other host.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::StatusCode;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::Url;

use crate::config::{HostPolicy, Settings};
use crate::model::Validators;

/// Installs the process-wide rustls crypto provider (ring) once. reqwest and
/// lettre are built without a provider of their own so that only one is linked.
pub fn install_crypto() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// What one fetch brought back.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub fetched_at: jiff::Timestamp,
    pub requested_url: Url,
    pub final_url: Url,
    pub status: u16,
    pub content_type: Option<String>,
    pub validators: Validators,
    /// Empty for a 304.
    pub body: Vec<u8>,
    pub not_modified: bool,
    pub elapsed: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{url}: timed out after {secs:.0} s")]
    Timeout { url: Url, secs: f64 },
    #[error("{url}: cannot connect: {message}")]
    Connect { url: Url, message: String },
    #[error("{url}: HTTP {status}")]
    Status {
        url: Url,
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("{url}: body larger than the {limit}-byte limit (max_body_bytes)")]
    TooLarge { url: Url, limit: u64 },
    #[error("{url}: more than {limit} redirects")]
    TooManyRedirects { url: Url, limit: usize },
    #[error("{url}: redirect to {target} leaves the allowed hosts")]
    ForbiddenRedirect { url: Url, target: String },
    #[error("{url}: host is not allowed for this source")]
    ForbiddenHost { url: Url },
    #[error("{url}: {message}")]
    Body { url: Url, message: String },
    #[error("{url}: {message}")]
    Other { url: Url, message: String },
}

impl FetchError {
    /// Whether trying again soon has a chance of working.
    pub fn is_transient(&self) -> bool {
        match self {
            FetchError::Timeout { .. } | FetchError::Connect { .. } | FetchError::Body { .. } => {
                true
            }
            FetchError::Status {
                status,
                retry_after,
                ..
            } => retry_after.is_none() && matches!(status, 500 | 502 | 503 | 504),
            _ => false,
        }
    }

    /// The server's Retry-After, if it sent one (429/503).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// The HTTP client with the settings applied.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    timeout: Duration,
    max_body: u64,
    max_redirects: usize,
    retries: u32,
    retry_base: Duration,
}

impl Fetcher {
    pub fn new(settings: &Settings) -> Result<Fetcher, reqwest::Error> {
        install_crypto();
        let client = reqwest::Client::builder()
            .user_agent(settings.user_agent.clone())
            .connect_timeout(settings.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(30))
            .build()?;
        Ok(Fetcher {
            client,
            timeout: settings.timeout,
            max_body: settings.max_body_bytes,
            max_redirects: settings.max_redirects,
            retries: settings.retries,
            retry_base: Duration::from_millis(500),
        })
    }

    /// Shortens the pause between retries (tests and benchmarks).
    pub fn with_retry_base(mut self, base: Duration) -> Self {
        self.retry_base = base;
        self
    }

    /// Fetches `url`, following redirects only to hosts that `allow` accepts,
    /// retrying transient failures a few times with a growing pause.
    pub async fn fetch(
        &self,
        url: &Url,
        validators: Option<&Validators>,
        allow: &(dyn Fn(&Url) -> bool + Sync),
    ) -> Result<Fetched, FetchError> {
        let mut attempt = 0;
        loop {
            match self.fetch_once(url, validators, allow).await {
                Err(e) if e.is_transient() && attempt < self.retries => {
                    attempt += 1;
                    let pause = self.retry_base * 2u32.pow(attempt - 1);
                    tracing::debug!(%url, attempt, error = %e, "retrying after {pause:?}");
                    tokio::time::sleep(pause).await;
                }
                other => return other,
            }
        }
    }

    async fn fetch_once(
        &self,
        url: &Url,
        validators: Option<&Validators>,
        allow: &(dyn Fn(&Url) -> bool + Sync),
    ) -> Result<Fetched, FetchError> {
        if !allow(url) || !is_fetchable(url) {
            return Err(FetchError::ForbiddenHost { url: url.clone() });
        }
        let started = Instant::now();
        let deadline = started + self.timeout;
        let mut current = url.clone();
        let mut hops = 0;
        let response = loop {
            let mut req = self.client.get(current.clone());
            // Validators only make sense for the URL they were issued for.
            if let (Some(v), 0) = (validators, hops) {
                if let Some(etag) = v
                    .etag
                    .as_deref()
                    .and_then(|e| HeaderValue::from_str(e).ok())
                {
                    req = req.header(header::IF_NONE_MATCH, etag);
                }
                if let Some(lm) = v
                    .last_modified
                    .as_deref()
                    .and_then(|e| HeaderValue::from_str(e).ok())
                {
                    req = req.header(header::IF_MODIFIED_SINCE, lm);
                }
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            let resp = tokio::time::timeout(
                remaining,
                req.timeout(remaining.max(Duration::from_millis(1))).send(),
            )
            .await
            .map_err(|_| self.timeout_error(url))?
            .map_err(|e| self.classify(url, e))?;
            if resp.status().is_redirection() && resp.status() != StatusCode::NOT_MODIFIED {
                let Some(location) = resp
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                else {
                    break resp;
                };
                let target = current.join(location).map_err(|e| FetchError::Other {
                    url: url.clone(),
                    message: format!("bad redirect location {location:?}: {e}"),
                })?;
                hops += 1;
                if hops > self.max_redirects {
                    return Err(FetchError::TooManyRedirects {
                        url: url.clone(),
                        limit: self.max_redirects,
                    });
                }
                if !allow(&target) || !is_fetchable(&target) {
                    return Err(FetchError::ForbiddenRedirect {
                        url: url.clone(),
                        target: target.to_string(),
                    });
                }
                current = target;
                continue;
            }
            break resp;
        };

        let status = response.status();
        let headers = response.headers().clone();
        let header_str = |h: &HeaderMap, name| {
            h.get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        let found_validators = Validators {
            etag: header_str(&headers, header::ETAG),
            last_modified: header_str(&headers, header::LAST_MODIFIED),
        };
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched {
                fetched_at: jiff::Timestamp::now(),
                requested_url: url.clone(),
                final_url: current,
                status: status.as_u16(),
                content_type: header_str(&headers, header::CONTENT_TYPE),
                validators: validators.cloned().unwrap_or_default(),
                body: Vec::new(),
                not_modified: true,
                elapsed: started.elapsed(),
            });
        }
        if !status.is_success() {
            return Err(FetchError::Status {
                url: url.clone(),
                status: status.as_u16(),
                retry_after: header_str(&headers, header::RETRY_AFTER)
                    .and_then(|v| parse_retry_after(&v)),
            });
        }
        if response.content_length().is_some_and(|n| n > self.max_body) {
            return Err(FetchError::TooLarge {
                url: url.clone(),
                limit: self.max_body,
            });
        }
        let body = self.read_body(url, response, deadline).await?;
        Ok(Fetched {
            fetched_at: jiff::Timestamp::now(),
            requested_url: url.clone(),
            final_url: current,
            status: status.as_u16(),
            content_type: header_str(&headers, header::CONTENT_TYPE),
            validators: found_validators,
            body,
            not_modified: false,
            elapsed: started.elapsed(),
        })
    }

    /// Reads the body chunk by chunk so that an oversized or endless body is
    /// cut off at the limit instead of exhausting memory.
    async fn read_body(
        &self,
        url: &Url,
        mut response: reqwest::Response,
        deadline: Instant,
    ) -> Result<Vec<u8>, FetchError> {
        let mut body = Vec::new();
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let chunk = tokio::time::timeout(remaining, response.chunk())
                .await
                .map_err(|_| self.timeout_error(url))?
                .map_err(|e| self.classify(url, e))?;
            let Some(chunk) = chunk else { break };
            if body.len() as u64 + chunk.len() as u64 > self.max_body {
                return Err(FetchError::TooLarge {
                    url: url.clone(),
                    limit: self.max_body,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn timeout_error(&self, url: &Url) -> FetchError {
        FetchError::Timeout {
            url: url.clone(),
            secs: self.timeout.as_secs_f64(),
        }
    }

    fn classify(&self, url: &Url, e: reqwest::Error) -> FetchError {
        if e.is_timeout() {
            return self.timeout_error(url);
        }
        let message = error_chain(&e);
        if e.is_connect() {
            FetchError::Connect {
                url: url.clone(),
                message,
            }
        } else if e.is_body() || e.is_decode() {
            FetchError::Body {
                url: url.clone(),
                message: format!("reading body: {message}"),
            }
        } else {
            FetchError::Other {
                url: url.clone(),
                message,
            }
        }
    }
}

/// Only http(s) URLs with a host are ever requested.
fn is_fetchable(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https") && url.host().is_some()
}

/// reqwest's Display hides the cause ("error sending request"); the chain
/// says what actually happened ("connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

/// Retry-After as seconds or an HTTP date.
fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = jiff::fmt::rfc2822::parse(v).ok()?.timestamp();
    let secs = when.as_second() - jiff::Timestamp::now().as_second();
    Some(Duration::from_secs(secs.max(0) as u64))
}

/// The pacing slot of a URL: host and port (two servers on one machine are
/// two sites).
pub fn slot_key(url: &Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or_default().to_ascii_lowercase(),
        url.port_or_known_default().unwrap_or(0)
    )
}

/// Per-host pacing: at most `concurrency` requests at once to a host, and at
/// least `interval` between the starts of two requests. A server that says
/// Retry-After pushes its host's next slot back.
#[derive(Default)]
pub struct Politeness {
    hosts: Mutex<HashMap<String, Arc<HostSlot>>>,
}

struct HostSlot {
    permits: Arc<Semaphore>,
    interval: Duration,
    next_start: tokio::sync::Mutex<Instant>,
}

/// Held while a request to a host is in flight.
pub struct HostPermit {
    _permit: Option<OwnedSemaphorePermit>,
}

impl Politeness {
    pub fn new() -> Self {
        Self::default()
    }

    fn slot(&self, host: &str, policy: &HostPolicy) -> Arc<HostSlot> {
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        hosts
            .entry(host.to_string())
            .or_insert_with(|| {
                Arc::new(HostSlot {
                    permits: Arc::new(Semaphore::new(policy.concurrency.max(1))),
                    interval: policy.interval,
                    next_start: tokio::sync::Mutex::new(Instant::now()),
                })
            })
            .clone()
    }

    /// Waits for this host's turn.
    pub async fn acquire(&self, host: &str, policy: &HostPolicy) -> HostPermit {
        let slot = self.slot(host, policy);
        // The semaphore is never closed, so this is always a permit.
        let permit = slot.permits.clone().acquire_owned().await.ok();
        let mut next = slot.next_start.lock().await;
        let now = Instant::now();
        if *next > now {
            tokio::time::sleep_until((*next).into()).await;
        }
        *next = Instant::now() + slot.interval;
        HostPermit { _permit: permit }
    }

    /// Honours a server's Retry-After: no request to `host` before `pause` ends.
    pub async fn back_off(&self, host: &str, policy: &HostPolicy, pause: Duration) {
        let slot = self.slot(host, policy);
        let mut next = slot.next_start.lock().await;
        let until = Instant::now() + pause.min(Duration::from_secs(6 * 3600));
        if until > *next {
            *next = until;
        }
    }

    /// Forgets all hosts (after a configuration reload changed the policies).
    pub fn reset(&self) {
        self.hosts.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[tokio::test]
    async fn a_zero_interval_means_no_pause() {
        let p = Politeness::new();
        let policy = HostPolicy {
            concurrency: 1,
            interval: Duration::ZERO,
        };
        let start = Instant::now();
        for _ in 0..20 {
            let _g = p.acquire("intranet.example", &policy).await;
        }
        assert!(start.elapsed() < Duration::from_millis(200));
    }

    #[tokio::test]
    async fn politeness_spaces_requests_to_one_host() {
        let p = Politeness::new();
        let policy = HostPolicy {
            concurrency: 1,
            interval: Duration::from_millis(300),
        };
        let start = Instant::now();
        for _ in 0..3 {
            let _g = p.acquire("example.org", &policy).await;
        }
        // Three starts need two full intervals between them.
        assert!(start.elapsed() >= Duration::from_millis(600));
        let other = Instant::now();
        let _g = p.acquire("other.example", &policy).await;
        assert!(other.elapsed() < Duration::from_millis(250));
    }
}
