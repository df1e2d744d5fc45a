//! A source's chain head as a trusted timestamp covers it: handed from the
//! store (which reads the heads and keeps the anchors) to the evidence room
//! (which builds the Merkle root over them and checks the tokens).

use serde::{Deserialize, Serialize};

/// One source's latest version at the time of an anchor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    pub source: String,
    /// The latest version's number (shown; not part of the Merkle leaf).
    pub version: u32,
    /// That version's `record_hash` (64 lower-case hex characters).
    pub record_hash: String,
}
