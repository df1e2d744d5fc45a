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
//!   [`crate::audit`] can verify.
//! * A new version and the alerts it causes are written in one sled
//!   transaction and flushed before anything acts on them, so a crash can
//!   lose neither one without the other.
//! * Per-check bookkeeping (validators, last-checked time, failure counts) is
//!   written only when it changes in a way that matters, because sled
//!   reclaims overwritten space late.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use jiff::civil::Date;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::{Transactional, Tree};

mod pack;
use crate::model::{content_hash, sha256_hex, AlertKind, Document, EncodingSource, Validators};
use pack::{Loc, Pack};

/// The pack file's name inside the store folder.
pub const PACK_FILE: &str = "history.pack";

/// Bump when the on-disk layout changes incompatibly.
const SCHEMA: &str = "1";
/// Deltas are chained at most this deep before a blob is stored whole, so
/// reading any version costs a bounded number of decompressions.
const MAX_DELTA_DEPTH: u8 = 16;
const ZSTD_LEVEL: i32 = 3;
/// No page is stored larger than this (fetch caps bodies far below it); a
/// blob header claiming more is damage, not an allocation to attempt.
const MAX_BLOB_LEN: u64 = 1 << 30;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "store {path} is in use by another process (is `bulletin-watch run` running?); \
         stop it, or ask it through its control socket"
    )]
    Locked { path: PathBuf },
    #[error(
        "cannot open store {path}: {message}\n  recovery: restore the last backup with \
         `bulletin-watch store restore BACKUP` into a fresh folder, then run `bulletin-watch verify`"
    )]
    Open { path: PathBuf, message: String },
    #[error(
        "store {path} was written by an incompatible version (schema {found}, expected {SCHEMA})"
    )]
    Schema { path: PathBuf, found: String },
    #[error("store I/O error: {0}")]
    Sled(#[from] sled::Error),
    #[error("store record {key} is unreadable: {message}")]
    Corrupt { key: String, message: String },
    #[error("blob {hash} is missing from the store")]
    MissingBlob { hash: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Group commit: callers that arrive while a sync is running wait for the
/// next one, and that one sync (a single fsync, on a blocking thread, never
/// on a runtime worker) covers them all.
struct GroupCommit {
    turn: tokio::sync::Mutex<()>,
    started: AtomicU64,
    done: AtomicU64,
}

impl GroupCommit {
    fn new() -> Self {
        GroupCommit {
            turn: tokio::sync::Mutex::new(()),
            started: AtomicU64::new(0),
            done: AtomicU64::new(0),
        }
    }

    async fn run(
        &self,
        sync: impl FnOnce() -> std::io::Result<()> + Send + 'static,
    ) -> std::io::Result<()> {
        // Any sync numbered above `target - 1` starts after this point, so
        // after the caller's writes, and makes them durable.
        let target = self.started.load(Ordering::SeqCst) + 1;
        let _turn = self.turn.lock().await;
        if self.done.load(Ordering::SeqCst) >= target {
            return Ok(());
        }
        let n = self.started.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::task::spawn_blocking(sync)
            .await
            .map_err(std::io::Error::other)??;
        self.done.store(n, Ordering::SeqCst);
        Ok(())
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

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
    use crate::text::comparable;
    let mut s = String::new();
    s.push_str(&comparable(&doc.title));
    s.push('\u{1}');
    if let Some(d) = doc.published {
        s.push_str(&d.to_string());
    }
    s.push('\u{1}');
    s.push_str(&comparable(&doc.preamble));
    for sec in &doc.sections {
        s.push('\u{1}');
        s.push_str(&sec.path_str());
        s.push('\u{2}');
        s.push_str(&comparable(&sec.heading));
        s.push_str(&comparable(&sec.text));
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

/// The outcome of [`Store::commit_version`].
#[derive(Debug, Clone)]
pub enum Commit {
    /// Same content as the latest version: nothing was written.
    Unchanged(VersionRecord),
    /// A new version (and its alerts) were stored and flushed.
    Stored {
        record: VersionRecord,
        previous: Option<Box<VersionRecord>>,
        /// Alerts queued with it.
        alerts: usize,
    },
}

/// Delivery state of an alert in the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    Pending,
    Delivered,
}

/// One alert, from the moment it is decided until it is delivered: the
/// event only. The e-mail is rendered from it when it is sent or shown
/// ([`crate::alert`]), so the entry keeps just what the store cannot give
/// back later. Entries written with a rendered `message` still decode: the
/// field is ignored and the alert rendered like any other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// Stable key, e.g. `changed/jiangsu/v3`: the same event can never be
    /// queued twice.
    pub key: String,
    pub kind: AlertKind,
    pub source: String,
    pub version: Option<u32>,
    pub created_at: Timestamp,
    /// A `failing` alert's fetch error, as it was when the alert was raised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// A `failing` alert's count of consecutive failed checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures: Option<u32>,
    pub state: DeliveryState,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub next_attempt: Timestamp,
    pub delivered_at: Option<Timestamp>,
}

impl OutboxEntry {
    pub fn new(key: String, kind: AlertKind, source: &str, version: Option<u32>) -> Self {
        let now = Timestamp::now();
        OutboxEntry {
            key,
            kind,
            source: source.to_string(),
            version,
            created_at: now,
            detail: None,
            failures: None,
            state: DeliveryState::Pending,
            attempts: 0,
            last_error: None,
            next_attempt: now,
            delivered_at: None,
        }
    }
}

/// An article found on a listing page and tracked from then on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tracked {
    pub id: String,
    pub url: String,
    pub title: String,
    /// The listing source it was discovered on.
    pub listing: String,
    pub discovered_at: Timestamp,
}

/// Per-source fetch bookkeeping.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchState {
    pub validators: Validators,
    pub last_checked: Option<Timestamp>,
    pub last_success: Option<Timestamp>,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
    /// Whether a `failing` alert went out for the current failure streak.
    pub failing_alerted: bool,
    /// Number of failure streaks that were alerted (keys the alerts).
    pub failing_episodes: u32,
}

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
}

fn version_key(source: &str, version: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(source.len() + 5);
    k.extend_from_slice(source.as_bytes());
    k.push(0);
    k.extend_from_slice(&version.to_be_bytes());
    k
}

fn source_prefix(source: &str) -> Vec<u8> {
    let mut k = source.as_bytes().to_vec();
    k.push(0);
    k
}

fn seen_key(listing: &str, url: &str) -> Vec<u8> {
    let mut k = source_prefix(listing);
    k.extend_from_slice(url.as_bytes());
    k
}

fn tx_error(e: TransactionError<()>) -> StoreError {
    match e {
        TransactionError::Storage(e) => StoreError::Sled(e),
        TransactionError::Abort(()) => StoreError::Corrupt {
            key: "outbox".into(),
            message: "transaction aborted".into(),
        },
    }
}

fn decode_json<T: serde::de::DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        key: key_name(key),
        message: e.to_string(),
    })
}

/// A built-in zstd dictionary for one kind of small value that is written
/// often: version records, outbox entries, fetch states. Each is a few
/// hundred bytes of JSON, too short for compression to learn its field
/// names, which are most of it. A value compressed with a dictionary starts
/// with its two-byte tag; the dictionary's bytes must never change (a new
/// dictionary gets a new tag), or the values written with it become
/// unreadable. Both directions prepare the dictionary once per process:
/// loading it costs more than compressing a value with it.
struct SmallDict {
    tag: [u8; 2],
    bytes: &'static [u8],
    /// `None` when zstd refused the dictionary (it never does for these
    /// constants; the plain dictionary is loaded each time then).
    encoder: std::sync::OnceLock<Option<zstd::dict::EncoderDictionary<'static>>>,
    decoder: std::sync::OnceLock<zstd::dict::DecoderDictionary<'static>>,
}

/// The most a small value may claim to hold.
const MAX_SMALL_VALUE: usize = 16 << 20;

impl SmallDict {
    const fn new(tag: [u8; 2], bytes: &'static [u8]) -> SmallDict {
        SmallDict {
            tag,
            bytes,
            encoder: std::sync::OnceLock::new(),
            decoder: std::sync::OnceLock::new(),
        }
    }

    /// `json` compressed, behind the tag.
    fn pack(&'static self, json: &[u8]) -> std::io::Result<Vec<u8>> {
        let prepared = self
            .encoder
            .get_or_init(|| zstd::dict::EncoderDictionary::try_copy(self.bytes, 12).ok());
        let mut c = match prepared {
            Some(prepared) => zstd::bulk::Compressor::with_prepared_dictionary(prepared)?,
            None => zstd::bulk::Compressor::with_dictionary(12, self.bytes)?,
        };
        Ok([&self.tag[..], &c.compress(json)?].concat())
    }

    /// The JSON of a value written by [`SmallDict::pack`]; `None` when
    /// `stored` does not carry this dictionary's tag. The decompression
    /// context (some 100 KB) is kept per thread: every check reads a record
    /// and a fetch state.
    fn unpack(&'static self, stored: &[u8]) -> Option<std::io::Result<Vec<u8>>> {
        thread_local! {
            static DCTX: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
                const { std::cell::RefCell::new(None) };
        }
        let data = stored.strip_prefix(&self.tag)?;
        let Some(size) = zstd::bulk::Decompressor::upper_bound(data) else {
            // A frame that does not record its size: stream it.
            let stream = || -> std::io::Result<Vec<u8>> {
                let mut d = zstd::stream::read::Decoder::with_dictionary(data, self.bytes)?;
                let mut out = Vec::new();
                std::io::Read::read_to_end(
                    &mut std::io::Read::take(&mut d, MAX_SMALL_VALUE as u64),
                    &mut out,
                )?;
                Ok(out)
            };
            return Some(stream());
        };
        if size > MAX_SMALL_VALUE {
            return Some(Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("value claims {size} bytes (damaged?)"),
            )));
        }
        let prepared = self
            .decoder
            .get_or_init(|| zstd::dict::DecoderDictionary::copy(self.bytes));
        Some(DCTX.with(|cell| {
            let mut cell = cell.borrow_mut();
            let d = match cell.as_mut() {
                Some(d) => d,
                None => cell.insert(zstd::bulk::Decompressor::new()?),
            };
            d.set_prepared_dictionary(prepared)?;
            d.decompress(data, size)
        }))
    }
}

/// Version records ([`VersionRecord`]), as they go into the pack.
static RECORDS: SmallDict = SmallDict::new([b'R', 1], RECORD_DICT_V1);
const RECORD_DICT_V1: &[u8] = r#"{"source":"","version":1,"fetched_at":"2026-01-01T00:00:00.000000000Z","url":"https://www.gov.cn/","final_url":"http://yjt.gov.cn/art/2026/1/1/art_1_1.html","status":200,"content_type":"text/html; charset=utf-8","etag":null,"last_modified":null,"byte_len":40000,"encoding":"UTF-8","encoding_source":"meta","title":"省应急管理厅召开全省应急管理工作会议","published":"2026-01-01","sections":10,"fingerprint":"","doc_hash":"","raw_hash":"","content_hash":"","prev_hash":null,"record_hash":""}{"etag":"\"","last_modified":"Mon, 01 Jan 2026 00:00:00 GMT","encoding":"GBK","content_type":"text/html; charset=GBK","encoding_source":"header","published":null,"sections":0,"status":200,"version":2,"prev_hash":""#.as_bytes();

