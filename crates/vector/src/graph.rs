//! The read-optimised HNSW graph searches run on.
//!
//! The graph lives in flat arrays — vectors contiguous, each node's neighbours in
//! fixed-width slots — built by [`crate::builder`] and searched with a reusable
//! visited-tag array, no per-search allocation of points, and no locks. The
//! measurements behind this are in docs/performance.md.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use chatstore::{Distance, Error, Result};

use crate::builder;
use crate::distance::between;
use crate::quantised::Quantised;
use crate::walk::{Near, SCRATCH};

/// Build parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildParams {
    /// Neighbours per node on the upper layers (twice as many on the bottom layer).
    pub m: usize,
    /// Candidates examined per insertion.
    pub ef_construction: usize,
}

impl Default for BuildParams {
    /// M = 16, ef_construction = 200 (the workload's parameters).
    fn default() -> Self {
        BuildParams {
            m: 16,
            ef_construction: 200,
        }
    }
}

/// A built graph over `n` vectors (slots `0..n`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Graph {
    pub(crate) dimension: usize,
    pub(crate) distance: Distance,
    /// Slot `i`'s vector at `i * dimension`.
    pub(crate) vectors: Vec<f32>,
    /// Neighbours per node on the upper layers; the bottom layer has `2 * m`.
    pub(crate) m: usize,
    /// Each slot's top layer.
    pub(crate) levels: Vec<u8>,
    /// Bottom layer: slot `i`'s neighbours at `i * (2m + 1)`: a count, then the ids.
    pub(crate) bottom: Vec<u32>,
    /// Upper layers: for a slot with `upper_start[i] = s`, layer `l >= 1` at
    /// `s + (l - 1) * (m + 1)`: a count, then the ids.
    pub(crate) upper_start: Vec<u32>,
    pub(crate) upper: Vec<u32>,
    pub(crate) entry: u32,
    /// Eight-bit copies of `vectors` the walk is scored with (derived, not saved).
    pub(crate) quantised: Quantised,
}

/// How many of a walk's best slots are re-ranked exactly to find the best `k`: the
/// quantised distances misorder close neighbours only slightly, so a margin of three
/// times `k` (and at least 32) keeps the exact top `k` among them. On W3 this loses no
/// recall against re-ranking all `ef` (docs/performance.md).
pub(crate) fn rerank(k: usize) -> usize {
    (3 * k).max(32)
}

impl Graph {
    /// A graph with no slots.
    pub(crate) fn empty(dimension: usize, distance: Distance) -> Graph {
        Graph {
            dimension,
            distance,
            vectors: Vec::new(),
            m: 1,
            levels: Vec::new(),
            bottom: Vec::new(),
            upper_start: Vec::new(),
            upper: Vec::new(),
            entry: 0,
            quantised: Quantised::default(),
        }
    }

    /// The number of slots.
    pub(crate) fn len(&self) -> usize {
        self.levels.len()
    }

    /// Slot `i`'s vector.
    pub(crate) fn vector(&self, slot: u32) -> &[f32] {
        let start = slot as usize * self.dimension;
        &self.vectors[start..start + self.dimension]
    }

    fn neighbours(&self, slot: u32, layer: usize) -> &[u32] {
        let list = if layer == 0 {
            let width = 2 * self.m + 1;
            &self.bottom[slot as usize * width..(slot as usize + 1) * width]
        } else {
            let start = self.upper_start[slot as usize] as usize + (layer - 1) * (self.m + 1);
            &self.upper[start..start + self.m + 1]
        };
        &list[1..1 + list[0] as usize]
    }

    /// Builds the graph over `vectors` (`n * dimension`, already normalised for
    /// cosine) on all cores.
    pub(crate) fn build(
        dimension: usize,
        distance: Distance,
        vectors: Vec<f32>,
        params: BuildParams,
    ) -> Graph {
        let mut graph = Graph {
            quantised: Quantised::new(dimension, &vectors),
            vectors,
            m: params.m.clamp(2, builder::MAX_WIDTH / 2),
            ..Graph::empty(dimension, distance)
        };
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        builder::build(&mut graph, params.ef_construction, threads);
        graph.connect_unreachable();
        graph
    }

