//! Reading the history: a source's versions, oldest first, as an iterator
//! over the `versions` tree, and the records of stores written before the
//! pack (inline JSON) read like any other.

use super::codec::{decode_json, unpack_record};
use super::error::{damaged, io_at};
use super::keys::{key_name, parse_version_key, source_prefix, version_key, VersionLocs};
use super::pack::Loc;
use super::{Result, Store, StoreError, VersionRecord};

/// One entry of a source's history as stored: the number it is stored
/// under and its record, or why the record cannot be read. Verification
/// compares the two: a record stored under another version's number was
/// moved or swapped.
#[derive(Debug)]
pub struct VersionSlot {
    pub number: u32,
    pub record: Result<VersionRecord>,
}

/// A source's versions in stored order (oldest first), read one at a time;
/// see [`Store::history`].
pub struct Versions<'a> {
    store: &'a Store,
    id: String,
    iter: sled::Iter,
}

impl Iterator for Versions<'_> {
    type Item = Result<VersionSlot>;

    fn next(&mut self) -> Option<Self::Item> {
        let (key, value) = match self.iter.next()? {
            Ok(kv) => kv,
            Err(e) => return Some(Err(e.into())),
        };
        let number = match parse_version_key(&key) {
            Some((source, number)) if source == self.id => number,
            _ => {
                return Some(Err(StoreError::Corrupt {
                    key: String::from_utf8_lossy(&key).replace('\0', "/"),
                    message: format!("malformed version key of {}", self.id),
                }))
            }
        };
        Some(Ok(VersionSlot {
            number,
            record: self.store.record_from(&key, &value),
        }))
    }
}

impl Store {
    /// A source's history, oldest first, one stored version at a time,
    /// each with the number it is stored under: what [`crate::verify`]
    /// walks. Nothing is read before it is asked for.
    pub fn history(&self, source: &str) -> Versions<'_> {
        Versions {
            store: self,
            id: source.to_string(),
            iter: self.versions.scan_prefix(source_prefix(source)),
        }
    }

    /// A version record from its value in the `versions` tree: locators
    /// into the pack or, in stores written before the pack existed, the
    /// record's JSON inline.
    pub(super) fn record_from(&self, key: &[u8], value: &[u8]) -> Result<VersionRecord> {
        let loc = match (VersionLocs::decode(value), Loc::decode(value)) {
            (Some(locs), _) => locs.record,
            (None, Some(loc)) => loc,
            (None, None) => return decode_json(key, value),
        };
        let packed = self.pack_read(key, loc)?;
        let json = unpack_record(&packed)
            .map_err(damaged(key_name(key), "cannot decompress version record"))?;
        decode_json(key, &json)
    }

    /// Damage is `Damaged`; any other I/O error stays `Io`, so that what
    /// may pass (an alert being rendered, say) is tried again.
    pub(super) fn pack_read(&self, key: &[u8], loc: Loc) -> Result<Vec<u8>> {
        self.pack.read(loc).map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => damaged(key_name(key), "pack entry damaged")(e),
            _ => io_at(self.pack.path())(e),
        })
    }

    pub fn latest(&self, source: &str) -> Result<Option<VersionRecord>> {
        match self.versions.scan_prefix(source_prefix(source)).next_back() {
            Some(kv) => {
                let (k, v) = kv?;
                Ok(Some(self.record_from(&k, &v)?))
            }
            None => Ok(None),
        }
    }

    /// The number of a source's latest version, read from its key alone
    /// (no record is read): what a re-check needs before it knows whether
    /// the page changed.
    pub fn latest_number(&self, source: &str) -> Result<Option<u32>> {
        match self
            .versions
            .scan_prefix(source_prefix(source))
            .keys()
            .next_back()
        {
            Some(k) => {
                let k = k?;
                match parse_version_key(&k) {
                    Some((_, n)) => Ok(Some(n)),
                    None => Err(StoreError::Corrupt {
                        key: String::from_utf8_lossy(&k).replace('\0', "/"),
                        message: format!("malformed version key of {source}"),
                    }),
                }
            }
            None => Ok(None),
        }
    }

    pub fn version(&self, source: &str, version: u32) -> Result<Option<VersionRecord>> {
        let k = version_key(source, version);
        self.versions
            .get(&k)?
            .map(|v| self.record_from(&k, &v))
            .transpose()
    }

    /// All versions of a source, oldest first (see [`Store::history`] to
    /// read them one at a time).
    pub fn versions(&self, source: &str) -> Result<Vec<VersionRecord>> {
        self.history(source)
            .map(|slot| slot.and_then(|s| s.record))
            .collect()
    }

    /// Every source id that has at least one version, sorted.
    pub fn source_ids(&self) -> Result<Vec<String>> {
        let mut ids: Vec<String> = Vec::new();
        for kv in self.versions.iter() {
            let (k, _) = kv?;
            let id = k.split(|b| *b == 0).next().unwrap_or_default();
            let id = String::from_utf8_lossy(id).into_owned();
            if ids.last() != Some(&id) {
                ids.push(id);
            }
        }
        Ok(ids)
    }
}
