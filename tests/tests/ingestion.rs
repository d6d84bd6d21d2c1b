//! Document ingestion and retrieval through `ChatStore` on the SQLite stack, with an
//! embedder whose vectors follow the words: answers with sources, the embedding cache
//! sparing the embedder and telling no user about another, and collection names kept
//! inside the vectors directory. What any combination of backends must show (failed
//! ingestions leaving nothing half-written, deletions removing vectors, users seeing
//! only their own and global chunks, citations, restarts catching up) is checked by the
//! chat conformance suite (`chat_conformance.rs`).

use chatstore::chunking::{ChunkingOptions, TextPart};
use chatstore::embeddings::Embedder;
use chatstore::{
    Document, DocumentScope, DocumentStore, EmbeddingSource, NewDocument, ProcessingStatus, User,
    VectorFilter, VectorIndex, sources,
};
use chatstore_tests::{TempChat, WordEmbedder, word_collection};

const HANDBOOK: [&str; 3] = [
    "Joint accounts require two verified adults. Both holders must pass the identity check.",
    "Savings accounts pay interest monthly. The interest rate depends on the balance held.",
    "Lost cards must be reported within two days. A replacement card arrives by post.",
];

fn pages() -> Vec<TextPart> {
    (1..)
        .zip(HANDBOOK)
        .map(|(n, text)| TextPart::page(text, n))
        .collect()
}

fn small() -> ChunkingOptions {
    ChunkingOptions {
        size: 100,
        overlap: 20,
    }
}

fn upload(t: &TempChat, user: &User, name: &str, scope: DocumentScope) -> Document {
    let new = NewDocument {
        scope,
        ..NewDocument::new(name, &format!("/files/{name}"))
    };
    t.chat
        .store()
        .create_document(user.id, &new)
        .expect("document")
}

fn ingest(
    t: &TempChat,
    user: &User,
    document: &Document,
    embedder: &dyn Embedder,
) -> chatstore::Result<chatstore::Ingested> {
    t.chat.ingest_document(
        user.id,
        document.id,
        &word_collection(),
        &pages(),
        embedder,
        &small(),
    )
}

fn indexed(t: &TempChat, document: &Document) -> usize {
    let chunks = t
        .chat
        .store()
        .embedding_versions(&word_collection().name)
        .unwrap_or_default();
    let ids: Vec<_> = chunks.iter().map(|(c, _)| *c).collect();
    let stored = t
        .chat
        .store()
        .load_embeddings(&word_collection().name, &ids)
        .unwrap_or_default();
    let in_store = stored.iter().filter(|r| r.document == document.id).count();
    let in_index = t
        .chat
        .vectors()
        .get(&word_collection().name, &ids)
        .unwrap_or_default();
    let in_index = in_index
        .iter()
        .filter(|r| r.document == document.id)
        .count();
    assert_eq!(in_store, in_index, "store and index disagree");
    in_store
}

#[test]
fn a_document_is_chunked_embedded_indexed_and_answers_with_sources() {
    let t = TempChat::new();
    let ada = t.register("ada");
    let handbook = upload(&t, &ada, "handbook.pdf", DocumentScope::User);
    let embedder = WordEmbedder::default();
    let done = ingest(&t, &ada, &handbook, &embedder).unwrap();

    assert_eq!(done.document.status, ProcessingStatus::Completed);
    assert_eq!(done.document.num_chunks, 3);
    assert_eq!((done.embedded, done.cached), (3, 0));
    let pages: Vec<Option<u32>> = done.chunks.iter().map(|c| c.page_number).collect();
    assert_eq!(pages, [Some(1), Some(2), Some(3)]);
    assert_eq!(done.chunks[2].num_tokens, Some(14));
    assert_eq!(
        t.chat.store().document(ada.id, handbook.id).unwrap(),
        done.document
    );
    assert_eq!(indexed(&t, &handbook), 3);

    let found = t
        .chat
        .retrieve(
            &word_collection().name,
            "How fast must lost cards be reported?",
            2,
            &VectorFilter::user(ada.id),
            &embedder,
        )
        .unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].chunk.content, HANDBOOK[2]);
    assert!(found[0].score > found[1].score);
    let cited = found[0].retrieved_document();
    assert_eq!(
        (cited.document_id, cited.page_number),
        (handbook.id, Some(3))
    );
    let sources = sources(&found);
    assert_eq!(sources.len(), 1, "one source per document");
    assert_eq!(sources[0].filename, "handbook.pdf");
    assert_eq!(sources[0].page, Some(3));
    assert_eq!(sources[0].cited_text.as_deref(), Some(HANDBOOK[2]));
}

