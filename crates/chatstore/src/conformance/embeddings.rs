//! Embeddings: collections, completing a document with its chunks and their vectors,
//! replacing and removing embeddings, loading them back, and the embedding cache.

use super::support::{admin, document, global_document, new_chunk, process, user};
use super::{Backend, fixture};
use crate::embeddings::cache_key;
use crate::{
    Chunk, ChunkId, Clock, CollectionSpec, ConflictKind, Distance, Document, DocumentId,
    EmbeddingChanges, Error, NewChunk, ProcessingStatus, Store, UserId, VectorRecord,
};

/// The collection most checks embed in: cosine, three dimensions.
const DOCS: &str = "docs_v1";

/// Creates [`DOCS`].
fn docs(store: &dyn Store) -> CollectionSpec {
    let spec = CollectionSpec::new(DOCS, 3, Distance::Cosine).expect("a valid spec");
    store
        .create_embedding_collection(&spec)
        .expect("a collection can be created");
    spec
}

/// One chunk per text, `10 × (index + 1)` tokens each.
fn new_chunks(texts: &[&str]) -> Vec<NewChunk> {
    (0u32..)
        .zip(texts)
        .map(|(i, text)| new_chunk(i, text, Some(10 * (i + 1))))
        .collect()
}

/// A valid vector for [`DOCS`], distinct per `seed`, with a negative zero and a
/// subnormal to catch lossy storage.
fn vector(seed: u32) -> Vec<f32> {
    let x = seed as f32 + 1.0;
    vec![0.1 * x, -0.0, f32::MIN_POSITIVE / (x + 1.0)]
}

/// The bit patterns of a vector, for exact comparison.
fn bits(vector: &[f32]) -> Vec<u32> {
    vector.iter().map(|x| x.to_bits()).collect()
}

/// Starts processing `doc` and completes it in [`DOCS`] with one chunk per text, the
/// chunk at index `i` embedded as `vector(seed + i)`.
fn embed(
    store: &dyn Store,
    user: UserId,
    doc: &Document,
    seed: u32,
    texts: &[&str],
) -> (Document, Vec<Chunk>) {
    store
        .start_processing(user, doc.id)
        .expect("the document starts processing");
    let vectors: Vec<Vec<f32>> = (seed..).take(texts.len()).map(vector).collect();
    store
        .complete_with_chunks(user, doc.id, DOCS, &new_chunks(texts), &vectors)
        .expect("a processing document completes with its chunks")
}

/// The (chunk, version) pairs of a collection, sorted by chunk.
fn versions(store: &dyn Store, collection: &str) -> Vec<(ChunkId, u64)> {
    let mut versions = store
        .embedding_versions(collection)
        .expect("the collection's versions");
    versions.sort();
    versions
}

/// The chunks embedded in [`DOCS`], sorted.
fn embedded(store: &dyn Store) -> Vec<ChunkId> {
    versions(store, DOCS).into_iter().map(|(c, _)| c).collect()
}

/// The chunks' ids, sorted.
fn ids(chunks: &[Chunk]) -> Vec<ChunkId> {
    let mut ids: Vec<ChunkId> = chunks.iter().map(|c| c.id).collect();
    ids.sort();
    ids
}

/// The embeddings of these chunks in [`DOCS`], sorted by chunk.
fn load(store: &dyn Store, chunks: &[ChunkId]) -> Vec<VectorRecord> {
    let mut records = store
        .load_embeddings(DOCS, chunks)
        .expect("embeddings load");
    records.sort_by_key(|r| r.chunk);
    records
}

/// Asserts that `chunks` of `doc` load from [`DOCS`] exactly as [`embed`] stored them.
fn assert_loaded(
    store: &dyn Store,
    doc: &Document,
    seed: u32,
    chunks: &[Chunk],
    owner: Option<UserId>,
) {
    let records = load(store, &ids(chunks));
    assert_eq!(records.len(), chunks.len(), "every chunk's embedding loads");
    for record in records {
        let chunk = chunks
            .iter()
            .find(|c| c.id == record.chunk)
            .expect("asked for");
        assert_eq!(record.document, doc.id);
        assert_eq!(record.owner, owner, "owner of {}", doc.filename);
        assert_eq!(
            bits(&record.vector),
            bits(&vector(seed + chunk.chunk_index)),
            "chunk {} loads bit-exactly",
            chunk.chunk_index
        );
    }
}

