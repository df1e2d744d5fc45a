//! Search and comparison across provinces and years: a Chinese-aware index
//! of every stored version's title, preamble and sections.
//!
//! The index (tantivy, embedded like sled) lives in `<store>/index/`. It is
//! derived: never part of the hash chain, not in backups, rebuilt from the
//! store whenever it is missing, damaged or of another format. It is
//! updated after each commit, outside the version's transaction: the check
//! pipeline tells the index (a [`VersionSink`]) which source has a new
//! version, and a thread of its own indexes it moments later. A crash
//! leaves at most a lag: what is indexed is read back from the index itself
//! (each version's `_title` entry), and every start catches up from the
//! store. Whoever holds the store holds the index writer; while the daemon
//! runs, `search` and `matrix` reach its index through the control socket.
//!
//! The rooms: `fold` (the one normalised form), `schema` (entries and
//! tokenizers), `query` (the query language), `find` (running a query:
//! candidates from the index, each checked against its text), `snippet`
//! (【marked】 excerpts), `matrix` (provinces × terms), `render` (CLI text
//! and JSON).

mod find;
mod fold;
mod matrix;
mod query;
mod render;
mod schema;
mod snippet;
mod words;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tantivy::collector::DocSetCollector;
use tantivy::query::TermQuery;
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::catalog::{Catalog, Stored};
use crate::model::{Document, VersionSink};
use crate::present::beijing_date;
use crate::store::{Store, StoreError, Tracked, VersionRecord};

pub use find::Hit;
pub use fold::fold;
pub use matrix::{Cell, Matrix, Row, SectionRef};
pub use query::{parse as parse_query, Parsed, QueryError};
pub use render::{hits_json, hits_text, matrix_table};
use schema::Fields;

/// The pause in the commits the indexing thread waits for before indexing
/// what it was told of.
const GATHER: Duration = Duration::from_millis(300);
/// The longest it waits for such a pause.
const MAX_LAG: Duration = Duration::from_secs(120);
/// Entries added before an intermediate commit (a rebuild keeps its
/// progress). A commit waits for every entry added to be indexed; in
/// between, tantivy queues up to 10,000 of them (~4.5 KB each here), so
/// this also bounds what waits in memory: ~4.5 MB (4,000 held 18 MB at
/// the peak of a catch-up of 100,000 versions).
const COMMIT_EVERY: usize = 1_000;
/// The writer's memory budget (tantivy's minimum is 15 MB per thread).
const WRITER_BYTES: usize = 16_000_000;
/// Decompressed blocks of stored text each segment keeps (tantivy's
/// default is 100, per segment: tens of MB over a large index, for a few
/// snippets per search).
const DOC_CACHE_BLOCKS: usize = 8;
/// Segments with more entries than this are not merged further: with a
/// commit every [`COMMIT_EVERY`] entries, a merge joins young segments of
/// at most ~45 MB of files here, which it reads through the memory map:
/// they count in the resident set while it runs.
const MERGE_MAX_DOCS: usize = 20_000;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error("search index {}: {source}", path.display())]
    Index {
        path: PathBuf,
        #[source]
        source: tantivy::TantivyError,
    },
    #[error("search index {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "the search index is not open (see the log); `bulletin-watch store reindex` rebuilds it"
    )]
    Unavailable,
}

pub type Result<T> = std::result::Result<T, SearchError>;

/// Where the index of the store at `store_dir` lives.
pub fn index_dir(store_dir: &Path) -> PathBuf {
    store_dir.join("index")
}

/// An open index: what searches read.
pub(crate) struct Engine {
    pub index: Index,
    pub reader: IndexReader,
    pub fields: Fields,
}

/// What the index holds of one source: kept for every source while the
/// index is open, so it is small (sorted version numbers in one
/// allocation, not a tree).
#[derive(Debug, Default, Clone)]
struct Present {
    versions: Box<[u32]>,
    latest: Option<u32>,
}

