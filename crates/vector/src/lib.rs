//! Semantic search for chatstore: [`HnswIndex`], the [`chatstore::VectorIndex`]
//! implementation on an in-process HNSW graph.
//!
//! - **Graph.** An HNSW graph built on all cores straight into flat arrays, which
//!   searches walk without locks or allocation. Walks are scored on 8-bit quantised
//!   copies of the vectors (simsimd picks the CPU's widest integer instructions at run
//!   time) and their best candidates re-ranked exactly, so every reported score is
//!   exact.
//! - **Writes.** Once a collection has a graph, a write of up to 64 vectors is linked
//!   into it at once (HNSW insertion, ~0.2 ms a vector at 100k). A larger batch is
//!   searchable at once from a list scanned beside the graph, and linked in 64 at a
//!   time after the write, releasing the lock in between. Deletions are tombstones
//!   skipped at search time; past a threshold of them (or of vectors waiting outside
//!   the graph) the graph is rebuilt over the live vectors, while searches and writes
//!   go on. Upkeep runs on a background thread by default.
//! - **Filters.** The chunks a filter admits are resolved from the document metadata
//!   first; when they are few they are scored exactly, otherwise the graph search skips
//!   the rest. Recall holds at every selectivity.
//! - **Persistence.** The store keeps every embedding (the source of truth). The index
//!   saves one snapshot file per collection, verified by a checksum before it is read;
//!   [`chatstore::VectorIndex::sync`] loads it and catches up from the store, or
//!   rebuilds from the store when the snapshot is missing, stale or damaged.
//!
//! ```
//! use chatstore::{ChunkId, CollectionSpec, Distance, DocumentId, UserId};
//! use chatstore::{VectorFilter, VectorIndex, VectorRecord};
//! use chatstore_vector::{HnswIndex, IndexConfig};
//!
//! let index = HnswIndex::new(IndexConfig::in_memory())?;
//! let spec = CollectionSpec::new("docs", 3, Distance::Cosine)?;
//! index.create_collection(&spec)?;
//! let (ada, document) = (UserId::new(), DocumentId::new());
//! let record = |x: f32, y: f32| VectorRecord {
//!     chunk: ChunkId::new(),
//!     document,
//!     owner: Some(ada),
//!     vector: vec![x, y, 0.0],
//! };
//! let (east, north) = (record(1.0, 0.0), record(0.0, 1.0));
//! index.upsert("docs", &[east.clone(), north])?;
//! let hits = index.search("docs", &[0.9, 0.1, 0.0], 1, &VectorFilter::user(ada))?;
//! assert_eq!(hits[0].chunk, east.chunk);
//! # Ok::<(), chatstore::Error>(())
//! ```
#![deny(missing_docs)]

mod admission;
mod builder;
mod collection;
mod distance;
mod graph;
mod quantised;
mod snapshot;
mod state;
mod walk;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use chatstore::{
    ChunkId, CollectionInfo, CollectionSpec, ConflictKind, DocumentId, EmbeddingChanges,
    EmbeddingSource, Error, Result, SyncReport, VectorFilter, VectorHit, VectorIndex, VectorRecord,
};

use crate::collection::{Collection, Tuning};
pub use crate::graph::BuildParams;
use crate::state::State;

/// How an [`HnswIndex`] stores and searches.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexConfig {
    /// Where snapshots are saved (one `<collection>.csvx` file each); `None` keeps
    /// nothing on disk, so every open rebuilds from the store.
    pub directory: Option<PathBuf>,
    /// Graph build parameters.
    pub build: BuildParams,
    /// Candidates kept while searching the graph: higher finds more of the true
    /// nearest neighbours, more slowly. Default 64.
    pub ef_search: usize,
    /// A filtered search on a collection of 100,000 vectors that admits at most this
    /// many scores them all instead of walking the graph; for other sizes the limit
    /// scales with the square root of the size (12,000 at 100k is ~5,400 at 20k and
    /// ~38,000 at 1M). `0` always walks the graph, `usize::MAX` always scans. Default
    /// 12,000 (see docs/performance.md).
    pub exact_below: usize,
    /// A collection smaller than this has no graph: every search scans it. Default 2048.
    pub graph_min: usize,
    /// Vectors waiting outside the graph (see [`Layout::pending`]) that trigger a
    /// rebuild rather than being linked in one by one (or a quarter of the graph,
    /// whichever is more). Default 4096.
    pub delta_max: usize,
    /// Fraction of the graph deleted since the last build that triggers a rebuild.
    /// Default 0.2.
    pub tombstone_fraction: f32,
    /// Rebuild on a background thread (default) rather than in the writing call.
    pub background_rebuild: bool,
}

