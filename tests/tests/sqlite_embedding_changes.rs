//! The SQLite store answers `embedding_changes` with only what changed while it holds
//! every removal since the version asked about, and with everything once it forgot some
//! of them or when the version is one this file never reached.

use chatstore::{
    Clock, CollectionSpec, Distance, DocumentStore, EmbeddingChanges, EmbeddingSource,
    EmbeddingStore, NewChunk, NewDocument, SystemStore,
};
use chatstore_tests::TempSqlite;
use std::time::Duration;

const DAY: Duration = Duration::from_secs(24 * 3600);

#[test]
fn changes_are_incremental_until_removals_are_forgotten() {
    let db = TempSqlite::new();
    let (config, clock) = chatstore::conformance::test_config();
    let store = db.open_sqlite(config).expect("opens");
    let ada = chatstore_tests::writer(&store);
    let spec = CollectionSpec::new("docs", 2, Distance::L2).expect("spec");
    store
        .create_embedding_collection(&spec)
        .expect("collection");
    let ingest = |name: &str, texts: &[&str]| {
        let doc = store
            .create_document(ada.id, &NewDocument::new(name, name))
            .expect("document");
        store.start_processing(ada.id, doc.id).expect("start");
        let chunks: Vec<NewChunk> = (0u32..)
            .zip(texts)
            .map(|(i, t)| NewChunk::new(i, *t))
            .collect();
        let vectors: Vec<Vec<f32>> = texts.iter().map(|_| vec![1.0, 2.0]).collect();
        store
            .complete_with_chunks(ada.id, doc.id, "docs", &chunks, &vectors)
            .expect("complete")
            .0
    };
    let kept = ingest("a.txt", &["one", "two"]);
    let gone = ingest("b.txt", &["three"]);
    let EmbeddingChanges::Everything(all) = store.embedding_changes("docs", 0).expect("changes")
    else {
        panic!("from version 0 the answer is everything");
    };
    let reached = all.iter().map(|(_, v)| *v).max().expect("versions");

    store.delete_document(ada.id, gone.id).expect("delete");
    let EmbeddingChanges::Since {
        written,
        removed,
        latest,
    } = store.embedding_changes("docs", reached).expect("changes")
    else {
        panic!("every removal since is known: only the changes");
    };
    assert!(written.is_empty());
    assert_eq!(removed.len(), 1, "the deleted document's chunk");
    assert!(latest > reached, "a removal takes a version of its own");
    assert!(
        matches!(
            store
                .embedding_changes("docs", latest + 1)
                .expect("changes"),
            EmbeddingChanges::Everything(_)
        ),
        "a version past this file's history gets everything"
    );

    // The first call only marks where the history stands; a later call, past the
    // retention, forgets the removals before that mark.
    assert_eq!(
        store
            .forget_embedding_removals(clock.now() - DAY)
            .expect("forget"),
        0
    );
    clock.advance(2 * DAY);
    assert_eq!(
        store
            .forget_embedding_removals(clock.now() - DAY)
            .expect("forget"),
        1
    );
    let EmbeddingChanges::Everything(left) =
        store.embedding_changes("docs", reached).expect("changes")
    else {
        panic!("a removal since that version was forgotten: everything");
    };
    assert_eq!(left.len(), 2);
    assert!(
        matches!(
            store.embedding_changes("docs", latest).expect("changes"),
            EmbeddingChanges::Since { .. }
        ),
        "from the version after the forgotten removal, changes are exact again"
    );
    assert_eq!(store.chunks(ada.id, kept.id).expect("chunks").len(), 2);
}
