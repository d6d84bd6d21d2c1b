//! One collection's live state: the graph (small writes are linked into it),
//! tombstones for what was deleted from it, a "delta" of vectors outside it (large
//! batches and writes made during a rebuild, scanned on 8-bit codes with the best
//! re-ranked exactly), and the per-document and per-owner maps that filters are
//! resolved with.

use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use chatstore::{
    ChunkId, CollectionSpec, Distance, DocumentId, Result, UserId, VectorFilter, VectorHit,
    VectorRecord,
};

use crate::admission::Admission;
use crate::distance::{between, normalise, score};
use crate::graph::{BuildParams, Graph, rerank};
use crate::quantised::{self, Quantised};
use crate::walk::Near;

/// Tuning of a collection (see [`crate::IndexConfig`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tuning {
    pub(crate) build: BuildParams,
    pub(crate) exact_below: usize,
    pub(crate) graph_min: usize,
    pub(crate) delta_max: usize,
    pub(crate) tombstone_fraction: f32,
}

/// The most vectors linked into the graph per hold of the write lock (at 100k vectors
/// of 384 dimensions ~0.2 ms each, so searches wait at most ~13 ms): a write this
/// small is linked in as it is made, a larger one after it, this many at a time.
const LINK_STEP: usize = 64;

/// What is known of each vector besides the vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Meta {
    pub(crate) chunk: ChunkId,
    /// Index into [`State::documents`].
    pub(crate) doc: u32,
    /// Bumped by every write of this chunk, to tell a rebuild what changed meanwhile.
    pub(crate) seq: u64,
}

/// A document and its owner (`None`: global).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DocInfo {
    pub(crate) id: DocumentId,
    pub(crate) owner: Option<UserId>,
}

/// Where a chunk's vector is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Loc {
    Graph(u32),
    Delta(usize),
}

/// The state a snapshot holds.
#[derive(Debug, Clone)]
pub(crate) struct State {
    pub(crate) graph: Arc<Graph>,
    /// Per graph slot.
    pub(crate) graph_items: Vec<Meta>,
    /// Per graph slot: false once deleted or replaced.
    pub(crate) live: Vec<bool>,
    pub(crate) delta: Vec<(Meta, Vec<f32>)>,
    /// The delta's vectors quantised, slot for slot, for scanning.
    delta_codes: Quantised,
    pub(crate) documents: Vec<DocInfo>,
    /// The store version this collection is up to date with (see `sync`).
    pub(crate) synced_version: u64,
    pub(crate) doc_index: HashMap<DocumentId, u32>,
    /// Per document: its live chunks.
    pub(crate) members: Vec<Vec<ChunkId>>,
    /// Per document: its graph slots, live or not.
    graph_slots: Vec<Vec<u32>>,
    /// Per owner: their documents.
    pub(crate) by_owner: HashMap<Option<UserId>, Vec<u32>>,
    /// Per owner: their live vectors.
    pub(crate) owner_counts: HashMap<Option<UserId>, usize>,
    location: HashMap<ChunkId, Loc>,
    tombstones: usize,
    next_seq: u64,
}

impl State {
    pub(crate) fn empty(dimension: usize, distance: Distance) -> State {
        State::assemble(
            Arc::new(Graph::empty(dimension, distance)),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            0,
        )
    }

    /// Rebuilds the derived maps around the stored parts.
    pub(crate) fn assemble(
        graph: Arc<Graph>,
        graph_items: Vec<Meta>,
        live: Vec<bool>,
        delta: Vec<(Meta, Vec<f32>)>,
        documents: Vec<DocInfo>,
        synced_version: u64,
    ) -> State {
        let mut state = State {
            graph,
            graph_items,
            live,
            delta_codes: Quantised::default(),
            delta,
            doc_index: documents.iter().zip(0..).map(|(d, i)| (d.id, i)).collect(),
            documents,
            synced_version,
            members: Vec::new(),
            graph_slots: Vec::new(),
            by_owner: HashMap::new(),
            owner_counts: HashMap::new(),
            location: HashMap::new(),
            tombstones: 0,
            next_seq: 0,
        };
        state.members = vec![Vec::new(); state.documents.len()];
        state.index_graph_slots();
        for (i, doc) in state.documents.iter().enumerate() {
            state.by_owner.entry(doc.owner).or_default().push(i as u32);
        }
        let graph_items = std::mem::take(&mut state.graph_items);
        for (slot, meta) in graph_items.iter().enumerate() {
            if state.live[slot] {
                state.place(*meta, Loc::Graph(slot as u32));
            } else {
                state.next_seq = state.next_seq.max(meta.seq + 1);
                state.tombstones += 1;
            }
        }
        state.graph_items = graph_items;
        // The delta is coded around the graph's centre, or its own mean when there is
        // no graph yet.
        state.delta_codes = if state.graph.len() > 0 {
            Quantised::around(state.graph.centre().to_vec())
        } else {
            let all: Vec<f32> = state
                .delta
                .iter()
                .flat_map(|(_, v)| v.iter().copied())
                .collect();
            Quantised::around(quantised::mean(state.graph.dimension, &all))
        };
        for (_, vector) in &state.delta {
            state.delta_codes.push(vector);
        }
        let delta_metas: Vec<Meta> = state.delta.iter().map(|(meta, _)| *meta).collect();
        for (i, meta) in delta_metas.into_iter().enumerate() {
            state.place(meta, Loc::Delta(i));
        }
        state
    }

