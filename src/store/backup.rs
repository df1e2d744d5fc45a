//! Backup, restore and compaction: one self-checking file holding every
//! tree (blobs and records written out of the pack, the way stores before
//! it kept them), a restore that checks the whole file before writing, and
//! a compaction that copies only live data into a fresh folder.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use sha2::{Digest, Sha256};

use super::blobs::{
    blob_depth, blob_header, encode_blob, parse_blob, BlobRef, SiteBase, MAX_DELTA_DEPTH,
};
use super::codec::{to_json, RECORDS};
use super::error::{io_at, io_is_disk_full};
use super::fs::{create_private_dir, dir_is_empty, folder_size, sync_parent, temp_sibling};
use super::keys::VersionLocs;
use super::pack::{self, Loc, Pack};
use super::{Result, Store, StoreError, PACK_FILE, SCHEMA};
use crate::model::sha256_hex;

impl Store {
    /// A sled value as backups carry it: locators replaced by
    /// what they point to (a blob as stored, a record's JSON), so a backup
    /// is self-contained and reads like one made before the pack existed.
    pub(super) fn export_value(&self, tree: &[u8], key: &[u8], value: &[u8]) -> Result<Vec<u8>> {
        match (tree, Loc::decode(value)) {
            (b"blobs", Some(loc)) => self.pack_read(key, loc),
            (b"versions", _) if value.first() != Some(&b'{') => {
                to_json(&self.record_from(key, value)?)
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
        let at = BackupError::at(&tmp);
        let result = (|| -> Result<(), BackupError> {
            w.write_all(header.as_bytes()).map_err(&at)?;
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
                        w.write_all(b"R").map_err(&at)?;
                        w.write_all(&(name.len() as u32).to_le_bytes())
                            .map_err(&at)?;
                        w.write_all(&name).map_err(&at)?;
                        w.write_all(&(k.len() as u32).to_le_bytes()).map_err(&at)?;
                        w.write_all(&k).map_err(&at)?;
                        w.write_all(&(v.len() as u64).to_le_bytes()).map_err(&at)?;
                        w.write_all(&v).map_err(&at)?;
                        report.records += 1;
                    }
                }
            }
            w.write_all(b"E").map_err(&at)?;
            w.write_all(&report.records.to_le_bytes()).map_err(&at)?;
            let digest = w.hex_digest();
            let mut inner = w.into_inner();
            inner
                .write_all(format!("sha256 {digest}\n").as_bytes())
                .map_err(&at)?;
            let file = inner.into_inner().map_err(|e| at(e.into_error()))?;
            file.sync_all().map_err(&at)?;
            report.sha256 = digest;
            report.bytes = file.metadata().map_err(&at)?.len();
            Ok(())
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
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
            create_private_dir(&staging).map_err(BackupError::at(&staging))?;
            let db = scratch_db(&staging)?;
            let pack_path = staging.join(PACK_FILE);
            let pack = Pack::open(&pack_path).map_err(BackupError::at(&pack_path))?;
            let mut report = BackupReport {
                sha256: actual.clone(),
                bytes: len,
                ..Default::default()
            };
            let mut names = std::collections::HashSet::new();
            let read_exact = |r: &mut dyn Read, n: usize| -> Result<Vec<u8>, BackupError> {
                let mut buf = Vec::new();
                r.take(n as u64)
                    .read_to_end(&mut buf)
                    .map_err(BackupError::at(backup))?;
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
            pack.sync().map_err(BackupError::at(&pack_path))?;
            db.flush()?;
            Ok(report)
        })()
        .map_err(|e| e.classify(&staging));
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
            create_private_dir(&fresh).map_err(BackupError::at(&fresh))?;
            let db = scratch_db(&fresh)?;
            // Only what sled still points to is copied: the fresh pack
            // drops entries a crash left unreferenced.
            let pack_path = fresh.join(PACK_FILE);
            let pack = Pack::open(&pack_path).map_err(BackupError::at(&pack_path))?;
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
            pack.sync().map_err(BackupError::at(&pack_path))?;
            db.flush()?;
            Ok(records)
        })()
        .map_err(|e| e.classify(&fresh));
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
pub(super) struct BlobExporter<'a> {
    pub(super) store: &'a Store,
    /// Pack offset → hash and delta depth as written.
    pub(super) done: std::collections::HashMap<u64, (String, u8)>,
    /// Hash → delta depth as written.
    pub(super) written: std::collections::HashMap<String, u8>,
}