/// Collections are created idempotently, conflict on another spec, are checked, listed and dropped with their embeddings.
pub fn embeddings_collections(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let spec = docs(s);
    let alt = CollectionSpec::new("alt", 2, Distance::L2).expect("valid");
    s.create_embedding_collection(&alt).expect("create another");
    s.create_embedding_collection(&spec)
        .expect("the same spec again is a no-op");
    assert_eq!(
        s.embedding_collections().expect("list"),
        vec![alt.clone(), spec.clone()]
    );
    for other in [
        CollectionSpec::new(DOCS, 4, Distance::Cosine),
        CollectionSpec::new(DOCS, 3, Distance::Dot),
    ] {
        let other = other.expect("valid");
        assert_err!(
            s.create_embedding_collection(&other),
            Error::Conflict {
                kind: ConflictKind::Unique,
                ..
            },
            "{other:?}"
        );
    }
    let unchecked = |name: &str, dimension| CollectionSpec {
        name: name.to_owned(),
        dimension,
        distance: Distance::Dot,
    };
    let long = "x".repeat(65);
    for bad in [
        unchecked("", 3),
        unchecked("Docs", 3),
        unchecked("has space", 3),
        unchecked("dot.ted", 3),
        unchecked("café", 3),
        unchecked(&long, 3),
        unchecked("fine", 0),
        unchecked("fine", 4097),
    ] {
        assert_err!(
            s.create_embedding_collection(&bad),
            Error::Validation { .. },
            "{bad:?}"
        );
    }
    assert_eq!(
        s.embedding_collections().expect("list"),
        vec![alt.clone(), spec.clone()],
        "refused specs recorded nothing"
    );
    let widest = unchecked(&"a-_0".repeat(16), 4096);
    s.create_embedding_collection(&widest)
        .expect("64 characters and 4096 dimensions are allowed");
    assert!(s.drop_embedding_collection(&widest.name).expect("drop"));

    let (doc, chunks) = embed(s, ada.id, &document(s, ada.id, "a.pdf"), 0, &["x", "y"]);
    assert_eq!(embedded(s), ids(&chunks));
    assert!(s.drop_embedding_collection(DOCS).expect("drop"));
    assert!(!s.drop_embedding_collection(DOCS).expect("drop again"));
    assert!(!s.drop_embedding_collection("never").expect("drop unknown"));
    assert_eq!(s.embedding_collections().expect("list"), vec![alt]);
    assert_err!(s.embedding_versions(DOCS), Error::NotFound { .. });
    assert_err!(s.embedding_versions("never"), Error::NotFound { .. });
    assert_eq!(
        s.chunks(ada.id, doc.id).expect("chunks"),
        chunks,
        "dropping a collection keeps the chunks"
    );
    docs(s);
    assert!(
        embedded(s).is_empty() && load(s, &ids(&chunks)).is_empty(),
        "a recreated collection starts empty"
    );
}