    /// Groups the graph's slots by document.
    fn index_graph_slots(&mut self) {
        self.graph_slots = vec![Vec::new(); self.documents.len()];
        for (slot, meta) in (0..).zip(&self.graph_items) {
            self.graph_slots[meta.doc as usize].push(slot);
        }
    }

    /// The live graph slots of document `doc`.
    fn live_graph_slots(&self, doc: u32) -> impl Iterator<Item = u32> + '_ {
        self.graph_slots[doc as usize]
            .iter()
            .copied()
            .filter(|&slot| self.live[slot as usize])
    }

    /// Records a live vector at `loc`.
    fn place(&mut self, meta: Meta, loc: Loc) {
        self.next_seq = self.next_seq.max(meta.seq + 1);
        self.location.insert(meta.chunk, loc);
        self.members[meta.doc as usize].push(meta.chunk);
        let owner = self.documents[meta.doc as usize].owner;
        *self.owner_counts.entry(owner).or_default() += 1;
    }

    /// The live vectors of a document.
    pub(crate) fn member_count(&self, doc: u32) -> usize {
        self.members[doc as usize].len()
    }

    pub(crate) fn live_count(&self) -> usize {
        self.location.len()
    }

    fn vector_at(&self, loc: Loc) -> &[f32] {
        match loc {
            Loc::Graph(slot) => self.graph.vector(slot),
            Loc::Delta(i) => &self.delta[i].1,
        }
    }

    fn meta_at(&self, loc: Loc) -> Meta {
        match loc {
            Loc::Graph(slot) => self.graph_items[slot as usize],
            Loc::Delta(i) => self.delta[i].0,
        }
    }

    /// The document's slot, added if new. A known document written with another
    /// owner (its scope changed) moves to that owner with all its chunks.
    fn doc_slot(&mut self, id: DocumentId, owner: Option<UserId>) -> u32 {
        if let Some(&i) = self.doc_index.get(&id) {
            let before = self.documents[i as usize].owner;
            if before != owner {
                let moved = self.member_count(i);
                *self.owner_counts.entry(before).or_default() -= moved;
                *self.owner_counts.entry(owner).or_default() += moved;
                if let Some(list) = self.by_owner.get_mut(&before) {
                    list.retain(|&d| d != i);
                }
                self.by_owner.entry(owner).or_default().push(i);
                self.documents[i as usize].owner = owner;
            }
            return i;
        }
        let i = self.documents.len() as u32;
        self.documents.push(DocInfo { id, owner });
        self.members.push(Vec::new());
        self.graph_slots.push(Vec::new());
        self.doc_index.insert(id, i);
        self.by_owner.entry(owner).or_default().push(i);
        i
    }

    /// Removes a chunk wherever it is; returns whether it was there.
    fn remove(&mut self, chunk: ChunkId) -> bool {
        let Some(loc) = self.location.remove(&chunk) else {
            return false;
        };
        let doc = self.meta_at(loc).doc;
        let list = &mut self.members[doc as usize];
        if let Some(at) = list.iter().position(|c| *c == chunk) {
            list.swap_remove(at);
            let owner = self.documents[doc as usize].owner;
            *self.owner_counts.entry(owner).or_default() -= 1;
        }
        match loc {
            Loc::Graph(slot) => {
                self.live[slot as usize] = false;
                self.tombstones += 1;
            }
            Loc::Delta(i) => {
                self.delta.swap_remove(i);
                self.delta_codes.swap_remove(i);
                if let Some((moved, _)) = self.delta.get(i) {
                    self.location.insert(moved.chunk, Loc::Delta(i));
                }
            }
        }
        true
    }

    /// Adds or replaces a vector: linked into the graph when `into_graph` gives the
    /// build's `ef_construction` and the graph is built and not shared (a snapshot
    /// being written holds it), into the delta otherwise.
    fn insert(&mut self, record: &VectorRecord, vector: Vec<f32>, into_graph: Option<usize>) {
        self.remove(record.chunk);
        let doc = self.doc_slot(record.document, record.owner);
        let meta = Meta {
            chunk: record.chunk,
            doc,
            seq: self.next_seq,
        };
        let linked = into_graph.and_then(|ef| self.link_into_graph(meta, &vector, ef));
        match linked {
            Some(slot) => self.place(meta, Loc::Graph(slot)),
            None => {
                self.place(meta, Loc::Delta(self.delta.len()));
                self.delta_codes.push(&vector);
                self.delta.push((meta, vector));
            }
        }
    }

    /// Links a vector into the graph as a new slot, unless there is no graph yet or it
    /// is shared (a snapshot being written holds it). The caller records where it is.
    fn link_into_graph(
        &mut self,
        meta: Meta,
        vector: &[f32],
        ef_construction: usize,
    ) -> Option<u32> {
        let graph = Arc::get_mut(&mut self.graph).filter(|graph| graph.len() > 0)?;
        let slot = graph.insert(vector, ef_construction);
        self.graph_items.push(meta);
        self.live.push(true);
        self.graph_slots[meta.doc as usize].push(slot);
        Some(slot)
    }

    /// Moves up to `most` vectors from the delta into the graph; returns how many.
    fn absorb(&mut self, most: usize, ef_construction: usize) -> usize {
        let mut moved = 0;
        while moved < most {
            let Some((meta, vector)) = self.delta.pop() else {
                break;
            };
            let Some(slot) = self.link_into_graph(meta, &vector, ef_construction) else {
                self.delta.push((meta, vector));
                break;
            };
            self.delta_codes.swap_remove(self.delta.len());
            self.location.insert(meta.chunk, Loc::Graph(slot));
            moved += 1;
        }
        moved
    }
}