impl Present {
    fn has(&self, version: u32) -> bool {
        self.versions.binary_search(&version).is_ok()
    }
}

/// The writer and what has been written, held by one thread at a time.
struct Writer {
    writer: IndexWriter<TantivyDocument>,
    present: HashMap<Box<str>, Present>,
    /// Entries added since the last commit.
    pending: usize,
}

/// What a rebuild or catch-up did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Indexed {
    pub versions: usize,
    pub entries: usize,
}

/// The search index of one store.
pub struct SearchIndex {
    dir: PathBuf,
    /// Shared, so that a batch takes it without copying it.
    catalog: RwLock<Arc<Catalog>>,
    engine: RwLock<Option<Arc<Engine>>>,
    writer: Mutex<Option<Writer>>,
    queue: Mutex<Option<mpsc::Sender<String>>>,
    worker: Mutex<Option<std::thread::JoinHandle<()>>>,
    stop: AtomicBool,
    caught_up: AtomicBool,
    /// The indexing thread has not tried to open the index yet.
    opening: AtomicBool,
}

impl SearchIndex {
    fn new(store: &Store, catalog: Catalog) -> SearchIndex {
        SearchIndex {
            dir: index_dir(store.path()),
            catalog: RwLock::new(Arc::new(catalog)),
            engine: RwLock::new(None),
            writer: Mutex::new(None),
            queue: Mutex::new(None),
            worker: Mutex::new(None),
            stop: AtomicBool::new(false),
            caught_up: AtomicBool::new(false),
            opening: AtomicBool::new(false),
        }
    }

    /// Opens the index and brings it up to date with the store before
    /// returning (for a command that holds the store itself).
    pub fn open_now(store: &Store, catalog: Catalog) -> Result<SearchIndex> {
        let index = SearchIndex::new(store, catalog);
        index.open_or_rebuild()?;
        index.catch_up(store)?;
        Ok(index)
    }

    /// Throws away whatever index the store has and builds it again from
    /// every stored version (`store reindex`).
    pub fn reindex(store: &Store, catalog: Catalog) -> Result<Indexed> {
        SearchIndex::new(store, catalog).rebuild(store)
    }

    /// Opens the index and returns at once: a thread of its own catches up
    /// with the store (rebuilding a missing or damaged index), then indexes
    /// each version it is told of ([`VersionSink`]). Never fails: an index
    /// that cannot be opened is logged and searches say so.
    pub fn start(store: Arc<Store>, catalog: Catalog) -> Arc<SearchIndex> {
        let index = Arc::new(SearchIndex::new(&store, catalog));
        index.opening.store(true, Ordering::SeqCst);
        let (tx, rx) = mpsc::channel::<String>();
        *lock(&index.queue) = Some(tx);
        let me = index.clone();
        let spawned = std::thread::Builder::new()
            .name("search-index".into())
            .spawn(move || me.work(&store, rx));
        match spawned {
            Ok(h) => *lock(&index.worker) = Some(h),
            Err(e) => {
                index.opening.store(false, Ordering::SeqCst);
                tracing::error!(error = %e, "cannot start the search indexing thread")
            }
        }
        index
    }

    /// Stops the indexing thread and waits for it. With `finish`, it first
    /// indexes everything it was told of and catches up with the store;
    /// without, it stops after the source at hand, and whatever is left is
    /// caught up by the next process that opens the index (a search, a
    /// check, the daemon).
    pub fn close(&self, finish: bool) {
        if !finish {
            self.stop.store(true, Ordering::SeqCst);
        }
        lock(&self.queue).take();
        if let Some(h) = lock(&self.worker).take() {
            let _ = h.join();
        }
    }

    /// Whether the index has caught up with the store since it was opened.
    pub fn caught_up(&self) -> bool {
        self.caught_up.load(Ordering::SeqCst)
    }

    /// The catalogue entries are named by from now on (a reloaded
    /// configuration); entries already written keep their province.
    pub fn set_catalog(&self, catalog: Catalog) {
        *self.catalog.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(catalog);
    }