/// Completing with chunks stores them, counts them, and keeps their vectors bit-exactly with owner and document.
pub fn embeddings_complete_with_chunks(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let boss = admin(s, "boss");
    let ada = user(s, "ada");
    docs(s);
    let other = CollectionSpec::new("other", 3, Distance::Cosine).expect("valid");
    s.create_embedding_collection(&other).expect("create");
    let doc = document(s, ada.id, "book.pdf");
    let (done, chunks) = embed(s, ada.id, &doc, 0, &["one", "two", "three"]);
    assert_eq!(done.status, ProcessingStatus::Completed);
    assert_eq!((done.num_chunks, done.num_tokens), (3, 60));
    assert_eq!(done.processed_at, Some(f.clock.now()));
    assert_eq!(s.document(ada.id, doc.id).expect("read"), done);
    let indexes: Vec<u32> = chunks.iter().map(|c| c.chunk_index).collect();
    assert_eq!(indexes, vec![0, 1, 2]);
    assert!(chunks.iter().all(|c| c.document_id == doc.id));
    assert_eq!(s.chunks(ada.id, doc.id).expect("chunks"), chunks);

    let stored = s.embedding_versions(DOCS).expect("versions");
    let mut listed: Vec<ChunkId> = stored.iter().map(|(c, _)| *c).collect();
    listed.sort();
    assert_eq!(listed, ids(&chunks), "one embedding per chunk");
    let mut numbers: Vec<u64> = stored.iter().map(|(_, v)| *v).collect();
    numbers.sort();
    assert!(
        numbers.windows(2).all(|w| w[0] < w[1]),
        "versions are distinct: {numbers:?}"
    );
    assert_loaded(s, &doc, 0, &chunks, Some(ada.id));
    assert!(
        s.load_embeddings("other", &ids(&chunks))
            .expect("load")
            .is_empty(),
        "embeddings belong to their collection"
    );
    assert!(versions(s, "other").is_empty());

    let shared = global_document(s, boss.id, "shared.pdf");
    let (done, global_chunks) = embed(s, boss.id, &shared, 10, &["g0", "g1"]);
    assert_eq!((done.num_chunks, done.num_tokens), (2, 30));
    assert_loaded(s, &shared, 10, &global_chunks, None);
    assert_loaded(s, &doc, 0, &chunks, Some(ada.id));
}

/// Bad vectors, chunks or collections are refused and nothing of the completion is written.
pub fn embeddings_complete_with_chunks_rejects_bad_input(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    docs(s);
    let doc = document(s, ada.id, "doc.pdf");
    s.start_processing(ada.id, doc.id).expect("start");
    let before_chunks = s
        .add_chunks(ada.id, doc.id, &[new_chunk(0, "earlier", Some(1))])
        .expect("a chunk added while processing");
    let before = s.document(ada.id, doc.id).expect("read");
    let texts = ["a", "b", "c"];
    let good = || -> Vec<Vec<f32>> { (0..3).map(vector).collect() };
    let with = |i: usize, v: Vec<f32>| {
        let mut vectors = good();
        vectors[i] = v;
        vectors
    };
    let complete = |collection: &str, chunks: &[NewChunk], vectors: &[Vec<f32>]| {
        s.complete_with_chunks(ada.id, doc.id, collection, chunks, vectors)
    };
    let unchanged = |what: &str| {
        assert_eq!(
            s.document(ada.id, doc.id).expect("read"),
            before,
            "{what}: the document is still processing"
        );
        assert_eq!(
            s.chunks(ada.id, doc.id).expect("chunks"),
            before_chunks,
            "{what}: chunks unchanged"
        );
        assert!(embedded(s).is_empty(), "{what}: no embeddings");
    };
    let chunks = new_chunks(&texts);
    let cases: Vec<(&str, Vec<Vec<f32>>)> = vec![
        ("too few vectors", good()[..2].to_vec()),
        ("too many vectors", [good(), vec![vector(3)]].concat()),
        ("short vector", with(1, vec![1.0, 2.0])),
        ("long vector", with(2, vec![1.0, 2.0, 3.0, 4.0])),
        ("NaN", with(0, vec![1.0, f32::NAN, 0.0])),
        ("infinity", with(1, vec![f32::INFINITY, 0.0, 0.0])),
        (
            "negative infinity",
            with(2, vec![0.5, f32::NEG_INFINITY, 0.0]),
        ),
        ("zero vector", with(1, vec![0.0, 0.0, 0.0])),
        ("negative zero vector", with(0, vec![-0.0, 0.0, -0.0])),
    ];
    for (what, vectors) in cases {
        assert_err!(
            complete(DOCS, &chunks, &vectors),
            Error::Validation { .. },
            "{what}"
        );
        unchanged(what);
    }
    assert_err!(
        complete("missing", &chunks, &good()),
        Error::NotFound { .. },
        "unknown collection"
    );
    unchanged("unknown collection");
    let blank = [new_chunks(&["a", "b"]), vec![new_chunk(2, " \n", None)]].concat();
    assert_err!(
        complete(DOCS, &blank, &good()),
        Error::Validation { .. },
        "blank chunk"
    );
    unchanged("blank chunk");
    let repeated = [new_chunks(&["a", "b"]), vec![new_chunk(1, "b again", None)]].concat();
    assert_err!(
        complete(DOCS, &repeated, &good()),
        Error::Conflict {
            kind: ConflictKind::Unique,
            ..
        },
        "repeated chunk index"
    );
    unchanged("repeated chunk index");

    let zero_ok = CollectionSpec::new("plain", 3, Distance::Dot).expect("valid");
    s.create_embedding_collection(&zero_ok).expect("create");
    let (done, _) = complete("plain", &chunks, &with(1, vec![0.0; 3]))
        .expect("a zero vector is fine outside cosine");
    assert_eq!(done.num_chunks, 3);
}