impl BlobExporter<'_> {
    pub(super) fn export(
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
pub(super) fn too_deep(loc: Loc) -> StoreError {
    StoreError::Corrupt {
        key: format!("pack entry at {}", loc.offset),
        message: "delta chain too deep (a cycle?)".into(),
    }
}

/// Copies what sled points to from one pack to a fresh one, entries in an
/// order where every delta's base comes first, and translates the
/// locators.
pub(super) struct PackMover<'a> {
    from: &'a Store,
    to: &'a Pack,
    /// Old offset → new locator.
    moved: std::collections::HashMap<u64, Loc>,
}

impl PackMover<'_> {
    /// `value` of `tree` with every locator moved to the fresh pack.
    pub(super) fn value(&mut self, tree: &[u8], key: &[u8], value: &[u8]) -> Result<Vec<u8>> {
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
    pub(super) fn entry(&mut self, loc: Loc, is_blob: bool) -> Result<Loc> {
        self.entry_at(loc, is_blob, 0)
    }

    pub(super) fn entry_at(&mut self, loc: Loc, is_blob: bool, level: usize) -> Result<Loc> {
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
        let new = self.to.append(&payload).map_err(io_at(self.to.path()))?;
        self.moved.insert(loc.offset, new);
        Ok(new)
    }
}

/// The value to store in a fresh store's `tree` for an exported `value`:
/// blobs and records go to the pack, everything else stays in sled.
pub(super) fn import_value(pack: &Pack, tree: &[u8], value: Vec<u8>) -> Result<Vec<u8>> {
    match tree {
        b"blobs" => Ok(pack
            .append(&value)
            .map_err(io_at(pack.path()))?
            .encode()
            .to_vec()),
        b"versions" => Ok(pack
            .append(&RECORDS.pack(&value)?)
            .map_err(io_at(pack.path()))?
            .encode()
            .to_vec()),
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
pub(super) const BACKUP_MAGIC: &str = "BULLETIN-WATCH-BACKUP\n";
pub(super) const BACKUP_FORMAT: &str = "1";
/// `sha256 ` + 64 hex digits + newline.
pub(super) const TRAILER_LEN: u64 = 72;

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

impl From<sled::Error> for BackupError {
    fn from(e: sled::Error) -> Self {
        BackupError::Store(StoreError::Sled(e))
    }
}

impl BackupError {
    /// An I/O error on `path` (a full disk as [`StoreError::DiskFull`]).
    pub(super) fn file(path: &Path, source: std::io::Error) -> Self {
        if io_is_disk_full(&source) {
            return BackupError::Store(StoreError::DiskFull {
                path: path.to_path_buf(),
            });
        }
        BackupError::File {
            path: path.to_path_buf(),
            source,
        }
    }

    /// A full disk recognised in a store error, at `path` for sled's.
    pub(super) fn classify(self, path: &Path) -> Self {
        match self {
            BackupError::Store(e) => BackupError::Store(e.classify(path)),
            other => other,
        }
    }

    /// A closure naming `path` for [`BackupError::file`].
    pub(super) fn at(path: &Path) -> impl Fn(std::io::Error) -> Self + '_ {
        move |e| BackupError::file(path, e)
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
pub(super) struct HashingWriter<W: std::io::Write> {
    inner: W,
    hasher: Sha256,
}

impl<W: std::io::Write> HashingWriter<W> {
    pub(super) fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
        }
    }
    pub(super) fn hex_digest(&self) -> String {
        hex(&self.hasher.clone().finalize())
    }
    pub(super) fn into_inner(self) -> W {
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

pub(super) struct HashSink<'a>(&'a mut Sha256);

impl std::io::Write for HashSink<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A database written once by this process and then closed: without the
/// background flusher, dropping it releases its lock at once, so it can be
/// renamed into place and opened again straight away.
pub(super) fn scratch_db(path: &Path) -> Result<sled::Db, BackupError> {
    Ok(sled::Config::new().path(path).flush_every_ms(None).open()?)
}
