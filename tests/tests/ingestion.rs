//! Document ingestion and retrieval through `ChatStore`: chunks, embeddings and vectors
//! land together or not at all; the embedding cache spares the embedder; deletions
//! remove vectors; users see only their own and global chunks; restarts catch up.

use chatstore::chunking::{ChunkingOptions, TextPart};
use chatstore::embeddings::{EmbedError, Embedder};
use chatstore::rbac::roles;
use chatstore::{
    ConversationStore, Document, DocumentScope, DocumentStore, EmbeddingSource, Error,
    MessageStore, NewDocument, ProcessingStatus, RbacStore, User, VectorFilter, VectorIndex,
    sources,
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

/// An embedder that fails in a chosen way.
enum Broken {
    Fails,
    WrongCount,
    WrongDimension,
    NotANumber,
}

impl Embedder for Broken {
    fn model(&self) -> &str {
        "broken"
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let good = |t: &&str| WordEmbedder::vector(t);
        match self {
            Broken::Fails => Err("model server returned 503".into()),
            Broken::WrongCount => Ok(texts.iter().skip(1).map(good).collect()),
            Broken::WrongDimension => Ok(texts.iter().map(|_| vec![1.0; 3]).collect()),
            Broken::NotANumber => Ok(texts
                .iter()
                .map(|t| {
                    let mut v = good(t);
                    v[5] = f32::NAN;
                    v
                })
                .collect()),
        }
    }
}

#[test]
fn a_failed_ingestion_leaves_the_document_failed_and_nothing_half_indexed() {
    let t = TempChat::new();
    let ada = t.register("ada");
    let store = t.chat.store();
    for broken in [
        Broken::Fails,
        Broken::WrongCount,
        Broken::WrongDimension,
        Broken::NotANumber,
    ] {
        let document = upload(&t, &ada, "doc.pdf", DocumentScope::User);
        let error = ingest(&t, &ada, &document, &broken).unwrap_err();
        assert!(matches!(error, Error::Embedder { .. }), "{error:?}");
        let after = store.document(ada.id, document.id).unwrap();
        assert_eq!(after.status, ProcessingStatus::Failed);
        assert_eq!(
            after.error_message.as_deref(),
            Some(error.to_string().as_str())
        );
        assert!(store.chunks(ada.id, document.id).unwrap().is_empty());
        assert_eq!(indexed(&t, &document), 0);
    }
    // Nothing broken was cached: a good embedder is asked for every chunk.
    let embedder = WordEmbedder::default();
    let document = upload(&t, &ada, "doc.pdf", DocumentScope::User);
    assert_eq!(ingest(&t, &ada, &document, &embedder).unwrap().embedded, 3);

    // Blank text fails the document with a validation error.
    let blank = upload(&t, &ada, "blank.pdf", DocumentScope::User);
    let error = t
        .chat
        .ingest_document(
            ada.id,
            blank.id,
            &word_collection(),
            &[TextPart::text("  \n ")],
            &embedder,
            &small(),
        )
        .unwrap_err();
    assert!(matches!(error, Error::Validation { .. }));
    assert_eq!(
        store.document(ada.id, blank.id).unwrap().status,
        ProcessingStatus::Failed
    );

    // A failed re-ingestion keeps the chunks it had; retrieval skips the failed document.
    assert!(ingest(&t, &ada, &document, &Broken::Fails).is_err());
    assert_eq!(store.chunks(ada.id, document.id).unwrap().len(), 3);
    assert_eq!(indexed(&t, &document), 3);
    let found = t
        .chat
        .retrieve(
            &word_collection().name,
            "lost cards",
            5,
            &VectorFilter::user(ada.id),
            &embedder,
        )
        .unwrap();
    assert!(found.is_empty());
    // A document another user cannot change is refused before anything starts.
    let eve = t.register("eve");
    let refused = ingest(&t, &eve, &document, &embedder).unwrap_err();
    assert!(matches!(refused, Error::NotFound { .. }), "{refused:?}");
    assert_eq!(
        store.document(ada.id, document.id).unwrap().status,
        ProcessingStatus::Failed
    );
}

#[test]
fn deleting_documents_and_users_removes_their_vectors() {
    let t = TempChat::new();
    let (ada, eve) = (t.register("ada"), t.register("eve"));
    let embedder = WordEmbedder::default();
    let kept = upload(&t, &ada, "kept.pdf", DocumentScope::User);
    let gone = upload(&t, &ada, "gone.pdf", DocumentScope::User);
    let eves = upload(&t, &eve, "eve.pdf", DocumentScope::User);
    for (user, document) in [(&ada, &kept), (&ada, &gone), (&eve, &eves)] {
        ingest(&t, user, document, &embedder).unwrap();
    }
    t.chat.delete_document(ada.id, gone.id).unwrap();
    assert_eq!(indexed(&t, &gone), 0);
    assert_eq!(indexed(&t, &kept), 3);
    t.chat.delete_user(eve.id).unwrap();
    assert_eq!(indexed(&t, &eves), 0);
    assert_eq!(t.chat.vectors().collections().unwrap()[0].count, 3);
}

#[test]
fn users_retrieve_their_own_and_global_chunks_only() {
    let t = TempChat::new();
    let (ada, eve, root) = (t.register("ada"), t.register("eve"), t.register("root"));
    t.chat.store().assign_role(root.id, roles::ADMIN).unwrap();
    let embedder = WordEmbedder::default();
    let private = upload(&t, &ada, "ada.pdf", DocumentScope::User);
    let global = upload(&t, &root, "policy.pdf", DocumentScope::Global);
    ingest(&t, &ada, &private, &embedder).unwrap();
    ingest(&t, &root, &global, &embedder).unwrap();

    let question = "lost cards reported";
    let ask = |filter: &VectorFilter| {
        t.chat
            .retrieve(&word_collection().name, question, 10, filter, &embedder)
            .unwrap()
    };
    let eves = ask(&VectorFilter::user(eve.id));
    assert_eq!(eves.len(), 3);
    assert!(eves.iter().all(|r| r.document.id == global.id));
    let adas = ask(&VectorFilter::user(ada.id));
    assert_eq!(adas.len(), 6);
    // Naming Ada's document in Eve's selection changes nothing.
    let sneaky = VectorFilter {
        documents: Some(vec![private.id]),
        ..VectorFilter::user(eve.id)
    };
    assert!(ask(&sneaky).is_empty());
    // A conversation's selection narrows Ada's search to that document.
    let mut conversation = t
        .chat
        .store()
        .create_conversation(ada.id, &chatstore::NewConversation::titled("q"))
        .unwrap();
    conversation.selected_document_ids = vec![private.id];
    let selected = ask(&VectorFilter::for_conversation(&conversation));
    assert!(selected.len() == 3 && selected.iter().all(|r| r.document.id == private.id));
}

#[test]
fn a_restarted_store_catches_up_its_index_from_the_database() {
    let t = TempChat::new();
    let ada = t.register("ada");
    let embedder = WordEmbedder::default();
    let first = upload(&t, &ada, "first.pdf", DocumentScope::User);
    let second = upload(&t, &ada, "second.pdf", DocumentScope::User);
    ingest(&t, &ada, &first, &embedder).unwrap();
    ingest(&t, &ada, &second, &embedder).unwrap();
    let location = t.location;
    drop(t.chat);

    // Nothing was saved: the index is rebuilt from the store.
    let t = TempChat::open(location);
    assert_eq!(indexed(&t, &first), 3);
    t.chat.vectors().save().unwrap();
    // While the index is closed, the store alone deletes a document.
    let location = t.location;
    drop(t.chat);
    let config = chatstore::conformance::test_config().0;
    let store = location.open_sqlite(config).unwrap();
    store.delete_document(ada.id, second.id).unwrap();
    drop(store);

    let t = TempChat::open(location);
    assert_eq!(indexed(&t, &second), 0);
    assert_eq!(indexed(&t, &first), 3);
    let found = t
        .chat
        .retrieve(
            &word_collection().name,
            "joint accounts",
            1,
            &VectorFilter::user(ada.id),
            &embedder,
        )
        .unwrap();
    assert_eq!(found[0].document.id, first.id);
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

/// An answer's citations survive re-ingestion: chunks whose text did not change keep
/// their ids and resolve; the changed one says it is gone, with the text the answer
/// saw; after the document is deleted every citation says so, and none fails.
#[test]
fn citations_stay_resolvable_after_reingestion() {
    let t = TempChat::new();
    let ada = t.register("ada");
    let embedder = WordEmbedder::default();
    let handbook = upload(&t, &ada, "handbook.pdf", DocumentScope::User);
    let first = ingest(&t, &ada, &handbook, &embedder).unwrap();
    let chat = t
        .chat
        .store()
        .create_conversation(ada.id, &chatstore::NewConversation::titled("cards"))
        .unwrap();
    let answer = t
        .chat
        .store()
        .append_message(
            ada.id,
            chat.id,
            &chatstore::NewMessage::assistant("See the handbook.").with_metadata(
                chatstore::MessageMetadata {
                    retrieved_documents: first
                        .chunks
                        .iter()
                        .map(|chunk| chatstore::RetrievedDocument {
                            document_id: handbook.id,
                            chunk_id: chunk.id,
                            content: chunk.content.clone(),
                            similarity_score: 0.5,
                            page_number: chunk.page_number,
                        })
                        .collect(),
                    ..chatstore::MessageMetadata::default()
                },
            ),
        )
        .unwrap();

    let mut text = pages();
    text[1].text = "Savings accounts now pay interest weekly.".into();
    let second = t
        .chat
        .ingest_document(
            ada.id,
            handbook.id,
            &word_collection(),
            &text,
            &embedder,
            &small(),
        )
        .unwrap();
    assert_eq!(
        second.chunks[0].id, first.chunks[0].id,
        "unchanged text keeps its id"
    );
    assert_eq!(second.chunks[2].id, first.chunks[2].id);
    assert_ne!(second.chunks[1].id, first.chunks[1].id);

    let citations = t.chat.citations(ada.id, answer.id).unwrap();
    assert_eq!(citations.len(), 3);
    for (i, citation) in citations.iter().enumerate() {
        assert_eq!(citation.recorded.content, first.chunks[i].content);
        match (i, &citation.chunk) {
            (1, None) => {}
            (0 | 2, Some(chunk)) => assert_eq!(chunk, &second.chunks[i]),
            (_, other) => panic!("citation {i}: {other:?}"),
        }
    }
    let found = t
        .chat
        .retrieve(
            &word_collection().name,
            "lost cards replacement",
            1,
            &VectorFilter::user(ada.id),
            &embedder,
        )
        .unwrap();
    assert_eq!(
        found[0].chunk.id, first.chunks[2].id,
        "the index follows the kept ids"
    );

    t.chat.delete_document(ada.id, handbook.id).unwrap();
    let gone = t.chat.citations(ada.id, answer.id).unwrap();
    assert!(gone.iter().all(|c| c.chunk.is_none()));
    assert_eq!(gone[0].recorded.content, first.chunks[0].content);
    assert!(matches!(
        t.chat.citations(t.register("bob").id, answer.id),
        Err(Error::NotFound { .. })
    ));
}
