//! The one digest an anchor timestamps: a Merkle root over every source's
//! chain head, so that a single 32-byte value stands for the whole history.
//!
//! Exactly, so that anyone can recompute it from `heads.json`:
//!
//! * the heads are (source id, latest `record_hash`), sorted by source id
//!   (byte order of the UTF-8 id);
//! * a leaf is `SHA-256(0x00 ‖ id ‖ 0x0A ‖ record_hash)`, with `id` and
//!   `record_hash` (64 lower-case hex characters) as their UTF-8 bytes;
//! * a node is `SHA-256(0x01 ‖ left ‖ right)` over the two 32-byte hashes;
//! * each level pairs neighbours from the left; an odd last hash is carried
//!   up unchanged; the root is the one hash left (a single source's root is
//!   its leaf). An empty history has no root and is never anchored.
//!
//! The 0x00/0x01 prefixes keep a leaf from ever being read as a node.

use sha2::{Digest, Sha256};

pub use crate::model::ChainHead as Head;

/// The hash of one leaf.
pub fn leaf(source: &str, record_hash: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(source.as_bytes());
    h.update(b"\n");
    h.update(record_hash.as_bytes());
    h.finalize().into()
}

fn node(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root over `heads` (sorted here by source id); `None` for no heads.
pub fn root(heads: &[Head]) -> Option<[u8; 32]> {
    let mut sorted: Vec<&Head> = heads.iter().collect();
    sorted.sort_by(|a, b| a.source.as_bytes().cmp(b.source.as_bytes()));
    let mut level: Vec<[u8; 32]> = sorted
        .iter()
        .map(|h| leaf(&h.source, &h.record_hash))
        .collect();
    while level.len() > 1 {
        let mut pairs = level.chunks_exact(2);
        let mut next: Vec<[u8; 32]> = pairs.by_ref().map(|p| node(&p[0], &p[1])).collect();
        next.extend_from_slice(pairs.remainder());
        level = next;
    }
    level.pop()
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(s: &str, h: &str) -> Head {
        Head {
            source: s.into(),
            version: 1,
            record_hash: h.into(),
        }
    }

    #[test]
    fn root_is_defined_exactly() {
        assert_eq!(root(&[]), None);
        let a = head("a", &"1".repeat(64));
        let b = head("b", &"2".repeat(64));
        let c = head("c", &"3".repeat(64));
        assert_eq!(
            root(std::slice::from_ref(&a)),
            Some(leaf("a", &a.record_hash))
        );
        let ab = node(&leaf("a", &a.record_hash), &leaf("b", &b.record_hash));
        // Order of the input does not matter: heads are sorted by id.
        assert_eq!(root(&[b.clone(), a.clone()]), Some(ab));
        // An odd last hash is carried up unchanged.
        assert_eq!(
            root(&[c.clone(), a.clone(), b.clone()]),
            Some(node(&ab, &leaf("c", &c.record_hash)))
        );
        // The leaf is SHA-256(0x00 ‖ id ‖ \n ‖ hash), as README.txt says.
        let mut bytes = vec![0u8];
        bytes.extend_from_slice(b"a\n");
        bytes.extend_from_slice(a.record_hash.as_bytes());
        assert_eq!(
            hex(&leaf("a", &a.record_hash)),
            crate::model::sha256_hex(&bytes)
        );
    }

    #[test]
    fn any_change_of_a_head_changes_the_root() {
        let heads = vec![head("a", &"1".repeat(64)), head("b", &"2".repeat(64))];
        let mut changed = heads.clone();
        changed[1].record_hash = "3".repeat(64);
        assert_ne!(root(&heads), root(&changed));
        let mut renamed = heads.clone();
        renamed[0].source = "a2".into();
        assert_ne!(root(&heads), root(&renamed));
    }
}