/// Completing needs a processing document the user may change: `InvalidState`, `NotFound` or `Forbidden` otherwise, changing nothing.
pub fn embeddings_complete_with_chunks_needs_a_processing_document(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let boss = admin(s, "boss");
    let ada = user(s, "ada");
    let bob = user(s, "bob");
    docs(s);
    let vectors: Vec<Vec<f32>> = (0..2).map(vector).collect();
    let chunks = new_chunks(&["p", "q"]);
    let pending = document(s, ada.id, "pending.pdf");
    let (completed, completed_chunks) =
        embed(s, ada.id, &document(s, ada.id, "done.pdf"), 5, &["c"]);
    let failed = document(s, ada.id, "failed.pdf");
    s.start_processing(ada.id, failed.id).expect("start");
    let failed = s
        .fail_processing(ada.id, failed.id, "broken")
        .expect("fail");
    let embedded_before = versions(s, DOCS);
    for (doc, doc_chunks) in [
        (&pending, Vec::new()),
        (&completed, completed_chunks.clone()),
        (&failed, Vec::new()),
    ] {
        assert_err!(
            s.complete_with_chunks(ada.id, doc.id, DOCS, &chunks, &vectors),
            Error::Conflict {
                kind: ConflictKind::InvalidState,
                ..
            },
            "{} document",
            doc.status
        );
        assert_eq!(&s.document(ada.id, doc.id).expect("read"), doc);
        assert_eq!(s.chunks(ada.id, doc.id).expect("chunks"), doc_chunks);
        assert_eq!(
            versions(s, DOCS),
            embedded_before,
            "{} document",
            doc.status
        );
    }

    let bobs = document(s, bob.id, "bob.pdf");
    let bobs = s.start_processing(bob.id, bobs.id).expect("start");
    let shared = global_document(s, boss.id, "shared.pdf");
    let shared = s.start_processing(boss.id, shared.id).expect("start");
    assert_err!(
        s.complete_with_chunks(ada.id, bobs.id, DOCS, &chunks, &vectors),
        Error::NotFound { .. },
        "another user's document"
    );
    assert_err!(
        s.complete_with_chunks(ada.id, shared.id, DOCS, &chunks, &vectors),
        Error::Forbidden { .. },
        "a global document without admin:full"
    );
    assert_err!(
        s.complete_with_chunks(ada.id, DocumentId::new(), DOCS, &chunks, &vectors),
        Error::NotFound { .. },
        "an unknown document"
    );
    for (owner, doc) in [(bob.id, &bobs), (boss.id, &shared)] {
        assert_eq!(&s.document(owner, doc.id).expect("read"), doc);
        assert!(s.chunks(owner, doc.id).expect("chunks").is_empty());
    }
    assert_eq!(versions(s, DOCS), embedded_before);
    assert_loaded(s, &completed, 5, &completed_chunks, Some(ada.id));
}