/// A collection: its spec, its state behind a lock, and whether a rebuild is running.
pub(crate) struct Collection {
    pub(crate) spec: CollectionSpec,
    pub(crate) state: RwLock<State>,
    rebuilding: AtomicBool,
}

impl Collection {
    pub(crate) fn new(spec: CollectionSpec, state: State) -> Collection {
        Collection {
            spec,
            state: RwLock::new(state),
            rebuilding: AtomicBool::new(false),
        }
    }

    pub(crate) fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The vector as stored: checked, and normalised for cosine.
    fn prepare(&self, vector: &[f32]) -> Result<Vec<f32>> {
        self.spec.check(vector)?;
        let mut stored = vector.to_vec();
        if self.spec.distance == Distance::Cosine {
            normalise(&mut stored);
        }
        Ok(stored)
    }

    /// Adds or replaces records, all or none. Returns whether a rebuild is due.
    pub(crate) fn upsert(&self, records: &[VectorRecord], tuning: &Tuning) -> Result<bool> {
        let prepared: Vec<Vec<f32>> = records
            .iter()
            .map(|r| self.prepare(&r.vector))
            .collect::<Result<_>>()?;
        let mut state = self.write();
        // Small batches are linked into the graph, unless a rebuild is about to
        // replace it (it would move them to the delta anyway); larger ones go to the
        // delta, to be linked in step by step after the write.
        let into_graph = (records.len() <= LINK_STEP && !self.rebuilding.load(Ordering::Acquire))
            .then_some(tuning.build.ef_construction);
        for (record, vector) in records.iter().zip(prepared) {
            state.insert(record, vector, into_graph);
        }
        Ok(self.rebuild_due(&state, tuning))
    }

    /// Removes chunks; returns how many were there, and whether a rebuild is due.
    pub(crate) fn delete(&self, chunks: &[ChunkId], tuning: &Tuning) -> (u64, bool) {
        let mut state = self.write();
        let removed = chunks.iter().filter(|c| state.remove(**c)).count() as u64;
        (removed, self.rebuild_due(&state, tuning))
    }

