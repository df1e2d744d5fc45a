//! Tampering, for tests only: what someone with write access to the store's
//! files could do, so that tests can prove `verify` catches it, and a full
//! disk on demand. Compiled only for the crate's own unit tests and with the
//! `test-hooks` feature, which only the test targets enable (the crate lists
//! itself as a dev-dependency with it); the program never has it.

use super::blobs::Part;
use super::codec::{to_json, RECORDS};
use super::error::io_at;
use super::keys::{version_key, VersionLocs};
use super::{Result, Store, VersionRecord};

/// Writes behind the store's back; see [`Store::tamper`].
pub struct Tamper<'a> {
    store: &'a Store,
}

impl Store {
    /// Tampering access for tests.
    pub fn tamper(&self) -> Tamper<'_> {
        Tamper { store: self }
    }
}

impl Tamper<'_> {
    /// Replaces the stored record of `rec.source` v`rec.version` with `rec`
    /// as is, keeping the version's blobs.
    pub fn overwrite_record(&self, rec: &VersionRecord) -> Result<()> {
        let s = self.store;
        let key = version_key(&rec.source, rec.version);
        let loc = s.pack_append(&RECORDS.pack(&to_json(rec)?)?)?;
        s.pack.sync().map_err(io_at(s.pack.path()))?;
        let value = match s
            .versions
            .get(&key)?
            .as_deref()
            .and_then(VersionLocs::decode)
        {
            Some(locs) => VersionLocs {
                record: loc,
                ..locs
            }
            .encode(),
            None => loc.encode().to_vec(),
        };
        s.versions.insert(key, value)?;
        Ok(())
    }

    /// Deletes a version from the history; `false` when there was none.
    pub fn remove_version(&self, source: &str, version: u32) -> Result<bool> {
        Ok(self
            .store
            .versions
            .remove(version_key(source, version))?
            .is_some())
    }

    /// Swaps what two versions of a source are stored as.
    pub fn swap_versions(&self, source: &str, a: u32, b: u32) -> Result<()> {
        let t = &self.store.versions;
        let (ka, kb) = (version_key(source, a), version_key(source, b));
        let (Some(va), Some(vb)) = (t.get(&ka)?, t.get(&kb)?) else {
            return Ok(());
        };
        t.insert(ka, vb)?;
        t.insert(kb, va)?;
        Ok(())
    }

    /// Records `hash` as the hash of every site's base page.
    pub fn site_base_hash(&self, hash: &str) -> Result<()> {
        let meta = &self.store.meta;
        for kv in meta.scan_prefix("site-base:") {
            let (k, v) = kv?;
            let mut v = v.to_vec();
            if v.len() >= 64 && hash.len() == 64 {
                v[..64].copy_from_slice(hash.as_bytes());
                meta.insert(k, v)?;
            }
        }
        Ok(())
    }

    /// Where a version's raw bytes lie in the pack file (offset and length
    /// of the stored entry), to damage them there; `None` for versions
    /// stored before the pack existed.
    pub fn raw_extent(&self, rec: &VersionRecord) -> Result<Option<(u64, u32)>> {
        self.store.extent(rec, Part::Raw)
    }

    /// Where a version's document lies in the pack (see
    /// [`Tamper::raw_extent`]).
    pub fn doc_extent(&self, rec: &VersionRecord) -> Result<Option<(u64, u32)>> {
        self.store.extent(rec, Part::Doc)
    }

    /// Makes every later write to the pack fail as a full disk does
    /// (ENOSPC), for hosts where a test cannot mount a small filesystem.
    pub fn fill_disk(&self) {
        self.store.pack.fill_disk();
    }
}