/// Completing a reprocessed document replaces its chunks and embeddings, with newer versions.
pub fn embeddings_reprocessing_replaces_chunks_and_embeddings(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    docs(s);
    let (keep, keep_chunks) = embed(s, ada.id, &document(s, ada.id, "keep.pdf"), 20, &["k"]);
    let doc = document(s, ada.id, "doc.pdf");
    let (_, old) = embed(s, ada.id, &doc, 0, &["a", "b", "c"]);
    let before = versions(s, DOCS);
    let newest_old = before.iter().map(|(_, v)| *v).max().expect("some");
    let (done, new) = embed(s, ada.id, &doc, 7, &["new a", "new b"]);
    assert_eq!(
        (done.status, done.num_chunks, done.num_tokens),
        (ProcessingStatus::Completed, 2, 30)
    );
    assert_eq!(s.chunks(ada.id, doc.id).expect("chunks"), new);
    let after = versions(s, DOCS);
    let mut want = [ids(&keep_chunks), ids(&new)].concat();
    want.sort();
    assert_eq!(after.iter().map(|(c, _)| *c).collect::<Vec<_>>(), want);
    for (chunk, version) in &after {
        if new.iter().any(|c| c.id == *chunk) {
            assert!(
                *version > newest_old,
                "new version {version} > {newest_old}"
            );
        } else {
            assert!(
                before.contains(&(*chunk, *version)),
                "untouched: kept its version"
            );
        }
    }
    assert!(load(s, &ids(&old)).is_empty(), "old embeddings are gone");
    assert_loaded(s, &doc, 7, &new, Some(ada.id));
    assert_loaded(s, &keep, 20, &keep_chunks, Some(ada.id));

    // Re-processing with some text unchanged: those chunks keep their ids (answers
    // cite chunks by id), with the new embedding; the rest are new.
    let (_, again) = embed(s, ada.id, &doc, 9, &["other", "new b", "new a"]);
    assert!(!ids(&new).contains(&again[0].id));
    assert_eq!(again[1].id, new[1].id, "same text, same id");
    assert_eq!(
        again[2].id, new[0].id,
        "same text, same id, at another position"
    );
    assert_eq!(again[2].chunk_index, 2);
    assert_eq!(s.chunks(ada.id, doc.id).expect("chunks"), again);
    assert_loaded(s, &doc, 9, &again, Some(ada.id));
}

/// Deleting chunks, a document or a user removes their embeddings and no others.
pub fn embeddings_go_with_chunks_documents_and_users(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let boss = admin(s, "boss");
    let ada = user(s, "ada");
    let bob = user(s, "bob");
    docs(s);
    let (rechunked, first) = embed(s, ada.id, &document(s, ada.id, "a.pdf"), 0, &["a0", "a1"]);
    let (deleted, second) = embed(s, ada.id, &document(s, ada.id, "b.pdf"), 2, &["b0"]);
    let (_, bobs) = embed(s, bob.id, &document(s, bob.id, "c.pdf"), 3, &["c0", "c1"]);
    let (shared, kept) = embed(
        s,
        boss.id,
        &global_document(s, boss.id, "g.pdf"),
        5,
        &["g0"],
    );
    let all = versions(s, DOCS);
    assert_eq!(all.len(), 6);
    let gone = |removed: &[&[Chunk]], what: &str| {
        let removed: Vec<ChunkId> = removed.iter().flat_map(|c| ids(c)).collect();
        let left: Vec<(ChunkId, u64)> = all
            .iter()
            .filter(|(c, _)| !removed.contains(c))
            .copied()
            .collect();
        assert_eq!(versions(s, DOCS), left, "{what}");
        assert!(load(s, &removed).is_empty(), "{what}: nothing loads");
    };

    s.start_processing(ada.id, rechunked.id).expect("reprocess");
    assert_eq!(
        s.delete_chunks(ada.id, rechunked.id)
            .expect("delete chunks"),
        2
    );
    gone(&[&first], "delete_chunks");
    s.delete_document(ada.id, deleted.id)
        .expect("delete document");
    gone(&[&first, &second], "delete_document");
    s.delete_user(bob.id).expect("delete user");
    gone(&[&first, &second, &bobs], "delete_user");
    assert_loaded(s, &shared, 5, &kept, None);
}

/// A copy of a collection's (chunk, version) pairs, kept up to date the way an index
/// does: by applying [`crate::EmbeddingSource::embedding_changes`] since the version it
/// reached.
struct Follower {
    held: std::collections::BTreeMap<ChunkId, u64>,
    reached: u64,
}

