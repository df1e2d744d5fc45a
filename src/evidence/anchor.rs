//! One anchoring round: the Merkle root over the chain heads as they are
//! now, sent to every configured TSA; each reply checked in full
//! ([`super::tsp`]) and stored only if it holds. A bad reply is rejected,
//! logged (naming the TSA, never its credentials) and not stored.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use jiff::Timestamp;

use super::client::{Client, ClientError};
use super::merkle::{self, hex};
use super::tsp::{self, TokenError};
use crate::config::TsaConfig;
use crate::store::{AnchorRecord, Store, StoreError};

/// How far a token's genTime may be from our clock when it arrives.
const MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    #[error("the store has no versions yet: nothing to anchor")]
    Empty,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("TSA {tsa}: reply rejected: {source}")]
    Rejected {
        tsa: String,
        #[source]
        source: TokenError,
    },
    #[error(
        "TSA {tsa}: reply rejected: its time {gen_time} is more than 15 minutes from ours ({now})"
    )]
    Clock {
        tsa: String,
        gen_time: Timestamp,
        now: Timestamp,
    },
}

impl AnchorError {
    /// Worth trying again soon (the TSA unreachable, slow or failing),
    /// rather than a reply that was refused or wrong.
    pub fn is_transient(&self) -> bool {
        matches!(self, AnchorError::Client(_))
    }
}

/// What one TSA gave in a round.
#[derive(Debug)]
pub struct Outcome {
    pub tsa: String,
    pub result: Result<AnchorRecord, AnchorError>,
}

/// One round: the root asked for and each TSA's outcome.
#[derive(Debug)]
pub struct Round {
    pub root: String,
    pub sources: usize,
    pub outcomes: Vec<Outcome>,
}

impl Round {
    /// Whether at least one TSA gave a valid token.
    pub fn any_stored(&self) -> bool {
        self.outcomes.iter().any(|o| o.result.is_ok())
    }

    /// Whether every TSA gave a valid token.
    pub fn all_stored(&self) -> bool {
        self.outcomes.iter().all(|o| o.result.is_ok())
    }

    /// The failures, one line each, for a notice or a log.
    pub fn failures(&self) -> String {
        self.outcomes
            .iter()
            .filter_map(|o| o.result.as_ref().err().map(|e| error_chain(e)))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl fmt::Display for Round {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "root {} over {} sources", self.root, self.sources)?;
        for o in &self.outcomes {
            match &o.result {
                Ok(a) => writeln!(
                    f,
                    "  {:<16} anchored at {} (serial {})",
                    o.tsa, a.gen_time, a.serial
                )?,
                Err(e) => writeln!(f, "  {:<16} FAILED: {}", o.tsa, error_chain(e))?,
            }
        }
        Ok(())
    }
}

/// An error and its causes on one line.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let c_s = c.to_string();
        if !s.contains(&c_s) {
            s.push_str(": ");
            s.push_str(&c_s);
        }
        cur = c.source();
    }
    s
}

/// Anchors the history as it is now with each of `tsas` (the TSAs of
/// `[evidence]`, or those still to retry). Fails as a whole only when there
/// is nothing to anchor or the heads cannot be read; each TSA's own
/// failure is in its [`Outcome`].
pub async fn anchor_all(
    store: &Store,
    tsas: &[TsaConfig],
    client: &Client,
) -> Result<Round, AnchorError> {
    let heads = store.chain_heads()?;
    let root = merkle::root(&heads).ok_or(AnchorError::Empty)?;
    let mut outcomes = Vec::new();
    for tsa in tsas {
        let result = anchor_one(store, tsa, client, &root, &heads).await;
        match &result {
            Ok(a) => {
                tracing::info!(tsa = %tsa.id, gen_time = %a.gen_time, root = %a.root, "history anchored")
            }
            Err(e) => tracing::warn!(tsa = %tsa.id, error = %error_chain(e), "anchoring failed"),
        }
        outcomes.push(Outcome {
            tsa: tsa.id.clone(),
            result,
        });
    }
    Ok(Round {
        root: hex(&root),
        sources: heads.len(),
        outcomes,
    })
}

async fn anchor_one(
    store: &Store,
    tsa: &TsaConfig,
    client: &Client,
    root: &[u8; 32],
    heads: &[crate::model::ChainHead],
) -> Result<AnchorRecord, AnchorError> {
    let rejected = |source| AnchorError::Rejected {
        tsa: tsa.id.clone(),
        source,
    };
    let req = tsp::request(root).map_err(rejected)?;
    let created_at = Timestamp::now();
    let reply = client.post(tsa, &req.der).await?;
    let token =
        tsp::check_reply(&reply, &req.imprint, &req.nonce, &tsa.ca_pem).map_err(rejected)?;
    let now = Timestamp::now();
    let skew = now.duration_since(token.gen_time).unsigned_abs();
    if skew > MAX_CLOCK_SKEW {
        return Err(AnchorError::Clock {
            tsa: tsa.id.clone(),
            gen_time: token.gen_time,
            now,
        });
    }
    let rec = AnchorRecord {
        id: AnchorRecord::key(created_at, &tsa.id),
        tsa: tsa.id.clone(),
        url: tsa.url.to_string(),
        created_at,
        gen_time: token.gen_time,
        root: hex(root),
        heads: heads.to_vec(),
        nonce: hex(&req.nonce),
        serial: token.serial,
        policy: token.policy,
        response: base64::engine::general_purpose::STANDARD.encode(&reply),
        ca_pem: tsa.ca_pem.clone(),
    };
    store.put_anchor(&rec)?;
    Ok(rec)
}