impl IndexConfig {
    /// Defaults, with snapshots saved under `directory`.
    pub fn new(directory: impl Into<PathBuf>) -> IndexConfig {
        IndexConfig {
            directory: Some(directory.into()),
            ..IndexConfig::in_memory()
        }
    }

    /// Defaults, with nothing saved on disk.
    pub fn in_memory() -> IndexConfig {
        IndexConfig {
            directory: None,
            build: BuildParams::default(),
            ef_search: 64,
            exact_below: 12_000,
            graph_min: 2048,
            delta_max: 4096,
            tombstone_fraction: 0.2,
            background_rebuild: true,
        }
    }

    fn check(&self) -> Result<()> {
        if !(2..=128).contains(&self.build.m) {
            return Err(Error::validation("m", "must be between 2 and 128"));
        }
        if !(1..=4096).contains(&self.build.ef_construction) {
            return Err(Error::validation(
                "ef_construction",
                "must be between 1 and 4096",
            ));
        }
        check_ef(self.ef_search)?;
        if !(0.0..=1.0).contains(&self.tombstone_fraction) {
            return Err(Error::validation(
                "tombstone_fraction",
                "must be between 0 and 1",
            ));
        }
        Ok(())
    }

    fn tuning(&self) -> Tuning {
        Tuning {
            build: self.build,
            exact_below: self.exact_below,
            graph_min: self.graph_min.max(1),
            delta_max: self.delta_max,
            tombstone_fraction: self.tombstone_fraction,
        }
    }
}

fn check_ef(ef: usize) -> Result<()> {
    if !(1..=10_000).contains(&ef) {
        return Err(Error::validation("ef", "must be between 1 and 10000"));
    }
    Ok(())
}

/// The most results one search returns.
const MAX_K: usize = 10_000;

/// Embeddings read from the store per batch while catching up.
const SYNC_BATCH: usize = 4096;

/// Where a collection's vectors are (see [`HnswIndex::layout`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Live vectors in the graph.
    pub in_graph: usize,
    /// Live vectors outside the graph, scanned by every search: all of them while a
    /// collection is under `graph_min`; otherwise large batches and writes made while
    /// a rebuild runs, until they are linked in a few at a time after the write (or
    /// the rebuild).
    pub pending: usize,
    /// Deleted or replaced vectors the graph still holds (skipped by searches).
    pub tombstones: usize,
}

/// An in-process HNSW vector index (see the crate documentation).
pub struct HnswIndex {
    config: IndexConfig,
    tuning: Tuning,
    collections: RwLock<BTreeMap<String, Arc<Collection>>>,
    /// Held while a snapshot is written, so two saves never share a temporary file.
    saving: Mutex<()>,
}

impl std::fmt::Debug for HnswIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HnswIndex")
            .field("config", &self.config)
            .field("collections", &self.names())
            .finish()
    }
}

impl HnswIndex {
    /// An empty index; creates the snapshot directory if one is configured.
    pub fn new(config: IndexConfig) -> Result<HnswIndex> {
        config.check()?;
        if let Some(directory) = &config.directory {
            std::fs::create_dir_all(directory).map_err(|source| Error::Io {
                path: directory.clone(),
                source,
            })?;
        }
        Ok(HnswIndex {
            tuning: config.tuning(),
            config,
            collections: RwLock::new(BTreeMap::new()),
            saving: Mutex::new(()),
        })
    }

    fn names(&self) -> Vec<String> {
        self.map().keys().cloned().collect()
    }