/// Outbox entries: written twice each (queued, delivered).
static ENTRIES: SmallDict = SmallDict::new([b'E', 1], ENTRY_DICT_V1);
const ENTRY_DICT_V1: &[u8] = br#"{"key":"changed/","kind":"changed","source":"","version":1,"created_at":"2026-01-01T00:00:00.000000000Z","state":"pending","attempts":0,"last_error":null,"next_attempt":"2026-01-01T00:00:00.000000000Z","delivered_at":null}{"key":"published/","kind":"published","version":null,"detail":"","failures":3,"state":"delivered","attempts":1,"delivered_at":"2026-01-01T00:00:00.000000000Z"}{"key":"failing/","kind":"failing"}{"key":"recovered/","kind":"recovered"}"#;

/// Fetch states: rewritten with every new version (the validators change).
static STATES: SmallDict = SmallDict::new([b'S', 1], STATE_DICT_V1);
const STATE_DICT_V1: &[u8] = br#"{"validators":{"etag":""","last_modified":"Mon, 01 Jan 2026 00:00:00 GMT"},"last_checked":"2026-01-01T00:00:00.000000000Z","last_success":"2026-01-01T00:00:00.000000000Z","consecutive_failures":0,"last_error":null,"failing_alerted":false,"failing_episodes":0}{"validators":{"etag":null,"last_modified":null},"last_success":null,"consecutive_failures":1,"last_error":"http://: HTTP 503 Service Unavailable","failing_alerted":true,"failing_episodes":1}"#;

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// Entries written before the dictionary (plain zstd, or JSON) read as
/// before.
fn encode_entry(e: &OutboxEntry) -> Vec<u8> {
    let json = to_json(e);
    ENTRIES.pack(&json).unwrap_or(json)
}

/// The JSON of an outbox entry from its raw value in the `outbox` tree,
/// in whichever form it was written; for audits of the raw store.
pub fn stored_entry_json(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    if let Some(json) = ENTRIES.unpack(bytes) {
        return json;
    }
    if bytes.starts_with(&ZSTD_MAGIC) {
        return zstd::stream::decode_all(bytes);
    }
    Ok(bytes.to_vec())
}

fn decode_entry(key: &[u8], bytes: &[u8]) -> Result<OutboxEntry> {
    let json = stored_entry_json(bytes).map_err(|e| StoreError::Corrupt {
        key: key_name(key),
        message: format!("cannot decompress outbox entry: {e}"),
    })?;
    decode_json(key, &json)
}

/// States written before the dictionary are JSON.
fn encode_state(state: &FetchState) -> Vec<u8> {
    let json = to_json(state);
    STATES.pack(&json).unwrap_or(json)
}

fn decode_state(key: &[u8], bytes: &[u8]) -> Result<FetchState> {
    match STATES.unpack(bytes) {
        Some(json) => {
            let json = json.map_err(|e| StoreError::Corrupt {
                key: key_name(key),
                message: format!("cannot decompress fetch state: {e}"),
            })?;
            decode_json(key, &json)
        }
        None => decode_json(key, bytes),
    }
}

/// The JSON of a record read from the pack (records written before the
/// dictionary are plain zstd).
fn unpack_record(packed: &[u8]) -> std::io::Result<Vec<u8>> {
    RECORDS
        .unpack(packed)
        .unwrap_or_else(|| zstd::stream::decode_all(packed))
}

/// A sled key as people read it (`source/…`).
fn key_name(key: &[u8]) -> String {
    // A version key: `source NUL version:u32be`.
    if let Some(nul) = key.iter().position(|b| *b == 0) {
        if let Ok(v) = <[u8; 4]>::try_from(&key[nul + 1..]) {
            let source = String::from_utf8_lossy(&key[..nul]);
            return format!("{source} v{}", u32::from_be_bytes(v));
        }
    }
    String::from_utf8_lossy(key).replace('\0', "/")
}

/// A new version between [`Store::stage`] and [`Store::apply`].
enum Staging {
    Unchanged(Box<VersionRecord>),
    Staged(Box<Staged>),
}

struct Staged {
    record: VersionRecord,
    previous: Option<VersionRecord>,
    entries: Vec<OutboxEntry>,
    locs: VersionLocs,
    /// The `meta` key and value that make this version's raw blob its
    /// site's base.
    new_site_base: Option<(String, SiteBase)>,
}

/// A version's value in the `versions` tree: where its record, raw bytes
/// and document lie in the pack. (Stores written before the pack hold the
/// record's JSON there instead and keep the blobs in the `blobs` tree.)
#[derive(Debug, Clone, Copy)]
struct VersionLocs {
    record: Loc,
    raw: Loc,
    doc: Loc,
}

const VERSION_LOCS_TAG: u8 = b'V';
const VERSION_LOCS_LEN: usize = 1 + 3 * pack::LOC_BODY;

impl VersionLocs {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(VERSION_LOCS_LEN);
        out.push(VERSION_LOCS_TAG);
        for loc in [self.record, self.raw, self.doc] {
            loc.write_body(&mut out);
        }
        out
    }

    fn decode(value: &[u8]) -> Option<VersionLocs> {
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

#[derive(Debug, Clone, Copy)]
enum Part {
    Raw,
    Doc,
}

/// How a blob is found: by its place in the pack, or by hash in the
/// `blobs` tree (blobs written before the pack existed).
#[derive(Debug, Clone)]
enum BlobRef {
    At(Loc),
    Hash(String),
}

impl std::fmt::Display for BlobRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlobRef::At(loc) => write!(f, "at pack offset {}", loc.offset),
            BlobRef::Hash(h) => write!(f, "{h}"),
        }
    }
}

/// The `meta` value naming a site's base page: its raw blob's hash, and
/// where it lies in the pack when it is there.
#[derive(Debug, Clone)]
struct SiteBase {
    hash: String,
    at: Option<Loc>,
}

impl SiteBase {
    fn encode(&self) -> Vec<u8> {
        let mut out = self.hash.as_bytes().to_vec();
        if let Some(loc) = self.at {
            loc.write_body(&mut out);
        }
        out
    }

    fn decode(value: &[u8]) -> Option<SiteBase> {
        let hash = std::str::from_utf8(value.get(..64)?).ok()?.to_string();
        let at = match value.len() {
            64 => None,
            n if n == 64 + pack::LOC_BODY => Some(Loc::read_body(&value[64..])?),
            _ => return None,
        };
        Some(SiteBase { hash, at })
    }

    fn blob_ref(&self) -> BlobRef {
        match self.at {
            Some(loc) => BlobRef::At(loc),
            None => BlobRef::Hash(self.hash.clone()),
        }
    }
}

fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("store records always serialise")
}

