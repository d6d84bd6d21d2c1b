//! Eight-bit copies of the graph's vectors that searches walk the graph with.
//!
//! Each vector is centred on the mean of the vectors the copy was made from, then
//! scaled so its largest component is ±127 and rounded to `i8`; the scale and the
//! vector's dot product with the mean are kept beside it, so the full inner product
//! is recovered as `residual · residual + x · mean + y · mean - mean · mean`.
//! Centring matters for embeddings with a "massive" dimension that every vector
//! shares: left in, it sets every vector's scale and leaves the other dimensions a
//! handful of levels.
//!
//! A quarter of the bytes means a quarter of the memory traffic on the random reads a
//! graph walk makes, and simsimd scores `i8` vectors with the widest integer
//! instructions the CPU has (picked at run time). The walk's candidates are then
//! re-ranked with the exact `f32` distance, so only the path through the graph is
//! approximate, never a reported score.

use std::collections::BinaryHeap;

use chatstore::Distance;

use crate::distance::BuildDistance;
use crate::walk::Near;
use simsimd::SpatialSimilarity;

/// The quantised vectors of a graph, slot by slot.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Quantised {
    dimension: usize,
    /// The vectors are coded as their difference from this (empty: from zero).
    centre: Vec<f32>,
    /// `centre · centre`.
    centre_norm: f32,
    /// Slot `i`'s codes at `i * dimension`.
    codes: Vec<i8>,
    /// What one code unit of slot `i` is worth.
    steps: Vec<f32>,
    /// Slot `i`'s dot product with the centre.
    centre_dots: Vec<f32>,
    /// Slot `i`'s squared distance from the centre (for Euclidean distances).
    residual_norms: Vec<f32>,
}

/// A query prepared for [`Quantised::distance`].
pub(crate) struct QuantisedQuery {
    codes: Vec<i8>,
    coded: Coded,
}

/// One vector's coding: its step, dot product with the centre, and squared distance
/// from it.
struct Coded {
    step: f32,
    centre_dot: f32,
    residual_norm: f32,
}

/// Rounds `residual` to codes whose largest magnitude is 127; returns the step.
fn encode(residual: &[f32], codes: &mut Vec<i8>) -> f32 {
    let largest = residual.iter().fold(0f32, |m, x| m.max(x.abs()));
    let step = if largest > 0.0 { largest / 127.0 } else { 1.0 };
    let scale = 1.0 / step;
    // Rounded half away from zero by hand: `f32::round` is a library call on the
    // baseline x86-64 target, this vectorises.
    codes.extend(residual.iter().map(|x| {
        let scaled = x * scale;
        (scaled + 0.5f32.copysign(scaled)) as i8
    }));
    step
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    crate::distance::dot(a, b)
}

/// The mean of `vectors` (each `dimension` long), or nothing for no vectors.
pub(crate) fn mean<'a>(dimension: usize, vectors: impl IntoIterator<Item = &'a [f32]>) -> Vec<f32> {
    let mut sum = vec![0f64; dimension];
    let mut n = 0usize;
    for vector in vectors {
        sum.iter_mut()
            .zip(vector)
            .for_each(|(s, x)| *s += f64::from(*x));
        n += 1;
    }
    if n == 0 {
        return Vec::new();
    }
    sum.into_iter().map(|s| (s / n as f64) as f32).collect()
}

impl Quantised {
    /// Quantises `vectors` (`n * dimension`) around their mean.
    pub(crate) fn new(dimension: usize, vectors: &[f32]) -> Quantised {
        let n = vectors.len() / dimension.max(1);
        let mut quantised =
            Quantised::around(mean(dimension, vectors.chunks_exact(dimension.max(1))));
        quantised.dimension = dimension;
        quantised.codes.reserve(vectors.len());
        quantised.steps.reserve(n);
        for vector in vectors.chunks_exact(dimension.max(1)) {
            quantised.push(vector);
        }
        quantised
    }

    /// No vectors yet; those pushed will be coded around `centre` (empty: zero).
    pub(crate) fn around(centre: Vec<f32>) -> Quantised {
        Quantised {
            dimension: centre.len(),
            centre_norm: dot(&centre, &centre),
            centre,
            ..Quantised::default()
        }
    }

    /// The vector the codes are centred on (empty: zero).
    pub(crate) fn centre(&self) -> &[f32] {
        &self.centre
    }

    /// Codes `vector` around the centre, appending its codes to `codes`.
    fn code(&self, vector: &[f32], codes: &mut Vec<i8>) -> Coded {
        if self.centre.is_empty() {
            let step = encode(vector, codes);
            let residual_norm = dot(vector, vector);
            return Coded {
                step,
                centre_dot: 0.0,
                residual_norm,
            };
        }
        let residual: Vec<f32> = vector
            .iter()
            .zip(&self.centre)
            .map(|(x, c)| x - c)
            .collect();
        Coded {
            step: encode(&residual, codes),
            centre_dot: dot(vector, &self.centre),
            residual_norm: dot(&residual, &residual),
        }
    }

    /// Appends a vector as the next slot.
    pub(crate) fn push(&mut self, vector: &[f32]) {
        self.dimension = vector.len();
        let mut codes = std::mem::take(&mut self.codes);
        let coded = self.code(vector, &mut codes);
        self.codes = codes;
        self.steps.push(coded.step);
        self.centre_dots.push(coded.centre_dot);
        self.residual_norms.push(coded.residual_norm);
    }

