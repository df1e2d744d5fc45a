//! What a version is: the record the hash chain is made of, what a check
//! hands the store, and what a commit answers.

use jiff::civil::Date;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::model::{sha256_hex, Document, EncodingSource, Validators};

/// The stored metadata of one version. Every field except `record_hash` is
/// covered by `record_hash`; `prev_hash` links it to its predecessor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRecord {
    pub source: String,
    pub version: u32,
    pub fetched_at: Timestamp,
    pub url: String,
    pub final_url: String,
    pub status: u16,
    pub content_type: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub byte_len: u64,
    pub encoding: String,
    pub encoding_source: EncodingSource,
    pub title: String,
    pub published: Option<Date>,
    pub sections: u32,
    /// Hash of the content as compared (NFKC, no whitespace): equal
    /// fingerprints mean "no new version".
    pub fingerprint: String,
    /// SHA-256 of the stored document (sections) blob.
    pub doc_hash: String,
    /// SHA-256 of the raw response bytes.
    pub raw_hash: String,
    /// SHA-256 over `doc_hash` and `raw_hash`: the version's content.
    pub content_hash: String,
    /// `record_hash` of the previous version, `None` for version 1.
    pub prev_hash: Option<String>,
    #[serde(default)]
    pub record_hash: String,
}

impl VersionRecord {
    /// The hash this record should carry: SHA-256 of its canonical JSON with
    /// `record_hash` left empty.
    pub fn compute_record_hash(&self) -> String {
        let mut copy = self.clone();
        copy.record_hash = String::new();
        let json = serde_json::to_vec(&copy).unwrap_or_default();
        sha256_hex(&json)
    }
}

/// The comparison fingerprint of a document: what must change for a new
/// version to be stored. Layout, width and whitespace never count.
pub fn fingerprint(doc: &Document) -> String {
    use crate::text::push_comparable;
    let size = doc.title.len()
        + doc.preamble.len()
        + doc
            .sections
            .iter()
            .map(|s| s.heading.len() + s.text.len() + 16)
            .sum::<usize>();
    let mut s = String::with_capacity(size + 16);
    push_comparable(&mut s, &doc.title);
    s.push('\u{1}');
    if let Some(d) = doc.published {
        s.push_str(&d.to_string());
    }
    s.push('\u{1}');
    push_comparable(&mut s, &doc.preamble);
    for sec in &doc.sections {
        s.push('\u{1}');
        s.push_str(&sec.path_str());
        s.push('\u{2}');
        push_comparable(&mut s, &sec.heading);
        push_comparable(&mut s, &sec.text);
    }
    sha256_hex(s.as_bytes())
}

/// What a check hands the store when a page was fetched and parsed.
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub source: String,
    pub fetched_at: Timestamp,
    pub url: String,
    pub final_url: String,
    pub status: u16,
    pub content_type: Option<String>,
    pub validators: Validators,
    pub raw: Vec<u8>,
    pub document: Document,
    pub encoding_source: EncodingSource,
}

/// The outcome of [`super::Store::commit_version`].
#[derive(Debug, Clone)]
pub enum Commit {
    /// Same content as the latest version: nothing was written.
    Unchanged(VersionRecord),
    /// A new version (and its alerts) were stored and flushed.
    Stored {
        record: VersionRecord,
        /// Alerts queued with it.
        alerts: usize,
    },
}
