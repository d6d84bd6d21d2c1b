//! Builds the HNSW graph on all cores, straight into the flat layout searches use.
//!
//! The algorithm is the one of Malkov and Yashunin's paper, as hnswlib implements it:
//! each vector gets a random top layer; inserting it walks down from the entry point,
//! gathers `ef_construction` candidates on each of its layers, keeps `m` of them by
//! the diversity heuristic, and links back from each, pruning a full list by the same
//! heuristic. Threads insert vectors side by side; a lock per node serialises changes
//! to that node's lists, while walks read lists without locks (each entry is an atomic
//! word, so a walk sees an old or a new neighbour, both real nodes). Distances are
//! taken on the 8-bit quantised vectors, four times less memory to read.
//!
//! The same insertion adds one vector to a built graph ([`insert_one`]): with the
//! graph held exclusively, its plain lists are viewed as [`Cell`]s and no lock is
//! taken.
//!
//! It replaces hnsw_rs, whose builder took three times longer than hnswlib's on W3
//! (and whose search ran at a third of hnswlib's speed); all three are measured in
//! docs/performance.md.

use std::cell::Cell;
use std::collections::BinaryHeap;
use std::sync::atomic::{
    AtomicU32, AtomicUsize, Ordering::Acquire, Ordering::Relaxed, Ordering::Release,
};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::distance::BuildDistance;
use crate::graph::Graph;
use crate::quantised::Quantised;
use crate::walk::{Near, SCRATCH};

/// The most layers a graph has.
const MAX_LAYER: u8 = 15;

/// The widest list a graph may have (`2m` on the bottom layer).
pub(crate) const MAX_WIDTH: usize = 512;

/// A word of a neighbour list: atomic while threads build side by side, a plain
/// cell while one insertion holds the graph alone. A list's ids are written before
/// its count, and the count is published with release and read with acquire, so a
/// walk never reads a count ahead of the ids it covers (ids not yet written would be
/// zeros, which name a node that may not reach the list's layer).
trait Word {
    fn get(&self) -> u32;
    fn set(&self, value: u32);
}

impl Word for AtomicU32 {
    fn get(&self) -> u32 {
        self.load(Acquire)
    }

    fn set(&self, value: u32) {
        self.store(value, Release);
    }
}

impl Word for Cell<u32> {
    fn get(&self) -> u32 {
        Cell::get(self)
    }

    fn set(&self, value: u32) {
        Cell::set(self, value);
    }
}

/// A graph's lists and what inserting into them needs.
struct Builder<'a, W> {
    quantised: &'a Quantised,
    build: BuildDistance,
    m: usize,
    ef_construction: usize,
    levels: &'a [u8],
    /// Slot `i`'s bottom list at `i * (2m + 1)`: a count, then the ids.
    bottom: &'a [W],
    /// Slot `i`'s layer `l >= 1` list at `upper_start[i] + (l - 1) * (m + 1)`.
    upper_start: &'a [u32],
    upper: &'a [W],
    /// A lock per slot, or none when one insertion holds the graph alone.
    locks: &'a [Mutex<()>],
    /// The entry point and its layer.
    top: Mutex<(u32, u8)>,
}

/// Slot `slot`'s top layer, drawn as HNSW prescribes (layer `l` or above with
/// probability `m^-l`) from a hash of the slot, so a graph's shape does not depend on
/// thread timing.
pub(crate) fn level_for(slot: u32, m: usize) -> u8 {
    // splitmix64 of the slot
    let mut z = u64::from(slot)
        .wrapping_add(1)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let uniform = ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let scale = 1.0 / (m.max(2) as f64).ln();
    (-uniform.ln() * scale).floor().min(MAX_LAYER as f64) as u8
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Builds the lists of `graph`, whose vectors, quantised copies and `m` are in place
/// and whose lists are empty, on `threads` threads.
pub(crate) fn build(graph: &mut Graph, ef_construction: usize, threads: usize) {
    let (n, m) = (graph.quantised.len(), graph.m);
    let levels: Vec<u8> = (0..n as u32).map(|slot| level_for(slot, m)).collect();
    let mut upper_start = vec![u32::MAX; n];
    let mut upper_len = 0usize;
    for (slot, &level) in levels.iter().enumerate() {
        if level > 0 {
            upper_start[slot] = upper_len as u32;
            upper_len += level as usize * (m + 1);
        }
    }
    let bottom: Vec<AtomicU32> = (0..n * (2 * m + 1)).map(|_| AtomicU32::new(0)).collect();
    let upper: Vec<AtomicU32> = (0..upper_len).map(|_| AtomicU32::new(0)).collect();
    let locks: Vec<Mutex<()>> = (0..n).map(|_| Mutex::new(())).collect();
    let builder = Builder {
        quantised: &graph.quantised,
        build: BuildDistance::for_collection(graph.distance),
        m,
        ef_construction: ef_construction.max(m),
        levels: &levels,
        bottom: &bottom,
        upper_start: &upper_start,
        upper: &upper,
        locks: &locks,
        top: Mutex::new((0, levels.first().copied().unwrap_or(0))),
    };
    let next = AtomicUsize::new(1);
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                loop {
                    let slot = next.fetch_add(1, Relaxed);
                    if slot >= n {
                        break;
                    }
                    builder.insert(slot as u32);
                }
            });
        }
    });
    let entry = lock(&builder.top).0;
    let plain = |words: Vec<AtomicU32>| words.into_iter().map(AtomicU32::into_inner).collect();
    graph.entry = entry;
    graph.bottom = plain(bottom);
    graph.upper = plain(upper);
    graph.upper_start = upper_start;
    graph.levels = levels;
}

