//! The archive: every distinct version of every source, with the raw bytes
//! as evidence, in an embedded sled database.
//!
//! * Blobs (raw bytes and normalised documents) are named by SHA-256 in
//!   their version's record and zstd-compressed, as a delta against the
//!   previous version's blob — 100 versions with one-sentence edits cost
//!   little more than one — and a source's first page as a delta against
//!   the first page stored from the same site, whose template it shares.
//! * Blobs and version records never change once written, so they live in
//!   an append-only `pack` file beside sled; a version's value in sled is
//!   three locators into it. sled copies tree nodes on every write and
//!   would store each kilobyte two to three times over.
//! * Each version record carries the hash of its content and of its
//!   predecessor's record: the history of a source is a hash chain that
//!   [`crate::verify`] walks through [`Store::versions`].
//! * The checker decides a new version's alerts before it commits, against
//!   the latest version it read; the store writes the version and those
//!   alerts in one sled transaction, flushed before anything acts on them,
//!   and refuses ([`StoreError::Moved`]) when the latest version moved
//!   meanwhile.
//! * Per-check bookkeeping (validators, last-checked time, failure counts) is
//!   written only when it changes in a way that matters, because sled
//!   reclaims overwritten space late.
//! * A full disk is not damage: the first write that finds no space turns
//!   into [`StoreError::DiskFull`], is logged once, and every later write
//!   fails at once with the same error ([`Store::disk_full`]) while reads go
//!   on working.
//!
//! The store stands on [`crate::model`] and [`crate::text`] only. Its rooms:
//! `error` (what can go wrong), `record` (what a version is), `keys` (the
//! key and value layout in sled), `codec` (small-value dictionaries),
//! `blobs` (content-addressed blobs, deltas, site base pages), `pack` (the
//! append-only file), `versions` (reading the history), `commit` (group
//! commit, version commit), `state` (fetch state), `outbox` (alerts and
//! the pending index), `discovery` (tracked articles), `backup` (backup,
//! restore, compaction), `fs` (folder helpers), `anchors` (trusted timestamps over the
//! history, outside the chain), and `hooks` (tampering, for
//! tests only).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sled::Tree;

mod anchors;
mod backup;
mod blobs;
mod codec;
mod commit;
mod discovery;
mod error;
mod fs;
#[cfg(any(test, feature = "test-hooks"))]
mod hooks;
mod keys;
mod outbox;
mod pack;
mod record;
mod state;
mod versions;

pub use anchors::{AnchorRecord, AnchorStreak};
pub use backup::{BackupError, BackupReport, CompactReport};
pub use codec::stored_entry_json;
pub use discovery::Tracked;
pub use error::{Result, StoreError};
#[cfg(any(test, feature = "test-hooks"))]
pub use hooks::Tamper;
pub use outbox::{ChannelStreak, DeliveryState, OutboxEntry, Refusal};
pub use record::{fingerprint, Commit, NewVersion, VersionRecord};
pub use state::{FetchState, HostStreak, Schedule, Standings};
pub use versions::{VersionSlot, Versions};

use blobs::Base;
use commit::GroupCommit;
use error::io_at;
use fs::{create_private_dir, restrict_permissions, sync_parent, temp_sibling};
use pack::Pack;

/// The pack file's name inside the store folder.
pub const PACK_FILE: &str = "history.pack";

/// Bump when the on-disk layout changes incompatibly.
const SCHEMA: &str = "1";

/// The embedded database and its trees.
pub struct Store {
    path: PathBuf,
    db: sled::Db,
    meta: Tree,
    blobs: Tree,
    versions: Tree,
    outbox: Tree,
    /// Keys of the outbox entries not yet delivered, so that a drain reads
    /// only those — the outbox keeps every alert ever sent.
    pending: Tree,
    state: Tree,
    tracked: Tree,
    seen: Tree,
    /// Blob and record bodies; `blobs` and `versions` hold locators to them.
    pack: std::sync::Arc<Pack>,
    instance: String,
    sled_commit: GroupCommit,
    pack_commit: GroupCommit,
    /// The last few site bases used, decoded and prepared as zstd
    /// dictionaries: a first pass compresses every page of a site against
    /// the same base, and preparing it is most of the work.
    site_bases: std::sync::Mutex<Vec<Base>>,
    /// Where the first write that found the disk full failed: set once,
    /// after which every write is refused at once.
    disk_full: OnceLock<PathBuf>,
}

