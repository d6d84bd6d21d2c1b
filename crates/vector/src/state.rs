//! One collection's data and its bookkeeping: the graph (small writes are linked into
//! it), tombstones for what was deleted from it, a "delta" of vectors outside it
//! (large batches and writes made during a rebuild, scanned on 8-bit codes), where
//! each chunk's vector is, and the per-document and per-owner maps that filters are
//! resolved with.

use std::collections::HashMap;
use std::sync::Arc;

use chatstore::{ChunkId, Distance, DocumentId, UserId, VectorRecord};

use crate::graph::Graph;
use crate::quantised::{self, Quantised};

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
pub(crate) enum Loc {
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
    pub(crate) delta_codes: Quantised,
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
    pub(crate) location: HashMap<ChunkId, Loc>,
    pub(crate) tombstones: usize,
    next_seq: u64,
}

impl State {
    /// A collection with no vectors.
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
            Quantised::around(state.graph.quantised.centre().to_vec())
        } else {
            let vectors = state.delta.iter().map(|(_, v)| v.as_slice());
            Quantised::around(quantised::mean(state.graph.dimension, vectors))
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
    pub(crate) fn live_graph_slots(&self, doc: u32) -> impl Iterator<Item = u32> + '_ {
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

    pub(crate) fn vector_at(&self, loc: Loc) -> &[f32] {
        match loc {
            Loc::Graph(slot) => self.graph.vector(slot),
            Loc::Delta(i) => &self.delta[i].1,
        }
    }

    pub(crate) fn meta_at(&self, loc: Loc) -> Meta {
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
    pub(crate) fn remove(&mut self, chunk: ChunkId) -> bool {
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
    pub(crate) fn insert(
        &mut self,
        record: &VectorRecord,
        vector: Vec<f32>,
        into_graph: Option<usize>,
    ) {
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
    pub(crate) fn absorb(&mut self, most: usize, ef_construction: usize) -> usize {
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
