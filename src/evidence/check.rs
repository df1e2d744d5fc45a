//! Offline verification of the stored anchors against the history as it
//! is now: each token's signature and chain (against the TSA's configured
//! `ca_file` when the caller has one, else the CA stored with the anchor),
//! its imprint against the root recomputed from the heads it covers, and
//! each of those heads against the stored version. A version changed or
//! removed after an anchor is an error naming the anchor's time and TSA;
//! versions added after the last anchor are only reported.

use std::collections::BTreeSet;
use std::fmt;

use base64::Engine as _;
use jiff::Timestamp;
use sha2::{Digest, Sha256};

use super::merkle;
use super::tsp::{self, TokenError};
use crate::store::{AnchorRecord, Store, StoreError};

/// A TSA's CA certificates as configured, to check its tokens against.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TrustedCa {
    pub tsa: String,
    pub ca_pem: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AnchorCheckError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "anchor FAILED: {source_id} v{version} was {what} after the anchor of {gen_time} by TSA \
         {tsa} ({anchor})"
    )]
    Changed {
        anchor: String,
        tsa: String,
        gen_time: Timestamp,
        source_id: String,
        version: u32,
        what: String,
    },
    #[error(
        "anchor FAILED: the token of {gen_time} by TSA {tsa} ({anchor}) does not hold: {source}"
    )]
    Token {
        anchor: String,
        tsa: String,
        gen_time: Timestamp,
        #[source]
        source: Box<TokenError>,
    },
    #[error("anchor FAILED: the anchor of {gen_time} by TSA {tsa} ({anchor}): {message}")]
    Record {
        anchor: String,
        tsa: String,
        gen_time: Timestamp,
        message: String,
    },
}

/// What the check of the anchors found (nothing at all for a store that
/// never anchored: it then prints nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnchorCheck {
    pub anchors: usize,
    pub tsas: BTreeSet<String>,
    /// TSAs whose tokens were checked against the CA stored with them
    /// (no configured `ca_file` was given for them).
    pub stored_ca: BTreeSet<String>,
    /// The last anchor's time and TSA.
    pub last: Option<(Timestamp, String)>,
    /// Sources whose latest version no anchor covers yet: (source, latest
    /// version, the version the last anchor covered, if any).
    pub not_yet: Vec<(String, u32, Option<u32>)>,
}

impl fmt::Display for AnchorCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.anchors == 0 {
            return Ok(());
        }
        let tsas: Vec<&str> = self.tsas.iter().map(String::as_str).collect();
        write!(
            f,
            "anchors: {} verified ({}); no anchored version was changed or removed",
            self.anchors,
            tsas.join(", ")
        )?;
        if !self.stored_ca.is_empty() {
            let s: Vec<&str> = self.stored_ca.iter().map(String::as_str).collect();
            write!(
                f,
                "; checked against the CA stored with the anchor, not a configured ca_file: {}",
                s.join(", ")
            )?;
        }
        writeln!(f)?;
        if let Some((at, tsa)) = &self.last {
            for (source, latest, covered) in &self.not_yet {
                let first = covered.map_or(1, |v| v + 1);
                let versions = if first == *latest {
                    format!("v{latest}")
                } else {
                    format!("v{first}–v{latest}")
                };
                match covered {
                    Some(_) => writeln!(
                        f,
                        "not yet anchored: {source} {versions} (added after the last anchor, {at} by {tsa})"
                    )?,
                    None => writeln!(
                        f,
                        "not yet anchored: {source} {versions} (a source new since the last anchor, {at} by {tsa})"
                    )?,
                }
            }
        }
        Ok(())
    }
}

/// Checks every stored anchor (for `only`, the heads of that source
/// only); `trust` gives configured CA files by TSA id.
pub fn check_anchors(
    store: &Store,
    only: Option<&str>,
    trust: &[TrustedCa],
) -> Result<AnchorCheck, AnchorCheckError> {
    let anchors = store.anchors()?;
    let mut out = AnchorCheck::default();
    for a in &anchors {
        let ca = match trust.iter().find(|t| t.tsa == a.tsa) {
            Some(t) => &t.ca_pem,
            None => {
                out.stored_ca.insert(a.tsa.clone());
                &a.ca_pem
            }
        };
        check_one(store, a, ca, only)?;
        out.anchors += 1;
        out.tsas.insert(a.tsa.clone());
    }
    let Some(last) = anchors.iter().max_by_key(|a| a.created_at) else {
        return Ok(out);
    };
    out.last = Some((last.gen_time, last.tsa.clone()));
    for head in store.chain_heads()? {
        if only.is_some_and(|s| s != head.source) {
            continue;
        }
        let covered = last.heads.iter().find(|h| h.source == head.source);
        match covered {
            Some(h) if h.version == head.version => {}
            Some(h) => out
                .not_yet
                .push((head.source.clone(), head.version, Some(h.version))),
            None => out.not_yet.push((head.source.clone(), head.version, None)),
        }
    }
    Ok(out)
}

fn check_one(
    store: &Store,
    a: &AnchorRecord,
    ca_pem: &str,
    only: Option<&str>,
) -> Result<(), AnchorCheckError> {
    let record = |message: String| AnchorCheckError::Record {
        anchor: a.id.clone(),
        tsa: a.tsa.clone(),
        gen_time: a.gen_time,
        message,
    };
    let root = merkle::root(&a.heads).ok_or_else(|| record("it covers no sources".into()))?;
    if merkle::hex(&root) != a.root {
        return Err(record(format!(
            "its heads hash to the root {}, not the stored {}",
            merkle::hex(&root),
            a.root
        )));
    }
    let reply = base64::engine::general_purpose::STANDARD
        .decode(&a.response)
        .map_err(|e| record(format!("the stored reply is not base64: {e}")))?;
    let nonce = unhex(&a.nonce).ok_or_else(|| record("the stored nonce is not hex".into()))?;
    let imprint: [u8; 32] = Sha256::digest(root).into();
    let token = tsp::check_reply(&reply, &imprint, &nonce, ca_pem).map_err(|source| {
        AnchorCheckError::Token {
            anchor: a.id.clone(),
            tsa: a.tsa.clone(),
            gen_time: a.gen_time,
            source: Box::new(source),
        }
    })?;
    if token.gen_time != a.gen_time {
        return Err(record(format!(
            "the token's time is {}, the record says {}",
            token.gen_time, a.gen_time
        )));
    }
    for h in &a.heads {
        if only.is_some_and(|s| s != h.source) {
            continue;
        }
        let what = match store.version(&h.source, h.version)? {
            None => "removed".to_string(),
            Some(r) if r.record_hash != h.record_hash => format!(
                "changed (its record_hash is now {}, the anchor covers {})",
                r.record_hash, h.record_hash
            ),
            Some(_) => continue,
        };
        return Err(AnchorCheckError::Changed {
            anchor: a.id.clone(),
            tsa: a.tsa.clone(),
            gen_time: a.gen_time,
            source_id: h.source.clone(),
            version: h.version,
            what,
        });
    }
    Ok(())
}

/// Bytes from lower-case (or upper-case) hex.
pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}