impl Store {
    /// Opens (or creates) the store folder. A folder held by another process
    /// is reported as such at once, never waited on.
    pub fn open(path: &Path) -> Result<Store> {
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
        create_private_dir(path)?;
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(8 * 1024 * 1024)
            .flush_every_ms(Some(500))
            .open()
            .map_err(|e| {
                let message = e.to_string();
                if message.contains("could not acquire lock") || message.contains("WouldBlock") {
                    StoreError::Locked {
                        path: path.to_path_buf(),
                    }
                } else {
                    StoreError::Open {
                        path: path.to_path_buf(),
                        message,
                    }
                }
            })?;
        restrict_permissions(path);
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
        let pack = Pack::open(&pack_path).map_err(|e| StoreError::Open {
            path: path.to_path_buf(),
            message: e.to_string(),
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
        };
        store.index_pending()?;
        Ok(store)
    }

    /// Builds the pending-alert index of a store written before it existed
    /// (once; a flag in `meta` records it).
    fn index_pending(&self) -> Result<()> {
        if self.meta.contains_key("pending-index")? {
            return Ok(());
        }
        for kv in self.outbox.iter() {
            let (k, v) = kv?;
            if decode_entry(&k, &v)?.state == DeliveryState::Pending {
                self.pending.insert(k, &[])?;
            }
        }
        self.meta.insert("pending-index", "1")?;
        Ok(())
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
        self.db.flush()?;
        Ok(())
    }

    /// Makes everything written so far durable, like [`Store::flush`], but
    /// as a group commit shared by concurrent callers.
    pub async fn sync(&self) -> Result<()> {
        let db = self.db.clone();
        self.sled_commit
            .run(move || db.flush().map(|_| ()).map_err(std::io::Error::other))
            .await?;
        Ok(())
    }

    /// Makes every pack append so far durable, as a group commit.
    async fn sync_pack(&self) -> Result<()> {
        let pack = self.pack.clone();
        self.pack_commit.run(move || pack.sync()).await?;
        Ok(())
    }

    // ----- versions ---------------------------------------------------------

    /// A version record from its value in the `versions` tree: locators
    /// into the pack or, in stores written before the pack existed, the
    /// record's JSON inline.
    pub fn record_from(&self, key: &[u8], value: &[u8]) -> Result<VersionRecord> {
        let loc = match (VersionLocs::decode(value), Loc::decode(value)) {
            (Some(locs), _) => locs.record,
            (None, Some(loc)) => loc,
            (None, None) => return decode_json(key, value),
        };
        let packed = self.pack_read(key, loc)?;
        let json = unpack_record(&packed).map_err(|e| StoreError::Corrupt {
            key: key_name(key),
            message: format!("cannot decompress version record: {e}"),
        })?;
        decode_json(key, &json)
    }

    /// Damage is `Corrupt`; any other I/O error stays `Io`, so that what
    /// may pass (an alert being rendered, say) is tried again.
    fn pack_read(&self, key: &[u8], loc: Loc) -> Result<Vec<u8>> {
        self.pack.read(loc).map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => StoreError::Corrupt {
                key: key_name(key),
                message: e.to_string(),
            },
            _ => StoreError::Io(e),
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

    pub fn version(&self, source: &str, version: u32) -> Result<Option<VersionRecord>> {
        let k = version_key(source, version);
        self.versions
            .get(&k)?
            .map(|v| self.record_from(&k, &v))
            .transpose()
    }

    /// All versions of a source, oldest first.
    pub fn versions(&self, source: &str) -> Result<Vec<VersionRecord>> {
        self.versions
            .scan_prefix(source_prefix(source))
            .map(|kv| {
                let (k, v) = kv?;
                self.record_from(&k, &v)
            })
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

    /// Where a version's raw bytes (or document) are stored: in the pack,
    /// named by the version's own locators, or for versions written before
    /// the pack existed, by hash in the `blobs` tree.
    fn part_ref(&self, rec: &VersionRecord, part: Part) -> Result<BlobRef> {
        let value = self.versions.get(version_key(&rec.source, rec.version))?;
        if let Some(locs) = value.as_deref().and_then(VersionLocs::decode) {
            return Ok(BlobRef::At(match part {
                Part::Raw => locs.raw,
                Part::Doc => locs.doc,
            }));
        }
        Ok(BlobRef::Hash(match part {
            Part::Raw => rec.raw_hash.clone(),
            Part::Doc => rec.doc_hash.clone(),
        }))
    }

    /// The raw response bytes of a version, exactly as fetched. Not checked
    /// against `raw_hash` here; [`crate::verify`] does that.
    pub fn raw(&self, rec: &VersionRecord) -> Result<Vec<u8>> {
        self.decode_part(rec, Part::Raw)
    }

    /// The normalised document of a version, as the JSON its `doc_hash`
    /// covers.
    pub fn document_bytes(&self, rec: &VersionRecord) -> Result<Vec<u8>> {
        self.decode_part(rec, Part::Doc)
    }

    /// A version's raw bytes or document; damage is reported naming the
    /// version and the blob, I/O errors pass as they are.
    fn decode_part(&self, rec: &VersionRecord, part: Part) -> Result<Vec<u8>> {
        let (what, hash) = match part {
            Part::Raw => ("raw bytes", &rec.raw_hash),
            Part::Doc => ("document", &rec.doc_hash),
        };
        self.decode_blob(self.part_ref(rec, part)?).map_err(|e| {
            let message = match e {
                StoreError::Corrupt { message, .. } => message,
                StoreError::MissingBlob { .. } => e.to_string(),
                e => return e,
            };
            StoreError::Corrupt {
                key: format!("{} v{} {what} {hash}", rec.source, rec.version),
                message,
            }
        })
    }

    /// The normalised document of a version.
    pub fn document(&self, rec: &VersionRecord) -> Result<Document> {
        decode_json(rec.doc_hash.as_bytes(), &self.document_bytes(rec)?)
    }

    /// Where a version's raw bytes lie in the pack file (offset and length
    /// of the stored, compressed entry), for audits of the file itself;
    /// `None` for versions stored before the pack existed.
    pub fn raw_extent(&self, rec: &VersionRecord) -> Result<Option<(u64, u32)>> {
        self.extent(rec, Part::Raw)
    }

    /// Where a version's document lies in the pack (see
    /// [`Store::raw_extent`]).
    pub fn doc_extent(&self, rec: &VersionRecord) -> Result<Option<(u64, u32)>> {
        self.extent(rec, Part::Doc)
    }

    fn extent(&self, rec: &VersionRecord, part: Part) -> Result<Option<(u64, u32)>> {
        Ok(match self.part_ref(rec, part)? {
            BlobRef::At(loc) => Some((loc.offset, loc.len)),
            BlobRef::Hash(_) => None,
        })
    }

    /// Replaces the stored record of `rec.source` v`rec.version` with `rec`
    /// as is, keeping the version's blobs: what someone with write access
    /// to the files could do. Exists so that tests can prove `verify`
    /// catches it; the program never calls it.
    #[doc(hidden)]
    pub fn overwrite_record_unchecked(&self, rec: &VersionRecord) -> Result<()> {
        let key = version_key(&rec.source, rec.version);
        let loc = self.pack.append(&RECORDS.pack(&to_json(rec))?)?;
        self.pack.sync()?;
        let value = match self
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
        self.versions.insert(key, value)?;
        Ok(())
    }

    /// Bytes a version's raw blob takes as stored (compressed), for reports.
    pub fn raw_stored_len(&self, rec: &VersionRecord) -> Result<usize> {
        Ok(self.encoded(&self.part_ref(rec, Part::Raw)?)?.len())
    }

    /// Stores `new` as the next version of its source unless its content
    /// equals the latest version's, together with the alerts that `alerts`
    /// builds for it (called only when a version is actually stored, with
    /// the new record and its predecessor). Durable before returning; the
    /// fsyncs run on the calling thread (see [`Store::commit_version_durable`]).
    pub fn commit_version(
        &self,
        new: &NewVersion,
        alerts: impl FnOnce(&VersionRecord, Option<&VersionRecord>) -> Result<Vec<OutboxEntry>>,
    ) -> Result<Commit> {
        match self.stage(new, alerts)? {
            Staging::Unchanged(rec) => Ok(Commit::Unchanged(*rec)),
            Staging::Staged(staged) => {
                self.pack.sync()?;
                let commit = self.apply(*staged)?;
                self.flush()?;
                Ok(commit)
            }
        }
    }

    /// [`Store::commit_version`] for the async pipeline: concurrent commits
    /// share their fsyncs (one for the pack, then one for sled), which run
    /// on blocking threads. Returns once the version and its alerts are
    /// durable, so a caller may report and act on it at once.
    pub async fn commit_version_durable(
        &self,
        new: &NewVersion,
        alerts: impl FnOnce(&VersionRecord, Option<&VersionRecord>) -> Result<Vec<OutboxEntry>>,
    ) -> Result<Commit> {
        let staged = match self.stage(new, alerts)? {
            Staging::Unchanged(rec) => return Ok(Commit::Unchanged(*rec)),
            Staging::Staged(staged) => staged,
        };
        self.sync_pack().await?;
        let commit = self.apply(*staged)?;
        self.sync().await?;
        Ok(commit)
    }

    /// First half of a commit: decides whether `new` is a new version and,
    /// if so, appends its blobs and record to the pack (not yet durable) and
    /// builds its alerts. Nothing in sled changes, so a crash here leaves
    /// only unreferenced bytes in the pack.
    fn stage(
        &self,
        new: &NewVersion,
        alerts: impl FnOnce(&VersionRecord, Option<&VersionRecord>) -> Result<Vec<OutboxEntry>>,
    ) -> Result<Staging> {
        let previous = self.latest(&new.source)?;
        let fp = fingerprint(&new.document);
        if let Some(prev) = &previous {
            if prev.fingerprint == fp {
                return Ok(Staging::Unchanged(Box::new(prev.clone())));
            }
        }
        let doc_json = to_json(&new.document);
        let doc_hash = sha256_hex(&doc_json);
        let raw_hash = sha256_hex(&new.raw);
        // A page shares most of its template with the other pages of its
        // site, so a source's first version is stored as a delta against the
        // site's first stored page (its "site base"); later versions are
        // deltas against their predecessor, or against the site base again
        // when the predecessor's delta chain is full.
        let site_key = url::Url::parse(&new.url)
            .ok()
            .and_then(|u| u.host_str().map(|h| format!("site-base:{h}")));
        let site_base = match &site_key {
            Some(k) => self.meta.get(k)?.and_then(|v| SiteBase::decode(&v)),
            None => None,
        };
        let mut raw_bases = Vec::new();
        if let Some(p) = &previous {
            raw_bases.extend(self.delta_base(self.part_ref(p, Part::Raw)?)?);
        }
        if let Some(b) = &site_base {
            if previous.as_ref().is_none_or(|p| p.raw_hash != b.hash) {
                raw_bases.extend(self.site_base(b)?);
            }
        }
        let raw_blob = encode_blob(&new.raw, &raw_bases)?;
        let mut record = VersionRecord {
            source: new.source.clone(),
            version: previous.as_ref().map_or(1, |p| p.version + 1),
            fetched_at: new.fetched_at,
            url: new.url.clone(),
            final_url: new.final_url.clone(),
            status: new.status,
            content_type: new.content_type.clone(),
            etag: new.validators.etag.clone(),
            last_modified: new.validators.last_modified.clone(),
            byte_len: new.raw.len() as u64,
            encoding: new.document.encoding.clone(),
            encoding_source: new.encoding_source,
            title: new.document.title.clone(),
            published: new.document.published,
            sections: new.document.sections.len() as u32,
            fingerprint: fp,
            content_hash: content_hash(&doc_hash, &raw_hash),
            doc_hash,
            raw_hash,
            prev_hash: previous.as_ref().map(|p| p.record_hash.clone()),
            record_hash: String::new(),
        };
        record.record_hash = record.compute_record_hash();
        let entries = alerts(&record, previous.as_ref())?;
        // Nothing goes into the pack before the alerts are known: a commit
        // that fails there (an unreadable previous version) leaves no bytes.
        let raw_loc = self.pack.append(&raw_blob)?;
        // The document changes where the page does, so it is a delta of
        // the previous document; a UTF-8 page's document is also a copy of
        // the page's text, so a delta of its own raw bytes (a tenth of its
        // size on its own) serves a first version. The smaller one is kept.
        let mut doc_bases = Vec::new();
        if let Some(p) = &previous {
            doc_bases.extend(self.delta_base(self.part_ref(p, Part::Doc)?)?);
        }
        if new.document.encoding == "UTF-8" && blob_depth(&raw_blob) < MAX_DELTA_DEPTH {
            doc_bases.push(Base {
                at: BlobRef::At(raw_loc),
                depth: blob_depth(&raw_blob),
                bytes: std::sync::Arc::new(new.raw.clone()),
                prepared: None,
            });
        }
        let doc_loc = self.pack.append(&encode_blob(&doc_json, &doc_bases)?)?;
        let record_loc = self.pack.append(&RECORDS.pack(&to_json(&record))?)?;
        // The first page stored for a site becomes its base, once.
        let new_site_base = match (&site_base, site_key) {
            (None, Some(k)) => Some((
                k,
                SiteBase {
                    hash: record.raw_hash.clone(),
                    at: Some(raw_loc),
                },
            )),
            _ => None,
        };
        Ok(Staging::Staged(Box::new(Staged {
            record,
            previous,
            entries,
            locs: VersionLocs {
                record: record_loc,
                raw: raw_loc,
                doc: doc_loc,
            },
            new_site_base,
        })))
    }

    /// Second half of a commit, once the pack is synced: the version's
    /// locators and its alerts go into sled in one transaction.
    fn apply(&self, staged: Staged) -> Result<Commit> {
        let Staged {
            record,
            previous,
            entries,
            locs,
            new_site_base,
        } = staged;
        let key = version_key(&record.source, record.version);
        let expected_prev = previous.as_ref().map(|p| version_key(&p.source, p.version));
        let value = locs.encode();
        let result = (&self.versions, &self.outbox, &self.pending).transaction(|(v, o, p)| {
            // Another writer (there is none, but the check is cheap) must not
            // have appended meanwhile, or the chain would fork.
            if v.get(&key)?.is_some() {
                return Err(ConflictableTransactionError::Abort(()));
            }
            if let Some(pk) = &expected_prev {
                if v.get(pk)?.is_none() {
                    return Err(ConflictableTransactionError::Abort(()));
                }
            }
            v.insert(key.as_slice(), &value[..])?;
            for e in &entries {
                if o.get(e.key.as_bytes())?.is_none() {
                    o.insert(e.key.as_bytes(), encode_entry(e))?;
                    p.insert(e.key.as_bytes(), &[])?;
                }
            }
            Ok(())
        });
        match result {
            Ok(()) => {}
            Err(TransactionError::Abort(())) => {
                return Err(StoreError::Corrupt {
                    key: key_name(&key),
                    message: "version already exists (concurrent writer?)".into(),
                })
            }
            Err(TransactionError::Storage(e)) => return Err(e.into()),
        }
        if let Some((k, base)) = new_site_base {
            let _ = self.meta.compare_and_swap(
                k.as_bytes(),
                None as Option<&[u8]>,
                Some(base.encode()),
            )?;
        }
        Ok(Commit::Stored {
            record,
            previous: previous.map(Box::new),
            alerts: entries.len(),
        })
    }

    // ----- blobs ------------------------------------------------------------

    /// Every site's base page (`meta` `site-base:HOST`): the host, the hash
    /// it is recorded under, and its bytes as read back or why they cannot
    /// be. For `verify`: a damaged base is done without when storing (the
    /// new page is stored whole), so only an audit would notice it.
    #[allow(clippy::type_complexity)]
    pub fn site_bases(&self) -> Result<Vec<(String, String, Result<Vec<u8>>)>> {
        let mut out = Vec::new();
        for kv in self.meta.scan_prefix("site-base:") {
            let (k, v) = kv?;
            let host = String::from_utf8_lossy(&k["site-base:".len()..]).into_owned();
            match SiteBase::decode(&v) {
                Some(base) => {
                    let bytes = self.decode_blob(base.blob_ref());
                    out.push((host, base.hash, bytes));
                }
                None => out.push((
                    host,
                    String::new(),
                    Err(StoreError::Corrupt {
                        key: key_name(&k),
                        message: "not a site-base value".into(),
                    }),
                )),
            }
        }
        Ok(out)
    }

    /// A site's base page as a base for deltas, from the cache when it was
    /// used lately.
    fn site_base(&self, site: &SiteBase) -> Result<Option<Base>> {
        const KEEP: usize = 4;
        let cached = |bases: &Vec<Base>| {
            bases
                .iter()
                .find(|b| matches!(&b.at, BlobRef::At(l) if Some(*l) == site.at))
                .cloned()
        };
        if site.at.is_some() {
            if let Some(hit) = cached(&self.site_bases.lock().unwrap_or_else(|e| e.into_inner())) {
                return Ok(Some(hit));
            }
        }
        let Some(mut base) = self.delta_base(site.blob_ref())? else {
            return Ok(None);
        };
        if site.at.is_some() {
            base.prepared = zstd::dict::EncoderDictionary::try_copy(&base.bytes, ZSTD_LEVEL)
                .ok()
                .map(std::sync::Arc::new);
            let mut bases = self.site_bases.lock().unwrap_or_else(|e| e.into_inner());
            if bases.len() >= KEEP {
                bases.remove(0);
            }
            bases.push(base.clone());
        }
        Ok(Some(base))
    }

    /// `at` as a base for deltas, if it is stored and its delta chain is
    /// not too deep yet. A base that cannot be read is done without (the
    /// new blob is stored whole) rather than holding the version back;
    /// `verify` is what reports the damage.
    fn delta_base(&self, at: BlobRef) -> Result<Option<Base>> {
        let read = self.encoded(&at).and_then(|stored| {
            let depth = blob_depth(&stored);
            if depth >= MAX_DELTA_DEPTH {
                return Ok(None);
            }
            Ok(Some(Base {
                bytes: std::sync::Arc::new(self.decode_from(&at, stored)?),
                prepared: None,
                depth,
                at: at.clone(),
            }))
        });
        match read {
            Err(e @ (StoreError::Corrupt { .. } | StoreError::MissingBlob { .. })) => {
                tracing::warn!(base = %at, error = %e, "delta base unreadable; storing the blob whole");
                Ok(None)
            }
            other => other,
        }
    }

    /// A blob as stored (compressed, possibly a delta).
    fn encoded(&self, at: &BlobRef) -> Result<Vec<u8>> {
        match at {
            BlobRef::At(loc) => self.pack_read(PACK_FILE.as_bytes(), *loc),
            BlobRef::Hash(hash) => self
                .stored_blob(hash)?
                .ok_or_else(|| StoreError::MissingBlob { hash: hash.clone() }),
        }
    }

    /// A blob of the `blobs` tree as stored, by hash: versions written
    /// before the pack existed keep theirs there, inline or as a locator.
    pub fn stored_blob(&self, hash: &str) -> Result<Option<Vec<u8>>> {
        match self.blobs.get(hash.as_bytes())? {
            None => Ok(None),
            Some(value) => match Loc::decode(&value) {
                Some(loc) => Ok(Some(self.pack_read(hash.as_bytes(), loc)?)),
                None => Ok(Some(value.to_vec())),
            },
        }
    }

    /// A blob of the `blobs` tree's original bytes, by hash: only blobs of
    /// versions stored before the pack are there (see [`Store::raw`] and
    /// [`Store::document_bytes`] for any version's).
    pub fn blob(&self, hash: &str) -> Result<Vec<u8>> {
        self.decode_blob(BlobRef::Hash(hash.to_string()))
    }

    /// A blob's original bytes: walks down its delta chain to a whole blob,
    /// then decompresses back up.
    fn decode_blob(&self, at: BlobRef) -> Result<Vec<u8>> {
        let top = self.encoded(&at)?;
        self.decode_from(&at, top)
    }

    /// [`Store::decode_blob`] for a blob already read as stored (`top`).
    fn decode_from(&self, at: &BlobRef, top: Vec<u8>) -> Result<Vec<u8>> {
        let mut chain = Vec::new();
        let mut cur = at.clone();
        let mut next = Some(top);
        loop {
            let blob = match next.take() {
                Some(blob) => blob,
                None => self.encoded(&cur)?,
            };
            let corrupt = |m: &str| StoreError::Corrupt {
                key: format!("blob {cur}"),
                message: m.to_string(),
            };
            if blob.len() < 10 || chain.len() > MAX_DELTA_DEPTH as usize + 1 {
                return Err(corrupt("truncated blob or delta chain too deep"));
            }
            match parse_blob(&blob) {
                Some((None, _)) => {
                    chain.push(blob);
                    break;
                }
                Some((Some(base), _)) => {
                    chain.push(blob);
                    cur = base;
                }
                None => return Err(corrupt("unknown blob format")),
            }
        }
        let mut bytes: Vec<u8> = Vec::new();
        for (i, blob) in chain.iter().rev().enumerate() {
            let len = u64::from_le_bytes(blob[2..10].try_into().unwrap_or_default());
            if len > MAX_BLOB_LEN {
                return Err(StoreError::Corrupt {
                    key: "blob".into(),
                    message: format!("header claims {len} bytes (damaged?)"),
                });
            }
            let len = len as usize;
            let data = parse_blob(blob).map(|(_, data)| data).unwrap_or_default();
            let corrupt = |e: std::io::Error| StoreError::Corrupt {
                key: "blob".into(),
                message: format!("cannot decompress: {e}"),
            };
            bytes = if i == 0 {
                zstd::bulk::decompress(data, len).map_err(corrupt)?
            } else {
                let mut d = zstd::bulk::Decompressor::with_dictionary(&bytes)?;
                d.decompress(data, len).map_err(corrupt)?
            };
        }
        Ok(bytes)
    }

    // ----- fetch state ------------------------------------------------------

    pub fn fetch_state(&self, source: &str) -> Result<FetchState> {
        Ok(self
            .state
            .get(source.as_bytes())?
            .map(|v| decode_state(source.as_bytes(), &v))
            .transpose()?
            .unwrap_or_default())
    }

    /// Writes the fetch state only when it differs from what is stored in
    /// something other than `last_checked`, or when the stored check time is
    /// more than `refresh` old: an unchanged check must not rewrite sled.
    pub fn put_fetch_state(
        &self,
        source: &str,
        state: &FetchState,
        refresh: std::time::Duration,
    ) -> Result<bool> {
        let old = self.fetch_state(source)?;
        let mut old_cmp = old.clone();
        old_cmp.last_checked = state.last_checked;
        old_cmp.last_success = state.last_success;
        let stale = match (old.last_checked, state.last_checked) {
            (Some(o), Some(n)) => n.duration_since(o).as_secs_f64() >= refresh.as_secs_f64(),
            (None, Some(_)) => true,
            _ => false,
        };
        if old_cmp == *state && !stale {
            return Ok(false);
        }
        self.state.insert(source.as_bytes(), encode_state(state))?;
        Ok(true)
    }

    // ----- discovery ----------------------------------------------------------

    /// Whether a listing link was seen before.
    pub fn seen(&self, listing: &str, url: &str) -> Result<bool> {
        Ok(self.seen.contains_key(seen_key(listing, url))?)
    }

    /// Marks listing links as seen without tracking them (the links present
    /// at a listing's first check, or links that do not match its pattern).
    pub fn mark_seen(&self, listing: &str, urls: &[String]) -> Result<()> {
        let mut batch = sled::Batch::default();
        for u in urls {
            batch.insert(
                seen_key(listing, u),
                Timestamp::now().to_string().as_bytes(),
            );
        }
        self.seen.apply_batch(batch)?;
        self.flush()
    }

    /// Records a newly discovered article: tracked from now on, its link seen.
    pub fn track(&self, t: &Tracked) -> Result<()> {
        (&self.tracked, &self.seen)
            .transaction(|(tr, se)| {
                tr.insert(t.id.as_bytes(), to_json(t))?;
                se.insert(
                    seen_key(&t.listing, &t.url),
                    t.discovered_at.to_string().as_bytes(),
                )?;
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .map_err(|e| match e {
                TransactionError::Storage(e) => StoreError::Sled(e),
                TransactionError::Abort(()) => StoreError::Corrupt {
                    key: t.id.clone(),
                    message: "aborted".into(),
                },
            })?;
        self.flush()
    }

    /// Every article discovered on listings, in id order.
    pub fn tracked(&self) -> Result<Vec<Tracked>> {
        self.tracked
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                decode_json(&k, &v)
            })
            .collect()
    }

    // ----- outbox ---------------------------------------------------------------

    /// Queues alerts that are not tied to a version (failing/recovered).
    pub fn enqueue(&self, entry: &OutboxEntry) -> Result<bool> {
        let bytes = encode_entry(entry);
        let inserted = (&self.outbox, &self.pending)
            .transaction(|(o, p)| {
                if o.get(entry.key.as_bytes())?.is_some() {
                    return Ok(false);
                }
                o.insert(entry.key.as_bytes(), bytes.as_slice())?;
                if entry.state == DeliveryState::Pending {
                    p.insert(entry.key.as_bytes(), &[])?;
                }
                Ok::<_, ConflictableTransactionError<()>>(true)
            })
            .map_err(tx_error)?;
        self.flush()?;
        Ok(inserted)
    }

    pub fn outbox(&self) -> Result<Vec<OutboxEntry>> {
        let mut all: Vec<OutboxEntry> = self
            .outbox
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                decode_entry(&k, &v)
            })
            .collect::<Result<_>>()?;
        all.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.key.cmp(&b.key)));
        Ok(all)
    }

    /// The alerts not delivered yet, oldest first.
    pub fn pending(&self) -> Result<Vec<OutboxEntry>> {
        let mut out = Vec::new();
        for k in self.pending.iter().keys() {
            let k = k?;
            if let Some(v) = self.outbox.get(&k)? {
                let e = decode_entry(&k, &v)?;
                if e.state == DeliveryState::Pending {
                    out.push(e);
                }
            }
        }
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.key.cmp(&b.key)));
        Ok(out)
    }

    /// Replaces outbox entries after a delivery attempt, atomically (a digest
    /// covers them all: either all are marked delivered or none is), and
    /// flushes, so that a delivered alert is durably marked before anything
    /// else happens.
    pub fn update_entries(&self, entries: &[OutboxEntry]) -> Result<()> {
        let encoded: Vec<(&OutboxEntry, Vec<u8>)> =
            entries.iter().map(|e| (e, encode_entry(e))).collect();
        (&self.outbox, &self.pending)
            .transaction(|(o, p)| {
                for (e, bytes) in &encoded {
                    o.insert(e.key.as_bytes(), bytes.as_slice())?;
                    if e.state == DeliveryState::Pending {
                        p.insert(e.key.as_bytes(), &[])?;
                    } else {
                        p.remove(e.key.as_bytes())?;
                    }
                }
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .map_err(tx_error)?;
        self.flush()
    }

    /// [`Store::update_entries`] for one entry.
    pub fn update_entry(&self, entry: &OutboxEntry) -> Result<()> {
        self.update_entries(std::slice::from_ref(entry))
    }

    // ----- maintenance ------------------------------------------------------------

    /// Bytes the store takes on disk: sled's files and the pack.
    pub fn disk_size(&self) -> Result<u64> {
        let pack = std::fs::metadata(self.path.join(PACK_FILE)).map_or(0, |m| m.len());
        Ok(self.db.size_on_disk()? + pack)
    }

    /// Raw access for the audit module's tamper tests and verification.
    pub fn trees(&self) -> (&Tree, &Tree) {
        (&self.versions, &self.blobs)
    }

    /// Whether the database had to recover from an unclean shutdown.
    pub fn was_recovered(&self) -> bool {
        self.db.was_recovered()
    }

    pub fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.meta.get(key)?.map(|v| v.to_vec()))
    }

    // ----- backup, restore, compaction ----------------------------------------------

    /// A sled value as backups carry it: locators replaced by
    /// what they point to (a blob as stored, a record's JSON), so a backup
    /// is self-contained and reads like one made before the pack existed.
    fn export_value(&self, tree: &[u8], key: &[u8], value: &[u8]) -> Result<Vec<u8>> {
        match (tree, Loc::decode(value)) {
            (b"blobs", Some(loc)) => self.pack_read(key, loc),
            (b"versions", _) if value.first() != Some(&b'{') => {
                Ok(to_json(&self.record_from(key, value)?))
            }
            (b"meta", _) if key.starts_with(b"site-base:") => {
                Ok(SiteBase::decode(value).map_or_else(|| value.to_vec(), |b| b.hash.into_bytes()))
            }
            _ => Ok(value.to_vec()),
        }
    }

    /// Writes every tree of the database to one self-describing file at
    /// `path` (see [`BACKUP_MAGIC`] for the layout). The copy is consistent
    /// because only the process holding the store can write to it, and that
    /// is this one. Written to a temporary file, synced, then renamed, so a
    /// crash never leaves a half-written backup under the final name.
    pub fn backup_to(&self, path: &Path) -> Result<BackupReport, BackupError> {
        use std::io::Write;
        self.flush()?;
        let tmp = temp_sibling(path, "partial");
        // A backup is the whole store, alert recipients included: owner only.
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&tmp).map_err(|e| BackupError::file(&tmp, e))?;
        let mut w = HashingWriter::new(std::io::BufWriter::new(file));
        let header = format!(
            "{BACKUP_MAGIC}format {BACKUP_FORMAT}\nschema {SCHEMA}\ncreated {}\nstore {}\n\n",
            Timestamp::now(),
            self.path.display()
        );
        let mut report = BackupReport::default();
        let result = (|| -> Result<(), BackupError> {
            w.write_all(header.as_bytes())?;
            let mut exporter = BlobExporter {
                store: self,
                done: std::collections::HashMap::new(),
                written: std::collections::HashMap::new(),
            };
            for name in self.db.tree_names() {
                let tree = self.db.open_tree(&name)?;
                report.trees += 1;
                for kv in tree.iter() {
                    let (k, v) = kv?;
                    let mut records =
                        vec![(name.to_vec(), k.to_vec(), self.export_value(&name, &k, &v)?)];
                    if let (b"versions", Some(locs)) = (&*name, VersionLocs::decode(&v)) {
                        for loc in [locs.raw, locs.doc] {
                            exporter.export(loc, 0, &mut |hash, blob| {
                                records.push((b"blobs".to_vec(), hash.as_bytes().to_vec(), blob))
                            })?;
                        }
                    }
                    for (name, k, v) in records {
                        w.write_all(b"R")?;
                        w.write_all(&(name.len() as u32).to_le_bytes())?;
                        w.write_all(&name)?;
                        w.write_all(&(k.len() as u32).to_le_bytes())?;
                        w.write_all(&k)?;
                        w.write_all(&(v.len() as u64).to_le_bytes())?;
                        w.write_all(&v)?;
                        report.records += 1;
                    }
                }
            }
            w.write_all(b"E")?;
            w.write_all(&report.records.to_le_bytes())?;
            let digest = w.hex_digest();
            let mut inner = w.into_inner();
            inner.write_all(format!("sha256 {digest}\n").as_bytes())?;
            let file = inner.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
            report.sha256 = digest;
            report.bytes = file.metadata()?.len();
            Ok(())
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(e.in_file(&tmp));
        }
        std::fs::rename(&tmp, path).map_err(|e| BackupError::file(path, e))?;
        sync_parent(path);
        Ok(report)
    }

    /// Rebuilds a store in `into` from a backup written by
    /// [`Store::backup_to`]. The whole file is checked against its SHA-256
    /// trailer before anything is written; `into` must not exist or be
    /// empty, so a restore can never mix two histories. The data is written
    /// to a sibling folder first and renamed into place when complete.
    pub fn restore_from(backup: &Path, into: &Path) -> Result<BackupReport, BackupError> {
        use std::io::{BufRead, Read};
        if !dir_is_empty(into)? {
            return Err(BackupError::NotEmpty {
                path: into.to_path_buf(),
            });
        }
        let bad = |message: String| BackupError::Invalid {
            path: backup.to_path_buf(),
            message,
        };
        let len = std::fs::metadata(backup)
            .map_err(|e| BackupError::file(backup, e))?
            .len();
        if len < TRAILER_LEN {
            return Err(bad("too short to be a backup".into()));
        }
        let body_len = len - TRAILER_LEN;
        // Pass 1: the checksum, before trusting a single byte.
        let open = || std::fs::File::open(backup).map_err(|e| BackupError::file(backup, e));
        let mut f = open()?;
        let mut hasher = Sha256::new();
        std::io::copy(&mut (&mut f).take(body_len), &mut HashSink(&mut hasher))
            .map_err(|e| BackupError::file(backup, e))?;
        let mut trailer = Vec::new();
        f.read_to_end(&mut trailer)
            .map_err(|e| BackupError::file(backup, e))?;
        let actual = hex(&hasher.finalize());
        let expected = std::str::from_utf8(&trailer)
            .ok()
            .and_then(|t| t.strip_prefix("sha256 "))
            .map(|t| t.trim_end().to_string())
            .ok_or_else(|| bad("missing sha256 trailer (truncated file?)".into()))?;
        if expected != actual {
            return Err(bad(format!(
                "checksum mismatch: trailer says {expected}, contents hash to {actual} \
                 (file damaged or truncated)"
            )));
        }
        // Pass 2: header, then records.
        let mut r = std::io::BufReader::new(open()?.take(body_len));
        let mut line = String::new();
        r.read_line(&mut line)
            .map_err(|e| BackupError::file(backup, e))?;
        if line != BACKUP_MAGIC {
            return Err(bad("not a bulletin-watch backup (bad header)".into()));
        }
        loop {
            line.clear();
            r.read_line(&mut line)
                .map_err(|e| BackupError::file(backup, e))?;
            match line.trim_end() {
                "" if line.is_empty() => return Err(bad("header not terminated".into())),
                "" => break,
                l if l.starts_with("format ") && l != format!("format {BACKUP_FORMAT}") => {
                    return Err(bad(format!("unsupported backup {l}")))
                }
                l if l.starts_with("schema ") && l != format!("schema {SCHEMA}") => {
                    return Err(StoreError::Schema {
                        path: backup.to_path_buf(),
                        found: l["schema ".len()..].to_string(),
                    }
                    .into())
                }
                _ => {}
            }
        }
        let staging = temp_sibling(into, "restoring");
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(|e| BackupError::file(&staging, e))?;
        }
        let result = (|| -> Result<BackupReport, BackupError> {
            create_private_dir(&staging)?;
            let db = scratch_db(&staging)?;
            let pack = Pack::open(&staging.join(PACK_FILE))?;
            let mut report = BackupReport {
                sha256: actual.clone(),
                bytes: len,
                ..Default::default()
            };
            let mut names = std::collections::HashSet::new();
            let read_exact = |r: &mut dyn Read, n: usize| -> Result<Vec<u8>, BackupError> {
                let mut buf = Vec::new();
                r.take(n as u64).read_to_end(&mut buf)?;
                if buf.len() != n {
                    return Err(BackupError::Invalid {
                        path: backup.to_path_buf(),
                        message: "truncated record".into(),
                    });
                }
                Ok(buf)
            };
            loop {
                let tag = read_exact(&mut r, 1)?;
                match tag[0] {
                    b'R' => {
                        let n = u32::from_le_bytes(
                            read_exact(&mut r, 4)?.try_into().unwrap_or_default(),
                        );
                        let name = read_exact(&mut r, n as usize)?;
                        let n = u32::from_le_bytes(
                            read_exact(&mut r, 4)?.try_into().unwrap_or_default(),
                        );
                        let key = read_exact(&mut r, n as usize)?;
                        let n = u64::from_le_bytes(
                            read_exact(&mut r, 8)?.try_into().unwrap_or_default(),
                        );
                        if n > body_len {
                            return Err(bad(format!("record length {n} exceeds the file")));
                        }
                        let value = read_exact(&mut r, n as usize)?;
                        if names.insert(name.clone()) {
                            report.trees += 1;
                        }
                        let value = import_value(&pack, &name, value)?;
                        db.open_tree(&name)?.insert(key, value)?;
                        report.records += 1;
                    }
                    b'E' => {
                        let n = u64::from_le_bytes(
                            read_exact(&mut r, 8)?.try_into().unwrap_or_default(),
                        );
                        if n != report.records {
                            return Err(bad(format!(
                                "backup says {n} records, found {}",
                                report.records
                            )));
                        }
                        break;
                    }
                    t => return Err(bad(format!("unknown record tag {t:#04x}"))),
                }
            }
            match db.open_tree("meta")?.get("schema")? {
                Some(v) if v.as_ref() == SCHEMA.as_bytes() => {}
                found => {
                    return Err(StoreError::Schema {
                        path: backup.to_path_buf(),
                        found: found
                            .map_or("none".into(), |v| String::from_utf8_lossy(&v).into_owned()),
                    }
                    .into())
                }
            }
            pack.sync()?;
            db.flush()?;
            Ok(report)
        })();
        let report = match result {
            Ok(r) => r,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&staging);
                return Err(e);
            }
        };
        if into.exists() {
            std::fs::remove_dir(into).map_err(|e| BackupError::file(into, e))?;
        }
        // The folder's own entries durable before it takes the store's name.
        sync_parent(&staging.join(PACK_FILE));
        std::fs::rename(&staging, into).map_err(|e| BackupError::file(into, e))?;
        sync_parent(into);
        Ok(report)
    }

    /// Rewrites the store at `path` into a fresh folder and swaps it in:
    /// sled reclaims overwritten space late, and a fresh copy holds only live
    /// data. Files in the folder that are not the database's (such as
    /// `mail/`) move across. The old folder is removed only after the swap.
    pub fn compact(path: &Path) -> Result<CompactReport, BackupError> {
        let before = folder_size(path);
        let store = Store::open(path)?;
        store.flush()?;
        let fresh = temp_sibling(path, "compacting");
        if fresh.exists() {
            std::fs::remove_dir_all(&fresh).map_err(|e| BackupError::file(&fresh, e))?;
        }
        let result = (|| -> Result<u64, BackupError> {
            create_private_dir(&fresh)?;
            let db = scratch_db(&fresh)?;
            // Only what sled still points to is copied: the fresh pack
            // drops entries a crash left unreferenced.
            let pack = Pack::open(&fresh.join(PACK_FILE))?;
            let mut records = 0u64;
            let mut mover = PackMover {
                from: &store,
                to: &pack,
                moved: std::collections::HashMap::new(),
            };
            for name in store.db.tree_names() {
                let from = store.db.open_tree(&name)?;
                let to = db.open_tree(&name)?;
                for kv in from.iter() {
                    let (k, v) = kv?;
                    to.insert(k.as_ref(), mover.value(&name, &k, &v)?)?;
                    records += 1;
                }
                if to.len() != from.len() {
                    return Err(BackupError::Invalid {
                        path: fresh.clone(),
                        message: format!(
                            "tree {} has {} records after copying {}",
                            String::from_utf8_lossy(&name),
                            to.len(),
                            from.len()
                        ),
                    });
                }
            }
            pack.sync()?;
            db.flush()?;
            Ok(records)
        })();
        let records = match result {
            Ok(n) => n,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&fresh);
                return Err(e);
            }
        };
        drop(store);
        for entry in std::fs::read_dir(path).map_err(|e| BackupError::file(path, e))? {
            let entry = entry.map_err(|e| BackupError::file(path, e))?;
            let name = entry.file_name();
            let n = name.to_string_lossy();
            let sled_owned = matches!(
                n.as_ref(),
                "conf" | "db" | "blobs" | "control.sock" | PACK_FILE
            ) || n.starts_with("snap.");
            if !sled_owned {
                std::fs::rename(entry.path(), fresh.join(&name))
                    .map_err(|e| BackupError::file(&entry.path(), e))?;
            }
        }
        let old = temp_sibling(path, "old");
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(|e| BackupError::file(&old, e))?;
        }
        std::fs::rename(path, &old).map_err(|e| BackupError::file(path, e))?;
        sync_parent(&fresh.join(PACK_FILE));
        std::fs::rename(&fresh, path).map_err(|e| BackupError::file(path, e))?;
        sync_parent(path);
        std::fs::remove_dir_all(&old).map_err(|e| BackupError::file(&old, e))?;
        Ok(CompactReport {
            records,
            bytes_before: before,
            bytes_after: folder_size(path),
        })
    }
}

