//! Content-addressed blobs: a version's raw bytes and document, zstd-
//! compressed as a delta against an earlier blob (the previous version's,
//! or the site's base page for a source's first version), in the pack or —
//! in stores written before it — by hash in the `blobs` tree.

use super::codec::{decode_json, with_cctx, zstd_error};
use super::error::{codec, damaged, io_at};
use super::keys::{key_name, version_key, VersionLocs};
use super::pack::{self, Loc};
use super::{Result, Store, StoreError, VersionRecord, PACK_FILE};
use crate::model::Document;

/// Deltas are chained at most this deep before a blob is stored whole, so
/// reading any version costs a bounded number of decompressions.
pub(super) const MAX_DELTA_DEPTH: u8 = 16;
pub(super) const ZSTD_LEVEL: i32 = 3;
/// No page is stored larger than this (fetch caps bodies far below it); a
/// blob header claiming more is damage, not an allocation to attempt.
pub(super) const MAX_BLOB_LEN: u64 = 1 << 30;

#[derive(Debug, Clone, Copy)]
pub(super) enum Part {
    Raw,
    Doc,
}

/// How a blob is found: by its place in the pack, or by hash in the
/// `blobs` tree (blobs written before the pack existed).
#[derive(Debug, Clone)]
pub(super) enum BlobRef {
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
pub(super) struct SiteBase {
    pub(super) hash: String,
    pub(super) at: Option<Loc>,
}

impl SiteBase {
    pub(super) fn encode(&self) -> Vec<u8> {
        let mut out = self.hash.as_bytes().to_vec();
        if let Some(loc) = self.at {
            loc.write_body(&mut out);
        }
        out
    }

    pub(super) fn decode(value: &[u8]) -> Option<SiteBase> {
        let hash = std::str::from_utf8(value.get(..64)?).ok()?.to_string();
        let at = match value.len() {
            64 => None,
            n if n == 64 + pack::LOC_BODY => Some(Loc::read_body(&value[64..])?),
            _ => return None,
        };
        Some(SiteBase { hash, at })
    }

    pub(super) fn blob_ref(&self) -> BlobRef {
        match self.at {
            Some(loc) => BlobRef::At(loc),
            None => BlobRef::Hash(self.hash.clone()),
        }
    }
}

/// A stored blob that a new one may be written as a delta of.
#[derive(Clone)]
pub(super) struct Base {
    pub(super) at: BlobRef,
    pub(super) depth: u8,
    pub(super) bytes: std::sync::Arc<Vec<u8>>,
    /// Compression contexts with `bytes` loaded as their dictionary, when
    /// the base is reused (a site's base page).
    pub(super) prepared: Option<std::sync::Arc<Prepared>>,
}

impl Base {
    /// This base as one to compress against.
    pub(super) fn view(&self) -> BaseRef<'_> {
        BaseRef {
            at: &self.at,
            depth: self.depth,
            bytes: &self.bytes,
            prepared: self.prepared.as_deref(),
        }
    }
}

/// A base as [`encode_blob`] compresses against it: a stored [`Base`], or
/// bytes just written and still at hand (a page's own raw bytes, the base
/// of its document).
#[derive(Clone, Copy)]
pub(super) struct BaseRef<'a> {
    pub(super) at: &'a BlobRef,
    pub(super) depth: u8,
    pub(super) bytes: &'a [u8],
    pub(super) prepared: Option<&'a Prepared>,
}

/// A base reused for many deltas (a site's base page), kept as a few
/// compression contexts that each hold it as their dictionary, set to
/// attach it to every frame: zstd then searches the dictionary's own match
/// tables in place. Compressing with a prepared dictionary object instead
/// copies its tables into the context for every frame once the input is
/// larger than a few KB (zstd's attach cutoff, below the size of a page),
/// which cost about as much as the compression itself. A context is taken
/// out for one frame and put back, so threads never share one; the frames
/// read back as any frame with a raw-content dictionary does.
pub(super) struct Prepared {
    bytes: std::sync::Arc<Vec<u8>>,
    idle: std::sync::Mutex<Vec<zstd::zstd_safe::CCtx<'static>>>,
}

impl Prepared {
    /// Contexts kept idle per base: one per thread that commits at the
    /// same time (the runtime's workers), a few hundred KB each.
    const KEEP: usize = 2;

    pub(super) fn new(bytes: std::sync::Arc<Vec<u8>>) -> Prepared {
        Prepared {
            bytes,
            idle: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn context(&self) -> std::io::Result<zstd::zstd_safe::CCtx<'static>> {
        use zstd::zstd_safe::{CCtx, CParameter, DictAttachPref};
        if let Some(cctx) = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return Ok(cctx);
        }
        let mut cctx =
            CCtx::try_create().ok_or_else(|| std::io::Error::other("no zstd context"))?;
        cctx.set_parameter(CParameter::CompressionLevel(ZSTD_LEVEL))
            .map_err(zstd_error)?;
        cctx.set_parameter(CParameter::ForceAttachDict(DictAttachPref::ForceAttach))
            .map_err(zstd_error)?;
        cctx.load_dictionary(&self.bytes).map_err(zstd_error)?;
        Ok(cctx)
    }

