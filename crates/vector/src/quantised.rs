//! Eight-bit copies of the graph's vectors that searches walk the graph with.
//!
//! Each vector is scaled so its largest component is ±127 and rounded to `i8`; the
//! scale is kept beside it. A quarter of the bytes means a quarter of the memory
//! traffic on the random reads a graph walk makes, and simsimd scores `i8` vectors with
//! the widest integer instructions the CPU has (picked at run time). The walk's
//! candidates are then re-ranked with the exact `f32` distance, so only the path
//! through the graph is approximate, never a reported score.

use std::collections::BinaryHeap;

use chatstore::Distance;

use crate::distance::BuildDistance;
use crate::walk::Near;
use simsimd::SpatialSimilarity;

/// The quantised vectors of a graph, slot by slot.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Quantised {
    dimension: usize,
    /// Slot `i`'s codes at `i * dimension`.
    codes: Vec<i8>,
    /// What one code unit of slot `i` is worth.
    steps: Vec<f32>,
    /// Slot `i`'s squared length (for Euclidean distances).
    squared_norms: Vec<f32>,
}

/// A query prepared for [`Quantised::distance`].
pub(crate) struct QuantisedQuery {
    codes: Vec<i8>,
    step: f32,
    squared_norm: f32,
}

/// Rounds `vector` to codes whose largest magnitude is 127; returns the step.
fn encode(vector: &[f32], codes: &mut Vec<i8>) -> f32 {
    let largest = vector.iter().fold(0f32, |m, x| m.max(x.abs()));
    let step = if largest > 0.0 { largest / 127.0 } else { 1.0 };
    let scale = 1.0 / step;
    // Rounded half away from zero by hand: `f32::round` is a library call on the
    // baseline x86-64 target, this vectorises.
    codes.extend(vector.iter().map(|x| {
        let scaled = x * scale;
        (scaled + 0.5f32.copysign(scaled)) as i8
    }));
    step
}

fn squared_norm(vector: &[f32]) -> f32 {
    vector.iter().map(|x| x * x).sum()
}

impl Quantised {
    /// Quantises `vectors` (`n * dimension`).
    pub(crate) fn new(dimension: usize, vectors: &[f32]) -> Quantised {
        let n = vectors.len() / dimension.max(1);
        let mut quantised = Quantised {
            dimension,
            codes: Vec::with_capacity(vectors.len()),
            steps: Vec::with_capacity(n),
            squared_norms: Vec::with_capacity(n),
        };
        for vector in vectors.chunks_exact(dimension.max(1)) {
            let step = encode(vector, &mut quantised.codes);
            quantised.steps.push(step);
            quantised.squared_norms.push(squared_norm(vector));
        }
        quantised
    }

    /// Appends a vector as the next slot.
    pub(crate) fn push(&mut self, vector: &[f32]) {
        self.dimension = vector.len();
        self.steps.push(encode(vector, &mut self.codes));
        self.squared_norms.push(squared_norm(vector));
    }

    /// Removes slot `slot`, moving the last slot into its place (as `Vec::swap_remove`).
    pub(crate) fn swap_remove(&mut self, slot: usize) {
        let last = self.len() - 1;
        let d = self.dimension;
        self.codes.copy_within(last * d..(last + 1) * d, slot * d);
        self.codes.truncate(last * d);
        self.steps.swap_remove(slot);
        self.squared_norms.swap_remove(slot);
    }

    /// The `keep` of `slots` closest to `query` by quantised distance, in no order.
    pub(crate) fn nearest(
        &self,
        distance: Distance,
        query: &QuantisedQuery,
        slots: impl Iterator<Item = u32>,
        keep: usize,
    ) -> Vec<Near> {
        let mut best: BinaryHeap<Near> = BinaryHeap::with_capacity(keep + 1);
        for slot in slots {
            let d = self.distance(distance, query, slot);
            if best.len() < keep || best.peek().is_some_and(|worst| d < worst.0) {
                best.push(Near(d, slot));
                if best.len() > keep {
                    best.pop();
                }
            }
        }
        best.into_vec()
    }

    /// The number of slots.
    pub(crate) fn len(&self) -> usize {
        self.steps.len()
    }

    /// Prepares `query` for distances to the stored vectors.
    pub(crate) fn query(&self, query: &[f32]) -> QuantisedQuery {
        let mut codes = Vec::with_capacity(query.len());
        let step = encode(query, &mut codes);
        QuantisedQuery {
            codes,
            step,
            squared_norm: squared_norm(query),
        }
    }