/// Writes the blobs of versions stored in the pack into a backup the way
/// stores before the pack kept them: keyed by hash, a delta naming its base
/// by hash. Bases are written before the deltas that need them, each hash
/// once, and a delta whose base has the same hash (identical pages of two
/// sources) or whose chain would grow too deep is written whole, so the
/// restored blobs can never form a cycle. A hash the `blobs` tree already
/// holds (older versions) is left to that copy.
struct BlobExporter<'a> {
    store: &'a Store,
    /// Pack offset → hash and delta depth as written.
    done: std::collections::HashMap<u64, (String, u8)>,
    /// Hash → delta depth as written.
    written: std::collections::HashMap<String, u8>,
}

impl BlobExporter<'_> {
    fn export(
        &mut self,
        loc: Loc,
        level: usize,
        emit: &mut dyn FnMut(&str, Vec<u8>),
    ) -> Result<(String, u8)> {
        if let Some(done) = self.done.get(&loc.offset) {
            return Ok(done.clone());
        }
        if level > MAX_DELTA_DEPTH as usize + 1 {
            return Err(too_deep(loc));
        }
        let at = BlobRef::At(loc);
        let stored = self.store.encoded(&at)?;
        let bytes = self.store.decode_from(&at, stored.clone())?;
        let hash = sha256_hex(&bytes);
        let depth = if let Some(legacy) = self.store.stored_blob(&hash)? {
            blob_depth(&legacy)
        } else if let Some(depth) = self.written.get(&hash) {
            *depth
        } else {
            let (blob, depth) = match parse_blob(&stored) {
                Some((Some(BlobRef::At(base)), data)) => {
                    let (base_hash, base_depth) = self.export(base, level + 1, emit)?;
                    if base_hash == hash || base_depth >= MAX_DELTA_DEPTH {
                        (encode_blob(&bytes, &[])?, 0)
                    } else {
                        let base = BlobRef::Hash(base_hash);
                        let mut b = blob_header(base_depth + 1, bytes.len(), Some(&base));
                        b.extend_from_slice(data);
                        (b, base_depth + 1)
                    }
                }
                _ => {
                    let depth = blob_depth(&stored);
                    (stored, depth)
                }
            };
            emit(&hash, blob);
            self.written.insert(hash.clone(), depth);
            depth
        };
        self.done.insert(loc.offset, (hash.clone(), depth));
        Ok((hash, depth))
    }
}

