//! The layout of keys and small values in sled: a version's key is its
//! source, a NUL and its number (big-endian, so a source's versions sort in
//! order), and its value three locators into the pack. Nothing outside the
//! store sees these bytes; [`super::Store::versions`] reads them.

use super::pack::{self, Loc};

pub(super) fn version_key(source: &str, version: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(source.len() + 5);
    k.extend_from_slice(source.as_bytes());
    k.push(0);
    k.extend_from_slice(&version.to_be_bytes());
    k
}

pub(super) fn source_prefix(source: &str) -> Vec<u8> {
    let mut k = source.as_bytes().to_vec();
    k.push(0);
    k
}

pub(super) fn seen_key(listing: &str, url: &str) -> Vec<u8> {
    let mut k = source_prefix(listing);
    k.extend_from_slice(url.as_bytes());
    k
}

/// A sled key as people read it (`source/…`).
pub(super) fn key_name(key: &[u8]) -> String {
    // A version key: `source NUL version:u32be`.
    if let Some(nul) = key.iter().position(|b| *b == 0) {
        if let Ok(v) = <[u8; 4]>::try_from(&key[nul + 1..]) {
            let source = String::from_utf8_lossy(&key[..nul]);
            return format!("{source} v{}", u32::from_be_bytes(v));
        }
    }
    String::from_utf8_lossy(key).replace('\0', "/")
}

/// A version's value in the `versions` tree: where its record, raw bytes
/// and document lie in the pack. (Stores written before the pack hold the
/// record's JSON there instead and keep the blobs in the `blobs` tree.)
#[derive(Debug, Clone, Copy)]
pub(super) struct VersionLocs {
    pub(super) record: Loc,
    pub(super) raw: Loc,
    pub(super) doc: Loc,
}

pub(super) const VERSION_LOCS_TAG: u8 = b'V';
pub(super) const VERSION_LOCS_LEN: usize = 1 + 3 * pack::LOC_BODY;

impl VersionLocs {
    pub(super) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(VERSION_LOCS_LEN);
        out.push(VERSION_LOCS_TAG);
        for loc in [self.record, self.raw, self.doc] {
            loc.write_body(&mut out);
        }
        out
    }

    pub(super) fn decode(value: &[u8]) -> Option<VersionLocs> {
        if value.len() != VERSION_LOCS_LEN || value[0] != VERSION_LOCS_TAG {
            return None;
        }
        let at = |i: usize| Loc::read_body(&value[1 + i * pack::LOC_BODY..]);
        Some(VersionLocs {
            record: at(0)?,
            raw: at(1)?,
            doc: at(2)?,
        })
    }
}

/// Splits a version key `source NUL version:u32be`; `None` for anything
/// else.
pub(super) fn parse_version_key(key: &[u8]) -> Option<(String, u32)> {
    let nul = key.iter().position(|b| *b == 0)?;
    let (src, rest) = (&key[..nul], &key[nul + 1..]);
    let v: [u8; 4] = rest.try_into().ok()?;
    Some((
        String::from_utf8_lossy(src).into_owned(),
        u32::from_be_bytes(v),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_and_reject_garbage() {
        let k = version_key("jiangsu", 7);
        assert_eq!(parse_version_key(&k), Some(("jiangsu".to_string(), 7)));
        assert_eq!(parse_version_key(b"jiangsu"), None);
        assert_eq!(parse_version_key(b"a\0\x01"), None);
    }
}