impl Follower {
    /// Applies what changed since the version reached; returns whether the source
    /// answered with only the changes.
    fn catch_up(&mut self, store: &dyn Store, what: &str) -> bool {
        let changes = store
            .embedding_changes(DOCS, self.reached)
            .expect("the changes since a version");
        let incremental = match changes {
            EmbeddingChanges::Everything(all) => {
                self.reached = all.iter().map(|(_, v)| *v).max().unwrap_or(0);
                self.held = all.into_iter().collect();
                false
            }
            EmbeddingChanges::Since {
                written,
                removed,
                latest,
            } => {
                assert!(
                    latest >= self.reached,
                    "{what}: the version never goes back"
                );
                for (chunk, version) in written {
                    assert!(
                        version > self.reached && version <= latest,
                        "{what}: {version} after {} up to {latest}",
                        self.reached
                    );
                    self.held.insert(chunk, version);
                }
                for chunk in removed {
                    self.held.remove(&chunk);
                }
                self.reached = latest;
                true
            }
        };
        let copy: Vec<(ChunkId, u64)> = self.held.iter().map(|(c, v)| (*c, *v)).collect();
        assert_eq!(
            copy,
            versions(store, DOCS),
            "{what}: the copy matches the store"
        );
        incremental
    }
}

/// Applying `embedding_changes` since the version a copy reached brings the copy to
/// exactly the store's embeddings, through new documents, re-processing (kept and new
/// chunk ids), deleted chunks, documents and users. Every answer may be `Everything`
/// (the trait's default); a source that answers `Since` is checked to be exact, and an
/// unknown collection is `NotFound` either way.
pub fn embeddings_changes_since_a_version(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let bob = user(s, "bob");
    docs(s);
    let mut copy = Follower {
        held: Default::default(),
        reached: 0,
    };
    copy.catch_up(s, "empty");
    let doc = document(s, ada.id, "a.pdf");
    embed(s, ada.id, &doc, 0, &["a", "b", "c"]);
    copy.catch_up(s, "first document");
    let (bobs, _) = embed(s, bob.id, &document(s, bob.id, "b.pdf"), 3, &["x", "y"]);
    copy.catch_up(s, "second document");
    embed(s, ada.id, &doc, 6, &["b", "new", "a"]);
    copy.catch_up(s, "re-processed");
    copy.catch_up(s, "nothing changed");
    s.start_processing(ada.id, doc.id).expect("reprocess");
    s.delete_chunks(ada.id, doc.id).expect("delete chunks");
    s.delete_document(bob.id, bobs.id).expect("delete document");
    copy.catch_up(s, "chunks and a document deleted");
    embed(s, ada.id, &document(s, ada.id, "c.pdf"), 9, &["c"]);
    s.delete_user(bob.id).expect("delete user");
    copy.catch_up(s, "written and removed");
    assert_err!(
        s.embedding_changes("no_such_collection", copy.reached),
        Error::NotFound { .. }
    );
}

/// The cache answers in the order asked (repeats included), `None` when missing, and replaces by key.
pub fn embeddings_cache(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let hello = cache_key(None, "model-a", "hello");
    let other_model = cache_key(None, "model-b", "hello");
    let world = cache_key(None, "model-a", "world");
    let missing = cache_key(None, "model-a", "never embedded");
    let cached = |keys: &[&String]| -> Vec<Option<Vec<u32>>> {
        let keys: Vec<String> = keys.iter().map(|k| (*k).clone()).collect();
        let got = s.cached_embeddings(&keys).expect("cache read");
        assert_eq!(got.len(), keys.len(), "one answer per key");
        got.iter().map(|v| v.as_deref().map(bits)).collect()
    };
    assert!(cached(&[]).is_empty());
    assert_eq!(cached(&[&hello]), vec![None], "an empty cache");
    let (a, b, c) = (
        vector(0),
        vec![-1.5, 2.25],
        vec![f32::MAX, f32::MIN, 1e-40, -0.0],
    );
    s.cache_embeddings(
        None,
        &[(hello.clone(), a.clone()), (other_model.clone(), b.clone())],
    )
    .expect("cache");
    assert_eq!(
        cached(&[&missing, &other_model, &hello, &other_model, &world]),
        vec![None, Some(bits(&b)), Some(bits(&a)), Some(bits(&b)), None]
    );
    s.cache_embeddings(
        None,
        &[(hello.clone(), c.clone()), (world.clone(), a.clone())],
    )
    .expect("replace and add");
    assert_eq!(
        cached(&[&hello, &world, &other_model, &missing]),
        vec![Some(bits(&c)), Some(bits(&a)), Some(bits(&b)), None]
    );
    s.cache_embeddings(None, &[]).expect("caching nothing");
    assert_eq!(cached(&[&hello]), vec![Some(bits(&c))]);
}