    /// `bytes` compressed as one frame with this base as its dictionary.
    fn compress(&self, bytes: &[u8], out: &mut Vec<u8>) -> std::io::Result<()> {
        let mut cctx = self.context()?;
        cctx.compress2(out, bytes).map_err(zstd_error)?;
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < Self::KEEP {
            idle.push(cctx);
        }
        Ok(())
    }
}

/// Compresses `bytes` as the smallest of its deltas against `bases`, or on
/// its own when there is no base.
pub(super) fn encode_blob(bytes: &[u8], bases: &[BaseRef<'_>]) -> Result<Vec<u8>> {
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
    let mut out = blob_header(0, bytes.len(), None);
    with_cctx(|cctx| {
        let mut data = Vec::with_capacity(zstd::zstd_safe::compress_bound(bytes.len()));
        cctx.compress(&mut data, bytes, ZSTD_LEVEL)
            .map_err(zstd_error)?;
        out.extend_from_slice(&data);
        Ok(())
    })
    .map_err(codec("compress a blob"))?;
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
pub(super) fn delta_blob(bytes: &[u8], base: &BaseRef<'_>) -> Result<Vec<u8>> {
    let (base_at, depth) = (base.at, base.depth);
    let mut out = blob_header(depth + 1, bytes.len(), Some(base_at));
    // A base used once (`prepared` is `None`) is loaded into the context's
    // own tables for this frame only, without building a dictionary
    // object; both give the frame a raw-content dictionary gives, read
    // back the same way.
    let mut data = Vec::with_capacity(zstd::zstd_safe::compress_bound(bytes.len()));
    match &base.prepared {
        Some(prepared) => prepared.compress(bytes, &mut data),
        None => with_cctx(|cctx| {
            cctx.compress_using_dict(&mut data, bytes, base.bytes, ZSTD_LEVEL)
                .map(drop)
                .map_err(zstd_error)
        }),
    }
    .map_err(codec("compress a delta"))?;
    out.extend_from_slice(&data);
    Ok(out)
}

/// A blob's header (see [`delta_blob`] for the formats): the format follows
/// from how the base is named.
pub(super) fn blob_header(depth: u8, len: usize, base: Option<&BlobRef>) -> Vec<u8> {
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
pub(super) fn parse_blob(blob: &[u8]) -> Option<(Option<BlobRef>, &[u8])> {
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

pub(super) fn blob_depth(blob: &[u8]) -> u8 {
    blob.get(1).copied().unwrap_or(MAX_DELTA_DEPTH)
}

impl Store {
    /// Appends one entry to the pack (not durable until synced).
    pub(super) fn pack_append(&self, payload: &[u8]) -> Result<Loc> {
        self.pack.append(payload).map_err(io_at(self.pack.path()))
    }

    /// Where a version's raw bytes (or document) are stored: in the pack,
    /// named by the version's own locators, or for versions written before
    /// the pack existed, by hash in the `blobs` tree.
    pub(super) fn part_ref(&self, rec: &VersionRecord, part: Part) -> Result<BlobRef> {
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
    pub(super) fn decode_part(&self, rec: &VersionRecord, part: Part) -> Result<Vec<u8>> {
        let (what, hash) = match part {
            Part::Raw => ("raw bytes", &rec.raw_hash),
            Part::Doc => ("document", &rec.doc_hash),
        };
        self.decode_blob(self.part_ref(rec, part)?).map_err(|e| {
            let key = format!("{} v{} {what} {hash}", rec.source, rec.version);
            match e {
                StoreError::Corrupt { message, .. } => StoreError::Corrupt { key, message },
                StoreError::Damaged { what, source, .. } => {
                    StoreError::Damaged { key, what, source }
                }
                StoreError::MissingBlob { .. } => StoreError::Corrupt {
                    key,
                    message: e.to_string(),
                },
                e => e,
            }
        })
    }

    /// The normalised document of a version.
    pub fn document(&self, rec: &VersionRecord) -> Result<Document> {
        decode_json(rec.doc_hash.as_bytes(), &self.document_bytes(rec)?)
    }

    /// Where a version's raw bytes or document lie in the pack file
    /// (offset and length of the stored, compressed entry); `None` for
    /// versions stored before the pack existed.
    #[cfg(any(test, feature = "test-hooks"))]
    pub(super) fn extent(&self, rec: &VersionRecord, part: Part) -> Result<Option<(u64, u32)>> {
        Ok(match self.part_ref(rec, part)? {
            BlobRef::At(loc) => Some((loc.offset, loc.len)),
            BlobRef::Hash(_) => None,
        })
    }

    /// Bytes a version's raw blob takes as stored (compressed).
    #[cfg(test)]
    pub(super) fn raw_stored_len(&self, rec: &VersionRecord) -> Result<usize> {
        Ok(self.encoded(&self.part_ref(rec, Part::Raw)?)?.len())
    }

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
    pub(super) fn site_base(&self, site: &SiteBase) -> Result<Option<Base>> {
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
            base.prepared = Some(std::sync::Arc::new(Prepared::new(base.bytes.clone())));
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
    pub(super) fn delta_base(&self, at: BlobRef) -> Result<Option<Base>> {
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
            Err(
                e @ (StoreError::Corrupt { .. }
                | StoreError::Damaged { .. }
                | StoreError::MissingBlob { .. }),
            ) => {
                tracing::warn!(base = %at, error = %e, "delta base unreadable; storing the blob whole");
                Ok(None)
            }
            other => other,
        }
    }

    /// A blob as stored (compressed, possibly a delta).
    pub(super) fn encoded(&self, at: &BlobRef) -> Result<Vec<u8>> {
        match at {
            BlobRef::At(loc) => self.pack_read(PACK_FILE.as_bytes(), *loc),
            BlobRef::Hash(hash) => self
                .stored_blob(hash)?
                .ok_or_else(|| StoreError::MissingBlob { hash: hash.clone() }),
        }
    }

    /// A blob of the `blobs` tree as stored, by hash: versions written
    /// before the pack existed keep theirs there, inline or as a locator.
    pub(super) fn stored_blob(&self, hash: &str) -> Result<Option<Vec<u8>>> {
        match self.blobs.get(hash.as_bytes())? {
            None => Ok(None),
            Some(value) => match Loc::decode(&value) {
                Some(loc) => Ok(Some(self.pack_read(hash.as_bytes(), loc)?)),
                None => Ok(Some(value.to_vec())),
            },
        }
    }

    /// A blob's original bytes: walks down its delta chain to a whole blob,
    /// then decompresses back up.
    pub(super) fn decode_blob(&self, at: BlobRef) -> Result<Vec<u8>> {
        let top = self.encoded(&at)?;
        self.decode_from(&at, top)
    }

    /// [`Store::decode_blob`] for a blob already read as stored (`top`).
    pub(super) fn decode_from(&self, at: &BlobRef, top: Vec<u8>) -> Result<Vec<u8>> {
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
            let corrupt = damaged::<std::io::Error>("blob".into(), "cannot decompress");
            bytes = if i == 0 {
                zstd::bulk::decompress(data, len).map_err(corrupt)?
            } else {
                let mut d = zstd::bulk::Decompressor::with_dictionary(&bytes)
                    .map_err(codec("prepare a delta base"))?;
                d.decompress(data, len).map_err(corrupt)?
            };
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod prepared_tests {
    use super::*;

    fn page(n: usize, body: &str) -> Vec<u8> {
        let mut p = String::from("<html><head><title>省应急管理厅</title></head><body><div class=nav>首页 | 机构 | 政务公开 | 互动</div>");
        for i in 0..n {
            p.push_str(&format!(
                "<p>第{i}段：{body}，全省应急管理工作会议在省会召开。</p>"
            ));
        }
        p.push_str("<div class=footer>主办单位：省应急管理厅 版权所有</div></body></html>");
        p.into_bytes()
    }

    /// Deltas against a prepared (attached) base read back with the base as
    /// a plain dictionary, as every delta is read, and are as small as the
    /// same delta made without preparing the base; the contexts are reused
    /// and at most [`Prepared::KEEP`] of them are kept.
    #[test]
    fn a_prepared_base_gives_deltas_that_read_back_plainly() {
        let base = std::sync::Arc::new(page(400, "基础"));
        let prepared = Prepared::new(base.clone());
        let at = BlobRef::Hash("0".repeat(64));
        for k in 0..5 {
            let new = page(300 + 40 * k, &format!("变化{k}"));
            let attached = BaseRef {
                at: &at,
                depth: 0,
                bytes: &base,
                prepared: Some(&prepared),
            };
            let plain = BaseRef {
                prepared: None,
                ..attached
            };
            let blob = delta_blob(&new, &attached).unwrap();
            let (_, data) = parse_blob(&blob).unwrap();
            let back = zstd::bulk::Decompressor::with_dictionary(&base)
                .unwrap()
                .decompress(data, new.len())
                .unwrap();
            assert_eq!(back, new);
            let loaded = delta_blob(&new, &plain).unwrap();
            assert!(
                blob.len() <= loaded.len() + loaded.len() / 20,
                "{} {}",
                blob.len(),
                loaded.len()
            );
            assert!(
                blob.len() < new.len() / 4,
                "{} of {}",
                blob.len(),
                new.len()
            );
        }
        let idle = prepared.idle.lock().unwrap();
        assert_eq!(idle.len(), 1);
        let cdict = zstd::dict::EncoderDictionary::copy(&base, ZSTD_LEVEL);
        eprintln!(
            "base of {} bytes: an idle context with it attached {} bytes, \
             it as a prepared dictionary {} bytes",
            base.len(),
            idle[0].sizeof(),
            cdict.as_cdict().sizeof()
        );
    }
}
