//! Vector indexes: the behaviour every [`VectorIndex`] must show, however it stores and
//! searches.
//!
//! An index implements [`VectorBackend`] for a throwaway place to keep its snapshots
//! and expands [`vector_conformance_suite!`](crate::vector_conformance_suite) once;
//! every check then runs as its own `#[test]`:
//!
//! ```ignore
//! struct TempIndex(tempfile::TempDir);
//!
//! impl chatstore::conformance::VectorBackend for TempIndex {
//!     fn open(&self) -> chatstore::Result<Box<dyn chatstore::VectorIndex>> {
//!         Ok(Box::new(HnswIndex::new(IndexConfig::new(self.0.path()))?))
//!     }
//! }
//!
//! chatstore::vector_conformance_suite!(TempIndex(tempfile::tempdir().unwrap()));
//! ```
//!
//! Collections are small (at most a few dozen vectors of 8 to 16 dimensions), so every
//! index is expected to find the exact nearest neighbours.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, PoisonError};

use crate::{
    ChunkId, CollectionInfo, CollectionSpec, ConflictKind, Distance, DocumentId, DocumentScope,
    EmbeddingChanges, EmbeddingSource, Error, Result, SyncReport, UserId, VectorFilter, VectorHit,
    VectorIndex, VectorRecord,
};

/// A vector index under test: opens indexes on one place (a directory, a database)
/// that belongs to this value.
pub trait VectorBackend {
    /// Opens an index on the backend's place. An index opened again reaches what an
    /// earlier one saved ([`VectorIndex::save`]): syncing a saved collection uses its
    /// snapshot.
    fn open(&self) -> Result<Box<dyn VectorIndex>>;
}

/// The name most checks give their collection.
const DOCS: &str = "docs";

/// Every distance.
const DISTANCES: [Distance; 3] = [Distance::Cosine, Distance::Dot, Distance::L2];

/// Opens an index on `backend`.
fn open(backend: &dyn VectorBackend) -> Box<dyn VectorIndex> {
    backend.open().expect("the vector index opens")
}

/// A checked collection spec.
fn spec(name: &str, dimension: u32, distance: Distance) -> CollectionSpec {
    CollectionSpec::new(name, dimension, distance).expect("a valid spec")
}

/// Creates a collection.
fn create(index: &dyn VectorIndex, name: &str, dimension: u32, distance: Distance) {
    index
        .create_collection(&spec(name, dimension, distance))
        .expect("the collection is created");
}

/// A small deterministic generator (xorshift64*), so that every run sees the same
/// vectors.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [-1, 1).
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    fn vector(&mut self, dimension: usize) -> Vec<f32> {
        (0..dimension).map(|_| self.unit()).collect()
    }
}

/// `documents` documents of `per_document` random chunks each; document `i` belongs to
/// `owners[i % owners.len()]` (`None`: a global document).
fn records(
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

/// The chunks of `records`.
fn chunks(records: &[VectorRecord]) -> Vec<ChunkId> {
    records.iter().map(|r| r.chunk).collect()
}

/// The stored records of `chunks`, sorted by chunk.
fn stored(index: &dyn VectorIndex, collection: &str, chunks: &[ChunkId]) -> Vec<VectorRecord> {
    let mut found = index.get(collection, chunks).expect("get");
    found.sort_by_key(|r| r.chunk);
    found
}

/// `records` sorted by chunk.
fn sorted(records: &[VectorRecord]) -> Vec<VectorRecord> {
    let mut records = records.to_vec();
    records.sort_by_key(|r| r.chunk);
    records
}

/// The number of live vectors in `collection`.
fn count(index: &dyn VectorIndex, collection: &str) -> u64 {
    index
        .collections()
        .expect("collections")
        .into_iter()
        .find(|c| c.spec.name == collection)
        .unwrap_or_else(|| panic!("collection {collection} is listed"))
        .count
}

/// `vector` scaled to length 1.
fn normalised(vector: &[f32]) -> Vec<f32> {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    vector.iter().map(|x| x / norm).collect()
}

/// True when two vectors agree component by component to `1e-5`.
fn close(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5)
}

/// The score a hit for `vector` should carry: cosine similarity, inner product, or the
/// negated Euclidean distance.
fn similarity(distance: Distance, query: &[f32], vector: &[f32]) -> f32 {
    let dot: f32 = query.iter().zip(vector).map(|(x, y)| x * y).sum();
    match distance {
        Distance::Cosine => {
            let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
            dot / (norm(query) * norm(vector))
        }
        Distance::Dot => dot,
        Distance::L2 => -query
            .iter()
            .zip(vector)
            .map(|(x, y)| (x - y) * (x - y))
            .sum::<f32>()
            .sqrt(),
    }
}

/// The true `k` nearest records that pass `filter`, with their scores, nearest first.
fn brute_force(
    distance: Distance,
    records: &[VectorRecord],
    query: &[f32],
    k: usize,
    filter: &VectorFilter,
) -> Vec<(ChunkId, f32)> {
    let mut scored: Vec<(ChunkId, f32)> = records
        .iter()
        .filter(|r| filter.admits(r.document, r.owner))
        .map(|r| (r.chunk, similarity(distance, query, &r.vector)))
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    scored.truncate(k);
    scored
}

/// Searches `collection`, expecting success.
fn search(
    index: &dyn VectorIndex,
    collection: &str,
    query: &[f32],
    k: usize,
    filter: &VectorFilter,
) -> Vec<VectorHit> {
    index
        .search(collection, query, k, filter)
        .expect("the search runs")
}

/// The chunks of `hits`, in order.
fn hit_chunks(hits: &[VectorHit]) -> Vec<ChunkId> {
    hits.iter().map(|h| h.chunk).collect()
}

