//! Facts about one fetched page that the store records with a version: the
//! validators for the next conditional GET and where the charset decision
//! came from.

use serde::{Deserialize, Serialize};

/// Validators from a previous fetch, for a conditional GET.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// Where the encoding decision came from (recorded with every version).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncodingSource {
    Override,
    Header,
    Bom,
    Meta,
    Sniffed,
}