/// sled's page cache when nothing says how large the store is.
pub const DEFAULT_CACHE: u64 = 8 * 1024 * 1024;
/// The largest page cache [`cache_for`] gives.
pub const MAX_CACHE: u64 = 48 * 1024 * 1024;
/// Page cache per source beyond the default's 10,000: about what a source's
/// fetch state and latest version key take in sled's `state` and
/// `versions` trees. An unchanged re-check reads both for every source, so
/// a cache smaller than them turns each check into a cache miss.
const CACHE_PER_SOURCE: u64 = 400;

/// The page cache for a store checked for `sources` sources: the default
/// up to 10,000 sources, then growing with them, at most [`MAX_CACHE`].
/// `BULLETIN_WATCH_CACHE_MB` overrides it (a small machine, a benchmark).
pub fn cache_for(sources: usize) -> u64 {
    if let Some(mb) = std::env::var("BULLETIN_WATCH_CACHE_MB")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return mb.max(1) * 1024 * 1024;
    }
    (sources as u64)
        .saturating_mul(CACHE_PER_SOURCE)
        .clamp(DEFAULT_CACHE, MAX_CACHE)
}

/// The page cache [`daemon_cache_for`] gives: half the default.
pub const DAEMON_MAX_CACHE: u64 = DEFAULT_CACHE / 2;

/// The daemon's page cache for `sources` sources: [`cache_for`], but at
/// most [`DAEMON_MAX_CACHE`]. A `check` re-checks every source at once and
/// a cache miss per check adds up; the daemon spreads its checks over
/// their intervals and holds the memory for as long as it runs. sled
/// counts the cache in stored bytes; the nodes read back take more on the
/// heap (~20 MB at the daemon's peak with 8 MB). Measured at 100,000 sources, every source due
/// at once: 8 MB against 16 MB cost 0.05 ms of CPU per check (38.0 s
/// against 33.4 s for all of them) and saved 20 MB of peak memory (181
/// against 201 MB); 4 MB against 8 MB saved another 10 MB (120 against
/// 130 MB, two 150 s runs each at a 1-minute interval), and the CPU per
/// check did not move beyond the runs' own spread (0.81 against 0.91 ms,
/// 0.74–1.15 ms between runs). `BULLETIN_WATCH_CACHE_MB` overrides it.
pub fn daemon_cache_for(sources: usize) -> u64 {
    let overridden = std::env::var_os("BULLETIN_WATCH_CACHE_MB").is_some();
    let cache = cache_for(sources);
    if overridden {
        cache
    } else {
        cache.min(DAEMON_MAX_CACHE)
    }
}

impl Store {
    /// Opens (or creates) the store folder. A folder held by another process
    /// is reported as such at once, never waited on; a full disk as
    /// [`StoreError::DiskFull`], with the advice to free space (the store
    /// is intact), never to restore a backup.
    pub fn open(path: &Path) -> Result<Store> {
        Store::open_with_cache(path, DEFAULT_CACHE)
    }

    /// [`Store::open`] with a page cache of `cache` bytes (see
    /// [`cache_for`]).
    pub fn open_with_cache(path: &Path, cache: u64) -> Result<Store> {
        // A `store compact` interrupted between its two renames leaves the
        // data beside the store: never start an empty history over it.
        let old = temp_sibling(path, "old");
        let empty = std::fs::read_dir(path).map_or(true, |mut d| d.next().is_none());
        if old.exists() && empty {
            return Err(StoreError::Open {
                path: path.to_path_buf(),
                message: format!(
                    "an interrupted `store compact` left the store's data in {}; move it back \
                     (rm -rf {p} && mv {} {p})",
                    old.display(),
                    old.display(),
                    p = path.display()
                ),
            });
        }
        create_private_dir(path).map_err(io_at(path))?;
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(cache)
            .flush_every_ms(Some(500))
            .open()
            .map_err(|e| {
                let message = e.to_string();
                if message.contains("could not acquire lock") || message.contains("WouldBlock") {
                    return StoreError::Locked {
                        path: path.to_path_buf(),
                    };
                }
                match StoreError::Sled(e).classify(path) {
                    StoreError::Sled(e) => StoreError::Unreadable {
                        path: path.to_path_buf(),
                        source: Box::new(e),
                    },
                    other => other,
                }
            })?;
        restrict_permissions(path);
        Self::open_trees(path, db).map_err(|e| e.classify(path))
    }

