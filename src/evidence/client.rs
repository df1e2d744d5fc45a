//! The HTTP exchange with a Time-Stamp Authority (RFC 3161 §3.4): one
//! `TimeStampReq` POSTed as `application/timestamp-query`, the reply read
//! whole (capped). Basic-auth credentials go in the request header only;
//! no error or log line ever carries them.

use std::time::Duration;

use crate::config::TsaConfig;

/// The largest reply taken: a token with a certificate chain is a few KB.
const MAX_REPLY: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot set up the HTTP client")]
    Setup(#[source] reqwest::Error),
    #[error("TSA {tsa} ({url}) unreachable")]
    Unreachable {
        tsa: String,
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("TSA {tsa} ({url}) answered HTTP {status}")]
    Status {
        tsa: String,
        url: String,
        status: u16,
    },
    #[error("TSA {tsa} ({url}) sent a reply larger than {MAX_REPLY} bytes")]
    TooLarge { tsa: String, url: String },
}

/// An HTTP client for TSAs.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
}

impl Client {
    /// A client whose every exchange ends within `timeout`.
    pub fn new(user_agent: &str, timeout: Duration) -> Result<Client, ClientError> {
        crate::fetch::install_crypto();
        let http = reqwest::Client::builder()
            .user_agent(user_agent)
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(ClientError::Setup)?;
        Ok(Client { http })
    }

    /// POSTs `query` (a DER `TimeStampReq`) to `tsa`; the reply's bytes.
    pub async fn post(&self, tsa: &TsaConfig, query: &[u8]) -> Result<Vec<u8>, ClientError> {
        let url = tsa.url.as_str().to_string();
        let unreachable = |source| ClientError::Unreachable {
            tsa: tsa.id.clone(),
            url: url.clone(),
            source: strip(source),
        };
        let mut req = self
            .http
            .post(tsa.url.clone())
            .header("Content-Type", "application/timestamp-query")
            .header("Accept", "application/timestamp-reply")
            .body(query.to_vec());
        if let Some(user) = &tsa.username {
            req = req.basic_auth(user, tsa.password.as_ref());
        }
        let mut resp = req.send().await.map_err(unreachable)?;
        if !resp.status().is_success() {
            return Err(ClientError::Status {
                tsa: tsa.id.clone(),
                url,
                status: resp.status().as_u16(),
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(unreachable)? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_REPLY {
                return Err(ClientError::TooLarge {
                    tsa: tsa.id.clone(),
                    url,
                });
            }
        }
        Ok(body)
    }
}

/// reqwest's error without the URL it may repeat: ours is named already,
/// and carries no credentials (the configuration refuses them in URLs).
fn strip(e: reqwest::Error) -> reqwest::Error {
    e.without_url()
}
