//! Shared helpers for the vector index tests: seeded random vectors, an in-memory
//! embedding source, and brute-force answers to compare against.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Mutex;

use chatstore::{
    ChunkId, CollectionSpec, Distance, DocumentId, EmbeddingSource, Result, UserId, VectorFilter,
    VectorRecord,
};
use chatstore_vector::{BuildParams, IndexConfig};

/// A small deterministic generator (xorshift64*).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [-1, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn vector(&mut self, dimension: usize) -> Vec<f32> {
        (0..dimension).map(|_| self.unit()).collect()
    }
}

/// Small-collection tuning: a graph from 200 vectors on, rebuilt in the writing call.
pub fn config() -> IndexConfig {
    IndexConfig {
        build: BuildParams {
            m: 12,
            ef_construction: 100,
        },
        graph_min: 200,
        delta_max: 100,
        exact_below: 64,
        background_rebuild: false,
        ..IndexConfig::in_memory()
    }
}

pub fn spec(dimension: u32, distance: Distance) -> CollectionSpec {
    CollectionSpec::new("docs", dimension, distance).unwrap()
}

/// `documents` documents of `per_document` random chunks each; document `i` belongs to
/// `owners[i % owners.len()]`.
pub fn records(
    rng: &mut Rng,
    dimension: usize,
    documents: usize,
    per_document: usize,
    owners: &[Option<UserId>],
) -> Vec<VectorRecord> {
    let mut out = Vec::new();
    for i in 0..documents {
        let document = DocumentId::new();
        for _ in 0..per_document {
            out.push(VectorRecord {
                chunk: ChunkId::new(),
                document,
                owner: owners[i % owners.len()],
                vector: rng.vector(dimension),
            });
        }
    }
    out
}

fn distance(kind: Distance, a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    match kind {
        Distance::Cosine => {
            let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
            1.0 - dot / (norm(a) * norm(b))
        }
        Distance::Dot => -dot,
        Distance::L2 => a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum(),
    }
}

/// The true `k` nearest records that pass `filter`.
pub fn brute_force(
    kind: Distance,
    records: &[VectorRecord],
    query: &[f32],
    k: usize,
    filter: &VectorFilter,
) -> Vec<ChunkId> {
    let mut scored: Vec<(f32, ChunkId)> = records
        .iter()
        .filter(|r| filter.admits(r.document, r.owner))
        .map(|r| (distance(kind, query, &r.vector), r.chunk))
        .collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    scored.into_iter().take(k).map(|(_, c)| c).collect()
}

/// The fraction of `truth` found in `found`.
pub fn recall(truth: &[ChunkId], found: &[ChunkId]) -> f64 {
    if truth.is_empty() {
        return 1.0;
    }
    truth.iter().filter(|c| found.contains(c)).count() as f64 / truth.len() as f64
}

/// An [`EmbeddingSource`] over a map, standing in for the store.
#[derive(Default)]
pub struct MemorySource {
    rows: Mutex<BTreeMap<ChunkId, (u64, VectorRecord)>>,
    next_version: Mutex<u64>,
}

impl MemorySource {
    pub fn put(&self, records: &[VectorRecord]) {
        let mut rows = self.rows.lock().unwrap();
        let mut version = self.next_version.lock().unwrap();
        for record in records {
            *version += 1;
            rows.insert(record.chunk, (*version, record.clone()));
        }
    }

    pub fn remove(&self, chunks: &[ChunkId]) {
        let mut rows = self.rows.lock().unwrap();
        chunks.iter().for_each(|c| {
            rows.remove(c);
        });
    }

    pub fn records(&self) -> Vec<VectorRecord> {
        self.rows
            .lock()
            .unwrap()
            .values()
            .map(|(_, r)| r.clone())
            .collect()
    }
}

impl EmbeddingSource for MemorySource {
    fn embedding_versions(&self, _collection: &str) -> Result<Vec<(ChunkId, u64)>> {
        Ok(self
            .rows
            .lock()
            .unwrap()
            .iter()
            .map(|(c, (v, _))| (*c, *v))
            .collect())
    }

    fn load_embeddings(&self, _collection: &str, chunks: &[ChunkId]) -> Result<Vec<VectorRecord>> {
        let rows = self.rows.lock().unwrap();
        Ok(chunks
            .iter()
            .filter_map(|c| rows.get(c).map(|(_, r)| r.clone()))
            .collect())
    }
}
