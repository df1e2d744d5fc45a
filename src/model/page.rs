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

/// Text a source's page changes on every request (a visit counter, a
/// "generated at" stamp, a token), learned by the checker from two
/// back-to-back fetches and kept with the source's fetch state. Each
/// pattern is regex source `(context)run`; a match is replaced by its
/// context before a page is compared.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolatileMask {
    pub patterns: Vec<String>,
}

impl VolatileMask {
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Adds what `other` learned, without duplicates.
    pub fn merge(&mut self, other: &VolatileMask) {
        for p in &other.patterns {
            if !self.patterns.contains(p) {
                self.patterns.push(p.clone());
            }
        }
    }
}

/// Per-source extraction hints from `sources.toml` (CSS selectors as text;
/// they were validated when the configuration was loaded).
#[derive(Debug, Clone, Default)]
pub struct ExtractOptions {
    pub content: Option<String>,
    pub title: Option<String>,
    pub date: Option<String>,
    pub encoding: Option<String>,
}