/// Loading leaves out unknown and unembedded chunks and copes with thousands of ids.
pub fn embeddings_load_leaves_out_unknown_chunks(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    docs(s);
    let (doc, chunks) = embed(
        s,
        ada.id,
        &document(s, ada.id, "a.pdf"),
        0,
        &["x", "y", "z"],
    );
    let (_, plain) = process(s, ada.id, &document(s, ada.id, "plain.pdf"), &["no vector"]);
    assert!(load(s, &[]).is_empty());
    assert!(load(s, &[ChunkId::new(), plain[0].id]).is_empty());
    let mut asked: Vec<ChunkId> = (0..6000).map(|_| ChunkId::new()).collect();
    asked.insert(0, chunks[2].id);
    asked.insert(5000, chunks[0].id);
    asked.push(chunks[1].id);
    asked.push(plain[0].id);
    let records = load(s, &asked);
    assert_eq!(
        records.iter().map(|r| r.chunk).collect::<Vec<_>>(),
        ids(&chunks)
    );
    assert_loaded(s, &doc, 0, &chunks, Some(ada.id));
}

/// Trimming the cache by age drops the entries cached before the cut-off; by size keeps
/// the most recently cached (an entry cached again counts as new); neither limit
/// removes nothing.
pub fn embeddings_cache_is_trimmed_by_age_and_size(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let keys: Vec<String> = (0..5)
        .map(|i| cache_key(None, "minilm", &format!("text {i}")))
        .collect();
    for key in &keys {
        s.cache_embeddings(None, &[(key.clone(), vec![1.0, 2.0])])
            .expect("cache");
        f.clock.advance(std::time::Duration::from_secs(60));
    }
    s.cache_embeddings(None, &[(keys[0].clone(), vec![3.0, 4.0])])
        .expect("cached again: now the newest");
    let present = |s: &dyn Store| -> Vec<bool> {
        s.cached_embeddings(&keys)
            .expect("read")
            .iter()
            .map(Option::is_some)
            .collect()
    };
    assert_eq!(s.trim_embedding_cache(None, None).expect("trim"), 0);
    let cut = f.clock.now() - std::time::Duration::from_secs(150);
    assert_eq!(s.trim_embedding_cache(Some(cut), None).expect("trim"), 2);
    assert_eq!(present(s), [true, false, false, true, true]);
    assert_eq!(s.trim_embedding_cache(None, Some(2)).expect("trim"), 1);
    assert_eq!(present(s), [true, false, false, false, true]);
    assert_eq!(s.trim_embedding_cache(None, Some(0)).expect("trim"), 2);
    assert_eq!(present(s), [false; 5]);
}

/// Cache entries remember whose text they are of: deleting that user removes them,
/// while global entries and other users' stay. An unknown owner is not-found, and
/// nothing is cached.
pub fn embeddings_cache_entries_go_with_their_owner(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let bob = user(s, "bob");
    let mine = cache_key(Some(ada.id), "minilm", "ada's secret plans");
    let his = cache_key(Some(bob.id), "minilm", "bob's notes");
    let shared = cache_key(None, "minilm", "the handbook");
    s.cache_embeddings(Some(ada.id), &[(mine.clone(), vec![1.0])])
        .expect("ada's");
    s.cache_embeddings(Some(bob.id), &[(his.clone(), vec![2.0])])
        .expect("bob's");
    s.cache_embeddings(None, &[(shared.clone(), vec![3.0])])
        .expect("global");
    let stranger = cache_key(None, "minilm", "nobody's");
    assert_err!(
        s.cache_embeddings(Some(UserId::new()), &[(stranger.clone(), vec![4.0])]),
        Error::NotFound { .. }
    );
    s.delete_user(ada.id).expect("delete ada");
    let keys = [mine, his, shared, stranger];
    let present: Vec<bool> = s
        .cached_embeddings(&keys)
        .expect("read")
        .iter()
        .map(Option::is_some)
        .collect();
    assert_eq!(present, [false, true, true, false]);
}