#[test]
fn unchanged_text_is_never_embedded_twice() {
    let t = TempChat::new();
    let ada = t.register("ada");
    let embedder = WordEmbedder::default();
    let first = upload(&t, &ada, "a.pdf", DocumentScope::User);
    ingest(&t, &ada, &first, &embedder).unwrap();
    assert_eq!(embedder.embedded(), 3);

    // The same text in another document, and the same document again: all cached.
    let copy = upload(&t, &ada, "copy.pdf", DocumentScope::User);
    let again = ingest(&t, &ada, &copy, &embedder).unwrap();
    assert_eq!((again.embedded, again.cached), (0, 3));
    let redo = ingest(&t, &ada, &first, &embedder).unwrap();
    assert_eq!((redo.embedded, redo.cached), (0, 3));
    assert_eq!(embedder.embedded(), 3);
    assert_eq!(indexed(&t, &first), 3);

    // One page changed: only it is embedded.
    let mut text = pages();
    text[1].text = "Savings accounts now pay interest weekly.".into();
    let changed = t
        .chat
        .ingest_document(
            ada.id,
            first.id,
            &word_collection(),
            &text,
            &embedder,
            &small(),
        )
        .unwrap();
    assert_eq!((changed.embedded, changed.cached), (1, 2));
    assert_eq!(embedder.embedded(), 4);
}

/// The cache is each owner's own: Bob ingesting the very text Ada ingested is told
/// nothing about her (no cached chunks, every token billed), while Ada's own repeat
/// costs nothing. (A shared cache once reported `cached=2` to the second user.)
#[test]
fn the_embedding_cache_tells_no_user_what_another_embedded() {
    let t = TempChat::new();
    let (ada, bob) = (t.register("ada"), t.register("bob"));
    let embedder = WordEmbedder::default();
    let hers = ingest(
        &t,
        &ada,
        &upload(&t, &ada, "a.pdf", DocumentScope::User),
        &embedder,
    )
    .unwrap();
    assert_eq!((hers.embedded, hers.cached), (3, 0));
    let words: u64 = HANDBOOK
        .iter()
        .map(|page| page.split_whitespace().count() as u64)
        .sum();
    assert_eq!(hers.embedded_tokens, words);

    let his = ingest(
        &t,
        &bob,
        &upload(&t, &bob, "b.pdf", DocumentScope::User),
        &embedder,
    )
    .unwrap();
    assert_eq!(
        (his.embedded, his.cached, his.embedded_tokens),
        (3, 0, words)
    );
    assert_eq!(embedder.embedded(), 6, "Bob's text was embedded for him");

    let again = ingest(
        &t,
        &ada,
        &upload(&t, &ada, "c.pdf", DocumentScope::User),
        &embedder,
    )
    .unwrap();
    assert_eq!(
        (again.embedded, again.cached, again.embedded_tokens),
        (0, 3, 0)
    );
}

/// `ChatStore::drop_collection` and `create_collection` refuse names that could leave
/// the vectors directory before touching the store or any file.
#[test]
fn collection_names_cannot_reach_outside_the_vectors_directory() {
    let t = TempChat::new();
    let victim = t.location.dir().join("rel-victim.csvx");
    std::fs::write(&victim, b"not ours").expect("victim file");
    let absolute = t.location.dir().join("rel-victim");
    for name in ["../rel-victim", &absolute.to_string_lossy()] {
        assert!(
            matches!(
                t.chat.drop_collection(name),
                Err(chatstore::Error::Validation {
                    field: "collection",
                    ..
                })
            ),
            "{name:?}"
        );
        let spec = chatstore::CollectionSpec {
            name: name.to_owned(),
            dimension: 4,
            distance: chatstore::Distance::Cosine,
        };
        assert!(t.chat.create_collection(&spec).is_err(), "{name:?}");
    }
    assert_eq!(std::fs::read(&victim).expect("still there"), b"not ours");
    let store: &dyn chatstore::EmbeddingStore = t.chat.store();
    assert!(
        store
            .embedding_collections()
            .expect("collections")
            .is_empty()
    );
}