/// Asserts that `hits` are ordered nearest first and name each chunk once.
fn assert_ranked(hits: &[VectorHit]) {
    assert!(
        hits.windows(2).all(|w| w[0].score >= w[1].score),
        "nearest first: {hits:?}"
    );
    let distinct: BTreeSet<ChunkId> = hits.iter().map(|h| h.chunk).collect();
    assert_eq!(distinct.len(), hits.len(), "each chunk once");
}

/// How a [`MemorySource`] answers [`EmbeddingSource::embedding_changes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Answers {
    /// With only what changed since the version asked about
    /// ([`EmbeddingChanges::Since`]), as a store that records removals does; with
    /// everything when that version is past the source's history (a copy restored
    /// from before what the index saw).
    #[default]
    Since,
    /// Always with every embedding ([`EmbeddingChanges::Everything`], the trait's
    /// default).
    Everything,
}

/// An [`EmbeddingSource`] over a map, standing in for the store: every write and every
/// removal takes a new, higher version from one counter, and removals are recorded so
/// that the source can say what changed since a version. It serves the same embeddings
/// whatever collection is asked for.
#[derive(Default)]
struct MemorySource {
    rows: Mutex<Rows>,
    answers: Answers,
}

/// What a [`MemorySource`] holds: the last version given out, each chunk's embedding
/// with its version, and each removed chunk with the version of its last removal.
#[derive(Default, Clone)]
struct Rows {
    version: u64,
    embeddings: BTreeMap<ChunkId, (u64, VectorRecord)>,
    removals: BTreeMap<ChunkId, u64>,
}

impl Rows {
    /// Every embedding as (chunk, version).
    fn versions(&self) -> Vec<(ChunkId, u64)> {
        self.embeddings.iter().map(|(c, (v, _))| (*c, *v)).collect()
    }
}

impl MemorySource {
    /// A source holding `records`, answering [`Answers::Since`].
    fn with(records: &[VectorRecord]) -> MemorySource {
        MemorySource::answering(Answers::Since, records)
    }

    /// A source holding `records` that answers as `answers` says.
    fn answering(answers: Answers, records: &[VectorRecord]) -> MemorySource {
        let source = MemorySource {
            answers,
            ..MemorySource::default()
        };
        source.put(records);
        source
    }

    fn rows(&self) -> std::sync::MutexGuard<'_, Rows> {
        self.rows.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds or replaces embeddings.
    fn put(&self, records: &[VectorRecord]) {
        let mut rows = self.rows();
        for record in records {
            rows.version += 1;
            let version = rows.version;
            rows.embeddings
                .insert(record.chunk, (version, record.clone()));
        }
    }

    /// Removes embeddings; each one that was there takes a version of its own.
    fn remove(&self, chunks: &[ChunkId]) {
        let mut rows = self.rows();
        for chunk in chunks {
            if rows.embeddings.remove(chunk).is_some() {
                rows.version += 1;
                let version = rows.version;
                rows.removals.insert(*chunk, version);
            }
        }
    }

    /// A copy of everything the source holds, its history included (a backup).
    fn copy(&self) -> Rows {
        self.rows().clone()
    }

    /// Puts back what [`MemorySource::copy`] took: the source forgets everything after
    /// it, and its versions go on from the copy's.
    fn restore(&self, copy: Rows) {
        *self.rows() = copy;
    }

    /// Every embedding, sorted by chunk.
    fn records(&self) -> Vec<VectorRecord> {
        let rows = self.rows();
        rows.embeddings.values().map(|(_, r)| r.clone()).collect()
    }
}

impl EmbeddingSource for MemorySource {
    fn embedding_versions(&self, _collection: &str) -> Result<Vec<(ChunkId, u64)>> {
        Ok(self.rows().versions())
    }

    fn embedding_changes(&self, _collection: &str, since: u64) -> Result<EmbeddingChanges> {
        let rows = self.rows();
        if self.answers == Answers::Everything || since > rows.version {
            return Ok(EmbeddingChanges::Everything(rows.versions()));
        }
        let mut written: Vec<(ChunkId, u64)> = rows
            .versions()
            .into_iter()
            .filter(|(_, version)| *version > since)
            .collect();
        written.sort_by_key(|(_, version)| *version);
        let removed = rows
            .removals
            .iter()
            .filter(|(chunk, version)| **version > since && !rows.embeddings.contains_key(chunk))
            .map(|(chunk, _)| *chunk)
            .collect();
        Ok(EmbeddingChanges::Since {
            written,
            removed,
            latest: rows.version,
        })
    }

    fn load_embeddings(&self, _collection: &str, chunks: &[ChunkId]) -> Result<Vec<VectorRecord>> {
        let rows = self.rows();
        Ok(chunks
            .iter()
            .filter_map(|c| rows.embeddings.get(c).map(|(_, r)| r.clone()))
            .collect())
    }
}

/// Creating a collection again with the same spec is a no-op (its vectors stay); with
/// another dimension or distance it is a unique conflict that changes nothing.
/// Collections are listed by name with their live counts.
pub fn vector_collections_are_created_idempotently(backend: &dyn VectorBackend) {
    let index = open(backend);
    let i = &*index;
    let docs = spec(DOCS, 8, Distance::Cosine);
    i.create_collection(&docs).expect("create");
    i.create_collection(&docs).expect("the same spec again");
    let user = UserId::new();
    i.upsert(DOCS, &records(&mut Rng::new(1), 8, 2, 3, &[Some(user)]))
        .expect("upsert");
    i.create_collection(&docs)
        .expect("the same spec again, with vectors");
    for other in [
        spec(DOCS, 16, Distance::Cosine),
        spec(DOCS, 8, Distance::Dot),
    ] {
        assert_err!(
            i.create_collection(&other),
            Error::Conflict {
                kind: ConflictKind::Unique,
                ..
            },
            "{other:?}"
        );
    }
    let (zeta, alpha) = (
        spec("zeta", 4, Distance::L2),
        spec("alpha-2", 12, Distance::Dot),
    );
    i.create_collection(&zeta).expect("create");
    i.create_collection(&alpha).expect("create");
    assert_eq!(
        i.collections().expect("collections"),
        vec![
            CollectionInfo {
                spec: alpha,
                count: 0
            },
            CollectionInfo {
                spec: docs,
                count: 6
            },
            CollectionInfo {
                spec: zeta,
                count: 0
            },
        ],
        "by name, with counts; the conflicts changed nothing"
    );
    let widest = spec(&"a-_0".repeat(16), 4096, Distance::Dot);
    i.create_collection(&widest)
        .expect("64 characters and 4096 dimensions are allowed");
    assert!(i.drop_collection(&widest.name).expect("drop"));
}

