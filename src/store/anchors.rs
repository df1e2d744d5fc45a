//! Trusted timestamps over the history ("anchors"), kept in a sled tree of
//! their own: they vouch for the hash chain from outside and are not part
//! of it. Backups and compaction copy every tree, so they carry anchors
//! too. Also the two things the anchoring service needs from the store:
//! the chain heads it covers, and its streak of failed anchoring rounds.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::error::damaged;
use super::{Result, Store};
use crate::model::ChainHead;

/// One stored anchor: a TSA's whole reply and what it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnchorRecord {
    /// The key: creation time (microseconds since the epoch, 20 digits)
    /// and TSA id, so anchors list oldest first.
    pub id: String,
    /// The configured TSA id and the URL it was reached at.
    pub tsa: String,
    pub url: String,
    /// When we asked (our clock).
    pub created_at: Timestamp,
    /// The time the TSA vouches for (the token's genTime).
    pub gen_time: Timestamp,
    /// The Merkle root over `heads`, lower-case hex.
    pub root: String,
    pub heads: Vec<ChainHead>,
    /// The nonce we sent, and the token's serial number and policy.
    pub nonce: String,
    pub serial: String,
    pub policy: String,
    /// The whole TimeStampResp as received, base64 (standard, padded).
    pub response: String,
    /// The PEM of the TSA's `ca_file` the reply was checked against.
    pub ca_pem: String,
}

impl AnchorRecord {
    /// The key of an anchor made at `at` by `tsa`.
    pub fn key(at: Timestamp, tsa: &str) -> String {
        format!("{:020}/{tsa}", at.as_microsecond().max(0))
    }
}

/// The anchoring service's streak of rounds in which no TSA gave a valid
/// token, as a source's fetch state keeps its failure streak: `failing`
/// from the one `anchor-failing` notice until the next success; `episodes`
/// numbers the streaks (and the keys of their notices).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnchorStreak {
    pub failing: bool,
    pub episodes: u32,
}

const STREAK_KEY: &str = "anchor-streak";

impl Store {
    fn anchor_tree(&self) -> Result<sled::Tree> {
        Ok(self.db.open_tree("anchors")?)
    }

    /// Stores an anchor and makes it durable.
    pub fn put_anchor(&self, rec: &AnchorRecord) -> Result<()> {
        let bytes =
            serde_json::to_vec(rec).map_err(damaged(rec.id.clone(), "cannot encode an anchor"))?;
        let tree = self.anchor_tree()?;
        self.write(|| {
            tree.insert(rec.id.as_bytes(), bytes)?;
            self.flush()
        })
    }

    /// Every stored anchor, oldest first. A store that never anchored has
    /// none (and no `anchors` tree is created by asking).
    pub fn anchors(&self) -> Result<Vec<AnchorRecord>> {
        if !self
            .db
            .tree_names()
            .iter()
            .any(|n| n.as_ref() == b"anchors")
        {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for kv in self.anchor_tree()?.iter() {
            let (k, v) = kv?;
            let key = String::from_utf8_lossy(&k).into_owned();
            out.push(serde_json::from_slice(&v).map_err(damaged(key, "cannot decode an anchor"))?);
        }
        Ok(out)
    }

    /// Every source's latest version, sorted by source id: what an anchor
    /// covers.
    pub fn chain_heads(&self) -> Result<Vec<ChainHead>> {
        let mut heads = Vec::new();
        for id in self.source_ids()? {
            if let Some(r) = self.latest(&id)? {
                heads.push(ChainHead {
                    source: id,
                    version: r.version,
                    record_hash: r.record_hash,
                });
            }
        }
        Ok(heads)
    }

    pub fn anchor_streak(&self) -> Result<AnchorStreak> {
        match self.meta.get(STREAK_KEY)? {
            Some(v) => serde_json::from_slice(&v).map_err(damaged(
                STREAK_KEY.to_string(),
                "cannot decode the anchoring streak",
            )),
            None => Ok(AnchorStreak::default()),
        }
    }

    pub fn put_anchor_streak(&self, streak: &AnchorStreak) -> Result<()> {
        let bytes = serde_json::to_vec(streak).map_err(damaged(
            STREAK_KEY.to_string(),
            "cannot encode the anchoring streak",
        ))?;
        self.write(|| {
            self.meta.insert(STREAK_KEY, bytes)?;
            self.flush()
        })
    }
}
