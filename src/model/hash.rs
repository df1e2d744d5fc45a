//! SHA-256 as the history writes it: lower-case hex. Every stored hash, the
//! record chain and the audit all use these two functions.

use sha2::{Digest, Sha256};

/// `content_hash` from its two parts.
pub fn content_hash(doc_hash: &str, raw_hash: &str) -> String {
    sha256_hex(format!("{doc_hash}\n{raw_hash}").as_bytes())
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(64);
    for b in digest.iter() {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 0xf)] as char);
    }
    s
}