/// A collection name that is not 1-64 characters of a-z, 0-9, `_` and `-` is a
/// validation error wherever it comes in, and a spec with a dimension outside 1-4096
/// is refused; nothing is created.
pub fn vector_bad_names_are_refused(backend: &dyn VectorBackend) {
    let index = open(backend);
    let i = &*index;
    let source = MemorySource::default();
    let user = UserId::new();
    let long = "x".repeat(65);
    let unchecked = |name: &str, dimension| CollectionSpec {
        name: name.to_owned(),
        dimension,
        distance: Distance::Cosine,
    };
    for name in [
        "",
        "../escaped",
        "/tmp/x",
        "a/b",
        "..",
        "Upper",
        "dot.ted",
        "has space",
        "café",
        long.as_str(),
    ] {
        let spec = unchecked(name, 8);
        assert_err!(
            i.create_collection(&spec),
            Error::Validation { .. },
            "create {name:?}"
        );
        assert_err!(
            i.sync(&spec, &source),
            Error::Validation { .. },
            "sync {name:?}"
        );
        assert_err!(
            i.drop_collection(name),
            Error::Validation { .. },
            "drop {name:?}"
        );
        assert_err!(
            i.upsert(name, &[]),
            Error::Validation { .. },
            "upsert {name:?}"
        );
        assert_err!(
            i.get(name, &[ChunkId::new()]),
            Error::Validation { .. },
            "get {name:?}"
        );
        assert_err!(
            i.delete(name, &[ChunkId::new()]),
            Error::Validation { .. },
            "delete {name:?}"
        );
        assert_err!(
            i.search(name, &[1.0; 8], 3, &VectorFilter::user(user)),
            Error::Validation { .. },
            "search {name:?}"
        );
    }
    for dimension in [0, 4097] {
        let spec = unchecked("fine", dimension);
        assert_err!(
            i.create_collection(&spec),
            Error::Validation { .. },
            "dimension {dimension}"
        );
        assert_err!(
            i.sync(&spec, &source),
            Error::Validation { .. },
            "dimension {dimension}"
        );
    }
    assert!(
        i.collections().expect("collections").is_empty(),
        "nothing was created"
    );
}