    /// Throws the index away and indexes the whole store again
    /// (`store reindex`).
    pub fn rebuild(&self, store: &Store) -> Result<Indexed> {
        self.recreate()?;
        self.catch_up(store)
    }

    pub(crate) fn engine(&self) -> Result<Arc<Engine>> {
        // Right after a start, the indexing thread is opening the index
        // (a moment, unless it must be created afresh).
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.opening.load(Ordering::SeqCst) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.engine
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or(SearchError::Unavailable)
    }

    fn tantivy(&self, source: tantivy::TantivyError) -> SearchError {
        SearchError::Index {
            path: self.dir.clone(),
            source,
        }
    }

    fn io(&self, source: std::io::Error) -> SearchError {
        SearchError::Io {
            path: self.dir.clone(),
            source,
        }
    }

    /// The indexing thread.
    fn work(&self, store: &Store, rx: mpsc::Receiver<String>) {
        lower_priority();
        let started = Instant::now();
        let opened = self.open_or_rebuild();
        self.opening.store(false, Ordering::SeqCst);
        let opened = opened.and_then(|()| self.catch_up(store));
        match opened {
            Ok(n) if n.versions > 0 && !self.caught_up() => tracing::info!(
                versions = n.versions,
                entries = n.entries,
                ms = started.elapsed().as_millis() as u64,
                "search index catch-up stopped for shutdown; the next start goes on from here"
            ),
            Ok(n) if n.versions > 0 => tracing::info!(
                versions = n.versions,
                entries = n.entries,
                ms = started.elapsed().as_millis() as u64,
                "search index caught up with the store"
            ),
            Ok(_) => {}
            Err(e) => self.recover(store, &e),
        }
        while let Ok(first) = rx.recv() {
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            // Indexing waits for a pause in the commits, so that a pass
            // over many new pages is not slowed by it; a steady stream of
            // commits is still indexed at least every MAX_LAG.
            let mut batch = BTreeSet::from([first]);
            let began = Instant::now();
            loop {
                let wait = GATHER.min(MAX_LAG.saturating_sub(began.elapsed()));
                if wait.is_zero() {
                    break;
                }
                match rx.recv_timeout(wait) {
                    Ok(s) => {
                        batch.insert(s);
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => break,
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
            if let Err(e) = self.sync_sources(store, &batch) {
                self.recover(store, &e);
            }
        }
    }

    /// An index that failed under us (deleted, damaged, disk trouble) is
    /// rebuilt from the store; the store is never touched.
    fn recover(&self, store: &Store, e: &SearchError) {
        if matches!(e, SearchError::Store(_)) {
            tracing::error!(error = %e, "search index: cannot read the store; the next start catches up");
            return;
        }
        tracing::warn!(error = %e, "search index unusable; rebuilding it from the store");
        if let Err(e) = self.rebuild(store) {
            tracing::error!(error = %e, "search index rebuild failed; searches are unavailable until `bulletin-watch store reindex`");
        }
    }

    /// Opens the index, or creates it afresh when it is missing, damaged or
    /// of another format.
    fn open_or_rebuild(&self) -> Result<()> {
        match self.open_existing() {
            Ok(Some(())) => Ok(()),
            Ok(None) => self.recreate(),
            Err(e) => {
                tracing::warn!(error = %e, "search index unreadable; rebuilding it from the store");
                self.recreate()
            }
        }
    }

    fn open_existing(&self) -> Result<Option<()>> {
        let format = std::fs::read_to_string(self.dir.join("FORMAT")).unwrap_or_default();
        if format.trim() != schema::FORMAT {
            return Ok(None);
        }
        let index = Index::open_in_dir(&self.dir).map_err(|e| self.tantivy(e))?;
        self.install(index)?;
        Ok(Some(()))
    }

    fn recreate(&self) -> Result<()> {
        *lock(&self.writer) = None;
        *self.engine.write().unwrap_or_else(|e| e.into_inner()) = None;
        if self.dir.exists() {
            std::fs::remove_dir_all(&self.dir).map_err(|e| self.io(e))?;
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| self.io(e))?;
        let (schema, _) = schema::schema();
        let index = Index::create_in_dir(&self.dir, schema).map_err(|e| self.tantivy(e))?;
        std::fs::write(self.dir.join("FORMAT"), schema::FORMAT).map_err(|e| self.io(e))?;
        self.install(index)
    }

    fn install(&self, index: Index) -> Result<()> {
        schema::register_tokenizers(&index).map_err(|e| self.tantivy(e))?;
        let (_, fields) = schema::schema();
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .doc_store_cache_num_blocks(DOC_CACHE_BLOCKS)
            .try_into()
            .map_err(|e| self.tantivy(e))?;
        let engine = Arc::new(Engine {
            index,
            reader,
            fields,
        });
        let present = present(&engine).map_err(|e| self.tantivy(e))?;
        let writer = engine
            .index
            .writer_with_options(writer_options())
            .map_err(|e| self.tantivy(e))?;
        writer.set_merge_policy(Box::new(merge_policy()));
        *self.engine.write().unwrap_or_else(|e| e.into_inner()) = Some(engine);
        *lock(&self.writer) = Some(Writer {
            writer,
            present,
            pending: 0,
        });
        Ok(())
    }

    /// Indexes every stored version the index does not have yet, and
    /// corrects which version is each source's latest.
    fn catch_up(&self, store: &Store) -> Result<Indexed> {
        let ids = store.source_ids()?;
        // Every source is visited: one walk over the tracked articles.
        let tracked: HashMap<String, Tracked> = store
            .tracked()?
            .into_iter()
            .map(|t| (t.id.clone(), t))
            .collect();
        let out = self.sync_list(store, ids.iter().map(String::as_str), |id| {
            Ok(tracked.get(id).cloned())
        })?;
        // Stopped part-way (shutdown): the next start goes on from here.
        if !self.stop.load(Ordering::SeqCst) {
            self.caught_up.store(true, Ordering::SeqCst);
        }
        Ok(out)
    }

    /// A batch names a few sources: each is looked up on its own, never by
    /// a walk over every tracked article.
    fn sync_sources(&self, store: &Store, ids: &BTreeSet<String>) -> Result<Indexed> {
        self.sync_list(store, ids.iter().map(String::as_str), |id| {
            store.tracked_one(id)
        })
    }

    fn sync_list<'a>(
        &self,
        store: &Store,
        ids: impl Iterator<Item = &'a str>,
        tracked: impl Fn(&str) -> std::result::Result<Option<Tracked>, StoreError>,
    ) -> Result<Indexed> {
        let engine = self.engine()?;
        let catalog = self
            .catalog
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut guard = lock(&self.writer);
        let w = guard.as_mut().ok_or(SearchError::Unavailable)?;
        let mut done = Indexed::default();
        for id in ids {
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            // One read of the latest record serves both the name and the
            // versions to index.
            let Some(latest) = store.latest(id)? else {
                continue;
            };
            let who = Who::of(&catalog, id, tracked(id)?.as_ref(), &latest);
            let n = self.sync_source(store, &engine, w, &who, &latest)?;
            done.versions += n.versions;
            done.entries += n.entries;
            if w.pending >= COMMIT_EVERY {
                self.commit(&engine, w)?;
            }
        }
        if w.pending > 0 || done.versions > 0 {
            self.commit(&engine, w)?;
        }
        Ok(done)
    }

    fn commit(&self, engine: &Engine, w: &mut Writer) -> Result<()> {
        w.writer.commit().map_err(|e| self.tantivy(e))?;
        engine.reader.reload().map_err(|e| self.tantivy(e))?;
        w.pending = 0;
        Ok(())
    }

    fn sync_source(
        &self,
        store: &Store,
        engine: &Engine,
        w: &mut Writer,
        who: &Who,
        latest: &VersionRecord,
    ) -> Result<Indexed> {
        let have = w.present.get(who.id.as_str()).cloned().unwrap_or_default();
        if have.latest == Some(latest.version) && have.versions.len() == latest.version as usize {
            return Ok(Indexed::default());
        }
        let f = engine.fields;
        let mut done = Indexed::default();
        let records = store.versions(&who.id)?;
        for rec in &records {
            let is_latest = rec.version == latest.version;
            let stale_latest = have.latest == Some(rec.version) && !is_latest;
            if have.has(rec.version) && !stale_latest {
                continue;
            }
            if stale_latest {
                // No update in place: its entries go, and come back
                // without the latest mark.
                w.writer.delete_term(Term::from_field_text(
                    f.sv,
                    &schema::sv(&who.id, rec.version),
                ));
            }
            let doc = store.document(rec)?;
            for entry in entries(&f, who, rec, &doc, is_latest) {
                w.writer.add_document(entry).map_err(|e| self.tantivy(e))?;
                done.entries += 1;
            }
            done.versions += 1;
        }
        w.pending += done.entries;
        let mut versions: Vec<u32> = records.iter().map(|r| r.version).collect();
        versions.sort_unstable();
        versions.dedup();
        w.present.insert(
            who.id.as_str().into(),
            Present {
                versions: versions.into_boxed_slice(),
                latest: Some(latest.version),
            },
        );
        Ok(done)
    }
}

impl VersionSink for SearchIndex {
    fn committed(&self, source: &str, _version: u32) {
        if let Some(tx) = lock(&self.queue).as_ref() {
            let _ = tx.send(source.to_string());
        }
    }
}

/// One indexing thread with tantivy's smallest budget, and one merge at a
/// time (tantivy's default runs four at once, each holding its own
/// buffers).
fn writer_options() -> tantivy::indexer::IndexWriterOptions {
    tantivy::indexer::IndexWriterOptions::builder()
        .num_worker_threads(1)
        .memory_budget_per_thread(WRITER_BYTES)
        .num_merge_threads(1)
        .build()
}

/// tantivy's log merge policy, but segments past [`MERGE_MAX_DOCS`] are
/// left alone: a merge's memory (its buffers, and the mapped files it
/// reads) grows with the segments it merges, and a catch-up of 100,000
/// versions would otherwise end in merges of hundreds of MB. A search
/// visits more segments instead (a few dozen at 100,000 versions).
fn merge_policy() -> tantivy::merge_policy::LogMergePolicy {
    let mut p = tantivy::merge_policy::LogMergePolicy::default();
    p.set_max_docs_before_merge(MERGE_MAX_DOCS);
    p
}

/// Indexing yields to checks: this thread, and the writer's threads it
/// starts (they inherit it), run at the lowest priority, so that a pass
/// over many pages is not slowed by indexing what it stores.
fn lower_priority() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: setpriority only changes the scheduling priority of the
    // calling thread (on Linux, `who = 0` with PRIO_PROCESS is this thread).
    unsafe {
        let _ = libc::setpriority(libc::PRIO_PROCESS, 0, 19);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Who a source is, as its entries carry it.
struct Who {
    id: String,
    province: String,
    region: String,
    origin: &'static str,
}

impl Who {
    fn of(catalog: &Catalog, id: &str, tracked: Option<&Tracked>, latest: &VersionRecord) -> Who {
        let stored = match catalog.configured(id) {
            Some(_) => None,
            None => Some(Stored {
                title: latest.title.clone(),
                url: latest.url.clone(),
            }),
        };
        match catalog.resolve(id, tracked, stored) {
            Some(e) => Who {
                id: id.to_string(),
                region: e.region.map(|r| r.name().to_string()).unwrap_or_default(),
                province: e.province,
                origin: match e.origin {
                    crate::catalog::Origin::Discovered => "discovered",
                    crate::catalog::Origin::Stored => "stored",
                    _ => "configured",
                },
            },
            None => Who {
                id: id.to_string(),
                province: String::new(),
                region: String::new(),
                origin: "stored",
            },
        }
    }
}

/// The year a version counts under: its publish date's, else the
/// (Beijing) day it was fetched — as `compile --year` counts it.
fn year_of(rec: &VersionRecord, doc: &Document) -> u64 {
    let d = doc
        .published
        .unwrap_or_else(|| beijing_date(rec.fetched_at));
    u64::try_from(d.year()).unwrap_or(0)
}

/// The entries of one version: title, preamble, sections.
fn entries(
    f: &Fields,
    who: &Who,
    rec: &VersionRecord,
    doc: &Document,
    latest: bool,
) -> Vec<TantivyDocument> {
    let year = year_of(rec, doc);
    let mut parts: Vec<(&str, String, String)> =
        vec![(schema::KIND_TITLE, "_title".into(), doc.title.clone())];
    if !doc.preamble.trim().is_empty() {
        parts.push((
            schema::KIND_PREAMBLE,
            crate::model::PREAMBLE.into(),
            doc.preamble.clone(),
        ));
    }
    for s in &doc.sections {
        let label = if s.raw_label.trim().is_empty() {
            &s.label
        } else {
            &s.raw_label
        };
        parts.push((
            schema::KIND_SECTION,
            s.path_str(),
            format!("{}{}{}", label.trim(), s.heading, s.text),
        ));
    }
    parts
        .into_iter()
        .map(|(kind, path, text)| {
            let folded = fold(&text);
            let mut d = TantivyDocument::default();
            d.add_text(f.source, &who.id);
            d.add_text(f.sv, schema::sv(&who.id, rec.version));
            d.add_text(f.province, &who.province);
            d.add_text(f.region, &who.region);
            d.add_text(f.origin, who.origin);
            d.add_text(f.kind, kind);
            d.add_text(f.path, &path);
            d.add_text(f.title, &doc.title);
            d.add_text(f.url, &rec.url);
            d.add_text(f.fetched_at, rec.fetched_at.to_string());
            d.add_u64(f.version, u64::from(rec.version));
            d.add_u64(f.year, year);
            d.add_u64(f.latest, u64::from(latest));
            d.add_text(f.words, &folded);
            d.add_text(f.grams, &folded);
            d.add_text(f.text, &text);
            d
        })
        .collect()
}

/// What the index holds, read back from each version's `_title` entry.
fn present(engine: &Engine) -> tantivy::Result<HashMap<Box<str>, Present>> {
    let f = engine.fields;
    let searcher = engine.reader.searcher();
    let q = TermQuery::new(
        Term::from_field_text(f.kind, schema::KIND_TITLE),
        IndexRecordOption::Basic,
    );
    let mut out: HashMap<Box<str>, (Vec<u32>, Option<u32>)> = HashMap::new();
    for addr in searcher.search(&q, &DocSetCollector)? {
        let d: TantivyDocument = searcher.doc(addr)?;
        let source = d.get_first(f.source).and_then(|v| v.as_str());
        let version = d.get_first(f.version).and_then(|v| v.as_u64());
        let latest = d.get_first(f.latest).and_then(|v| v.as_u64()) == Some(1);
        let (Some(source), Some(version)) = (source, version) else {
            continue;
        };
        let Ok(version) = u32::try_from(version) else {
            continue;
        };
        let p = match out.get_mut(source) {
            Some(p) => p,
            None => out.entry(source.into()).or_default(),
        };
        p.0.push(version);
        if latest {
            p.1 = Some(p.1.map_or(version, |l| l.max(version)));
        }
    }
    Ok(out
        .into_iter()
        .map(|(id, (mut versions, latest))| {
            versions.sort_unstable();
            versions.dedup();
            let versions = versions.into_boxed_slice();
            (id, Present { versions, latest })
        })
        .collect())
}
