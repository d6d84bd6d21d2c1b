//! A collection behind its lock: writes, filtered search (a scan of the admitted
//! vectors or a graph walk, plus the delta), rebuilds, and linking waiting vectors
//! into the graph. The data itself and its bookkeeping are in [`crate::state`].

use std::collections::{BinaryHeap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use chatstore::{
    ChunkId, CollectionSpec, Distance, DocumentId, Result, VectorFilter, VectorHit, VectorRecord,
};

use crate::admission::Admission;
use crate::distance::{between, normalise, score};
use crate::graph::{BuildParams, Graph, rerank};
use crate::state::{Loc, Meta, State};
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

/// The collection size `exact_below` is stated for.
const SCAN_REFERENCE: f64 = 100_000.0;

/// The most admitted vectors a filtered search scans rather than walking a graph of
/// `graph_size`: `exact_below` at 100k, scaled by the square root of the size. A scan
/// costs the admitted count, `n s` at selectivity `s`; a walk that keeps only admitted
/// nodes costs about `ef / s`; they cross at `s` near `1 / sqrt(n)`, so at an admitted
/// count near `sqrt(n)`. Measured: ~13,600 at 100k, ~5,900 at 20k
/// (docs/performance.md).
fn scan_limit(exact_below: usize, graph_size: usize) -> usize {
    if exact_below == usize::MAX {
        return usize::MAX;
    }
    let scale = (graph_size as f64 / SCAN_REFERENCE).sqrt();
    (exact_below as f64 * scale) as usize
}

/// The most vectors linked into the graph per hold of the write lock (at 100k vectors
/// of 384 dimensions ~0.2 ms each, so searches wait at most ~13 ms): a write this
/// small is linked in as it is made, a larger one after it, this many at a time.
const LINK_STEP: usize = 64;

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
        let from_graph = if admission.count <= scan_limit(tuning.exact_below, state.graph.len()) {
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
        // Vectors outside the graph: scanned on their codes, the best re-ranked.
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
        let (graph, graph_items) = match built {
            Some(graph) => (Arc::new(graph), items),
            // Too few for a graph: everything live goes to the delta.
            None => (
                State::empty(dimension, self.spec.distance).graph,
                Vec::new(),
            ),
        };
        let live: Vec<bool> = graph_items.iter().map(|m| current(m, &state)).collect();
        let in_graph: HashSet<(ChunkId, u64)> =
            graph_items.iter().map(|m| (m.chunk, m.seq)).collect();
        // Whatever is live and not in the new graph (written since the copy, wherever
        // it went) is carried over to the new delta.
        let delta: Vec<(Meta, Vec<f32>)> = state
            .location
            .values()
            .map(|&loc| (state.meta_at(loc), loc))
            .filter(|(meta, _)| !in_graph.contains(&(meta.chunk, meta.seq)))
            .map(|(meta, loc)| (meta, state.vector_at(loc).to_vec()))
            .collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scan_limit_grows_with_the_square_root_of_the_collection() {
        assert_eq!(scan_limit(12_000, 100_000), 12_000);
        assert_eq!(scan_limit(12_000, 400_000), 24_000);
        assert_eq!(scan_limit(12_000, 25_000), 6_000);
        assert_eq!(scan_limit(0, 1_000_000), 0);
        assert_eq!(scan_limit(usize::MAX, 10), usize::MAX);
    }
}
