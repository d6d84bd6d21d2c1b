//! Distances, as "smaller is closer" numbers, and the scores searches report.

use chatstore::Distance;

/// The inner product, written so the compiler vectorises it (sixteen independent
/// accumulators) without any unsafe code or CPU-specific build.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let (chunks_a, chunks_b) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f32 = chunks_a
        .remainder()
        .iter()
        .zip(chunks_b.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in chunks_a.zip(chunks_b) {
        for i in 0..16 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// The squared Euclidean distance, vectorised the same way.
pub(crate) fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let (chunks_a, chunks_b) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f32 = chunks_a
        .remainder()
        .iter()
        .zip(chunks_b.remainder())
        .map(|(x, y)| (x - y) * (x - y))
        .sum();
    for (x, y) in chunks_a.zip(chunks_b) {
        for i in 0..16 {
            let d = x[i] - y[i];
            acc[i] += d * d;
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Scales a vector to unit length (cosine collections store and query unit vectors, so
/// cosine similarity is their inner product).
pub(crate) fn normalise(vector: &mut [f32]) {
    let norm = dot(vector, vector).sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
}

/// "Smaller is closer", exactly: 1 - cosine similarity of unit vectors (clamped at 0),
/// the negated inner product, or the squared Euclidean distance. Searches score their
/// walks on quantised codes and call this only to re-rank the best few.
pub(crate) fn between(distance: Distance, a: &[f32], b: &[f32]) -> f32 {
    match distance {
        Distance::Cosine => (1.0 - dot(a, b)).max(0.0),
        Distance::Dot => -dot(a, b),
        Distance::L2 => l2_squared(a, b),
    }
}

/// The score a hit reports ("higher is closer") for an internal distance.
pub(crate) fn score(distance: Distance, internal: f32) -> f32 {
    match distance {
        Distance::Cosine => 1.0 - internal,
        Distance::Dot => -internal,
        Distance::L2 => -internal.max(0.0).sqrt(),
    }
}

/// The distance the graph is built with.
#[derive(Debug, Clone, Copy)]
pub(crate) enum BuildDistance {
    /// Cosine collections store unit vectors: 1 - their inner product.
    UnitCosine,
    /// Inner-product collections are built on their vectors' directions (cosine), and
    /// searched by the true inner product.
    Cosine,
    /// Euclidean.
    L2,
}

impl BuildDistance {
    pub(crate) fn for_collection(distance: Distance) -> BuildDistance {
        match distance {
            Distance::Cosine => BuildDistance::UnitCosine,
            Distance::Dot => BuildDistance::Cosine,
            Distance::L2 => BuildDistance::L2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_match_the_plain_formulas() {
        let a: Vec<f32> = (0..389).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..389).map(|i| (i as f32 * 0.11).cos()).collect();
        let plain_dot: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        let plain_l2: f32 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
        assert!((dot(&a, &b) - plain_dot).abs() < 1e-3);
        assert!((l2_squared(&a, &b) - plain_l2).abs() < 1e-3);
        let mut unit = a.clone();
        normalise(&mut unit);
        assert!((dot(&unit, &unit) - 1.0).abs() < 1e-5);
        assert_eq!(score(Distance::L2, 4.0), -2.0);
        assert_eq!(score(Distance::Dot, -0.5), 0.5);
    }
}
