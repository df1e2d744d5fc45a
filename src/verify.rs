//! Proof that the archive is what it claims to be.
//!
//! Auditors cannot take the store's word for its history: a blob may have
//! been altered on disk, a version deleted, two versions swapped or a
//! record's metadata edited. [`verify`] recomputes every hash from the bytes
//! actually stored and walks each source's hash chain, and stops at the
//! first source and version that does not hold, so the report points at
//! the exact place to investigate.
//!
//! What it cannot prove: that the *last* version of a source was not
//! removed or rewritten together with its hashes, since nothing later in
//! the chain vouches for it. Alerts in the outbox name the versions they
//! were sent for, so a removed latest version that had been alerted on is
//! still caught; for the rest, keep backups (or record the latest
//! `record_hash` elsewhere) and compare — or configure `[evidence]`: the
//! trusted timestamps of [`crate::evidence`] record every chain head
//! outside the store, and `verify` checks them after the chains.

use std::collections::HashSet;
use std::fmt;

use crate::model::{content_hash, sha256_hex, Document};
use crate::store::{self, Store, StoreError, VersionRecord};

/// What a successful verification covered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub sources: usize,
    pub versions: usize,
    /// Distinct blobs decoded and re-hashed (by hash: identical content is
    /// counted once).
    pub blobs: usize,
    /// Decoded bytes hashed, over all distinct blobs.
    pub bytes: u64,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "OK: {} sources, {} versions, {} blobs ({} bytes) verified; every hash and chain link holds",
            self.sources, self.versions, self.blobs, self.bytes
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The stored history does not hold at `source` version `version`.
    #[error("verification FAILED at {id} v{version}: {message}")]
    Mismatch {
        /// The source id.
        id: String,
        version: u32,
        message: String,
    },
    /// The page that new pages of `host` are stored as deltas of does not
    /// hold: the versions are unaffected, but new first versions of that
    /// site would be stored whole.
    #[error("verification FAILED at the site base of {host}: {message}")]
    SiteBase { host: String, message: String },
    #[error("no source {0:?} in the store")]
    UnknownSource(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl VerifyError {
    fn at(source: &str, version: u32, message: impl Into<String>) -> VerifyError {
        VerifyError::Mismatch {
            id: source.to_string(),
            version,
            message: message.into(),
        }
    }
}

/// Checks every version of every source (or of `source` only), in order.
pub fn verify(store: &Store, source: Option<&str>) -> Result<Summary, VerifyError> {
    let ids = match source {
        Some(s) => {
            if store.history(s).next().is_none() {
                return Err(VerifyError::UnknownSource(s.to_string()));
            }
            vec![s.to_string()]
        }
        None => store.source_ids()?,
    };
    let outbox = store.outbox()?;
    let mut summary = Summary::default();
    let mut seen_blobs = HashSet::new();
    for id in &ids {
        let latest = verify_source(store, id, &mut summary, &mut seen_blobs)?;
        // A version that was alerted on must still be in the chain: this
        // catches a deleted latest version, which the chain alone cannot.
        for e in outbox.iter().filter(|e| &e.source == id) {
            if let Some(v) = e.version {
                if v > latest {
                    return Err(VerifyError::at(
                        id,
                        v,
                        format!(
                            "alert {} was sent for version {v}, but the history ends at v{latest} \
                             (versions deleted from the end?)",
                            e.key
                        ),
                    ));
                }
            }
        }
        summary.sources += 1;
    }
    if source.is_none() {
        for (host, hash, bytes) in store.site_bases()? {
            let message = match bytes {
                Ok(b) if sha256_hex(&b) == hash => continue,
                Ok(b) => format!(
                    "recorded hash {hash}, stored bytes hash to {}",
                    sha256_hex(&b)
                ),
                Err(e) => format!("blob {hash} cannot be read: {e}"),
            };
            return Err(VerifyError::SiteBase { host, message });
        }
    }
    Ok(summary)
}

/// Verifies one source's chain, read through [`Store::history`]; returns
/// its latest version number.
fn verify_source(
    store: &Store,
    id: &str,
    summary: &mut Summary,
    seen_blobs: &mut HashSet<String>,
) -> Result<u32, VerifyError> {
    let mut prev: Option<VersionRecord> = None;
    let mut expected = 1u32;
    for slot in store.history(id) {
        let slot = slot.map_err(|e| match e {
            StoreError::Corrupt { key, message } => {
                VerifyError::at(id, expected, format!("{message}: {key:?}"))
            }
            e => VerifyError::Store(e),
        })?;
        let number = slot.number;
        if number != expected {
            let message = if number > expected {
                format!(
                    "version {expected} is missing: v{} is followed by v{number} \
                     (versions must be numbered 1..n without gaps)",
                    expected - 1
                )
            } else {
                format!("version key {number} out of order (expected {expected})")
            };
            return Err(VerifyError::at(id, expected, message));
        }
        let rec = slot
            .record
            .map_err(|e| VerifyError::at(id, number, format!("record is unreadable: {e}")))?;
        if rec.source != id || rec.version != number {
            return Err(VerifyError::at(
                id,
                number,
                format!(
                    "the record stored under {id} v{number} is that of {} v{} \
                     (versions swapped or moved)",
                    rec.source, rec.version
                ),
            ));
        }
        verify_record(store, &rec, prev.as_ref(), summary, seen_blobs)?;
        summary.versions += 1;
        prev = Some(rec);
        expected += 1;
    }
    Ok(expected - 1)
}

fn verify_record(
    store: &Store,
    rec: &VersionRecord,
    prev: Option<&VersionRecord>,
    summary: &mut Summary,
    seen_blobs: &mut HashSet<String>,
) -> Result<(), VerifyError> {
    let at = |m: String| VerifyError::at(&rec.source, rec.version, m);
    let mut check_blob = |what: &str,
                          hash: &str,
                          read: &dyn Fn(&VersionRecord) -> store::Result<Vec<u8>>|
     -> Result<Vec<u8>, VerifyError> {
        let bytes = read(rec).map_err(|e| at(format!("{what} blob {hash} cannot be read: {e}")))?;
        let actual = sha256_hex(&bytes);
        if actual != hash {
            return Err(at(format!(
                "{what} blob altered: recorded hash {hash}, stored bytes hash to {actual}"
            )));
        }
        if seen_blobs.insert(hash.to_string()) {
            summary.blobs += 1;
            summary.bytes += bytes.len() as u64;
        }
        Ok(bytes)
    };
    let raw = check_blob("raw", &rec.raw_hash, &|r| store.raw(r))?;
    let doc_bytes = check_blob("document", &rec.doc_hash, &|r| store.document_bytes(r))?;
    let content = content_hash(&rec.doc_hash, &rec.raw_hash);
    if content != rec.content_hash {
        return Err(at(format!(
            "content_hash {} does not match its doc and raw hashes (expected {content})",
            rec.content_hash
        )));
    }
    let record_hash = rec.compute_record_hash();
    if record_hash != rec.record_hash {
        return Err(at(format!(
            "record edited: record_hash is {}, its fields hash to {record_hash}",
            rec.record_hash
        )));
    }
    match (prev, &rec.prev_hash) {
        (None, None) => {}
        (None, Some(h)) => {
            return Err(at(format!(
                "first version links to a predecessor {h} (earlier versions removed?)"
            )))
        }
        (Some(p), None) => {
            return Err(at(format!(
                "chain broken: no prev_hash, but v{} precedes it",
                p.version
            )))
        }
        (Some(p), Some(h)) if *h != p.record_hash => {
            return Err(at(format!(
                "chain broken: prev_hash {h} is not v{}'s record_hash {}",
                p.version, p.record_hash
            )))
        }
        _ => {}
    }
    let doc: Document = serde_json::from_slice(&doc_bytes)
        .map_err(|e| at(format!("document blob is not a readable document: {e}")))?;
    let fp = store::fingerprint(&doc);
    if fp != rec.fingerprint {
        return Err(at(format!(
            "fingerprint {} does not match the stored document ({fp})",
            rec.fingerprint
        )));
    }
    // The record repeats a few facts about its content; they must agree.
    let mut disagree = Vec::new();
    if rec.byte_len != raw.len() as u64 {
        disagree.push(format!(
            "byte_len {} vs {} raw bytes",
            rec.byte_len,
            raw.len()
        ));
    }
    if rec.title != doc.title {
        disagree.push(format!("title {:?} vs document {:?}", rec.title, doc.title));
    }
    if rec.published != doc.published {
        disagree.push("published date differs from the document's".to_string());
    }
    if rec.sections as usize != doc.sections.len() {
        disagree.push(format!(
            "sections {} vs {} in the document",
            rec.sections,
            doc.sections.len()
        ));
    }
    if !disagree.is_empty() {
        return Err(at(format!(
            "record disagrees with its content: {}",
            disagree.join("; ")
        )));
    }
    Ok(())
}
