//! The read-optimised HNSW graph searches run on.
//!
//! hnsw_rs builds the graph; its structure is then copied into flat arrays — vectors
//! contiguous, each node's neighbours in fixed-width slots — and searched with a
//! reusable visited-tag array, no per-search allocation of points, and no locks. The
//! measurements behind this are in docs/performance.md.

use std::cell::RefCell;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use chatstore::{Distance, Error, Result};
use hnsw_rs::prelude::Hnsw;

use crate::distance::{BuildDistance, between};
use crate::quantised::Quantised;

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

/// The most layers hnsw_rs is asked for.
const MAX_LAYERS: usize = 16;

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
    quantised: Quantised,
}

/// A candidate during search: a distance (smaller is closer) and a slot.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Near(f32, u32);

impl Eq for Near {}

impl PartialOrd for Near {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Near {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

/// How many of a walk's best slots are re-ranked exactly to find the best `k`: the
/// quantised distances misorder close neighbours only slightly, so a margin of three
/// times `k` (and at least 32) keeps the exact top `k` among them. On W3 this loses no
/// recall against re-ranking all `ef` (docs/performance.md).
fn rerank(k: usize) -> usize {
    (3 * k).max(32)
}

/// Per-thread search scratch: a visited tag per slot, reset by bumping the generation.
#[derive(Default)]
struct Scratch {
    tags: Vec<u32>,
    generation: u32,
}

impl Scratch {
    fn begin(&mut self, n: usize) {
        if self.tags.len() < n {
            self.tags.resize(n, 0);
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.tags.iter_mut().for_each(|t| *t = 0);
            self.generation = 1;
        }
    }

    /// Marks `slot` visited; true if it was not yet.
    fn visit(&mut self, slot: u32) -> bool {
        let tag = &mut self.tags[slot as usize];
        let fresh = *tag != self.generation;
        *tag = self.generation;
        fresh
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
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
    /// cosine) with hnsw_rs, inserting on all cores.
    pub(crate) fn build(
        dimension: usize,
        distance: Distance,
        vectors: Vec<f32>,
        params: BuildParams,
    ) -> Graph {
        let n = vectors.len() / dimension.max(1);
        let m = params.m;
        let build = BuildDistance::for_collection(distance);
        let hnsw: Hnsw<'_, f32, BuildDistance> =
            Hnsw::new(m, n.max(1), MAX_LAYERS, params.ef_construction, build);
        let data: Vec<(&[f32], usize)> = vectors.chunks_exact(dimension).zip(0..).collect();
        hnsw.parallel_insert_slice(&data);

        let mut levels = vec![0u8; n];
        let mut entry = (0u32, 0u8);
        for point in hnsw.get_point_indexation() {
            let (slot, level) = (point.get_origin_id() as u32, point.get_point_id().0);
            levels[slot as usize] = level;
            if level > entry.1 {
                entry = (slot, level);
            }
        }
        let mut bottom = vec![0u32; n * (2 * m + 1)];
        let mut upper_lists: Vec<(u32, Vec<Vec<u32>>)> = Vec::new();
        for point in hnsw.get_point_indexation() {
            let slot = point.get_origin_id() as u32;
            let level = levels[slot as usize];
            let layers = point.get_neighborhood_id();
            // hnsw_rs's parallel build occasionally lists a node on a layer above its
            // own level; such an edge is dropped, so every walk stays on real nodes.
            let ids = |layer: usize, cap: usize| -> Vec<u32> {
                let list = layers.get(layer).map(Vec::as_slice).unwrap_or_default();
                list.iter()
                    .map(|nb| nb.d_id as u32)
                    .filter(|&id| levels[id as usize] as usize >= layer)
                    .take(cap)
                    .collect()
            };
            let width = 2 * m + 1;
            let list = ids(0, 2 * m);
            let row = &mut bottom[slot as usize * width..(slot as usize + 1) * width];
            row[0] = list.len() as u32;
            row[1..1 + list.len()].copy_from_slice(&list);
            if level > 0 {
                upper_lists.push((slot, (1..=level as usize).map(|l| ids(l, m)).collect()));
            }
        }
        let mut upper_start = vec![u32::MAX; n];
        let mut upper = Vec::new();
        upper_lists.sort_unstable_by_key(|(slot, _)| *slot);
        for (slot, layers) in upper_lists {
            upper_start[slot as usize] = upper.len() as u32;
            for list in layers {
                upper.push(list.len() as u32);
                upper.extend_from_slice(&list);
                upper.resize(upper.len() + m - list.len(), 0);
            }
        }
        let mut graph = Graph {
            dimension,
            distance,
            vectors,
            m,
            levels,
            bottom,
            upper_start,
            upper,
            entry: entry.0,
            quantised: Quantised::default(),
        };
        graph.quantised = Quantised::new(dimension, &graph.vectors);
        graph.link_orphans();
        graph
    }

    /// Gives every node an incoming edge on the bottom layer. hnsw_rs's parallel
    /// build now and then leaves a node that no other node lists (its upstream issue
    /// 32), which no search could reach; such a node is added to the lists of its own
    /// nearest neighbours, in place of their farthest entry when they are full.
    fn link_orphans(&mut self) {
        let width = 2 * self.m + 1;
        let mut incoming = vec![0u32; self.len()];
        for row in self.bottom.chunks_exact(width) {
            row[1..1 + row[0] as usize]
                .iter()
                .for_each(|&id| incoming[id as usize] += 1);
        }
        let orphans: Vec<u32> = (0..self.len() as u32)
            .filter(|&slot| incoming[slot as usize] == 0 && self.len() > 1)
            .collect();
        for orphan in orphans {
            let nearest: Vec<u32> = self.neighbours(orphan, 0).iter().take(3).copied().collect();
            for host in nearest {
                let row = &mut self.bottom[host as usize * width..(host as usize + 1) * width];
                let count = row[0] as usize;
                if count < 2 * self.m {
                    row[1 + count] = orphan;
                    row[0] += 1;
                } else {
                    let dropped = row[count];
                    row[count] = orphan;
                    incoming[dropped as usize] -= 1;
                }
            }
        }
        tracing::debug!(
            unreachable = incoming.iter().filter(|&&n| n == 0).count(),
            "bottom layer linked"
        );
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
                let mut fresh = [0u32; 64];
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
            let mut walked = results.into_vec();
            walked.sort_unstable();
            walked.truncate(rerank(k));
            let mut found: Vec<(f32, u32)> = walked
                .into_iter()
                .map(|Near(_, slot)| (between(self.distance, query, self.vector(slot)), slot))
                .collect();
            found.sort_by(|a, b| a.0.total_cmp(&b.0));
            found.truncate(k);
            found
        })
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

    /// Reads a graph written by [`Graph::encode`], checking every length and id, so
    /// that a damaged file is an error rather than a panic later.
    pub(crate) fn decode(input: &mut Reader<'_>, distance: Distance) -> Result<Graph> {
        let dimension = input.u32()? as usize;
        let n = input.u32()? as usize;
        let m = input.u32()? as usize;
        let entry = input.u32()?;
        let upper_len = input.u32()? as usize;
        if m == 0 || m > 256 || dimension == 0 || (n > 0 && entry as usize >= n) {
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
            m: 8,
            ef_construction: 64,
        };
        Graph::build(dimension, Distance::L2, vectors, params)
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
        graph.link_orphans();
        assert!(reachable(&graph));
        assert_eq!(graph.search(&query, 1, 32, &|_| true)[0].1, orphan);
        assert!(graph.check().is_ok());
    }
}