/// Links slot `slot` into `graph`, held exclusively, as a build would have: the
/// slot's vector, quantised copy, level and (empty) lists must already be in place.
pub(crate) fn insert_one(graph: &mut Graph, slot: u32, ef_construction: usize) {
    let builder = Builder {
        quantised: &graph.quantised,
        build: BuildDistance::for_collection(graph.distance),
        m: graph.m,
        ef_construction: ef_construction.max(graph.m),
        levels: &graph.levels,
        bottom: Cell::from_mut(graph.bottom.as_mut_slice()).as_slice_of_cells(),
        upper_start: &graph.upper_start,
        upper: Cell::from_mut(graph.upper.as_mut_slice()).as_slice_of_cells(),
        locks: &[],
        top: Mutex::new((graph.entry, graph.levels[graph.entry as usize])),
    };
    builder.insert(slot);
    let entry = lock(&builder.top).0;
    graph.entry = entry;
}

impl<W: Word> Builder<'_, W> {
    /// Holds `slot`'s lock, when there are locks.
    fn hold(&self, slot: u32) -> Option<MutexGuard<'_, ()>> {
        self.locks.get(slot as usize).map(lock)
    }

    fn distance(&self, a: u32, b: u32) -> f32 {
        self.quantised.between_slots(self.build, a, b)
    }

    fn list(&self, slot: u32, layer: usize) -> &[W] {
        if layer == 0 {
            let width = 2 * self.m + 1;
            &self.bottom[slot as usize * width..(slot as usize + 1) * width]
        } else {
            let start = self.upper_start[slot as usize] as usize + (layer - 1) * (self.m + 1);
            &self.upper[start..start + self.m + 1]
        }
    }

    /// Copies `slot`'s list on `layer` into `out`; returns how many ids it holds.
    fn read(&self, slot: u32, layer: usize, out: &mut [u32; MAX_WIDTH]) -> usize {
        let list = self.list(slot, layer);
        let count = (list[0].get() as usize).min(list.len() - 1);
        for (to, from) in out.iter_mut().zip(&list[1..1 + count]) {
            *to = from.get();
        }
        count
    }

    fn write(&self, slot: u32, layer: usize, ids: &[Near]) {
        let list = self.list(slot, layer);
        for (to, from) in list[1..].iter().zip(ids) {
            to.set(from.1);
        }
        list[0].set(ids.len() as u32);
    }

    fn insert(&self, slot: u32) {
        let level = self.levels[slot as usize];
        let mut top = Some(lock(&self.top));
        let (entry, top_level) = top.as_deref().copied().unwrap_or_default();
        if level <= top_level {
            // Only an insertion that raises the entry point keeps the lock throughout.
            top = None;
        }
        let mut nearest = Near(self.distance(slot, entry), entry);
        for layer in (level as usize + 1..=top_level as usize).rev() {
            nearest = self.greedy(slot, nearest, layer);
        }
        let mut entries = vec![nearest];
        for layer in (0..=level.min(top_level) as usize).rev() {
            let found = self.search_layer(slot, &entries, layer);
            let chosen = self.diverse(&found, self.m);
            {
                let _own = self.hold(slot);
                self.write(slot, layer, &chosen);
            }
            for &Near(d, neighbour) in &chosen {
                self.link(neighbour, Near(d, slot), layer);
            }
            entries = found;
        }
        if let Some(mut top) = top {
            *top = (slot, level);
        }
    }

    /// Moves to the closest neighbour on `layer` until none is closer.
    fn greedy(&self, slot: u32, mut nearest: Near, layer: usize) -> Near {
        let mut ids = [0u32; MAX_WIDTH];
        loop {
            let count = self.read(nearest.1, layer, &mut ids);
            let before = nearest.1;
            for &id in &ids[..count] {
                let d = self.distance(slot, id);
                if d < nearest.0 {
                    nearest = Near(d, id);
                }
            }
            if nearest.1 == before {
                return nearest;
            }
        }
    }

    /// The `ef_construction` closest nodes to `slot` on `layer` reachable from
    /// `entries`, closest first.
    fn search_layer(&self, slot: u32, entries: &[Near], layer: usize) -> Vec<Near> {
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            scratch.begin(self.levels.len());
            scratch.visit(slot);
            let mut candidates: BinaryHeap<std::cmp::Reverse<Near>> = BinaryHeap::new();
            let mut found: BinaryHeap<Near> = BinaryHeap::new();
            for &entry in entries {
                if scratch.visit(entry.1) {
                    candidates.push(std::cmp::Reverse(entry));
                    found.push(entry);
                }
            }
            while found.len() > self.ef_construction {
                found.pop();
            }
            let mut ids = [0u32; MAX_WIDTH];
            while let Some(std::cmp::Reverse(nearest)) = candidates.pop() {
                let full = found.len() >= self.ef_construction;
                if full && found.peek().is_some_and(|worst| nearest.0 > worst.0) {
                    break;
                }
                let count = self.read(nearest.1, layer, &mut ids);
                let mut fresh = [0u32; MAX_WIDTH];
                let mut unseen = 0;
                for &id in &ids[..count] {
                    if scratch.visit(id) {
                        fresh[unseen] = id;
                        unseen += 1;
                    }
                }
                self.quantised.touch(&fresh[..unseen]);
                for &id in &fresh[..unseen] {
                    let d = self.distance(slot, id);
                    let worst = found.peek().map_or(f32::INFINITY, |w| w.0);
                    if found.len() < self.ef_construction || d < worst {
                        candidates.push(std::cmp::Reverse(Near(d, id)));
                        found.push(Near(d, id));
                        if found.len() > self.ef_construction {
                            found.pop();
                        }
                    }
                }
            }
            found.into_sorted_vec()
        })
    }

    /// Up to `keep` of `candidates` (closest first) chosen for diversity: a
    /// candidate is kept only if it is closer to the new node than to every one
    /// already kept, so the links point in different directions.
    fn diverse(&self, candidates: &[Near], keep: usize) -> Vec<Near> {
        let mut kept: Vec<Near> = Vec::with_capacity(keep);
        for &candidate in candidates {
            if kept.len() >= keep {
                break;
            }
            let dominated = kept
                .iter()
                .any(|k| self.distance(candidate.1, k.1) < candidate.0);
            if !dominated {
                kept.push(candidate);
            }
        }
        kept
    }

    /// Adds `new` (with its distance to `neighbour`) to `neighbour`'s list on `layer`,
    /// pruning the list by the diversity heuristic when it is full.
    fn link(&self, neighbour: u32, new: Near, layer: usize) {
        let width = if layer == 0 { 2 * self.m } else { self.m };
        let _guard = self.hold(neighbour);
        let mut ids = [0u32; MAX_WIDTH];
        let count = self.read(neighbour, layer, &mut ids);
        if ids[..count].contains(&new.1) {
            return;
        }
        let list = self.list(neighbour, layer);
        if count < width {
            list[1 + count].set(new.1);
            list[0].set(count as u32 + 1);
            return;
        }
        let mut candidates: Vec<Near> = ids[..count]
            .iter()
            .map(|&id| Near(self.distance(neighbour, id), id))
            .collect();
        candidates.push(new);
        candidates.sort_unstable();
        let kept = self.diverse(&candidates, width);
        self.write(neighbour, layer, &kept);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_thin_out_by_a_factor_of_m() {
        let levels: Vec<u8> = (0..100_000).map(|slot| level_for(slot, 16)).collect();
        let at_least = |l: u8| levels.iter().filter(|&&x| x >= l).count() as f64;
        assert!((at_least(1) / 100_000.0 - 1.0 / 16.0).abs() < 0.01);
        assert!((at_least(2) / at_least(1) - 1.0 / 16.0).abs() < 0.02);
        assert_eq!(level_for(77, 16), level_for(77, 16));
    }
}