    /// Removes every chunk of these documents.
    pub(crate) fn remove_documents(
        &self,
        documents: &[DocumentId],
        tuning: &Tuning,
    ) -> (u64, bool) {
        let mut state = self.write();
        let mut removed = 0;
        for document in documents {
            let Some(&doc) = state.doc_index.get(document) else {
                continue;
            };
            for chunk in state.members[doc as usize].clone() {
                removed += u64::from(state.remove(chunk));
            }
        }
        (removed, self.rebuild_due(&state, tuning))
    }

    pub(crate) fn get(&self, chunks: &[ChunkId]) -> Vec<VectorRecord> {
        let state = self.read();
        chunks
            .iter()
            .filter_map(|chunk| {
                let loc = *state.location.get(chunk)?;
                let info = state.documents[state.meta_at(loc).doc as usize];
                Some(VectorRecord {
                    chunk: *chunk,
                    document: info.id,
                    owner: info.owner,
                    vector: state.vector_at(loc).to_vec(),
                })
            })
            .collect()
    }

    /// Whether vectors wait outside a built graph (see [`Collection::absorb`]).
    pub(crate) fn can_absorb(&self) -> bool {
        let state = self.read();
        !state.delta.is_empty() && state.graph.len() > 0
    }

    /// Links the vectors waiting outside the graph into it, [`LINK_STEP`] at a time
    /// under the write lock, so searches and writes in between are never held up for
    /// long. Returns false, doing nothing, while a rebuild (or another absorb) runs.
    pub(crate) fn absorb(&self, tuning: &Tuning) -> bool {
        if self.rebuilding.swap(true, Ordering::AcqRel) {
            return false;
        }
        self.absorb_all(tuning);
        self.rebuilding.store(false, Ordering::Release);
        true
    }

    /// The absorbing itself, for a caller holding the `rebuilding` flag.
    fn absorb_all(&self, tuning: &Tuning) {
        let ef_construction = tuning.build.ef_construction;
        while self.write().absorb(LINK_STEP, ef_construction) == LINK_STEP {}
    }

    /// Where the live vectors are.
    pub(crate) fn layout(&self) -> crate::Layout {
        let state = self.read();
        crate::Layout {
            in_graph: state.live_count() - state.delta.len(),
            pending: state.delta.len(),
            tombstones: state.tombstones,
        }
    }

    /// The chunk ids and documents of every live vector.
    pub(crate) fn chunks(&self) -> Vec<ChunkId> {
        self.read().location.keys().copied().collect()
    }

    /// Whether the graph should be rebuilt: too many vectors outside it, or too many
    /// deleted from it.
    pub(crate) fn needs_rebuild(&self, tuning: &Tuning) -> bool {
        self.rebuild_due(&self.read(), tuning)
    }

    /// A first graph once `graph_min` vectors wait; then a rebuild when more wait
    /// outside the graph than `delta_max` or a quarter of it (linking them in one by
    /// one would take longer than building anew: ~0.2 ms a vector against ~0.08 ms
    /// for a build on two cores, at 100k), or when too many were deleted from it.
    fn rebuild_due(&self, state: &State, tuning: &Tuning) -> bool {
        let (graph_size, pending) = (state.graph.len(), state.delta.len());
        let first_graph = graph_size == 0 && pending >= tuning.graph_min;
        let too_many_pending = graph_size > 0 && pending > tuning.delta_max.max(graph_size / 4);
        let too_many_tombstones = graph_size > 0
            && state.tombstones as f32 > tuning.tombstone_fraction * graph_size as f32;
        first_graph || too_many_pending || too_many_tombstones
    }

