//! Two application servers on one PostgreSQL database, each with its own vector index
//! and files: what one ingests, the other retrieves once it has caught up
//! (`ChatStore::catch_up`, which a server runs on a timer); what one deletes, the other
//! never returns, before or after catching up.

mod common;

use chatstore::chunking::{ChunkingOptions, TextPart};
use chatstore::embeddings::{EmbedError, Embedder};
use chatstore::{
    ChatStore, CollectionSpec, Distance, DocumentStore, NewDocument, NewUser, UserStore,
    VectorFilter,
};
use chatstore_blob::{BlobConfig, SqliteBlobStore};
use chatstore_postgres::PgStore;
use chatstore_vector::{HnswIndex, IndexConfig};
use common::TempSchema;

/// Letter counts: texts about different things point in different directions.
struct Letters;

impl Embedder for Letters {
    fn model(&self) -> &str {
        "letters-v1"
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(texts
            .iter()
            .map(|text| {
                let mut v = vec![0.01; 26];
                for b in text.bytes().filter(u8::is_ascii_lowercase) {
                    v[usize::from(b - b'a')] += 1.0;
                }
                v
            })
            .collect())
    }
}

type Server = ChatStore<PgStore, SqliteBlobStore, HnswIndex>;

/// A server: the shared database, and files and an index of its own.
fn server(schema: &TempSchema, dir: &std::path::Path) -> Server {
    let config = schema.config();
    let blobs = BlobConfig::new(dir.join("files.db")).clock(config.clock.clone());
    ChatStore::new(
        PgStore::open_with(config, &schema.options()).expect("store"),
        SqliteBlobStore::open(blobs).expect("blobs"),
        HnswIndex::new(IndexConfig::new(dir.join("vectors"))).expect("index"),
    )
    .expect("server")
}

#[test]
fn what_one_server_ingests_the_other_finds_after_catching_up_and_deletions_never_return() {
    let Some(schema) = TempSchema::new() else {
        return;
    };
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let a = server(&schema, dir_a.path());
    let b = server(&schema, dir_b.path());
    let ada = a
        .store()
        .create_user(&NewUser::new("ada", "ada@example.com", "correct horse"))
        .expect("user");
    let spec = CollectionSpec::new("docs", 26, Distance::Cosine).expect("spec");
    let doc = a
        .store()
        .create_document(ada.id, &NewDocument::new("zoo.txt", "zoo.txt"))
        .expect("document");
    let text = [TextPart::text("zebras zigzag in the zoo, buzzing jazz")];
    a.ingest_document(
        ada.id,
        doc.id,
        &spec,
        &text,
        &Letters,
        &ChunkingOptions::default(),
    )
    .expect("ingested on A");
    let filter = VectorFilter::user(ada.id);
    let found_by = |server: &Server| {
        server
            .retrieve("docs", "zebra jazz zoo", 3, &filter, &Letters)
            .map(|hits| hits.iter().map(|h| h.document.id).collect::<Vec<_>>())
    };
    assert_eq!(found_by(&a).expect("A retrieves"), [doc.id]);

    // B learned of the collection and the document when it catches up.
    let reports = b.catch_up().expect("B catches up");
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].1.added, 1, "{reports:?}");
    assert_eq!(found_by(&b).expect("B retrieves"), [doc.id]);

    // Deleted through A: B never returns it, neither before nor after catching up.
    a.delete_document(ada.id, doc.id).expect("deleted on A");
    assert!(found_by(&a).expect("A retrieves").is_empty());
    assert!(
        found_by(&b)
            .expect("B retrieves before catching up")
            .is_empty()
    );
    let reports = b.catch_up().expect("B catches up");
    assert_eq!(reports[0].1.removed, 1, "{reports:?}");
    assert!(found_by(&b).expect("B retrieves").is_empty());

    // A collection dropped through A goes from B's index too.
    a.drop_collection("docs").expect("dropped on A");
    assert!(b.catch_up().expect("B catches up").is_empty());
    assert!(
        chatstore::VectorIndex::collections(b.vectors())
            .expect("collections")
            .is_empty()
    );
}

#[test]
fn a_server_listening_wakes_when_the_other_ingests_and_then_finds_the_document() {
    let Some(schema) = TempSchema::new() else {
        return;
    };
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let a = server(&schema, dir_a.path());
    let b = server(&schema, dir_b.path());
    let mut listener = b.store().listen_for_embedding_changes().expect("listens");
    assert!(
        !listener
            .wait(std::time::Duration::from_millis(50))
            .expect("waits"),
        "nothing changed yet"
    );
    let ada = a
        .store()
        .create_user(&NewUser::new("ada", "ada@example.com", "correct horse"))
        .expect("user");
    let spec = CollectionSpec::new("docs", 26, Distance::Cosine).expect("spec");
    let doc = a
        .store()
        .create_document(ada.id, &NewDocument::new("zoo.txt", "zoo.txt"))
        .expect("document");
    let text = [TextPart::text("zebras zigzag in the zoo, buzzing jazz")];
    a.ingest_document(
        ada.id,
        doc.id,
        &spec,
        &text,
        &Letters,
        &ChunkingOptions::default(),
    )
    .expect("ingested on A");
    // The announcement is delivered when A's transaction commits; the generous
    // timeout only bounds a failure, it is not what is measured.
    assert!(
        listener
            .wait(std::time::Duration::from_secs(30))
            .expect("waits"),
        "the ingestion was announced"
    );
    b.catch_up().expect("B catches up");
    let hits = b
        .retrieve(
            "docs",
            "zebra jazz zoo",
            3,
            &VectorFilter::user(ada.id),
            &Letters,
        )
        .expect("B retrieves");
    assert_eq!(
        hits.iter().map(|h| h.document.id).collect::<Vec<_>>(),
        [doc.id]
    );
}