/// A delta chain in the pack that goes on past any depth a commit writes.
fn too_deep(loc: Loc) -> StoreError {
    StoreError::Corrupt {
        key: format!("pack entry at {}", loc.offset),
        message: "delta chain too deep (a cycle?)".into(),
    }
}

/// Copies what sled points to from one pack to a fresh one, entries in an
/// order where every delta's base comes first, and translates the
/// locators.
struct PackMover<'a> {
    from: &'a Store,
    to: &'a Pack,
    /// Old offset → new locator.
    moved: std::collections::HashMap<u64, Loc>,
}

impl PackMover<'_> {
    /// `value` of `tree` with every locator moved to the fresh pack.
    fn value(&mut self, tree: &[u8], key: &[u8], value: &[u8]) -> Result<Vec<u8>> {
        if let (b"versions", Some(locs)) = (tree, VersionLocs::decode(value)) {
            return Ok(VersionLocs {
                record: self.entry(locs.record, false)?,
                raw: self.entry(locs.raw, true)?,
                doc: self.entry(locs.doc, true)?,
            }
            .encode());
        }
        if let (b"versions" | b"blobs", Some(loc)) = (tree, Loc::decode(value)) {
            return Ok(self.entry(loc, tree == b"blobs")?.encode().to_vec());
        }
        // Values of stores written before the pack move into it.
        if (tree == b"versions" && value.first() == Some(&b'{')) || tree == b"blobs" {
            return import_value(self.to, tree, value.to_vec());
        }
        if tree == b"meta" && key.starts_with(b"site-base:") {
            if let Some(SiteBase { hash, at: Some(at) }) = SiteBase::decode(value) {
                let at = Some(self.entry(at, true)?);
                return Ok(SiteBase { hash, at }.encode());
            }
        }
        Ok(value.to_vec())
    }

    /// Moves one entry (a blob's base first), once.
    fn entry(&mut self, loc: Loc, is_blob: bool) -> Result<Loc> {
        self.entry_at(loc, is_blob, 0)
    }

    fn entry_at(&mut self, loc: Loc, is_blob: bool, level: usize) -> Result<Loc> {
        if let Some(new) = self.moved.get(&loc.offset) {
            return Ok(*new);
        }
        if level > MAX_DELTA_DEPTH as usize + 1 {
            return Err(too_deep(loc));
        }
        let mut payload = self.from.pack_read(PACK_FILE.as_bytes(), loc)?;
        if is_blob {
            if let Some((Some(BlobRef::At(base)), _)) = parse_blob(&payload) {
                let new_base = self.entry_at(base, true, level + 1)?;
                let mut body = Vec::with_capacity(pack::LOC_BODY);
                new_base.write_body(&mut body);
                payload[10..10 + pack::LOC_BODY].copy_from_slice(&body);
            }
        }
        let new = self.to.append(&payload)?;
        self.moved.insert(loc.offset, new);
        Ok(new)
    }
}

