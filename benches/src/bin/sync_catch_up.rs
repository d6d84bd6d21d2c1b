//! How long a vector index takes to catch up with the store when it opens from its
//! snapshot, when little changed: through `EmbeddingSource::embedding_changes` (the
//! SQLite store answers with only what changed since the snapshot) and, for
//! comparison, through the trait's default, which answers with every embedding.
//!
//! A SQLite store gets N embeddings (documents of ten chunks, dimension D); an index
//! syncs and saves its snapshot; then 1% of the documents are deleted and as many
//! ingested. First the source's answers alone are timed (the changes since the
//! snapshot, and every embedding); then each way of catching up opens a fresh index
//! from that snapshot and syncs it (loading the snapshot, applying the changes, saving
//! it again), three times, alternating; one JSON line each.
//!
//! ```text
//! cargo run --release -p chatstore-benches --bin sync_catch_up -- [N] [D]
//! ```

use std::time::Instant;

use chatstore::conformance::test_config;
use chatstore::{
    ChunkId, CollectionSpec, Distance, DocumentId, DocumentStore, EmbeddingSource, EmbeddingStore,
    NewChunk, NewDocument, Result, UserId, VectorIndex, VectorRecord,
};
use chatstore_sqlite::SqliteStore;
use chatstore_vector::{HnswIndex, IndexConfig};

/// Chunks per document.
const PER_DOCUMENT: usize = 10;

/// The store seen through the trait's default: every embedding, every time.
struct Everything<'a>(&'a SqliteStore);

impl EmbeddingSource for Everything<'_> {
    fn embedding_versions(&self, collection: &str) -> Result<Vec<(ChunkId, u64)>> {
        self.0.embedding_versions(collection)
    }

    fn load_embeddings(&self, collection: &str, chunks: &[ChunkId]) -> Result<Vec<VectorRecord>> {
        self.0.load_embeddings(collection, chunks)
    }
}

/// A deterministic vector for chunk `i`.
fn vector(i: usize, dimension: usize) -> Vec<f32> {
    let mut state = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..dimension)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect()
}

/// Registers and ingests one document of ten chunks.
fn ingest(store: &SqliteStore, user: UserId, n: usize, dimension: usize) -> DocumentId {
    let name = format!("doc-{n}.txt");
    let doc = store
        .create_document(user, &NewDocument::new(&name, &name))
        .expect("document");
    store.start_processing(user, doc.id).expect("start");
    let chunks: Vec<NewChunk> = (0..PER_DOCUMENT)
        .map(|i| NewChunk::new(i as u32, format!("document {n} chunk {i}")))
        .collect();
    let vectors: Vec<Vec<f32>> = (0..PER_DOCUMENT)
        .map(|i| vector(n * PER_DOCUMENT + i, dimension))
        .collect();
    store
        .complete_with_chunks(user, doc.id, "docs", &chunks, &vectors)
        .expect("complete");
    doc.id
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(100_000, |a| a.parse().expect("N"));
    let dimension: usize = args.next().map_or(64, |a| a.parse().expect("D"));
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open(
        test_config()
            .0
            .database_url(dir.path().join("chatstore.db").to_string_lossy()),
    )
    .expect("store");
    let user = bench_user(&store);
    let spec = CollectionSpec::new("docs", dimension as u32, Distance::Cosine).expect("spec");
    store
        .create_embedding_collection(&spec)
        .expect("collection");
    let documents: Vec<DocumentId> = (0..n / PER_DOCUMENT)
        .map(|i| ingest(&store, user, i, dimension))
        .collect();
    let snapshot_version = store
        .embedding_versions("docs")
        .expect("versions")
        .iter()
        .map(|(_, v)| *v)
        .max()
        .unwrap_or(0);
    let vectors = dir.path().join("vectors");
    {
        let index = HnswIndex::new(IndexConfig::new(&vectors)).expect("index");
        index.sync(&spec, &store).expect("first sync");
        index.save().expect("save");
    }
    let changed = documents.len() / 100;
    for doc in &documents[..changed] {
        store.delete_document(user, *doc).expect("delete");
    }
    for i in 0..changed {
        ingest(&store, user, documents.len() + i, dimension);
    }
    for _ in 0..3 {
        let started = Instant::now();
        let changes = store
            .embedding_changes("docs", snapshot_version)
            .expect("changes");
        let changes_ms = started.elapsed().as_secs_f64() * 1000.0;
        let started = Instant::now();
        let all = store.embedding_versions("docs").expect("versions");
        let all_ms = started.elapsed().as_secs_f64() * 1000.0;
        let answered = match changes {
            chatstore::EmbeddingChanges::Since {
                written, removed, ..
            } => written.len() + removed.len(),
            chatstore::EmbeddingChanges::Everything(all) => all.len(),
        };
        println!(
            "{{\"impl\": \"chatstore-sqlite\", \"embeddings\": {n}, \"changes_answered\": {answered}, \"changes_ms\": {changes_ms:.1}, \"every_embedding_answered\": {}, \"every_embedding_ms\": {all_ms:.1}}}",
            all.len()
        );
    }
    for round in 0..3 {
        for (way, source) in [
            ("changes since the snapshot", &store as &dyn EmbeddingSource),
            (
                "every embedding",
                &Everything(&store) as &dyn EmbeddingSource,
            ),
        ] {
            // A copy of the snapshot, so that every sync starts from the same one.
            let copy = dir.path().join(format!("vectors-{round}-{}", way.len()));
            copy_dir(&vectors, &copy);
            let index = HnswIndex::new(IndexConfig::new(&copy)).expect("index");
            let started = Instant::now();
            let report = index.sync(&spec, source).expect("sync");
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "{{\"impl\": \"chatstore-vector\", \"embeddings\": {n}, \"d\": {dimension}, \"changed_documents\": {changed}, \"catch_up\": \"{way}\", \"added\": {}, \"removed\": {}, \"sync_ms\": {:.1}}}",
                report.added,
                report.removed,
                seconds * 1000.0
            );
        }
    }
}

/// A user to own the documents.
fn bench_user(store: &SqliteStore) -> UserId {
    use chatstore::{NewUser, UserStore};
    store
        .create_user(&NewUser::new("bench", "bench@example.com", "password1"))
        .expect("user")
        .id
}

/// Copies a directory of snapshot files.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("create");
    for entry in std::fs::read_dir(from).expect("read") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
    }
}