/// A vector of the wrong dimension, with a NaN or infinite component, or (for cosine)
/// all zeros, is a validation error: none of its batch is added, replacements in the
/// batch do not happen, and as a query it is refused too.
pub fn vector_bad_vectors_change_nothing(backend: &dyn VectorBackend) {
    let index = open(backend);
    let i = &*index;
    let user = UserId::new();
    let filter = VectorFilter::user(user);
    for distance in [Distance::Cosine, Distance::L2] {
        let name = format!("bad-{distance}");
        create(i, &name, 8, distance);
        let mut rng = Rng::new(2);
        let good = records(&mut rng, 8, 1, 3, &[Some(user)]);
        i.upsert(&name, &good).expect("upsert");
        let before = stored(i, &name, &chunks(&good));
        let replaced: Vec<VectorRecord> = before
            .iter()
            .filter(|r| r.chunk == good[1].chunk)
            .cloned()
            .collect();
        let mut bad_vectors = vec![
            vec![1.0; 7],
            vec![1.0; 9],
            Vec::new(),
            vec![1.0, f32::NAN, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            vec![f32::INFINITY, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            vec![0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, f32::NEG_INFINITY],
        ];
        if distance == Distance::Cosine {
            bad_vectors.push(vec![0.0; 8]);
        }
        for vector in bad_vectors {
            // A replacement and new chunks around the bad one.
            let mut batch = vec![VectorRecord {
                vector: rng.vector(8),
                ..good[1].clone()
            }];
            let fresh = records(&mut rng, 8, 1, 3, &[Some(user)]);
            batch.extend_from_slice(&fresh[..2]);
            batch.push(VectorRecord {
                chunk: ChunkId::new(),
                vector: vector.clone(),
                ..fresh[0].clone()
            });
            batch.push(fresh[2].clone());
            assert_err!(
                i.upsert(&name, &batch),
                Error::Validation { .. },
                "{distance}: {vector:?}"
            );
            assert_eq!(
                stored(i, &name, &chunks(&batch)),
                replaced,
                "{distance}: {vector:?}: nothing of the batch landed"
            );
            assert_eq!(stored(i, &name, &chunks(&good)), before);
            assert_eq!(count(i, &name), 3);
            assert_err!(
                i.search(&name, &vector, 3, &filter),
                Error::Validation { .. },
                "{distance}: query {vector:?}"
            );
        }
    }
    let zero = VectorRecord {
        chunk: ChunkId::new(),
        document: DocumentId::new(),
        owner: Some(user),
        vector: vec![0.0; 8],
    };
    i.upsert("bad-l2", std::slice::from_ref(&zero))
        .expect("all zeros is a point like any other for L2");
    let hits = search(i, "bad-l2", &[0.0; 8], 1, &filter);
    assert_eq!(hit_chunks(&hits), vec![zero.chunk]);
}

/// Upserted embeddings come back from `get` with their document and owner (missing
/// chunks left out), bit-exact for inner product and Euclidean distance and
/// normalised for cosine; upserting a chunk again replaces its vector without
/// changing the count.
pub fn vector_upsert_and_get(backend: &dyn VectorBackend) {
    let index = open(backend);
    let i = &*index;
    let (ada, eve) = (UserId::new(), UserId::new());
    for distance in DISTANCES {
        let name = format!("get-{distance}");
        create(i, &name, 8, distance);
        let mut rng = Rng::new(3);
        let all = records(&mut rng, 8, 3, 3, &[Some(ada), None, Some(eve)]);
        i.upsert(&name, &all).expect("upsert");
        i.upsert(&name, &[]).expect("an empty batch");
        assert_eq!(count(i, &name), 9);
        let mut asked = chunks(&all);
        asked.push(ChunkId::new());
        let got = stored(i, &name, &asked);
        let want = sorted(&all);
        assert_eq!(
            got.len(),
            9,
            "{distance}: every chunk, the unknown one left out"
        );
        for (got, want) in got.iter().zip(&want) {
            assert_eq!(
                (got.chunk, got.document, got.owner),
                (want.chunk, want.document, want.owner)
            );
            match distance {
                Distance::Cosine => assert!(
                    close(&got.vector, &normalised(&want.vector)),
                    "{distance}: stored normalised"
                ),
                _ => assert_eq!(got.vector, want.vector, "{distance}: stored exactly"),
            }
        }
        assert!(i.get(&name, &[]).expect("get nothing").is_empty());

        let moved = VectorRecord {
            vector: rng.vector(8),
            ..all[4].clone()
        };
        i.upsert(&name, std::slice::from_ref(&moved))
            .expect("replace");
        i.upsert(&name, &all[6..]).expect("the same again");
        assert_eq!(count(i, &name), 9, "{distance}: replacing adds nothing");
        let now = &stored(i, &name, &[moved.chunk])[0];
        let expected = match distance {
            Distance::Cosine => normalised(&moved.vector),
            _ => moved.vector.clone(),
        };
        assert!(close(&now.vector, &expected), "{distance}: the new vector");
        if distance != Distance::Dot {
            let hits = search(i, &name, &moved.vector, 1, &VectorFilter::user(ada));
            assert_eq!(hit_chunks(&hits), vec![moved.chunk], "{distance}");
        }
    }
}

/// `delete` removes chunks and counts those that were there; deleted chunks are
/// neither got nor found.
pub fn vector_delete_counts(backend: &dyn VectorBackend) {
    let index = open(backend);
    let i = &*index;
    let user = UserId::new();
    create(i, DOCS, 8, Distance::L2);
    let all = records(&mut Rng::new(4), 8, 2, 3, &[Some(user)]);
    i.upsert(DOCS, &all).expect("upsert");
    let doomed = [all[0].chunk, all[4].chunk];
    assert_eq!(
        i.delete(DOCS, &[doomed[0], ChunkId::new(), doomed[1]])
            .expect("delete"),
        2
    );
    assert_eq!(i.delete(DOCS, &doomed).expect("delete again"), 0);
    assert_eq!(i.delete(DOCS, &[]).expect("delete nothing"), 0);
    assert_eq!(count(i, DOCS), 4);
    assert!(stored(i, DOCS, &doomed).is_empty());
    let filter = VectorFilter::user(user);
    for record in &all[..5] {
        let hits = search(i, DOCS, &record.vector, 10, &filter);
        assert_eq!(hits.len(), 4, "only the live chunks");
        assert!(hit_chunks(&hits).iter().all(|c| !doomed.contains(c)));
    }
    i.upsert(DOCS, &all[..1]).expect("upsert again");
    assert_eq!(count(i, DOCS), 5, "a deleted chunk can come back");
}

/// `remove_documents` removes every embedding of the documents in every collection
/// and counts them; other documents stay.
pub fn vector_remove_documents_in_every_collection(backend: &dyn VectorBackend) {
    let index = open(backend);
    let i = &*index;
    let user = UserId::new();
    create(i, DOCS, 8, Distance::Cosine);
    create(i, "notes", 8, Distance::L2);
    let mut rng = Rng::new(5);
    let shared = records(&mut rng, 8, 1, 3, &[Some(user)]);
    let docs_only = records(&mut rng, 8, 1, 2, &[None]);
    let notes_only = records(&mut rng, 8, 1, 2, &[Some(user)]);
    i.upsert(DOCS, &[shared.clone(), docs_only.clone()].concat())
        .expect("upsert");
    // The same chunks embedded by a second model.
    let again: Vec<VectorRecord> = shared
        .iter()
        .map(|r| VectorRecord {
            vector: rng.vector(8),
            ..r.clone()
        })
        .collect();
    i.upsert("notes", &[again, notes_only.clone()].concat())
        .expect("upsert");
    let removed = i
        .remove_documents(&[shared[0].document, DocumentId::new()])
        .expect("remove");
    assert_eq!(removed, 6, "three chunks in each of two collections");
    assert_eq!(i.remove_documents(&[shared[0].document]).expect("again"), 0);
    assert_eq!(i.remove_documents(&[]).expect("nothing"), 0);
    assert_eq!((count(i, DOCS), count(i, "notes")), (2, 2));
    for name in [DOCS, "notes"] {
        assert!(stored(i, name, &chunks(&shared)).is_empty(), "{name}");
    }
    assert_eq!(stored(i, DOCS, &chunks(&docs_only)).len(), 2);
    assert_eq!(stored(i, "notes", &chunks(&notes_only)).len(), 2);
    assert_eq!(
        i.remove_documents(&[docs_only[0].document, notes_only[0].document])
            .expect("remove"),
        4
    );
    assert_eq!((count(i, DOCS), count(i, "notes")), (0, 0));
}

/// Writing to, reading from or searching a collection that does not exist is not
/// found; dropping it says it was not there.
pub fn vector_unknown_collection_is_not_found(backend: &dyn VectorBackend) {
    let index = open(backend);
    let i = &*index;
    let user = UserId::new();
    let some = records(&mut Rng::new(6), 8, 1, 2, &[Some(user)]);
    let check = |name: &str| {
        assert_err!(
            i.upsert(name, &some),
            Error::NotFound { .. },
            "upsert {name}"
        );
        assert_err!(
            i.get(name, &chunks(&some)),
            Error::NotFound { .. },
            "get {name}"
        );
        assert_err!(
            i.delete(name, &chunks(&some)),
            Error::NotFound { .. },
            "delete {name}"
        );
        assert_err!(
            i.search(name, &some[0].vector, 3, &VectorFilter::user(user)),
            Error::NotFound { .. },
            "search {name}"
        );
        assert!(!i.drop_collection(name).expect("drop"), "{name}");
    };
    check("missing");
    create(i, DOCS, 8, Distance::Dot);
    i.upsert(DOCS, &some).expect("upsert");
    assert!(i.drop_collection(DOCS).expect("drop"));
    check(DOCS);
    assert_eq!(
        i.remove_documents(&[some[0].document])
            .expect("no collection holds it"),
        0
    );
}

/// Scores follow the collection's distance: cosine similarity, inner product, or the
/// negated Euclidean distance, higher being nearer, and hits come nearest first.
pub fn vector_scores_follow_the_distance(backend: &dyn VectorBackend) {
    let index = open(backend);
    let i = &*index;
    let user = UserId::new();
    let document = DocumentId::new();
    let padded = |x: f32, y: f32| {
        let mut vector = vec![0.0; 8];
        vector[0] = x;
        vector[1] = y;
        vector
    };
    let record = |vector: Vec<f32>| VectorRecord {
        chunk: ChunkId::new(),
        document,
        owner: Some(user),
        vector,
    };
    let (a, b) = (record(padded(3.0, 4.0)), record(padded(-1.0, 0.0)));
    // Query (1, 0): cosine 0.6 and -1, inner product 3 and -1, Euclidean distance
    // sqrt(20) and 2 (so for L2 the second vector is the nearer).
    for (name, distance, nearest, expected) in [
        ("cos", Distance::Cosine, &a, [0.6, -1.0]),
        ("dot", Distance::Dot, &a, [3.0, -1.0]),
        ("l2", Distance::L2, &b, [-2.0, -(20.0f32.sqrt())]),
    ] {
        create(i, name, 8, distance);
        i.upsert(name, &[a.clone(), b.clone()]).expect("upsert");
        let hits = search(i, name, &padded(1.0, 0.0), 2, &VectorFilter::user(user));
        let scores: Vec<f32> = hits.iter().map(|h| h.score).collect();
        assert_eq!(hits.len(), 2, "{name}");
        assert_eq!(hits[0].chunk, nearest.chunk, "{name}");
        assert!(
            hits.iter().all(|h| h.document == document),
            "{name}: hits name their document"
        );
        assert!(
            (scores[0] - expected[0]).abs() < 1e-5 && (scores[1] - expected[1]).abs() < 1e-5,
            "{name}: {scores:?}"
        );
    }
}

/// On a small collection a search finds the exact nearest chunks, in order, with
/// exact scores, for every distance; a chunk's own vector finds it first (cosine and
/// Euclidean).
pub fn vector_search_finds_the_exact_nearest(backend: &dyn VectorBackend) {
    let index = open(backend);
    let i = &*index;
    let ada = UserId::new();
    let filter = VectorFilter::user(ada);
    for distance in DISTANCES {
        let name = format!("near-{distance}");
        create(i, &name, 16, distance);
        let mut rng = Rng::new(7);
        let all = records(&mut rng, 16, 4, 15, &[Some(ada), None]);
        i.upsert(&name, &all).expect("upsert");
        for round in 0..10 {
            let query = rng.vector(16);
            let hits = search(i, &name, &query, 5, &filter);
            assert_ranked(&hits);
            let truth = brute_force(distance, &all, &query, 5, &filter);
            assert_eq!(
                hit_chunks(&hits),
                truth.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
                "{distance}, query {round}"
            );
            for (hit, (_, score)) in hits.iter().zip(&truth) {
                assert!(
                    (hit.score - score).abs() < 1e-4,
                    "{distance}, query {round}: score {} for {score}",
                    hit.score
                );
            }
        }
        if distance != Distance::Dot {
            for record in &all {
                let hits = search(i, &name, &record.vector, 1, &filter);
                assert_eq!(hit_chunks(&hits), vec![record.chunk], "{distance}");
                assert_eq!(hits[0].document, record.document);
            }
        }
    }
}

/// A `k` larger than what the filter admits returns every admitted chunk, nearest
/// first, and no more; `k` 0 and an empty collection return nothing.
pub fn vector_search_k_beyond_the_collection(backend: &dyn VectorBackend) {
    let index = open(backend);
    let i = &*index;
    let (ada, eve) = (UserId::new(), UserId::new());
    create(i, DOCS, 8, Distance::Cosine);
    let filter = VectorFilter::user(ada);
    let query = Rng::new(99).vector(8);
    assert!(search(i, DOCS, &query, 10, &filter).is_empty(), "empty");
    let mut rng = Rng::new(8);
    let all = [
        records(&mut rng, 8, 2, 2, &[Some(ada)]),
        records(&mut rng, 8, 1, 1, &[None]),
        records(&mut rng, 8, 1, 3, &[Some(eve)]),
    ]
    .concat();
    i.upsert(DOCS, &all).expect("upsert");
    let admitted: BTreeSet<ChunkId> = all[..5].iter().map(|r| r.chunk).collect();
    for k in [5, 6, 100, 1000] {
        let hits = search(i, DOCS, &query, k, &filter);
        assert_ranked(&hits);
        assert_eq!(
            hits.iter().map(|h| h.chunk).collect::<BTreeSet<_>>(),
            admitted,
            "k = {k}: every admitted chunk"
        );
    }
    let top = search(i, DOCS, &query, 3, &filter);
    let truth = brute_force(Distance::Cosine, &all, &query, 3, &filter);
    assert_eq!(
        hit_chunks(&top),
        truth.iter().map(|(c, _)| *c).collect::<Vec<_>>()
    );
    assert!(search(i, DOCS, &query, 0, &filter).is_empty(), "k = 0");
}

/// A search returns only chunks the filter admits: the user's own documents and global
/// ones, never another user's, even when the query is that user's vector or the
/// filter names their documents; a document selection and a scope narrow it further.
pub fn vector_filter_admits_own_and_global_only(backend: &dyn VectorBackend) {
    let index = open(backend);
    let i = &*index;
    let (ada, eve, bob) = (UserId::new(), UserId::new(), UserId::new());
    create(i, DOCS, 16, Distance::Cosine);
    let all = records(
        &mut Rng::new(9),
        16,
        8,
        3,
        &[Some(ada), Some(eve), Some(bob), None],
    );
    i.upsert(DOCS, &all).expect("upsert");
    let of = |pick: &dyn Fn(&VectorRecord) -> bool| -> BTreeSet<ChunkId> {
        all.iter().filter(|r| pick(r)).map(|r| r.chunk).collect()
    };
    let adas = of(&|r| r.owner == Some(ada));
    let globals = of(&|r| r.owner.is_none());
    let visible: BTreeSet<ChunkId> = adas.union(&globals).copied().collect();
    let eves: Vec<&VectorRecord> = all.iter().filter(|r| r.owner == Some(eve)).collect();
    let eve_documents: Vec<DocumentId> = eves.iter().map(|r| r.document).collect();
    let ada_document = all
        .iter()
        .find(|r| r.owner == Some(ada))
        .map(|r| r.document)
        .expect("ada has a document");
    let found = |filter: &VectorFilter, query: &[f32]| -> BTreeSet<ChunkId> {
        let hits = search(i, DOCS, query, all.len(), filter);
        assert_ranked(&hits);
        for hit in &hits {
            let record = all
                .iter()
                .find(|r| r.chunk == hit.chunk)
                .expect("a stored chunk");
            assert_eq!(hit.document, record.document);
        }
        hits.iter().map(|h| h.chunk).collect()
    };
    for target in &eves {
        let query = &target.vector;
        assert_eq!(found(&VectorFilter::user(ada), query), visible);
        let naming_eves = VectorFilter {
            documents: Some(eve_documents.clone()),
            ..VectorFilter::user(ada)
        };
        assert!(
            found(&naming_eves, query).is_empty(),
            "naming eve's documents gives ada nothing"
        );
        let with_own = VectorFilter {
            documents: Some([eve_documents.clone(), vec![ada_document]].concat()),
            ..VectorFilter::user(ada)
        };
        assert_eq!(
            found(&with_own, query),
            of(&|r| r.document == ada_document),
            "only the selected document ada may see"
        );
        let own_only = VectorFilter {
            scope: Some(DocumentScope::User),
            ..VectorFilter::user(ada)
        };
        assert_eq!(found(&own_only, query), adas);
        let global_only = VectorFilter {
            scope: Some(DocumentScope::Global),
            ..VectorFilter::user(ada)
        };
        assert_eq!(found(&global_only, query), globals);
        let hits = search(i, DOCS, query, 1, &VectorFilter::user(eve));
        assert_eq!(hit_chunks(&hits), vec![target.chunk], "eve finds her own");
        let hits = search(i, DOCS, query, 3, &VectorFilter::user(bob));
        assert!(hits.iter().all(|h| !eve_documents.contains(&h.document)));
    }
}

/// `sync` builds a collection from the source; after `save`, an index opened again
/// syncs from the snapshot and applies what the source changed since (additions,
/// removals, a re-embedded chunk, counted as added); a sync with nothing changed
/// changes nothing. The same whether the source answers only what changed
/// ([`EmbeddingChanges::Since`]) or everything ([`EmbeddingChanges::Everything`]).
pub fn vector_sync_builds_then_catches_up_from_snapshot(backend: &dyn VectorBackend) {
    builds_then_catches_up(backend, "since", Answers::Since);
    builds_then_catches_up(backend, "everything", Answers::Everything);
}

/// [`vector_sync_builds_then_catches_up_from_snapshot`] on collection `name`, with a
/// source answering as `answers` says.
fn builds_then_catches_up(backend: &dyn VectorBackend, name: &str, answers: Answers) {
    let docs = spec(name, 16, Distance::L2);
    let ada = UserId::new();
    let mut rng = Rng::new(10);
    let source = MemorySource::answering(answers, &records(&mut rng, 16, 4, 4, &[Some(ada), None]));
    {
        let index = open(backend);
        let report = index.sync(&docs, &source).expect("sync");
        assert_eq!(
            report,
            SyncReport {
                from_snapshot: false,
                added: 16,
                removed: 0
            },
            "{name}: built from the source"
        );
        assert_eq!(
            index.collections().expect("collections"),
            vec![CollectionInfo {
                spec: docs.clone(),
                count: 16
            }],
            "{name}"
        );
        let all = source.records();
        assert_eq!(stored(&*index, name, &chunks(&all)), all, "{name}");
        let again = index.sync(&docs, &source).expect("sync again");
        assert_eq!(
            (again.added, again.removed),
            (0, 0),
            "{name}: nothing changed"
        );
        index.save().expect("save");
    }

    let before = source.records();
    let added = records(&mut rng, 16, 2, 2, &[Some(ada), None]);
    source.put(&added);
    let removed = chunks(&before[..3]);
    source.remove(&removed);
    let changed = VectorRecord {
        vector: rng.vector(16),
        ..before[7].clone()
    };
    source.put(std::slice::from_ref(&changed));
    {
        let index = open(backend);
        let report = index.sync(&docs, &source).expect("sync");
        assert_eq!(
            report,
            SyncReport {
                from_snapshot: true,
                added: 5,
                removed: 3
            },
            "{name}: caught up from the snapshot"
        );
        assert_eq!(count(&*index, name), 16 + 4 - 3, "{name}");
        let live = source.records();
        let mut every = chunks(&before);
        every.extend(chunks(&added));
        assert_eq!(
            stored(&*index, name, &every),
            live,
            "{name}: exactly the source's embeddings"
        );
        let filter = VectorFilter::user(ada);
        for record in added.iter().chain([&changed]) {
            let hits = search(&*index, name, &record.vector, 1, &filter);
            assert_eq!(hit_chunks(&hits), vec![record.chunk], "{name}");
        }
        index.save().expect("save");
    }

    let index = open(backend);
    let report = index.sync(&docs, &source).expect("sync");
    assert_eq!(
        report,
        SyncReport {
            from_snapshot: true,
            added: 0,
            removed: 0
        },
        "{name}: the catch-up was saved"
    );
    assert_eq!(
        stored(&*index, name, &chunks(&source.records())),
        source.records(),
        "{name}"
    );
}

/// An index opened again syncs from its snapshot and applies the changes a source
/// answering [`EmbeddingChanges::Since`] reports: new chunks, re-embedded ones, a chunk
/// removed and written again (held, with its new vector) and removals; a chunk written
/// and removed again while the index was closed is neither held nor counted. It ends
/// up holding exactly the source's embeddings, and the report counts the vectors it
/// loaded and those it removed. An open index applies later changes the same way.
pub fn vector_sync_applies_the_changes_since_its_snapshot(backend: &dyn VectorBackend) {
    let docs = spec(DOCS, 16, Distance::L2);
    let ada = UserId::new();
    let mut rng = Rng::new(15);
    let first = records(&mut rng, 16, 3, 4, &[Some(ada), None]);
    let source = MemorySource::with(&first);
    {
        let index = open(backend);
        let report = index.sync(&docs, &source).expect("sync");
        assert_eq!(
            report,
            SyncReport {
                from_snapshot: false,
                added: 12,
                removed: 0
            }
        );
        index.save().expect("save");
    }

    let added = records(&mut rng, 16, 2, 2, &[Some(ada), None]);
    source.put(&added);
    let removed = chunks(&first[..2]);
    source.remove(&removed);
    source.remove(&[ChunkId::new()]);
    let changed = VectorRecord {
        vector: rng.vector(16),
        ..first[5].clone()
    };
    source.put(std::slice::from_ref(&changed));
    source.remove(&[first[8].chunk]);
    let back = VectorRecord {
        vector: rng.vector(16),
        ..first[8].clone()
    };
    source.put(std::slice::from_ref(&back));
    let fleeting = records(&mut rng, 16, 1, 2, &[Some(ada)]);
    source.put(&fleeting);
    source.remove(&chunks(&fleeting));
    let mut every = [chunks(&first), chunks(&added), chunks(&fleeting)].concat();
    let filter = VectorFilter::user(ada);
    {
        let index = open(backend);
        let i = &*index;
        let report = i.sync(&docs, &source).expect("sync");
        assert_eq!(
            report,
            SyncReport {
                from_snapshot: true,
                added: 4 + 2,
                removed: 2
            },
            "the new, the re-embedded and the returned chunk loaded; two removed"
        );
        assert_eq!(count(i, DOCS), 12 + 4 - 2);
        assert_eq!(
            stored(i, DOCS, &every),
            source.records(),
            "exactly the source's embeddings"
        );
        for record in added.iter().chain([&changed, &back]) {
            let hits = search(i, DOCS, &record.vector, 1, &filter);
            assert_eq!(hit_chunks(&hits), vec![record.chunk], "found by its vector");
        }
        for record in &fleeting {
            let hits = search(i, DOCS, &record.vector, 14, &filter);
            assert!(!hit_chunks(&hits).contains(&record.chunk), "never held");
        }

        source.remove(&chunks(&added[..1]));
        let more = records(&mut rng, 16, 1, 1, &[None]);
        source.put(&more);
        every.extend(chunks(&more));
        let report = i.sync(&docs, &source).expect("sync again");
        assert_eq!(
            (report.added, report.removed),
            (1, 1),
            "what changed since the last sync"
        );
        assert_eq!(stored(i, DOCS, &every), source.records());
        i.save().expect("save");
    }

    let index = open(backend);
    let report = index.sync(&docs, &source).expect("sync");
    assert_eq!(
        report,
        SyncReport {
            from_snapshot: true,
            added: 0,
            removed: 0
        },
        "the catch-up was saved"
    );
    assert_eq!(stored(&*index, DOCS, &every), source.records());
}

/// A source restored from an older copy, whose history ends before the version the
/// index's snapshot reached, answers [`EmbeddingChanges::Everything`]; the index synced
/// against it ends up holding exactly the source's embeddings: what was written after
/// the copy is gone, what was removed after it is back, and a chunk re-embedded after
/// it has its older vector again. What the restored source writes next (with versions
/// the index saw before, for other writes) is picked up too, whether the source then
/// answers only what changed or everything.
pub fn vector_sync_follows_a_source_restored_from_an_older_copy(backend: &dyn VectorBackend) {
    for answers in [Answers::Since, Answers::Everything] {
        let name = format!("restored-{answers:?}").to_lowercase();
        let docs = spec(&name, 16, Distance::L2);
        let ada = UserId::new();
        let mut rng = Rng::new(16);
        let first = records(&mut rng, 16, 2, 5, &[Some(ada), None]);
        let source = MemorySource::answering(answers, &first);
        let copy = source.copy();
        let re_embedded = VectorRecord {
            vector: rng.vector(16),
            ..first[3].clone()
        };
        source.put(std::slice::from_ref(&re_embedded));
        let later = records(&mut rng, 16, 1, 2, &[Some(ada)]);
        source.put(&later);
        source.remove(&[first[6].chunk]);
        let mut every = [chunks(&first), chunks(&later)].concat();
        {
            let index = open(backend);
            index.sync(&docs, &source).expect("sync");
            assert_eq!(stored(&*index, &name, &every), source.records(), "{name}");
            index.save().expect("save");
        }

        source.restore(copy);
        let index = open(backend);
        let i = &*index;
        i.sync(&docs, &source).expect("sync");
        assert_eq!(count(i, &name), 10, "{name}");
        assert_eq!(
            stored(i, &name, &every),
            sorted(&first),
            "{name}: exactly the restored source's embeddings"
        );
        let filter = VectorFilter::user(ada);
        for record in [&first[3], &first[6]] {
            let hits = search(i, &name, &record.vector, 1, &filter);
            assert_eq!(hit_chunks(&hits), vec![record.chunk], "{name}");
        }

        let again = VectorRecord {
            vector: rng.vector(16),
            ..first[2].clone()
        };
        source.put(std::slice::from_ref(&again));
        let fresh = records(&mut rng, 16, 1, 1, &[None]);
        source.put(&fresh);
        source.remove(&[first[0].chunk]);
        every.extend(chunks(&fresh));
        i.sync(&docs, &source).expect("sync after the restore");
        assert_eq!(
            stored(i, &name, &every),
            source.records(),
            "{name}: the restored source's new writes"
        );
        i.save().expect("save");
        drop(index);
        let index = open(backend);
        index.sync(&docs, &source).expect("sync");
        assert_eq!(
            stored(&*index, &name, &every),
            source.records(),
            "{name}: after opening again"
        );
    }
}

/// A saved collection synced under another spec of the same name is built from the
/// source rather than from the snapshot, and takes the new spec.
pub fn vector_sync_with_another_spec_rebuilds(backend: &dyn VectorBackend) {
    let ada = UserId::new();
    let source = MemorySource::with(&records(&mut Rng::new(11), 16, 3, 4, &[Some(ada)]));
    {
        let index = open(backend);
        index
            .sync(&spec(DOCS, 16, Distance::L2), &source)
            .expect("sync");
        index.save().expect("save");
    }
    let dot = spec(DOCS, 16, Distance::Dot);
    let index = open(backend);
    let report = index.sync(&dot, &source).expect("sync");
    assert_eq!(
        report,
        SyncReport {
            from_snapshot: false,
            added: 12,
            removed: 0
        }
    );
    assert_eq!(
        index.collections().expect("collections"),
        vec![CollectionInfo {
            spec: dot,
            count: 12
        }]
    );
    let query = Rng::new(12).vector(16);
    let filter = VectorFilter::user(ada);
    let hits = search(&*index, DOCS, &query, 3, &filter);
    let truth = brute_force(Distance::Dot, &source.records(), &query, 3, &filter);
    assert_eq!(
        hit_chunks(&hits),
        truth.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
        "searched by the new distance"
    );
}

/// Dropping a collection removes it and its vectors (other collections stay) and its
/// saved snapshot: an index opened again builds it from the source. The name is free
/// again, for any spec.
pub fn vector_drop_collection_removes_it(backend: &dyn VectorBackend) {
    let docs = spec(DOCS, 16, Distance::Cosine);
    let ada = UserId::new();
    let source = MemorySource::with(&records(&mut Rng::new(13), 16, 2, 5, &[Some(ada)]));
    let notes = spec("notes", 8, Distance::L2);
    {
        let index = open(backend);
        let i = &*index;
        i.sync(&docs, &source).expect("sync");
        i.create_collection(&notes).expect("create");
        i.upsert("notes", &records(&mut Rng::new(14), 8, 1, 2, &[Some(ada)]))
            .expect("upsert");
        i.save().expect("save");
        assert!(i.drop_collection(DOCS).expect("drop"), "it existed");
        assert!(!i.drop_collection(DOCS).expect("drop again"), "it is gone");
        assert_eq!(
            i.collections().expect("collections"),
            vec![CollectionInfo {
                spec: notes.clone(),
                count: 2
            }]
        );
        assert_err!(
            i.search(DOCS, &[1.0; 16], 3, &VectorFilter::user(ada)),
            Error::NotFound { .. }
        );
        let other = spec(DOCS, 4, Distance::Dot);
        i.create_collection(&other)
            .expect("the name is free for another spec");
        assert_eq!(count(i, DOCS), 0, "a new collection starts empty");
        assert!(i.drop_collection(DOCS).expect("drop"));
    }
    let index = open(backend);
    let report = index.sync(&docs, &source).expect("sync");
    assert_eq!(
        report,
        SyncReport {
            from_snapshot: false,
            added: 10,
            removed: 0
        },
        "the dropped collection's snapshot is gone"
    );
}

/// Expands to one `#[test]` per check of the vector index suite, each on a backend
/// made by `$make` (an expression evaluated afresh for every test).
#[macro_export]
macro_rules! vector_conformance_suite {
    ($make:expr) => {
        $crate::vector_conformance_suite!(@tests $make;
            vector_collections_are_created_idempotently,
            vector_bad_names_are_refused,
            vector_bad_vectors_change_nothing,
            vector_upsert_and_get,
            vector_delete_counts,
            vector_remove_documents_in_every_collection,
            vector_unknown_collection_is_not_found,
            vector_scores_follow_the_distance,
            vector_search_finds_the_exact_nearest,
            vector_search_k_beyond_the_collection,
            vector_filter_admits_own_and_global_only,
            vector_sync_builds_then_catches_up_from_snapshot,
            vector_sync_applies_the_changes_since_its_snapshot,
            vector_sync_follows_a_source_restored_from_an_older_copy,
            vector_sync_with_another_spec_rebuilds,
            vector_drop_collection_removes_it,
        );
    };
    (@tests $make:expr; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                let backend = $make;
                $crate::conformance::$check(&backend);
            }
        )*
    };
}