    /// Adds `vector` (normalised for cosine) as a new slot of a non-empty graph,
    /// linked in as a build would have; returns the slot.
    pub(crate) fn insert(&mut self, vector: &[f32], ef_construction: usize) -> u32 {
        let slot = self.len() as u32;
        let level = builder::level_for(slot, self.m);
        self.vectors.extend_from_slice(vector);
        self.quantised.push(vector);
        self.levels.push(level);
        self.bottom.resize(self.bottom.len() + 2 * self.m + 1, 0);
        if level > 0 {
            self.upper_start.push(self.upper.len() as u32);
            let grown = self.upper.len() + level as usize * (self.m + 1);
            self.upper.resize(grown, 0);
        } else {
            self.upper_start.push(u32::MAX);
        }
        builder::insert_one(self, slot, ef_construction);
        slot
    }

    /// Makes every node reachable from the entry point on the bottom layer. Pruning
    /// full lists can leave a node no other node lists, or a few nodes listed only by
    /// each other, which no search could find (hnswlib's graphs have them too). Each
    /// such node is added to the lists of the nearest nodes a search does reach,
    /// taking the place of an entry that has other incoming edges when a list is full;
    /// repeated until the entry point reaches everything.
    fn connect_unreachable(&mut self) {
        for _ in 0..8 {
            let reached = self.reachable();
            let lost: Vec<u32> = (0..self.len() as u32)
                .filter(|&slot| !reached[slot as usize])
                .collect();
            tracing::debug!(unreachable = lost.len(), "bottom layer checked");
            if lost.is_empty() {
                return;
            }
            let mut incoming = vec![0u32; self.len()];
            for row in self.bottom.chunks_exact(2 * self.m + 1) {
                row[1..1 + row[0] as usize]
                    .iter()
                    .for_each(|&id| incoming[id as usize] += 1);
            }
            for node in lost {
                let hosts = self.search(self.vector(node), 3, 32, &|slot| slot != node);
                for (_, host) in hosts {
                    self.add_edge(host, node, &mut incoming);
                }
            }
        }
    }

    /// Which slots a walk of the bottom layer from the entry point can reach.
    fn reachable(&self) -> Vec<bool> {
        let mut reached = vec![false; self.len()];
        let mut pending = Vec::new();
        if self.len() > 0 {
            reached[self.entry as usize] = true;
            pending.push(self.entry);
        }
        while let Some(slot) = pending.pop() {
            for &next in self.neighbours(slot, 0) {
                if !reached[next as usize] {
                    reached[next as usize] = true;
                    pending.push(next);
                }
            }
        }
        reached
    }

    /// Adds `node` to `host`'s bottom list; a full list gives up its farthest entry
    /// among those with another incoming edge (or stays as it is if it has none).
    fn add_edge(&mut self, host: u32, node: u32, incoming: &mut [u32]) {
        let start = host as usize * (2 * self.m + 1);
        let list = self.neighbours(host, 0);
        if list.contains(&node) {
            return;
        }
        let count = list.len();
        let position = if count < 2 * self.m {
            count
        } else {
            let far = |id: u32| between(self.distance, self.vector(host), self.vector(id));
            let victim = (0..count)
                .filter(|&i| incoming[list[i] as usize] > 1)
                .max_by(|&i, &j| far(list[i]).total_cmp(&far(list[j])));
            let Some(victim) = victim else {
                return;
            };
            incoming[list[victim] as usize] -= 1;
            victim
        };
        self.bottom[start + 1 + position] = node;
        self.bottom[start] = self.bottom[start].max(position as u32 + 1);
        incoming[node as usize] += 1;
    }