/// The value to store in a fresh store's `tree` for an exported `value`:
/// blobs and records go to the pack, everything else stays in sled.
fn import_value(pack: &Pack, tree: &[u8], value: Vec<u8>) -> Result<Vec<u8>> {
    match tree {
        b"blobs" => Ok(pack.append(&value)?.encode().to_vec()),
        b"versions" => Ok(pack.append(&RECORDS.pack(&value)?)?.encode().to_vec()),
        _ => Ok(value),
    }
}

/// First line of every backup file. The layout that follows:
///
/// ```text
/// BULLETIN-WATCH-BACKUP            header: text lines, ended by a blank line
/// format 1 / schema 1 / created … / store …
///
/// 'R' name_len:u32le name key_len:u32le key value_len:u64le value   (per record)
/// 'E' record_count:u64le
/// sha256 <hex of every byte above>\n
/// ```
pub const BACKUP_MAGIC: &str = "BULLETIN-WATCH-BACKUP\n";
const BACKUP_FORMAT: &str = "1";
/// `sha256 ` + 64 hex digits + newline.
const TRAILER_LEN: u64 = 72;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a usable backup: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("refusing to restore into {path}: the folder is not empty (choose a new folder with --into)")]
    NotEmpty { path: PathBuf },
}

impl From<std::io::Error> for BackupError {
    fn from(e: std::io::Error) -> Self {
        BackupError::Store(StoreError::Io(e))
    }
}

impl From<sled::Error> for BackupError {
    fn from(e: sled::Error) -> Self {
        BackupError::Store(StoreError::Sled(e))
    }
}

impl BackupError {
    fn file(path: &Path, source: std::io::Error) -> Self {
        BackupError::File {
            path: path.to_path_buf(),
            source,
        }
    }
    /// Names the file an anonymous I/O error happened in.
    fn in_file(self, path: &Path) -> Self {
        match self {
            BackupError::Store(StoreError::Io(e)) => BackupError::file(path, e),
            other => other,
        }
    }
}

/// What a backup or restore moved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackupReport {
    pub trees: usize,
    pub records: u64,
    /// Size of the backup file.
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactReport {
    pub records: u64,
    pub bytes_before: u64,
    pub bytes_after: u64,
}