    fn map(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<Collection>>> {
        self.collections
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn map_mut(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Arc<Collection>>> {
        self.collections
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn collection(&self, name: &str) -> Result<Arc<Collection>> {
        CollectionSpec::check_name(name)?;
        self.map()
            .get(name)
            .cloned()
            .ok_or_else(|| Error::not_found("vector collection", name))
    }

    /// Where the collection's snapshot goes, if snapshots are kept. The name is checked
    /// here too, so no path is ever built from a name that could leave the directory.
    fn snapshot_path(&self, name: &str) -> Result<Option<PathBuf>> {
        CollectionSpec::check_name(name)?;
        Ok(self
            .config
            .directory
            .as_deref()
            .map(|dir| dir.join(format!("{name}.csvx"))))
    }

    /// Adds `spec` as an empty collection, or returns the one already there if its spec
    /// matches (the flag says whether it was added).
    fn add(
        &self,
        spec: &CollectionSpec,
        state: impl FnOnce() -> State,
    ) -> Result<(Arc<Collection>, bool)> {
        spec.validate()?;
        let mut map = self.map_mut();
        if let Some(existing) = map.get(&spec.name) {
            if existing.spec != *spec {
                return Err(Error::conflict(
                    ConflictKind::Unique,
                    "vector collection",
                    format!(
                        "collection {} exists with another dimension or distance",
                        spec.name
                    ),
                ));
            }
            return Ok((existing.clone(), false));
        }
        let collection = Arc::new(Collection::new(spec.clone(), state()));
        map.insert(spec.name.clone(), collection.clone());
        Ok((collection, true))
    }

    /// Keeps a collection in shape after a write: rebuilds its graph if `due`, or else
    /// links the vectors waiting outside it into it; on a background thread when so
    /// configured, in the caller's otherwise.
    fn maintain(&self, collection: &Arc<Collection>, due: bool) {
        if !due && !collection.can_absorb() {
            return;
        }
        let work = move |collection: &Collection, tuning: &Tuning| {
            if due {
                collection.rebuild(tuning);
            } else {
                collection.absorb(tuning);
            }
        };
        if self.config.background_rebuild {
            let (collection, tuning) = (collection.clone(), self.tuning);
            let spawned = std::thread::Builder::new()
                .name("chatstore-vector-upkeep".to_owned())
                .spawn(move || work(&collection, &tuning));
            if spawned.is_ok() {
                return;
            }
        }
        work(collection, &self.tuning);
    }

    /// Like [`VectorIndex::search`], with `ef` candidates instead of the configured
    /// `ef_search`: the knob that trades speed for recall.
    pub fn search_with_ef(
        &self,
        collection: &str,
        query: &[f32],
        k: usize,
        ef: usize,
        filter: &VectorFilter,
    ) -> Result<Vec<VectorHit>> {
        if k > MAX_K {
            return Err(Error::validation("k", format!("at most {MAX_K} results")));
        }
        check_ef(ef)?;
        self.collection(collection)?
            .search(query, k, ef, filter, &self.tuning)
    }

    /// Where the collection's live vectors are: how many the graph holds, how many
    /// wait outside it (scanned by every search until linked in), and how many deleted
    /// ones it still carries.
    pub fn layout(&self, collection: &str) -> Result<Layout> {
        Ok(self.collection(collection)?.layout())
    }

    /// Rebuilds the collection's graph over its live vectors now, waiting for a
    /// rebuild already under way: afterwards nothing deleted is left in the graph and
    /// every vector is in it (a collection under `graph_min` is scanned exactly).
    pub fn compact(&self, collection: &str) -> Result<()> {
        let collection = self.collection(collection)?;
        while !collection.rebuild(&self.tuning) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        Ok(())
    }

    /// Loads the collection's snapshot, if one is saved and intact.
    fn load_snapshot(&self, spec: &CollectionSpec) -> Option<State> {
        let path = self.snapshot_path(&spec.name).ok().flatten()?;
        match snapshot::load(&path, spec) {
            Ok(state) => state,
            Err(error) => {
                tracing::warn!(collection = %spec.name, %error, "vector snapshot unusable; rebuilding from the store");
                None
            }
        }
    }

    fn save_collection(&self, collection: &Collection) -> Result<()> {
        let Some(path) = self.snapshot_path(&collection.spec.name)? else {
            return Ok(());
        };
        let _saving = self.saving.lock().unwrap_or_else(PoisonError::into_inner);
        // A copy (the graph itself is shared), so writes go on while the file is written.
        let state = collection.read().clone();
        snapshot::save(&path, &collection.spec, &state)
    }
}

/// Removes a file that may not exist.
fn remove_file(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

impl VectorIndex for HnswIndex {
    fn create_collection(&self, spec: &CollectionSpec) -> Result<()> {
        let dimension = spec.dimension as usize;
        self.add(spec, || State::empty(dimension, spec.distance))
            .map(drop)
    }

    fn drop_collection(&self, name: &str) -> Result<bool> {
        let path = self.snapshot_path(name)?;
        let existed = self.map_mut().remove(name).is_some();
        if let Some(path) = path {
            remove_file(&path)?;
        }
        Ok(existed)
    }

    fn collections(&self) -> Result<Vec<CollectionInfo>> {
        Ok(self
            .map()
            .values()
            .map(|c| CollectionInfo {
                spec: c.spec.clone(),
                count: c.read().live_count() as u64,
            })
            .collect())
    }

    fn upsert(&self, collection: &str, records: &[VectorRecord]) -> Result<()> {
        let collection = self.collection(collection)?;
        let due = collection.upsert(records, &self.tuning)?;
        self.maintain(&collection, due);
        Ok(())
    }

    fn delete(&self, collection: &str, chunks: &[ChunkId]) -> Result<u64> {
        let collection = self.collection(collection)?;
        let (removed, due) = collection.delete(chunks, &self.tuning);
        self.maintain(&collection, due);
        Ok(removed)
    }

    fn remove_documents(&self, documents: &[DocumentId]) -> Result<u64> {
        let collections: Vec<Arc<Collection>> = self.map().values().cloned().collect();
        let mut removed = 0;
        for collection in collections {
            let (n, due) = collection.remove_documents(documents, &self.tuning);
            removed += n;
            self.maintain(&collection, due);
        }
        Ok(removed)
    }

    fn get(&self, collection: &str, chunks: &[ChunkId]) -> Result<Vec<VectorRecord>> {
        Ok(self.collection(collection)?.get(chunks))
    }

    fn search(
        &self,
        collection: &str,
        query: &[f32],
        k: usize,
        filter: &VectorFilter,
    ) -> Result<Vec<VectorHit>> {
        self.search_with_ef(collection, query, k, self.config.ef_search, filter)
    }

    fn sync(&self, spec: &CollectionSpec, source: &dyn EmbeddingSource) -> Result<SyncReport> {
        let mut loaded = false;
        let dimension = spec.dimension as usize;
        let (collection, added_now) = self.add(spec, || match self.load_snapshot(spec) {
            Some(state) => {
                loaded = true;
                state
            }
            None => State::empty(dimension, spec.distance),
        })?;
        let from_snapshot = added_now && loaded;
        let synced = collection.read().synced_version;
        // Built from nothing: every embedding is the whole answer, and the short one.
        let changes = if added_now && !loaded {
            EmbeddingChanges::Everything(source.embedding_versions(&spec.name)?)
        } else {
            source.embedding_changes(&spec.name, synced)?
        };
        let (stale, wanted, latest) = match changes {
            EmbeddingChanges::Everything(versions) => {
                let in_store: HashSet<ChunkId> = versions.iter().map(|(c, _)| *c).collect();
                let held: HashSet<ChunkId> = collection.chunks().into_iter().collect();
                let stale: Vec<ChunkId> = held.difference(&in_store).copied().collect();
                let latest = versions.iter().map(|(_, v)| *v).max().unwrap_or(0);
                // A source whose versions end below what the index reached has a
                // history other than the one the index saw (it was restored from an
                // older copy): a held vector may be newer than the source's copy of it,
                // whatever its version, so every one is loaded again.
                let behind = latest < synced;
                let wanted: Vec<ChunkId> = versions
                    .into_iter()
                    .filter(|(chunk, version)| behind || *version > synced || !held.contains(chunk))
                    .map(|(chunk, _)| chunk)
                    .collect();
                (stale, wanted, latest)
            }
            EmbeddingChanges::Since {
                written,
                removed,
                latest,
            } => (
                removed,
                written.into_iter().map(|(chunk, _)| chunk).collect(),
                latest.max(synced),
            ),
        };
        let (removed, _) = collection.delete(&stale, &self.tuning);
        let mut added = 0;
        for batch in wanted.chunks(SYNC_BATCH) {
            let records = source.load_embeddings(&spec.name, batch)?;
            added += records.len() as u64;
            collection.upsert(&records, &self.tuning)?;
        }
        collection.write().synced_version = latest;
        if collection.needs_rebuild(&self.tuning) {
            // Opening: build before the first search rather than in the background.
            collection.rebuild(&self.tuning);
        }
        if added > 0 || removed > 0 || (added_now && !loaded) {
            self.save_collection(&collection)?;
        }
        // What the catch-up left outside the graph is linked in after the save, which
        // holds the graph while it writes.
        self.maintain(&collection, false);
        tracing::debug!(collection = %spec.name, from_snapshot, added, removed, "vector collection synced");
        Ok(SyncReport {
            from_snapshot,
            added,
            removed,
        })
    }

    fn save(&self) -> Result<()> {
        let collections: Vec<Arc<Collection>> = self.map().values().cloned().collect();
        collections.iter().try_for_each(|c| self.save_collection(c))
    }
}