    /// The rest of [`Store::open`], once sled has opened.
    fn open_trees(path: &Path, db: sled::Db) -> Result<Store> {
        let meta = db.open_tree("meta")?;
        // The pack holds the history: once a store has one, a missing pack
        // is lost data, never a reason to start an empty one.
        let pack_path = path.join(PACK_FILE);
        let created = !pack_path.exists();
        if created && meta.contains_key("pack")? {
            return Err(StoreError::Open {
                path: path.to_path_buf(),
                message: format!(
                    "{} is missing, and with it the stored history; restore the last backup",
                    pack_path.display()
                ),
            });
        }
        let pack = Pack::open(&pack_path).map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => StoreError::Unreadable {
                path: path.to_path_buf(),
                source: Box::new(e),
            },
            _ => io_at(&pack_path)(e),
        })?;
        if created {
            sync_parent(&pack_path);
        }
        if !meta.contains_key("pack")? {
            meta.insert("pack", "1")?;
        }
        match meta.get("schema")? {
            Some(v) if v.as_ref() != SCHEMA.as_bytes() => {
                return Err(StoreError::Schema {
                    path: path.to_path_buf(),
                    found: String::from_utf8_lossy(&v).into_owned(),
                })
            }
            Some(_) => {}
            None => {
                meta.insert("schema", SCHEMA)?;
            }
        }
        let instance = match meta.get("instance")? {
            Some(v) => String::from_utf8_lossy(&v).into_owned(),
            None => {
                let id = format!("{:016x}", fastrand::u64(..));
                meta.insert("instance", id.as_bytes())?;
                id
            }
        };
        let store = Store {
            path: path.to_path_buf(),
            blobs: db.open_tree("blobs")?,
            versions: db.open_tree("versions")?,
            outbox: db.open_tree("outbox")?,
            pending: db.open_tree("pending")?,
            state: db.open_tree("state")?,
            tracked: db.open_tree("tracked")?,
            seen: db.open_tree("seen")?,
            meta,
            db,
            pack: std::sync::Arc::new(pack),
            instance,
            sled_commit: GroupCommit::new(),
            pack_commit: GroupCommit::new(),
            site_bases: std::sync::Mutex::new(Vec::new()),
            disk_full: OnceLock::new(),
        };
        store.index_pending()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A random id of this store, used to make Message-IDs globally unique.
    pub fn instance_id(&self) -> &str {
        &self.instance
    }

    /// Makes everything written so far durable. (The pack needs no flush
    /// here: nothing in sled points into it before it was synced.)
    pub fn flush(&self) -> Result<()> {
        self.write(|| {
            self.db.flush()?;
            Ok(())
        })
    }

    /// Makes everything written so far durable, like [`Store::flush`], but
    /// as a group commit shared by concurrent callers.
    pub async fn sync(&self) -> Result<()> {
        self.writable()?;
        let db = self.db.clone();
        let result = self
            .sled_commit
            .run(move || db.flush().map(|_| ()).map_err(StoreError::from))
            .await;
        result.map_err(|e| self.noted(e))
    }

    /// Where this store found its disk full, if it has: from then on every
    /// write fails at once with [`StoreError::DiskFull`] (reads go on
    /// working). A pass over many sources should stop at the first.
    pub fn disk_full(&self) -> Option<&Path> {
        self.disk_full.get().map(PathBuf::as_path)
    }

    /// Refuses a write at once once the disk was found full.
    fn writable(&self) -> Result<()> {
        match self.disk_full.get() {
            Some(path) => Err(StoreError::DiskFull { path: path.clone() }),
            None => Ok(()),
        }
    }

    /// Runs one write: refused at once after a full disk; a write that finds
    /// the disk full makes every later one refused.
    fn write<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        self.writable()?;
        f().map_err(|e| self.noted(e))
    }

    /// `e` with a full disk recognised; the first full disk is logged, once.
    fn noted(&self, e: StoreError) -> StoreError {
        let e = e.classify(&self.path);
        if let StoreError::DiskFull { path } = &e {
            if self.disk_full.set(path.clone()).is_ok() {
                tracing::error!(
                    store = %self.path.display(),
                    at = %path.display(),
                    "the disk is full: no space left on the filesystem holding {}; the store is \
                     intact (nothing stored was lost), but it takes no more writes in this run; \
                     free space, then run again",
                    path.display()
                );
            }
        }
        e
    }

    /// Whether the database had to recover from an unclean shutdown.
    pub fn was_recovered(&self) -> bool {
        self.db.was_recovered()
    }
}

#[cfg(test)]
mod tests;