/// A writer that hashes what passes through it.
struct HashingWriter<W: std::io::Write> {
    inner: W,
    hasher: Sha256,
}

impl<W: std::io::Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
        }
    }
    fn hex_digest(&self) -> String {
        hex(&self.hasher.clone().finalize())
    }
    fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: std::io::Write> std::io::Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

struct HashSink<'a>(&'a mut Sha256);

impl std::io::Write for HashSink<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `<dir>/.<name>.<what>`: next to `path`, so renames stay on one file system.
fn temp_sibling(path: &Path, what: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "store".into());
    path.with_file_name(format!(".{name}.{what}"))
}

fn dir_is_empty(path: &Path) -> Result<bool, BackupError> {
    match std::fs::read_dir(path) {
        Ok(mut rd) => Ok(rd.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => Ok(false),
        Err(e) => Err(BackupError::file(path, e)),
    }
}

/// Makes a rename durable (best effort: not every platform can sync a folder).
fn sync_parent(path: &Path) {
    if let Some(parent) = path.parent() {
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        if let Ok(d) = std::fs::File::open(parent) {
            let _ = d.sync_all();
        }
    }
}

/// A database written once by this process and then closed: without the
/// background flusher, dropping it releases its lock at once, so it can be
/// renamed into place and opened again straight away.
fn scratch_db(path: &Path) -> Result<sled::Db, BackupError> {
    Ok(sled::Config::new().path(path).flush_every_ms(None).open()?)
}

/// Bytes used by the files under `path`.
pub fn folder_size(path: &Path) -> u64 {
    walk_files(path)
        .iter()
        .filter_map(|p| std::fs::symlink_metadata(p).ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

/// A stored blob that a new one may be written as a delta of.
#[derive(Clone)]
struct Base {
    at: BlobRef,
    depth: u8,
    bytes: std::sync::Arc<Vec<u8>>,
    /// `bytes` prepared as a compression dictionary, when it is reused.
    prepared: Option<std::sync::Arc<zstd::dict::EncoderDictionary<'static>>>,
}

/// Compresses `bytes` as the smallest of its deltas against `bases`, or on
/// its own when there is no base.
fn encode_blob(bytes: &[u8], bases: &[Base]) -> Result<Vec<u8>> {
    let mut best: Option<Vec<u8>> = None;
    for b in bases {
        let delta = delta_blob(bytes, b)?;
        if best.as_ref().is_none_or(|x| delta.len() < x.len()) {
            best = Some(delta);
        }
    }
    if let Some(best) = best {
        return Ok(best);
    }
    let data = zstd::bulk::compress(bytes, ZSTD_LEVEL)?;
    let mut out = blob_header(0, bytes.len(), None);
    out.extend_from_slice(&data);
    Ok(out)
}

/// `bytes` as a zstd delta against `base` (stored at delta depth `depth`).
///
/// Blob formats. Every blob starts `format:u8 depth:u8 len:u64le`, `len`
/// being the original size:
/// * 0 — zstd of the bytes;
/// * 1 — zstd with the base blob as dictionary, the base named by its
///   64-hex-digit hash (looked up in the `blobs` tree);
/// * 2 — the same, the base named by its place in the pack (12 bytes).
fn delta_blob(bytes: &[u8], base: &Base) -> Result<Vec<u8>> {
    let (base_at, depth) = (&base.at, base.depth);
    let mut c = match &base.prepared {
        Some(dict) => zstd::bulk::Compressor::with_prepared_dictionary(dict)?,
        None => zstd::bulk::Compressor::with_dictionary(ZSTD_LEVEL, &base.bytes)?,
    };
    let data = c.compress(bytes)?;
    let mut out = blob_header(depth + 1, bytes.len(), Some(base_at));
    out.extend_from_slice(&data);
    Ok(out)
}

/// A blob's header (see [`delta_blob`] for the formats): the format follows
/// from how the base is named.
fn blob_header(depth: u8, len: usize, base: Option<&BlobRef>) -> Vec<u8> {
    let format = match base {
        None => 0,
        Some(BlobRef::Hash(_)) => 1,
        Some(BlobRef::At(_)) => 2,
    };
    let mut out = vec![format, depth];
    out.extend_from_slice(&(len as u64).to_le_bytes());
    match base {
        None => {}
        Some(BlobRef::Hash(hash)) => out.extend_from_slice(hash.as_bytes()),
        Some(BlobRef::At(loc)) => loc.write_body(&mut out),
    }
    out
}

/// A stored blob's base (`None` for a whole blob) and compressed data.
fn parse_blob(blob: &[u8]) -> Option<(Option<BlobRef>, &[u8])> {
    match *blob.first()? {
        0 => Some((None, blob.get(10..)?)),
        1 => {
            let hash = std::str::from_utf8(blob.get(10..74)?).ok()?;
            Some((Some(BlobRef::Hash(hash.to_string())), blob.get(74..)?))
        }
        2 => {
            let loc = Loc::read_body(blob.get(10..)?)?;
            Some((Some(BlobRef::At(loc)), blob.get(10 + pack::LOC_BODY..)?))
        }
        _ => None,
    }
}

fn blob_depth(blob: &[u8]) -> u8 {
    blob.get(1).copied().unwrap_or(MAX_DELTA_DEPTH)
}

/// Creates the store folder readable by its owner only: it holds evidence
/// and, in `mail/`, alert messages.
fn create_private_dir(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(path)
    }
}

/// sled creates its files with the process umask; tighten them.
fn restrict_permissions(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let walk = walk_files(path);
        for p in walk {
            let mode = if p.is_dir() { 0o700 } else { 0o600 };
            let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode));
        }
    }
}