    /// The `k` best slots for `query` that `admit` accepts, closest first, as (exact
    /// internal distance, slot), from a walk that keeps the `ef` best it has seen.
    /// Slots `admit` rejects are still walked through. The walk is scored on the
    /// quantised vectors; the best few it ends with (see [`rerank`]) are scored again
    /// exactly and ranked by that.
    pub(crate) fn search(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        admit: &dyn Fn(u32) -> bool,
    ) -> Vec<(f32, u32)> {
        let ef = ef.max(k);
        if self.len() == 0 {
            return Vec::new();
        }
        let prepared = self.quantised.query(query);
        let distance = |slot: u32| self.quantised.distance(self.distance, &prepared, slot);
        let mut current = Near(distance(self.entry), self.entry);
        for layer in (1..=self.levels[self.entry as usize] as usize).rev() {
            loop {
                let mut moved = false;
                for &next in self.neighbours(current.1, layer) {
                    let d = distance(next);
                    if d < current.0 {
                        current = Near(d, next);
                        moved = true;
                    }
                }
                if !moved {
                    break;
                }
            }
        }
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            scratch.begin(self.len());
            let mut candidates = BinaryHeap::new();
            let mut results: BinaryHeap<Near> = BinaryHeap::new();
            scratch.visit(current.1);
            candidates.push(Reverse(current));
            if admit(current.1) {
                results.push(current);
            }
            while let Some(Reverse(nearest)) = candidates.pop() {
                if results.len() >= ef && results.peek().is_some_and(|worst| nearest.0 > worst.0) {
                    break;
                }
                let mut fresh = [0u32; builder::MAX_WIDTH];
                let mut count = 0;
                for &next in self.neighbours(nearest.1, 0) {
                    if scratch.visit(next) && count < fresh.len() {
                        fresh[count] = next;
                        count += 1;
                    }
                }
                self.quantised.touch(&fresh[..count]);
                for &next in &fresh[..count] {
                    let d = distance(next);
                    let worst = results.peek().map_or(f32::INFINITY, |w| w.0);
                    if results.len() < ef || d < worst {
                        candidates.push(Reverse(Near(d, next)));
                        if admit(next) {
                            results.push(Near(d, next));
                            if results.len() > ef {
                                results.pop();
                            }
                        }
                    }
                }
            }
            self.rerank(query, k, results.into_vec())
        })
    }

    /// The `k` best of `slots` for `query`, closest first, as (exact internal
    /// distance, slot): all scored on the quantised vectors, the best few (see
    /// [`rerank`]) again exactly.
    pub(crate) fn best_of(
        &self,
        query: &[f32],
        k: usize,
        slots: impl Iterator<Item = u32>,
    ) -> Vec<(f32, u32)> {
        let prepared = self.quantised.query(query);
        let best = self
            .quantised
            .nearest(self.distance, &prepared, slots, rerank(k));
        self.rerank(query, k, best)
    }

    /// The `k` best of `candidates` (scored on the quantised vectors) by exact
    /// distance, after keeping the best few by their quantised score.
    fn rerank(&self, query: &[f32], k: usize, mut candidates: Vec<Near>) -> Vec<(f32, u32)> {
        candidates.sort_unstable();
        candidates.truncate(rerank(k));
        let mut found: Vec<(f32, u32)> = candidates
            .into_iter()
            .map(|Near(_, slot)| (between(self.distance, query, self.vector(slot)), slot))
            .collect();
        found.sort_by(|a, b| a.0.total_cmp(&b.0));
        found.truncate(k);
        found
    }

    /// Appends the graph to `out` (little-endian; see [`Graph::decode`]).
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let words = [
            self.dimension as u32,
            self.len() as u32,
            self.m as u32,
            self.entry,
            self.upper.len() as u32,
        ];
        words
            .iter()
            .for_each(|w| out.extend_from_slice(&w.to_le_bytes()));
        out.extend_from_slice(&self.levels);
        for list in [&self.bottom, &self.upper_start, &self.upper] {
            list.iter()
                .for_each(|w| out.extend_from_slice(&w.to_le_bytes()));
        }
        self.vectors
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
    }

    /// Reads a graph of `dimension`-long vectors written by [`Graph::encode`], checking
    /// every length and id, so that a damaged file is an error rather than a panic (or
    /// an allocation the size of a damaged number) later.
    pub(crate) fn decode(
        input: &mut Reader<'_>,
        distance: Distance,
        dimension: usize,
    ) -> Result<Graph> {
        let stored_dimension = input.u32()? as usize;
        let n = input.u32()? as usize;
        let m = input.u32()? as usize;
        let entry = input.u32()?;
        let upper_len = input.u32()? as usize;
        if stored_dimension != dimension
            || m == 0
            || m > 256
            || dimension == 0
            || (n > 0 && entry as usize >= n)
        {
            return Err(input.damaged("graph header"));
        }
        let levels = input.bytes(n)?.to_vec();
        let bottom = input.u32s(n * (2 * m + 1))?;
        let upper_start = input.u32s(n)?;
        let upper = input.u32s(upper_len)?;
        let vectors = input.f32s(n * dimension)?;
        let graph = Graph {
            dimension,
            distance,
            quantised: Quantised::new(dimension, &vectors),
            vectors,
            m,
            levels,
            bottom,
            upper_start,
            upper,
            entry,
        };
        graph
            .check()
            .map_err(|()| input.damaged("graph structure"))?;
        Ok(graph)
    }

    /// Every neighbour list within bounds, naming existing slots that reach its layer,
    /// and the entry point on the top layer.
    fn check(&self) -> std::result::Result<(), ()> {
        let n = self.len() as u32;
        let top = self.levels.iter().max().copied().unwrap_or(0);
        if n > 0 && self.levels[self.entry as usize] != top {
            return Err(());
        }
        let width = 2 * self.m + 1;
        for row in self.bottom.chunks_exact(width) {
            let count = row[0] as usize;
            if count > 2 * self.m || row[1..1 + count].iter().any(|&id| id >= n) {
                return Err(());
            }
        }
        for (slot, &start) in self.upper_start.iter().enumerate() {
            let level = self.levels[slot] as usize;
            if level == 0 {
                continue;
            }
            let end = start as usize + level * (self.m + 1);
            if start == u32::MAX || end > self.upper.len() {
                return Err(());
            }
            let rows = self.upper[start as usize..end].chunks_exact(self.m + 1);
            for (layer, row) in (1..).zip(rows) {
                let count = row[0] as usize;
                let reaches = |id: &u32| id < &n && self.levels[*id as usize] >= layer;
                if count > self.m || !row[1..1 + count].iter().all(reaches) {
                    return Err(());
                }
            }
        }
        Ok(())
    }
}