    /// Removes slot `slot`, moving the last slot into its place (as `Vec::swap_remove`).
    pub(crate) fn swap_remove(&mut self, slot: usize) {
        let last = self.len() - 1;
        let d = self.dimension;
        self.codes.copy_within(last * d..(last + 1) * d, slot * d);
        self.codes.truncate(last * d);
        self.steps.swap_remove(slot);
        self.centre_dots.swap_remove(slot);
        self.residual_norms.swap_remove(slot);
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

    /// Slot `slot`'s codes.
    fn codes(&self, slot: usize) -> &[i8] {
        &self.codes[slot * self.dimension..(slot + 1) * self.dimension]
    }

    /// The number of slots.
    pub(crate) fn len(&self) -> usize {
        self.steps.len()
    }

    /// Prepares `query` for distances to the stored vectors.
    pub(crate) fn query(&self, query: &[f32]) -> QuantisedQuery {
        let mut codes = Vec::with_capacity(query.len());
        let coded = self.code(query, &mut codes);
        QuantisedQuery { codes, coded }
    }

    /// Reads every cache line of the given slots' codes, so that their memory
    /// fetches overlap instead of each waiting its turn inside a distance
    /// computation (a prefetch, without unsafe code).
    pub(crate) fn touch(&self, slots: &[u32]) {
        let mut sum = 0i8;
        for &slot in slots {
            for line in self.codes(slot as usize).iter().step_by(64) {
                sum = sum.wrapping_add(*line);
            }
        }
        std::hint::black_box(sum);
    }

    /// The approximate distance the graph is built with (see [`BuildDistance`]) between
    /// two stored slots.
    pub(crate) fn between_slots(&self, build: BuildDistance, a: u32, b: u32) -> f32 {
        let (a, b) = (a as usize, b as usize);
        let raw = i8::dot(self.codes(a), self.codes(b)).unwrap_or(0.0) as f32;
        let residual_dot = raw * self.steps[a] * self.steps[b];
        let dot = self.full_dot(residual_dot, self.centre_dots[a], self.centre_dots[b]);
        match build {
            BuildDistance::UnitCosine => 1.0 - dot,
            BuildDistance::Cosine => {
                let norms = (self.squared_norm(a) * self.squared_norm(b)).sqrt();
                if norms > 0.0 { 1.0 - dot / norms } else { 1.0 }
            }
            BuildDistance::L2 => {
                self.residual_norms[a] + self.residual_norms[b] - 2.0 * residual_dot
            }
        }
    }

    /// The approximate internal distance ("smaller is closer", as
    /// [`crate::distance::between`]) from `query` to slot `slot`.
    pub(crate) fn distance(&self, distance: Distance, query: &QuantisedQuery, slot: u32) -> f32 {
        let (slot, query_coded) = (slot as usize, &query.coded);
        let raw = i8::dot(&query.codes, self.codes(slot)).unwrap_or(0.0) as f32;
        let residual_dot = raw * query_coded.step * self.steps[slot];
        let dot = || self.full_dot(residual_dot, query_coded.centre_dot, self.centre_dots[slot]);
        match distance {
            Distance::Cosine => 1.0 - dot(),
            Distance::Dot => -dot(),
            Distance::L2 => {
                query_coded.residual_norm + self.residual_norms[slot] - 2.0 * residual_dot
            }
        }
    }

    /// `x · y` from `(x - c) · (y - c)` and `x · c`, `y · c`.
    fn full_dot(&self, residual_dot: f32, centre_dot_x: f32, centre_dot_y: f32) -> f32 {
        residual_dot + centre_dot_x + centre_dot_y - self.centre_norm
    }

    /// Slot `slot`'s squared length, from its distance to the centre.
    fn squared_norm(&self, slot: usize) -> f32 {
        self.residual_norms[slot] + 2.0 * self.centre_dots[slot] - self.centre_norm
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
                let scale = dot(vector, vector).max(dot(&query, &query));
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

    /// Vectors sharing one large dimension (as some embedding models' do): coded
    /// around their mean, the other dimensions keep their resolution.
    #[test]
    fn a_dimension_every_vector_shares_does_not_drown_the_others() {
        let dimension = 64;
        let mut state = 3u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        };
        let vectors: Vec<f32> = (0..dimension * 200)
            .map(|i| {
                if i % dimension == 0 {
                    10.0 + 0.1 * next()
                } else {
                    next()
                }
            })
            .collect();
        let query: Vec<f32> = (0..dimension)
            .map(|i| if i == 0 { 10.0 } else { next() })
            .collect();
        let worst_error = |quantised: &Quantised| {
            let prepared = quantised.query(&query);
            vectors
                .chunks_exact(dimension)
                .enumerate()
                .map(|(slot, vector)| {
                    let exact = between(Distance::Dot, &query, vector);
                    (exact - quantised.distance(Distance::Dot, &prepared, slot as u32)).abs()
                })
                .fold(0f32, f32::max)
        };
        let centred = Quantised::new(dimension, &vectors);
        let mut uncentred = Quantised::around(Vec::new());
        vectors
            .chunks_exact(dimension)
            .for_each(|v| uncentred.push(v));
        assert!(
            worst_error(&centred) < 0.1,
            "centred: {}",
            worst_error(&centred)
        );
        assert!(
            worst_error(&uncentred) > 0.2,
            "the test needs a dimension that drowns"
        );
    }

    #[test]
    fn a_zero_vector_quantises_to_zeros() {
        let quantised = Quantised::new(4, &[0.0; 4]);
        let prepared = quantised.query(&[1.0, 0.0, 0.0, 0.0]);
        assert_eq!(quantised.distance(Distance::Dot, &prepared, 0), 0.0);
    }
}