fn walk_files(path: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(p) = stack.pop() {
        if let Ok(rd) = std::fs::read_dir(&p) {
            for e in rd.flatten() {
                let ep = e.path();
                if ep.is_dir() {
                    stack.push(ep.clone());
                }
                out.push(ep);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Section;

    fn doc(text: &str) -> Document {
        Document {
            title: "标题".into(),
            published: None,
            encoding: "UTF-8".into(),
            preamble: "导语".into(),
            sections: vec![Section {
                label: "(一)".into(),
                raw_label: "（一）".into(),
                path: vec!["(一)".into()],
                level: 1,
                heading: String::new(),
                text: text.into(),
            }],
        }
    }

    fn new_version(raw: &[u8], d: Document) -> NewVersion {
        NewVersion {
            source: "s".into(),
            fetched_at: Timestamp::now(),
            url: "http://x/".into(),
            final_url: "http://x/".into(),
            status: 200,
            content_type: None,
            validators: Validators::default(),
            raw: raw.to_vec(),
            document: d,
            encoding_source: EncodingSource::Header,
        }
    }

    #[test]
    fn versions_chain_dedupe_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let page1 = "页面内容".repeat(2000);
        let c1 = s
            .commit_version(&new_version(page1.as_bytes(), doc("一二三")), |_, _| {
                Ok(vec![])
            })
            .unwrap();
        let Commit::Stored { record: r1, .. } = c1 else {
            panic!("first version not stored")
        };
        // Whitespace-only change: same fingerprint, nothing stored.
        let c = s
            .commit_version(
                &new_version(b"other bytes", doc("一 二\u{3000}三")),
                |_, _| Ok(vec![]),
            )
            .unwrap();
        assert!(matches!(c, Commit::Unchanged(_)));
        let page2 = page1.replacen("页面", "页码", 1);
        let c2 = s
            .commit_version(&new_version(page2.as_bytes(), doc("一二四")), |_, _| {
                Ok(vec![])
            })
            .unwrap();
        let Commit::Stored { record: r2, .. } = c2 else {
            panic!("edit not stored")
        };
        assert_eq!(r2.version, 2);
        assert_eq!(r2.prev_hash.as_deref(), Some(r1.record_hash.as_str()));
        assert_eq!(r2.record_hash, r2.compute_record_hash());
        assert_eq!(s.raw(&r2).unwrap(), page2.as_bytes());
        assert_eq!(s.raw(&r1).unwrap(), page1.as_bytes());
        assert_eq!(s.document(&r2).unwrap().sections[0].text, "一二四");
        // The second raw blob is a small delta, not a second copy.
        let stored = s.raw_stored_len(&r2).unwrap();
        assert!(stored < 200, "delta blob is {stored} bytes");
        assert_eq!(s.versions("s").unwrap().len(), 2);
        assert_eq!(s.source_ids().unwrap(), vec!["s".to_string()]);
    }

    #[test]
    fn second_open_is_a_clear_lock_error() {
        let dir = tempfile::tempdir().unwrap();
        let _s = Store::open(dir.path()).unwrap();
        match Store::open(dir.path()) {
            Err(StoreError::Locked { path }) => assert_eq!(path, dir.path()),
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("second open succeeded"),
        }
    }

    #[test]
    fn fetch_state_is_not_rewritten_when_only_time_moves() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let hour = std::time::Duration::from_secs(3600);
        let mut st = FetchState {
            last_checked: Some(Timestamp::now()),
            ..Default::default()
        };
        assert!(s.put_fetch_state("a", &st, hour).unwrap());
        st.last_checked = Some(Timestamp::now());
        assert!(!s.put_fetch_state("a", &st, hour).unwrap());
        st.validators.etag = Some("\"x\"".into());
        assert!(s.put_fetch_state("a", &st, hour).unwrap());
    }

    #[test]
    fn an_interrupted_compact_is_not_mistaken_for_an_empty_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        {
            let s = Store::open(&path).unwrap();
            s.commit_version(&new_version(b"x", doc("甲")), |_, _| Ok(vec![]))
                .unwrap();
        }
        // The crash window of `compact`: data moved aside, fresh copy not yet in place.
        std::fs::rename(&path, temp_sibling(&path, "old")).unwrap();
        match Store::open(&path) {
            Err(StoreError::Open { message, .. }) => {
                assert!(message.contains("interrupted"), "{message}")
            }
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("an empty store was opened over the moved data"),
        }
        assert!(!path.exists(), "nothing created in its place");
    }

    #[cfg(unix)]
    #[test]
    fn backups_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("store")).unwrap();
        let backup = dir.path().join("b.bwb");
        s.backup_to(&backup).unwrap();
        let mode = std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    /// A 20 KB page edited one sentence at a time, far past the delta
    /// depth: every version reads back byte-exact, and the history costs a
    /// small fraction of its raw size in the pack.
    #[test]
    fn long_edit_chains_stay_small_and_exact() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let sentences: Vec<String> = (0..200u64)
            .map(|i| {
                format!(
                    "第{i}句：加强应急管理体系和能力建设，编号{}。",
                    i * 7919 % 10007
                )
            })
            .collect();
        let mut pages = Vec::new();
        let mut current = sentences.clone();
        for v in 0..(3 * MAX_DELTA_DEPTH as usize) {
            let at = (v * 37) % current.len();
            current[at] = format!("修改后的第{v}句，内容有所调整。");
            let body = current.concat();
            let page = format!("<html><body><p>{body}</p></body></html>");
            let nv = new_version(page.as_bytes(), doc(&body));
            let Commit::Stored { record, .. } = s.commit_version(&nv, |_, _| Ok(vec![])).unwrap()
            else {
                panic!("version {v} stored")
            };
            pages.push((record, page));
        }
        let raw_total: usize = pages.iter().map(|(_, p)| p.len()).sum();
        let pack_len = std::fs::metadata(dir.path().join(PACK_FILE)).unwrap().len() as usize;
        assert!(
            pack_len * 10 < raw_total,
            "pack {pack_len} B for {raw_total} B of pages"
        );
        for (rec, page) in &pages {
            assert_eq!(s.raw(rec).unwrap(), page.as_bytes(), "v{}", rec.version);
            assert_eq!(sha256_hex(&s.raw(rec).unwrap()), rec.raw_hash);
            let body = page
                .trim_start_matches("<html><body><p>")
                .trim_end_matches("</p></body></html>");
            assert_eq!(s.document(rec).unwrap().sections[0].text, body);
        }
    }

    /// Stores written before the pack hold blobs and records inline in
    /// sled; they read as before, and compaction moves them into the pack.
    #[test]
    fn inline_values_read_and_compact_into_the_pack() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let (rec, raw) = {
            let s = Store::open(&path).unwrap();
            let nv = new_version(b"<p>first page</p>", doc("一二三"));
            let Commit::Stored { record, .. } = s.commit_version(&nv, |_, _| Ok(vec![])).unwrap()
            else {
                panic!("stored")
            };
            // Rewrite the values the way the first release stored them:
            // the record's JSON and the blobs by hash, inline.
            let key = version_key("s", 1);
            let locs = VersionLocs::decode(&s.versions.get(&key).unwrap().unwrap()).unwrap();
            let mut exporter = BlobExporter {
                store: &s,
                done: Default::default(),
                written: Default::default(),
            };
            let mut blobs = Vec::new();
            for loc in [locs.raw, locs.doc] {
                exporter
                    .export(loc, 0, &mut |h, b| blobs.push((h.to_string(), b)))
                    .unwrap();
            }
            for (hash, blob) in blobs {
                s.blobs.insert(hash.as_bytes(), blob).unwrap();
            }
            s.versions.insert(&key, to_json(&record)).unwrap();
            for kv in s.meta.scan_prefix("site-base:") {
                let (k, v) = kv.unwrap();
                s.meta.insert(k, &v[..64]).unwrap();
            }
            s.flush().unwrap();
            (record, nv.raw)
        };
        // The old pack is gone, as in a store written before the pack;
        // nothing may need it.
        std::fs::remove_file(path.join(PACK_FILE)).unwrap();
        {
            let db = sled::open(&path).unwrap();
            db.open_tree("meta").unwrap().remove("pack").unwrap();
            db.flush().unwrap();
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(s.latest("s").unwrap().unwrap(), rec);
        assert_eq!(s.raw(&rec).unwrap(), raw);
        drop(s);
        Store::compact(&path).unwrap();
        let s = Store::open(&path).unwrap();
        let value = s.versions.get(version_key("s", 1)).unwrap().unwrap();
        assert!(
            Loc::decode(&value).is_some(),
            "compaction moved the record into the pack"
        );
        assert_eq!(s.latest("s").unwrap().unwrap(), rec);
        assert_eq!(s.raw(&rec).unwrap(), raw);
        assert_eq!(s.document(&rec).unwrap().sections[0].text, "一二三");
    }

    /// A crash between appending to the pack and committing to sled leaves
    /// bytes nothing points to: the history reads as before and the next
    /// version goes after them.
    #[test]
    fn a_torn_pack_tail_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let v1 = new_version(b"<p>one</p>", doc("一"));
        {
            let s = Store::open(dir.path()).unwrap();
            s.commit_version(&v1, |_, _| Ok(vec![])).unwrap();
        }
        let pack = dir.path().join(PACK_FILE);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&pack)
            .unwrap();
        std::io::Write::write_all(&mut f, &[0x17, 0, 0, 0, 0xde, 0xad, b'x', b'y']).unwrap();
        drop(f);
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.latest("s").unwrap().unwrap().version, 1);
        let v2 = new_version(b"<p>two</p>", doc("二"));
        let Commit::Stored { record, .. } = s.commit_version(&v2, |_, _| Ok(vec![])).unwrap()
        else {
            panic!("stored")
        };
        assert_eq!(s.raw(&record).unwrap(), b"<p>two</p>");
        assert_eq!(s.versions("s").unwrap().len(), 2);
    }

    /// Small values that sled rewrites often are stored compressed with a
    /// dictionary; values written before that read as before.
    #[test]
    fn state_and_entries_are_small_and_old_forms_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let state = FetchState {
            validators: Validators {
                etag: Some("\"9d8a-5f3b2c1a\"".into()),
                last_modified: Some("Mon, 30 Nov 2026 01:34:31 GMT".into()),
            },
            last_checked: Some(Timestamp::now()),
            last_success: Some(Timestamp::now()),
            ..FetchState::default()
        };
        s.put_fetch_state("a", &state, std::time::Duration::ZERO)
            .unwrap();
        let stored = s.state.get("a").unwrap().unwrap();
        assert!(
            stored.len() * 2 < to_json(&state).len(),
            "{} B",
            stored.len()
        );
        assert_eq!(s.fetch_state("a").unwrap(), state);
        s.state.insert("b", to_json(&state)).unwrap();
        assert_eq!(s.fetch_state("b").unwrap(), state);

        let entry = OutboxEntry::new("changed/a/v2".into(), AlertKind::Changed, "a", Some(2));
        let stored = encode_entry(&entry);
        assert!(
            stored.len() * 2 < to_json(&entry).len(),
            "{} B",
            stored.len()
        );
        assert_eq!(decode_entry(b"k", &stored).unwrap(), entry);
        let plain = zstd::bulk::compress(&to_json(&entry), 3).unwrap();
        assert_eq!(decode_entry(b"k", &plain).unwrap(), entry);
        assert_eq!(decode_entry(b"k", &to_json(&entry)).unwrap(), entry);
    }

    /// Two sources with the same first page: the second is stored as a
    /// delta of the first (the site's base) with the same hash. A backup
    /// must still restore into blobs that all decode, whichever sorts first.
    #[test]
    fn identical_pages_of_two_sources_back_up_and_restore() {
        let dir = tempfile::tempdir().unwrap();
        let store_path = dir.path().join("store");
        let page = |id: &str, body: &str| NewVersion {
            source: id.into(),
            url: format!("http://yjt.example.gov.cn/{id}.html"),
            raw: format!("<html><body><p>{body}</p></body></html>").into_bytes(),
            ..new_version(b"", doc(body))
        };
        let mut records = Vec::new();
        {
            let s = Store::open(&store_path).unwrap();
            for nv in [
                page("zz", "同一页面"),
                page("aa", "同一页面"),
                page("zz", "同一页面，已修改"),
                page("aa", "另一个修改"),
            ] {
                let Commit::Stored { record, .. } =
                    s.commit_version(&nv, |_, _| Ok(vec![])).unwrap()
                else {
                    panic!("stored")
                };
                records.push((record, nv.raw));
            }
            assert_eq!(records[0].0.raw_hash, records[1].0.raw_hash);
            s.backup_to(&dir.path().join("b.bwb")).unwrap();
        }
        let restored = dir.path().join("restored");
        Store::restore_from(&dir.path().join("b.bwb"), &restored).unwrap();
        let s = Store::open(&restored).unwrap();
        for (rec, raw) in &records {
            let got = s.version(&rec.source, rec.version).unwrap().unwrap();
            assert_eq!(&got, rec);
            assert_eq!(&s.raw(rec).unwrap(), raw, "{} v{}", rec.source, rec.version);
            assert_eq!(sha256_hex(&s.document_bytes(rec).unwrap()), rec.doc_hash);
        }
    }

    #[test]
    fn a_new_source_is_stored_as_a_delta_of_its_site_base() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let template: String = (0..600u64)
            .map(|i| {
                format!(
                    "<li><a href=\"/col/{}.html\">第{i}条 栏目{}</a></li>",
                    i * 7919 % 10007,
                    i * 104729 % 997
                )
            })
            .collect();
        let page = |id: &str, body: &str| NewVersion {
            source: id.into(),
            url: format!("http://yjt.example.gov.cn/{id}.html"),
            raw: format!("{template}<p>{body}</p>").into_bytes(),
            ..new_version(b"", doc(body))
        };
        let first = s
            .commit_version(&page("a", "甲文"), |_, _| Ok(vec![]))
            .unwrap();
        let second = s
            .commit_version(&page("b", "乙文"), |_, _| Ok(vec![]))
            .unwrap();
        let (Commit::Stored { record: a, .. }, Commit::Stored { record: b, .. }) = (first, second)
        else {
            panic!("both stored")
        };
        let full = s.raw_stored_len(&a).unwrap();
        let delta = s.raw_stored_len(&b).unwrap();
        assert!(delta * 4 < full, "site delta {delta} B vs full {full} B");
        assert_eq!(
            s.raw(&b).unwrap(),
            page("b", "乙文").raw,
            "evidence byte-exact"
        );
        // Another site does not use it.
        let other = NewVersion {
            url: "http://other.example.org/c.html".into(),
            ..page("c", "丙文")
        };
        let Commit::Stored { record: c, .. } = s.commit_version(&other, |_, _| Ok(vec![])).unwrap()
        else {
            panic!("stored")
        };
        let other_len = s.raw_stored_len(&c).unwrap();
        assert!(
            other_len > delta * 4,
            "another site starts from a full blob: {other_len} B"
        );
        assert_eq!(s.raw(&c).unwrap(), other.raw);
    }

    #[test]
    fn pending_index_follows_delivery_and_is_rebuilt_for_old_stores() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path()).unwrap();
            let a = OutboxEntry::new("changed/a/v2".into(), AlertKind::Changed, "a", Some(2));
            let b = OutboxEntry::new("changed/b/v2".into(), AlertKind::Changed, "b", Some(2));
            assert!(s.enqueue(&a).unwrap());
            assert!(
                !s.enqueue(&a).unwrap(),
                "the same alert is never queued twice"
            );
            assert!(s.enqueue(&b).unwrap());
            assert_eq!(s.pending().unwrap().len(), 2);
            let mut done = a.clone();
            done.state = DeliveryState::Delivered;
            s.update_entry(&done).unwrap();
            let pending: Vec<_> = s.pending().unwrap().into_iter().map(|e| e.key).collect();
            assert_eq!(pending, vec!["changed/b/v2".to_string()]);
            assert_eq!(
                s.outbox().unwrap().len(),
                2,
                "delivered alerts stay in the outbox"
            );
            // A store from before the index: no flag, no index.
            s.pending.clear().unwrap();
            s.meta.remove("pending-index").unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        let pending: Vec<_> = s.pending().unwrap().into_iter().map(|e| e.key).collect();
        assert_eq!(pending, vec!["changed/b/v2".to_string()]);
    }
}