/// Reads little-endian values from a verified snapshot, reporting a short or
/// inconsistent one as [`Error::Corrupt`].
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    what: &'a str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8], what: &'a str) -> Reader<'a> {
        Reader { bytes, at: 0, what }
    }

    pub(crate) fn damaged(&self, part: &str) -> Error {
        Error::Corrupt {
            detail: format!("{}: {part} is damaged", self.what),
        }
    }

    pub(crate) fn bytes(&mut self, len: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(len).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| self.damaged("length"))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn u32s(&mut self, n: usize) -> Result<Vec<u32>> {
        let len = n.checked_mul(4).ok_or_else(|| self.damaged("length"))?;
        Ok(self
            .bytes(len)?
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    pub(crate) fn f32s(&mut self, n: usize) -> Result<Vec<f32>> {
        let len = n.checked_mul(4).ok_or_else(|| self.damaged("length"))?;
        Ok(self
            .bytes(len)?
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    pub(crate) fn is_done(&self) -> bool {
        self.at == self.bytes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_graph(n: usize, dimension: usize) -> Graph {
        random_graph_with(n, dimension, 8)
    }

    fn random_graph_with(n: usize, dimension: usize, m: usize) -> Graph {
        let mut state = 7u64;
        let vectors = (0..n * dimension)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state % 1000) as f32 / 500.0 - 1.0
            })
            .collect();
        let params = BuildParams {
            m,
            ef_construction: 64,
        };
        Graph::build(dimension, Distance::L2, vectors, params)
    }

    #[test]
    fn built_lists_name_other_nodes_once_each() {
        let graph = random_graph(3000, 12);
        assert!(graph.check().is_ok());
        assert!(
            graph.levels.iter().any(|&l| l > 0),
            "a graph this size has layers"
        );
        for slot in 0..graph.len() as u32 {
            for layer in 0..=graph.levels[slot as usize] as usize {
                let mut list = graph.neighbours(slot, layer).to_vec();
                assert!(!list.contains(&slot), "slot {slot} links to itself");
                assert!(
                    layer > 0 || !list.is_empty(),
                    "slot {slot} has no neighbours"
                );
                list.sort_unstable();
                list.dedup();
                assert_eq!(list.len(), graph.neighbours(slot, layer).len());
            }
        }
        // Every node can be reached, and all but a rare one in a local minimum are
        // found when searched for by their own vector.
        assert!(graph.reachable().iter().all(|&r| r));
        let lost: Vec<u32> = (0..graph.len() as u32)
            .filter(|&slot| graph.search(graph.vector(slot), 1, 64, &|_| true)[0].1 != slot)
            .collect();
        assert!(lost.len() <= 3, "not found by their own vector: {lost:?}");
    }

    #[test]
    fn a_walk_follows_every_entry_of_the_widest_lists() {
        // A star: node 0 lists 100 others (m = 64 allows 128), each lists only node 0.
        let (n, m) = (101usize, 64usize);
        let width = 2 * m + 1;
        let mut bottom = vec![0u32; n * width];
        bottom[0] = 100;
        (1..=100u32).for_each(|id| bottom[id as usize] = id);
        for slot in 1..n {
            bottom[slot * width] = 1;
        }
        let vectors: Vec<f32> = (0..n).flat_map(|i| [i as f32, 1.0]).collect();
        let graph = Graph {
            quantised: Quantised::new(2, &vectors),
            dimension: 2,
            distance: Distance::L2,
            vectors,
            m,
            levels: vec![0; n],
            bottom,
            upper_start: vec![u32::MAX; n],
            upper: Vec::new(),
            entry: 0,
        };
        assert!(graph.check().is_ok());
        let farthest = graph.search(&[100.0, 1.0], 1, 8, &|_| true);
        assert_eq!(farthest[0].1, 100);
        assert_eq!(graph.search(&[0.0, 1.0], n, n, &|_| true).len(), n);
    }

    #[test]
    fn a_node_no_list_names_is_linked_back_in() {
        let mut graph = random_graph(500, 8);
        let width = 2 * graph.m + 1;
        // A bottom-layer-only node, so nothing but the bottom layer leads to it.
        let orphan = (100..500).find(|&s| graph.levels[s as usize] == 0).unwrap();
        // Cut every edge into the orphan, as a racing build can.
        for row in graph.bottom.chunks_exact_mut(width) {
            let kept: Vec<u32> = row[1..1 + row[0] as usize]
                .iter()
                .copied()
                .filter(|&id| id != orphan)
                .collect();
            row[0] = kept.len() as u32;
            row[1..1 + kept.len()].copy_from_slice(&kept);
        }
        let query = graph.vector(orphan).to_vec();
        let reachable = |g: &Graph| {
            g.search(&query, 500, 500, &|_| true)
                .iter()
                .any(|&(_, s)| s == orphan)
        };
        assert!(!reachable(&graph));
        graph.connect_unreachable();
        assert!(reachable(&graph));
        assert_eq!(graph.search(&query, 1, 32, &|_| true)[0].1, orphan);
        assert!(graph.check().is_ok());
    }
}
