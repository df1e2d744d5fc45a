//! SHA-256 as the history writes it: lower-case hex. Every stored hash, the
//! record chain and the audit all use these two functions.

use sha2::{Digest, Sha256};

/// `content_hash` from its two parts.
pub fn content_hash(doc_hash: &str, raw_hash: &str) -> String {
    sha256_hex(format!("{doc_hash}\n{raw_hash}").as_bytes())
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest.iter() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}