    /// The `k` best vectors for `query` that pass `filter`.
    pub(crate) fn search(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        filter: &VectorFilter,
        tuning: &Tuning,
    ) -> Result<Vec<VectorHit>> {
        if k == 0 {
            return Ok(Vec::new());
        }
        let query = self.prepare(query)?;
        let state = self.read();
        let admission = Admission::resolve(&state, filter);
        let distance = self.spec.distance;
        let mut best: BinaryHeap<(Far, ChunkId)> = BinaryHeap::new();
        let offer = |d: f32, chunk: ChunkId, best: &mut BinaryHeap<(Far, ChunkId)>| {
            if best.len() < k || best.peek().is_some_and(|(worst, _)| d < worst.0) {
                best.push((Far(d), chunk));
                if best.len() > k {
                    best.pop();
                }
            }
        };
        let from_graph = if admission.count <= tuning.exact_below {
            // Few eligible vectors: score them all.
            let documents = admission.documents(&state);
            let slots = documents
                .iter()
                .flat_map(|&doc| state.live_graph_slots(doc));
            state.graph.best_of(&query, k, slots)
        } else {
            let admit = |slot: u32| {
                state.live[slot as usize]
                    && admission.admits(&state, state.graph_items[slot as usize].doc)
            };
            state.graph.search(&query, k, ef, &admit)
        };
        for (d, slot) in from_graph {
            offer(d, state.graph_items[slot as usize].chunk, &mut best);
        }
        // Vectors written since the build: scanned on their codes, the best re-ranked.
        let delta_codes = &state.delta_codes;
        let admitted = (0..state.delta.len() as u32)
            .filter(|&i| admission.admits(&state, state.delta[i as usize].0.doc));
        let prepared = delta_codes.query(&query);
        for Near(_, i) in delta_codes.nearest(distance, &prepared, admitted, rerank(k)) {
            let (meta, vector) = &state.delta[i as usize];
            offer(between(distance, &query, vector), meta.chunk, &mut best);
        }
        let mut hits: Vec<VectorHit> = best
            .into_iter()
            .map(|(d, chunk)| {
                let doc = state.meta_at(state.location[&chunk]).doc;
                VectorHit {
                    chunk,
                    document: state.documents[doc as usize].id,
                    score: score(distance, d.0),
                }
            })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(hits)
    }

    /// Rebuilds the graph over every live vector without blocking searches or writes:
    /// the build runs on a copy, and writes made meanwhile are carried over. Returns
    /// false, doing nothing, when another rebuild is already running.
    pub(crate) fn rebuild(&self, tuning: &Tuning) -> bool {
        if self.rebuilding.swap(true, Ordering::AcqRel) {
            return false;
        }
        let (items, vectors) = {
            let state = self.read();
            let mut items = Vec::with_capacity(state.live_count());
            let mut vectors = Vec::with_capacity(state.live_count() * self.spec.dimension as usize);
            // Grouped by document, so a filtered scan reads each document's vectors
            // from one stretch of memory.
            let mut locations: Vec<(Meta, Loc)> = state
                .location
                .values()
                .map(|&loc| (state.meta_at(loc), loc))
                .collect();
            locations.sort_unstable_by_key(|(meta, _)| (meta.doc, meta.seq));
            for (meta, loc) in locations {
                items.push(meta);
                vectors.extend_from_slice(state.vector_at(loc));
            }
            (items, vectors)
        };
        let dimension = self.spec.dimension as usize;
        let built = if items.len() >= tuning.graph_min {
            Some(Graph::build(
                dimension,
                self.spec.distance,
                vectors,
                tuning.build,
            ))
        } else {
            None
        };
        let mut state = self.write();
        let current = |meta: &Meta, state: &State| {
            state
                .location
                .get(&meta.chunk)
                .is_some_and(|&loc| state.meta_at(loc).seq == meta.seq)
        };
        let (graph, graph_items, live, delta) = match built {
            Some(graph) => {
                let live: Vec<bool> = items.iter().map(|m| current(m, &state)).collect();
                let built: HashSet<(ChunkId, u64)> =
                    items.iter().map(|m| (m.chunk, m.seq)).collect();
                // Whatever was written since the copy, wherever it went, is carried
                // over to the new delta.
                let carried = state
                    .location
                    .values()
                    .map(|&loc| (state.meta_at(loc), loc))
                    .filter(|(meta, _)| !built.contains(&(meta.chunk, meta.seq)))
                    .map(|(meta, loc)| (meta, state.vector_at(loc).to_vec()))
                    .collect();
                (Arc::new(graph), items, live, carried)
            }
            None => {
                // Too few for a graph: everything live goes to the exact-scan list.
                let all: Vec<(Meta, Vec<f32>)> = state
                    .location
                    .values()
                    .map(|&loc| (state.meta_at(loc), state.vector_at(loc).to_vec()))
                    .collect();
                let empty = State::empty(dimension, self.spec.distance).graph;
                (empty, Vec::new(), Vec::new(), all)
            }
        };
        let documents = std::mem::take(&mut state.documents);
        let synced = state.synced_version;
        *state = State::assemble(graph, graph_items, live, delta, documents, synced);
        drop(state);
        // What was written during the build is linked into the new graph.
        self.absorb_all(tuning);
        self.rebuilding.store(false, Ordering::Release);
        true
    }
}

/// A distance ordered so that the heap's top is the farthest kept result.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Far(f32);

impl Eq for Far {}

impl PartialOrd for Far {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Far {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}