    /// Reads every cache line of the given slots' codes, so that their memory
    /// fetches overlap instead of each waiting its turn inside a distance
    /// computation (a prefetch, without unsafe code).
    pub(crate) fn touch(&self, slots: &[u32]) {
        let mut sum = 0i8;
        for &slot in slots {
            let start = slot as usize * self.dimension;
            for line in self.codes[start..start + self.dimension].iter().step_by(64) {
                sum = sum.wrapping_add(*line);
            }
        }
        std::hint::black_box(sum);
    }

    /// The approximate distance the graph is built with (see [`BuildDistance`]) between
    /// two stored slots.
    pub(crate) fn between_slots(&self, build: BuildDistance, a: u32, b: u32) -> f32 {
        let (a, b) = (a as usize, b as usize);
        let codes = |slot: usize| &self.codes[slot * self.dimension..(slot + 1) * self.dimension];
        let raw = i8::dot(codes(a), codes(b)).unwrap_or(0.0) as f32;
        let dot = raw * self.steps[a] * self.steps[b];
        match build {
            BuildDistance::UnitCosine => 1.0 - dot,
            BuildDistance::Cosine => {
                let norms = (self.squared_norms[a] * self.squared_norms[b]).sqrt();
                if norms > 0.0 { 1.0 - dot / norms } else { 1.0 }
            }
            BuildDistance::L2 => self.squared_norms[a] + self.squared_norms[b] - 2.0 * dot,
        }
    }

    /// The approximate internal distance ("smaller is closer", as
    /// [`crate::distance::between`]) from `query` to slot `slot`.
    pub(crate) fn distance(&self, distance: Distance, query: &QuantisedQuery, slot: u32) -> f32 {
        let slot = slot as usize;
        let codes = &self.codes[slot * self.dimension..(slot + 1) * self.dimension];
        let raw = i8::dot(&query.codes, codes).unwrap_or(0.0) as f32;
        let dot = raw * query.step * self.steps[slot];
        match distance {
            Distance::Cosine => 1.0 - dot,
            Distance::Dot => -dot,
            Distance::L2 => query.squared_norm + self.squared_norms[slot] - 2.0 * dot,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distance::between;

    #[test]
    fn approximate_distances_stay_close_to_the_exact_ones() {
        let dimension = 96;
        let vectors: Vec<f32> = (0..dimension * 50)
            .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        let quantised = Quantised::new(dimension, &vectors);
        let query: Vec<f32> = (0..dimension).map(|i| (i as f32 * 0.3).sin()).collect();
        let prepared = quantised.query(&query);
        for distance in [Distance::Dot, Distance::L2] {
            for (slot, vector) in vectors.chunks_exact(dimension).enumerate() {
                let exact = between(distance, &query, vector);
                let approximate = quantised.distance(distance, &prepared, slot as u32);
                let scale = squared_norm(vector).max(squared_norm(&query));
                assert!(
                    (exact - approximate).abs() < 0.02 * scale,
                    "{distance:?} slot {slot}: {exact} against {approximate}"
                );
            }
        }
    }

    #[test]
    fn removing_a_slot_moves_the_last_one_into_its_place() {
        let mut quantised = Quantised::default();
        for x in [1.0, 2.0, 3.0] {
            quantised.push(&[x, -x]);
        }
        quantised.swap_remove(0);
        assert_eq!(quantised.len(), 2);
        let prepared = quantised.query(&[1.0, 0.0]);
        let dots: Vec<f32> = (0..2)
            .map(|slot| -quantised.distance(Distance::Dot, &prepared, slot))
            .collect();
        assert!((dots[0] - 3.0).abs() < 0.05 && (dots[1] - 2.0).abs() < 0.05);
        let nearest = quantised.nearest(Distance::Dot, &prepared, 0..2, 1);
        assert_eq!(nearest.len(), 1);
        assert_eq!(nearest[0].1, 0);
    }

    #[test]
    fn a_zero_vector_quantises_to_zeros() {
        let quantised = Quantised::new(4, &[0.0; 4]);
        let prepared = quantised.query(&[1.0, 0.0, 0.0, 0.0]);
        assert_eq!(quantised.distance(Distance::Dot, &prepared, 0), 0.0);
    }
}
