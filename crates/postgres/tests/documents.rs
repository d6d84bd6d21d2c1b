//! Documents and chunks, embeddings and their versions, agent logs and usage on
//! PostgreSQL, against the real server, beside the conformance suite
//! (`tests/conformance.rs`): the PostgreSQL-specific parts, such as versions that follow
//! commit order and several writers claiming one document at once.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use chatstore::embeddings::cache_key;
use chatstore::{
    AgentLogStore, AgentStatus, ChunkId, CollectionSpec, ConflictKind, ConversationId, Distance,
    Document, DocumentAnalysis, DocumentQuery, DocumentScope, DocumentStore, DocumentUpdate,
    EmbeddingChanges, EmbeddingSource, EmbeddingStore, Error, ManualClock, MessageId, NewAgentLog,
    NewChunk, NewDocument, NewUsage, NewUser, OperationType, ProcessingStatus, RbacStore,
    TimeRange, Timestamp, UsageStore, User, UserId, UserStore,
};
use chatstore_postgres::PgStore;
use common::TempSchema;

const DOCS: &str = "docs";

/// The store in the test's schema, and its clock.
fn open(schema: &TempSchema) -> (PgStore, ManualClock) {
    let (config, clock) = chatstore::conformance::test_config();
    let store = PgStore::open_with(config.database_url(schema.url.clone()), &schema.options())
        .expect("opens");
    (store, clock)
}

fn user(store: &PgStore, name: &str) -> User {
    store
        .create_user(&NewUser::new(
            name,
            &format!("{name}@example.com"),
            "correct horse",
        ))
        .expect("registers")
}

fn admin(store: &PgStore, name: &str) -> User {
    let admin = user(store, name);
    store.assign_role(admin.id, "admin").expect("made admin");
    admin
}

fn document(store: &PgStore, owner: UserId, filename: &str) -> Document {
    store
        .create_document(
            owner,
            &NewDocument::new(filename, &format!("/files/{filename}")),
        )
        .expect("document created")
}

fn global(store: &PgStore, owner: UserId, filename: &str) -> Result<Document, Error> {
    let mut new = NewDocument::new(filename, &format!("/files/{filename}"));
    new.scope = DocumentScope::Global;
    store.create_document(owner, &new)
}

fn chunks(texts: &[&str], from: u32) -> Vec<NewChunk> {
    texts
        .iter()
        .zip(from..)
        .map(|(text, i)| NewChunk {
            num_tokens: Some(10 + i),
            ..NewChunk::new(i, *text)
        })
        .collect()
}

/// A vector for a text: three components, none zero.
fn vector_of(text: &str, salt: u32) -> Vec<f32> {
    let seed = text.bytes().map(u32::from).sum::<u32>() + salt;
    vec![1.0 + seed as f32, 2.0, 0.5 * (salt + 1) as f32]
}

/// Processes the document with these chunk texts, embedded in `docs`.
fn embed(
    store: &PgStore,
    user: UserId,
    document: &Document,
    salt: u32,
    texts: &[&str],
) -> Vec<chatstore::Chunk> {
    store.start_processing(user, document.id).expect("start");
    let new = chunks(texts, 0);
    let vectors: Vec<Vec<f32>> = texts.iter().map(|t| vector_of(t, salt)).collect();
    let (completed, stored) = store
        .complete_with_chunks(user, document.id, DOCS, &new, &vectors)
        .expect("complete with chunks");
    assert_eq!(completed.status, ProcessingStatus::Completed);
    assert_eq!(completed.num_chunks as usize, texts.len());
    stored
}

fn docs_collection(store: &PgStore) {
    store
        .create_embedding_collection(&CollectionSpec::new(DOCS, 3, Distance::Cosine).expect("spec"))
        .expect("collection");
}

/// A conversation of the user's, made directly (the conversation store is not in yet).
fn conversation(schema: &mut TempSchema, user: UserId) -> ConversationId {
    let id = ConversationId::new();
    schema.execute(&format!(
        "INSERT INTO conversations (id, user_id, created_at, updated_at, last_activity_at)
         VALUES ('{id}', '{user}', now(), now(), now())"
    ));
    id
}

/// A message in the conversation, made directly.
fn message(schema: &mut TempSchema, conversation: ConversationId, seq: i64) -> MessageId {
    let id = MessageId::new();
    schema.execute(&format!(
        "INSERT INTO messages (id, conversation_id, seq, role, content, created_at, search_vector)
         VALUES ('{id}', '{conversation}', {seq}, 'user', 'hello', now(), 'hello')"
    ));
    id
}

fn is_not_found<T: std::fmt::Debug>(result: Result<T, Error>) -> bool {
    matches!(result, Err(Error::NotFound { .. }))
}

fn is_invalid_state<T: std::fmt::Debug>(result: Result<T, Error>) -> bool {
    matches!(
        result,
        Err(Error::Conflict {
            kind: ConflictKind::InvalidState,
            ..
        })
    )
}

fn is_forbidden<T: std::fmt::Debug>(result: Result<T, Error>) -> bool {
    matches!(result, Err(Error::Forbidden { .. }))
}

#[test]
fn documents_are_created_listed_updated_and_processed() {
    let Some(mut schema) = TempSchema::new() else {
        return;
    };
    let (store, clock) = open(&schema);
    let ada = user(&store, "ada");
    let bob = user(&store, "bob");
    let root = admin(&store, "root");

    let mut made = Vec::new();
    for name in ["a.pdf", "b.pdf", "c.pdf"] {
        made.push(document(&store, ada.id, name));
        clock.advance(Duration::from_secs(1));
    }
    let first = &made[0];
    assert_eq!(first.status, ProcessingStatus::Pending);
    assert_eq!((first.title.as_str(), first.num_chunks), ("a.pdf", 0));
    assert_eq!(store.document(ada.id, first.id).expect("read"), *first);

    // Newest first, two to a page.
    let query = DocumentQuery {
        limit: 2,
        ..DocumentQuery::default()
    };
    let page = store.list_documents(ada.id, &query).expect("page 1");
    let names: Vec<&str> = page.items.iter().map(|d| d.filename.as_str()).collect();
    assert_eq!(names, ["c.pdf", "b.pdf"]);
    let next = DocumentQuery {
        cursor: page.next.clone(),
        ..query.clone()
    };
    let page = store.list_documents(ada.id, &next).expect("page 2");
    let names: Vec<&str> = page.items.iter().map(|d| d.filename.as_str()).collect();
    assert_eq!(names, ["a.pdf"]);
    assert!(page.next.is_none());
    assert!(
        store
            .list_documents(bob.id, &DocumentQuery::default())
            .expect("bob's list")
            .is_empty()
    );

    // Another user's private document is not found, to read or to change.
    assert!(is_not_found(store.document(bob.id, first.id)));
    assert!(is_not_found(store.start_processing(bob.id, first.id)));
    assert!(is_not_found(store.update_document(
        bob.id,
        first.id,
        &DocumentUpdate::default()
    )));
    assert!(is_not_found(store.delete_document(bob.id, first.id)));

    // A global document: admin:full to create or change, everyone reads it.
    assert!(is_forbidden(global(&store, ada.id, "handbook.pdf")));
    let handbook = global(&store, root.id, "handbook.pdf").expect("admin creates");
    assert_eq!(
        store.document(ada.id, handbook.id).expect("visible").id,
        handbook.id
    );
    let retitle = DocumentUpdate {
        title: Some("Handbook".into()),
        ..DocumentUpdate::default()
    };
    assert!(is_forbidden(store.update_document(
        ada.id,
        handbook.id,
        &retitle
    )));
    assert!(is_forbidden(store.start_processing(ada.id, handbook.id)));
    assert_eq!(
        store
            .update_document(root.id, handbook.id, &retitle)
            .expect("admin")
            .title,
        "Handbook"
    );
    let scoped = DocumentQuery {
        scope: Some(DocumentScope::Global),
        ..DocumentQuery::default()
    };
    let listed = store.list_documents(bob.id, &scoped).expect("globals");
    assert_eq!(listed.items.len(), 1);

    // Updates: unchanged, cleared and replaced fields.
    let described = store
        .update_document(
            ada.id,
            first.id,
            &DocumentUpdate {
                description: Some(Some("quarterly".into())),
                category: Some(Some("finance".into())),
                tags: Some(vec!["tax".into(), "2026".into()]),
                ..DocumentUpdate::default()
            },
        )
        .expect("update");
    assert_eq!(described.description.as_deref(), Some("quarterly"));
    assert_eq!(described.tags, ["tax", "2026"]);
    let cleared = store
        .update_document(
            ada.id,
            first.id,
            &DocumentUpdate {
                description: Some(None),
                ..DocumentUpdate::default()
            },
        )
        .expect("clear");
    assert_eq!(cleared.description, None);
    assert_eq!(cleared.category.as_deref(), Some("finance"));
    assert_eq!(cleared.tags, ["tax", "2026"]);

    let analysed = store
        .set_document_analysis(
            ada.id,
            first.id,
            &DocumentAnalysis {
                auto_summary: Some("A summary.".into()),
                auto_keywords: vec!["tax".into()],
                auto_topics: vec!["finance".into(), "law".into()],
                content_type: Some("legal".into()),
                summarization_model: Some("m".into()),
                summarization_tokens: Some(1234),
            },
        )
        .expect("analysis");
    assert_eq!(analysed.auto_topics, ["finance", "law"]);
    assert_eq!(analysed.summarization_tokens, Some(1234));
    assert!(analysed.summarized_at.is_some());

    // The lifecycle, and chunks only while processing.
    assert!(is_invalid_state(
        store.complete_processing(ada.id, first.id)
    ));
    assert!(is_invalid_state(store.add_chunks(
        ada.id,
        first.id,
        &chunks(&["x"], 0)
    )));
    let started = store.start_processing(ada.id, first.id).expect("start");
    assert_eq!(started.status, ProcessingStatus::Processing);
    assert!(is_invalid_state(store.start_processing(ada.id, first.id)));
    let added = store
        .add_chunks(ada.id, first.id, &chunks(&["one", "two"], 0))
        .expect("add");
    let more = store
        .add_chunks(ada.id, first.id, &chunks(&["three"], 2))
        .expect("add more");
    assert!(matches!(
        store.add_chunks(ada.id, first.id, &chunks(&["again"], 1)),
        Err(Error::Conflict {
            kind: ConflictKind::Unique,
            ..
        })
    ));
    let completed = store
        .complete_processing(ada.id, first.id)
        .expect("complete");
    assert_eq!(completed.status, ProcessingStatus::Completed);
    assert_eq!(
        (completed.num_chunks, completed.num_tokens),
        (3, 10 + 11 + 12)
    );
    assert!(completed.processed_at.is_some());
    assert!(is_invalid_state(
        store.fail_processing(ada.id, first.id, "late")
    ));

    let listed = store.chunks(ada.id, first.id).expect("chunks");
    let texts: Vec<&str> = listed.iter().map(|k| k.content.as_str()).collect();
    assert_eq!(texts, ["one", "two", "three"]);
    assert_eq!(listed[0], added[0]);
    assert!(is_not_found(store.chunks(bob.id, first.id)));
    let asked = [more[0].id, ChunkId::new(), added[0].id, added[1].id];
    let by_ids: Vec<ChunkId> = store
        .chunks_by_ids(ada.id, &asked)
        .expect("by ids")
        .iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(by_ids, [more[0].id, added[0].id, added[1].id]);
    assert!(
        store
            .chunks_by_ids(bob.id, &asked)
            .expect("bob's")
            .is_empty()
    );

    // Failing, then reprocessing from scratch.
    store.start_processing(ada.id, first.id).expect("reprocess");
    let failed = store
        .fail_processing(ada.id, first.id, " parser crashed\n")
        .expect("fail");
    assert_eq!(failed.status, ProcessingStatus::Failed);
    assert_eq!(failed.error_message.as_deref(), Some("parser crashed"));
    let retried = store.start_processing(ada.id, first.id).expect("retry");
    assert_eq!(retried.error_message, None);
    assert_eq!(
        store
            .delete_chunks(ada.id, first.id)
            .expect("delete chunks"),
        3
    );
    assert!(store.chunks(ada.id, first.id).expect("none").is_empty());

    // Deleting a document unselects it from conversations.
    let talk = conversation(&mut schema, ada.id);
    let kept = made[1].id;
    schema.execute(&format!(
        "UPDATE conversations SET selected_document_ids = '[\"{}\", \"{kept}\"]' WHERE id = '{talk}'",
        first.id
    ));
    let cleanup = store.delete_document(ada.id, first.id).expect("delete");
    assert_eq!(cleanup.documents, [first.id]);
    assert!(is_not_found(store.document(ada.id, first.id)));
    assert_eq!(
        schema.texts("SELECT selected_document_ids::text FROM conversations"),
        [format!("[\"{kept}\"]")]
    );
    assert!(is_forbidden(store.delete_document(ada.id, handbook.id)));
    store
        .delete_document(root.id, handbook.id)
        .expect("admin deletes");
}

#[test]
fn completing_with_chunks_keeps_unchanged_ids_and_replaces_embeddings() {
    let Some(schema) = TempSchema::new() else {
        return;
    };
    let (store, _clock) = open(&schema);
    let ada = user(&store, "ada");
    let root = admin(&store, "root");
    docs_collection(&store);
    docs_collection(&store);
    assert!(matches!(
        store.create_embedding_collection(
            &CollectionSpec::new(DOCS, 4, Distance::Cosine).expect("spec")
        ),
        Err(Error::Conflict {
            kind: ConflictKind::Unique,
            ..
        })
    ));
    store
        .create_embedding_collection(&CollectionSpec::new("other", 2, Distance::L2).expect("spec"))
        .expect("other");
    let names: Vec<String> = store
        .embedding_collections()
        .expect("collections")
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["docs", "other"]);
    assert!(is_not_found(store.embedding_versions("missing")));

    let doc = document(&store, ada.id, "a.pdf");
    let first = embed(&store, ada.id, &doc, 0, &["a", "b", "c"]);
    assert_eq!(
        first[0].embedding_id,
        Some(format!("{DOCS}/{}", first[0].id))
    );
    let versions = store.embedding_versions(DOCS).expect("versions");
    let ids: Vec<ChunkId> = versions.iter().map(|(c, _)| *c).collect();
    assert_eq!(ids, first.iter().map(|k| k.id).collect::<Vec<_>>());
    let loaded = store
        .load_embeddings(DOCS, &[first[2].id, ChunkId::new(), first[0].id])
        .expect("load");
    assert_eq!(loaded.len(), 2);
    for record in &loaded {
        assert_eq!(record.owner, Some(ada.id));
        assert_eq!(record.document, doc.id);
        let text = &first
            .iter()
            .find(|k| k.id == record.chunk)
            .expect("asked")
            .content;
        assert_eq!(record.vector, vector_of(text, 0));
    }

    // Bad vectors change nothing.
    store.start_processing(ada.id, doc.id).expect("reprocess");
    let bad = store.complete_with_chunks(
        ada.id,
        doc.id,
        DOCS,
        &chunks(&["a", "z"], 0),
        &[vector_of("a", 1), vec![1.0, 2.0]],
    );
    assert!(matches!(bad, Err(Error::Validation { .. })));
    let zero = store.complete_with_chunks(
        ada.id,
        doc.id,
        DOCS,
        &chunks(&["a"], 0),
        &[vec![0.0, 0.0, 0.0]],
    );
    assert!(matches!(zero, Err(Error::Validation { .. })));
    assert!(
        store
            .complete_with_chunks(ada.id, doc.id, DOCS, &chunks(&["a"], 0), &[])
            .is_err()
    );
    assert!(is_not_found(store.complete_with_chunks(
        ada.id,
        doc.id,
        "missing",
        &chunks(&["a"], 0),
        &[vector_of("a", 1)],
    )));
    assert_eq!(store.chunks(ada.id, doc.id).expect("chunks"), first);
    assert_eq!(store.embedding_versions(DOCS).expect("versions"), versions);
    assert_eq!(
        store.document(ada.id, doc.id).expect("doc").status,
        ProcessingStatus::Processing
    );

    // Re-processing: unchanged texts keep their chunk ids; every embedding is new.
    let new = chunks(&["b", "new", "a"], 0);
    let vectors: Vec<Vec<f32>> = ["b", "new", "a"].iter().map(|t| vector_of(t, 7)).collect();
    let (completed, second) = store
        .complete_with_chunks(ada.id, doc.id, DOCS, &new, &vectors)
        .expect("re-processed");
    assert_eq!(completed.status, ProcessingStatus::Completed);
    assert_eq!((completed.num_chunks, completed.num_tokens), (3, 33));
    assert_eq!(second[0].id, first[1].id, "b kept its id");
    assert_eq!(second[2].id, first[0].id, "a kept its id");
    assert!(first.iter().all(|k| k.id != second[1].id), "new is new");
    let old_max = versions.iter().map(|(_, v)| *v).max().expect("some");
    let now = store.embedding_versions(DOCS).expect("versions");
    assert_eq!(now.len(), 3);
    assert!(now.iter().all(|(_, v)| *v > old_max));
    let loaded = store
        .load_embeddings(DOCS, &[second[0].id, first[2].id])
        .expect("load");
    assert_eq!(loaded.len(), 1, "c's chunk is gone");
    assert_eq!(loaded[0].vector, vector_of("b", 7));

    // A global document's embeddings belong to no one.
    let handbook = global(&store, root.id, "handbook.pdf").expect("global");
    let theirs = embed(&store, root.id, &handbook, 0, &["rules"]);
    let loaded = store.load_embeddings(DOCS, &[theirs[0].id]).expect("load");
    assert_eq!(loaded[0].owner, None);

    assert!(store.drop_embedding_collection("other").expect("drop"));
    assert!(
        !store
            .drop_embedding_collection("other")
            .expect("drop again")
    );
}

/// A copy of a collection's versions that catches up with `embedding_changes`.
struct Follower {
    held: BTreeMap<ChunkId, u64>,
    reached: u64,
}

impl Follower {
    /// Applies what changed since the version reached and compares with the store;
    /// returns whether only the changes came.
    fn catch_up(&mut self, store: &PgStore, what: &str) -> bool {
        let incremental = match store
            .embedding_changes(DOCS, self.reached)
            .expect("changes")
        {
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
                let mut last = self.reached;
                for (chunk, version) in written {
                    assert!(
                        version > last && version <= latest,
                        "{what}: {version} after {last} up to {latest}"
                    );
                    last = version;
                    self.held.insert(chunk, version);
                }
                for chunk in removed {
                    self.held.remove(&chunk);
                }
                self.reached = latest;
                true
            }
        };
        let mut expected = store.embedding_versions(DOCS).expect("versions");
        expected.sort();
        let copy: Vec<(ChunkId, u64)> = self.held.iter().map(|(c, v)| (*c, *v)).collect();
        assert_eq!(copy, expected, "{what}: the copy matches the store");
        incremental
    }
}

#[test]
fn embedding_changes_bring_a_copy_up_to_date() {
    let Some(mut schema) = TempSchema::new() else {
        return;
    };
    let (store, _clock) = open(&schema);
    let ada = user(&store, "ada");
    let bob = user(&store, "bob");
    docs_collection(&store);
    let mut copy = Follower {
        held: BTreeMap::new(),
        reached: 0,
    };
    assert!(!copy.catch_up(&store, "empty"));
    let doc = document(&store, ada.id, "a.pdf");
    embed(&store, ada.id, &doc, 0, &["a", "b", "c"]);
    assert!(!copy.catch_up(&store, "first document (from 0: everything)"));
    let bobs = document(&store, bob.id, "b.pdf");
    embed(&store, bob.id, &bobs, 3, &["x", "y"]);
    assert!(copy.catch_up(&store, "second document"));
    embed(&store, ada.id, &doc, 6, &["b", "new", "a"]);
    assert!(copy.catch_up(&store, "re-processed"));
    let reached = copy.reached;
    assert!(copy.catch_up(&store, "nothing changed"));
    assert_eq!(copy.reached, reached);
    store.start_processing(ada.id, doc.id).expect("reprocess");
    store.delete_chunks(ada.id, doc.id).expect("delete chunks");
    store
        .delete_document(bob.id, bobs.id)
        .expect("delete document");
    assert!(copy.catch_up(&store, "chunks and a document deleted"));
    assert!(copy.held.is_empty());
    let later = document(&store, ada.id, "c.pdf");
    embed(&store, ada.id, &later, 9, &["c"]);
    let bobs = document(&store, bob.id, "d.pdf");
    embed(&store, bob.id, &bobs, 9, &["z"]);
    store.delete_user(bob.id).expect("delete user");
    assert!(copy.catch_up(&store, "written and removed"));
    assert_eq!(copy.held.len(), 1);

    // The latest version is the counter's; a version past it, or one whose removals
    // were forgotten, gets everything.
    let latest: Vec<String> = schema.texts("SELECT latest::text FROM embedding_version");
    assert_eq!(latest, [copy.reached.to_string()]);
    assert!(matches!(
        store.embedding_changes(DOCS, copy.reached + 1),
        Ok(EmbeddingChanges::Everything(_))
    ));
    schema.execute(&format!(
        "UPDATE embedding_removals_forgotten SET through = {}",
        copy.reached
    ));
    assert!(matches!(
        store.embedding_changes(DOCS, copy.reached - 1),
        Ok(EmbeddingChanges::Everything(_))
    ));
    assert!(matches!(
        store.embedding_changes(DOCS, copy.reached),
        Ok(EmbeddingChanges::Since { .. })
    ));
    assert!(is_not_found(
        store.embedding_changes("missing", copy.reached)
    ));
}

#[test]
fn the_embedding_cache_answers_in_the_order_asked() {
    let Some(schema) = TempSchema::new() else {
        return;
    };
    let (store, _clock) = open(&schema);
    let hello = cache_key(None, "model-a", "hello");
    let other = cache_key(None, "model-b", "hello");
    let world = cache_key(None, "model-a", "world");
    let missing = cache_key(None, "model-a", "never");
    assert!(store.cached_embeddings(&[]).expect("nothing").is_empty());
    assert_eq!(
        store
            .cached_embeddings(std::slice::from_ref(&hello))
            .expect("empty"),
        [None]
    );
    let (a, b, c) = (
        vec![0.5, -1.0, 3.25],
        vec![-1.5, 2.25],
        vec![f32::MAX, f32::MIN, 1e-40, -0.0],
    );
    store
        .cache_embeddings(
            None,
            &[(hello.clone(), a.clone()), (other.clone(), b.clone())],
        )
        .expect("cache");
    assert_eq!(
        store
            .cached_embeddings(&[
                missing.clone(),
                other.clone(),
                hello.clone(),
                other.clone(),
                world.clone()
            ])
            .expect("read"),
        [
            None,
            Some(b.clone()),
            Some(a.clone()),
            Some(b.clone()),
            None
        ]
    );
    // Replaced by key; within one call the last entry for a key wins.
    store
        .cache_embeddings(
            None,
            &[
                (hello.clone(), a.clone()),
                (world.clone(), a.clone()),
                (hello.clone(), c.clone()),
            ],
        )
        .expect("replace");
    let got = store
        .cached_embeddings(&[hello.clone(), world.clone(), other.clone(), missing.clone()])
        .expect("read");
    let bits = |v: &Option<Vec<f32>>| {
        v.as_ref()
            .map(|v| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>())
    };
    assert_eq!(bits(&got[0]), bits(&Some(c)));
    assert_eq!(got[1..], [Some(a), Some(b), None]);
    store.cache_embeddings(None, &[]).expect("nothing to cache");
}

#[test]
fn agent_logs_are_recorded_and_read_by_message_and_conversation() {
    let Some(mut schema) = TempSchema::new() else {
        return;
    };
    let (store, clock) = open(&schema);
    let ada = user(&store, "ada");
    let bob = user(&store, "bob");
    let talk = conversation(&mut schema, ada.id);
    let (question, answer) = (message(&mut schema, talk, 1), message(&mut schema, talk, 2));
    let bobs_talk = conversation(&mut schema, bob.id);
    let bobs = message(&mut schema, bobs_talk, 1);

    let full = NewAgentLog {
        agent_type: Some("research".into()),
        action: Some("search".into()),
        input_data: Some(serde_json::json!({"query": "tax", "k": 5})),
        output_data: Some(serde_json::json!([1, 2.5, null, "x"])),
        execution_time: Some(1.25),
        tokens_used: Some(321),
        status: Some(AgentStatus::Success),
        reasoning: Some("found it".into()),
        confidence: Some(0.75),
        ..NewAgentLog::new("ResearchAgent")
    };
    let first = store
        .record_agent_log(ada.id, question, &full)
        .expect("record");
    clock.advance(Duration::from_secs(1));
    let second = store
        .record_agent_log(ada.id, answer, &NewAgentLog::new("Grounding"))
        .expect("record");
    clock.advance(Duration::from_secs(1));
    let third = store
        .record_agent_log(
            ada.id,
            question,
            &NewAgentLog {
                status: Some(AgentStatus::Failed),
                error_message: Some("timeout upstream".into()),
                ..NewAgentLog::new("Explainer")
            },
        )
        .expect("record");

    assert_eq!(
        store.agent_logs(ada.id, question).expect("by message"),
        [first.clone(), third.clone()]
    );
    assert_eq!(
        store
            .conversation_agent_logs(ada.id, talk)
            .expect("by conversation"),
        [first, second, third]
    );
    assert!(is_not_found(store.record_agent_log(
        ada.id,
        bobs,
        &NewAgentLog::new("X")
    )));
    assert!(is_not_found(store.agent_logs(ada.id, bobs)));
    assert!(is_not_found(
        store.conversation_agent_logs(ada.id, bobs_talk)
    ));
    assert!(is_not_found(store.agent_logs(ada.id, MessageId::new())));
    assert!(store.agent_logs(bob.id, bobs).expect("bob's").is_empty());
    assert!(matches!(
        store.record_agent_log(ada.id, question, &NewAgentLog::new(" ")),
        Err(Error::Validation { .. })
    ));
}

#[test]
fn usage_is_priced_and_summed_as_integers() {
    let Some(mut schema) = TempSchema::new() else {
        return;
    };
    let (store, clock) = open(&schema);
    let ada = user(&store, "ada");
    let bob = user(&store, "bob");
    let talk = conversation(&mut schema, ada.id);
    let asked = message(&mut schema, talk, 1);
    let elsewhere = conversation(&mut schema, ada.id);
    let bobs_talk = conversation(&mut schema, bob.id);
    let log = store
        .record_agent_log(ada.id, asked, &NewAgentLog::new("ResearchAgent"))
        .expect("log");
    let start = store.now();

    // The seeds' DeepSeek rates: $0.14 per million prompt tokens, $0.28 per million
    // completion tokens.
    let chat = store
        .record_usage(
            ada.id,
            &NewUsage {
                conversation_id: Some(talk),
                message_id: Some(asked),
                agent_log_id: Some(log.id),
                ..NewUsage::new(
                    "custom",
                    "deepseek-chat",
                    OperationType::Chat,
                    1_000_000,
                    500_000,
                )
            },
        )
        .expect("record");
    assert!((chat.estimated_cost - 0.28).abs() < 1e-9);
    assert_eq!(
        (chat.total_tokens, chat.currency.as_str()),
        (1_500_000, "USD")
    );
    store
        .record_usage(
            ada.id,
            &NewUsage::new("custom", "deepseek-chat", OperationType::Chat, 2_000_000, 0),
        )
        .expect("record");
    clock.advance(Duration::from_secs(86_400));
    let local = store
        .record_usage(
            ada.id,
            &NewUsage {
                embedding_tokens: 700,
                ..NewUsage::new("ollama", "llama3.2:3b", OperationType::Embedding, 5, 0)
            },
        )
        .expect("record");
    assert_eq!(local.estimated_cost, 0.0);
    store
        .record_usage(
            bob.id,
            &NewUsage::new("custom", "x", OperationType::Chat, 1, 1),
        )
        .expect("bob's");

    // Links must be the user's, and a message in the record's conversation.
    let linked = |conversation, message| NewUsage {
        conversation_id: conversation,
        message_id: message,
        ..NewUsage::new("custom", "m", OperationType::Chat, 1, 1)
    };
    assert!(is_not_found(
        store.record_usage(ada.id, &linked(Some(bobs_talk), None))
    ));
    assert!(
        store
            .record_usage(ada.id, &linked(Some(elsewhere), Some(asked)))
            .is_err()
    );
    assert!(is_not_found(
        store.record_usage(bob.id, &linked(None, Some(asked)))
    ));
    assert!(is_not_found(store.record_usage(
        bob.id,
        &NewUsage {
            agent_log_id: Some(log.id),
            ..NewUsage::new("custom", "m", OperationType::Chat, 1, 1)
        }
    )));

    let end = store.now() + Duration::from_secs(1);
    let range = TimeRange::new(start, end).expect("range");
    let totals = store.usage_totals(ada.id, range).expect("totals");
    assert_eq!(
        (
            totals.requests,
            totals.prompt_tokens,
            totals.completion_tokens,
            totals.total_tokens,
            totals.embedding_tokens
        ),
        (3, 3_000_005, 500_000, 3_500_005, 700)
    );
    assert!((totals.cost - 0.56).abs() < 1e-9);

    let by_provider = store.usage_by_provider(ada.id, range).expect("by provider");
    let keys: Vec<(&str, OperationType, u64)> = by_provider
        .iter()
        .map(|b| (b.provider.as_str(), b.operation_type, b.totals.requests))
        .collect();
    assert_eq!(
        keys,
        [
            ("custom", OperationType::Chat, 2),
            ("ollama", OperationType::Embedding, 1)
        ]
    );
    assert_eq!(by_provider[0].totals.prompt_tokens, 3_000_000);

    let daily = store.daily_usage(ada.id, range).expect("daily");
    let days: Vec<(&str, u64, u64)> = daily
        .iter()
        .map(|d| (d.day.as_str(), d.totals.requests, d.totals.total_tokens))
        .collect();
    assert_eq!(days, [("2026-01-01", 2, 3_500_000), ("2026-01-02", 1, 5)]);

    let system = store.system_usage(range).expect("system");
    assert_eq!(system[0].totals.requests, 3, "ada's two and bob's one");

    let conversation_totals = store
        .conversation_usage(ada.id, talk)
        .expect("conversation");
    assert_eq!(conversation_totals.requests, 1);
    assert_eq!(conversation_totals.total_tokens, 1_500_000);
    assert!(is_not_found(store.conversation_usage(ada.id, bobs_talk)));

    // An empty range sums to 0.
    let before: Timestamp = "2020-01-01T00:00:00.000000Z".parse().expect("timestamp");
    let empty = TimeRange::new(before, before + Duration::from_secs(60)).expect("range");
    assert_eq!(
        store.usage_totals(ada.id, empty).expect("empty"),
        Default::default()
    );
    assert!(
        store
            .usage_by_provider(ada.id, empty)
            .expect("empty")
            .is_empty()
    );
    assert!(store.daily_usage(ada.id, empty).expect("empty").is_empty());
    assert!(store.system_usage(empty).expect("empty").is_empty());
    assert_eq!(
        store.conversation_usage(ada.id, elsewhere).expect("none"),
        Default::default()
    );
    assert!(is_not_found(store.usage_totals(UserId::new(), range)));
}

#[test]
fn one_of_two_concurrent_claims_of_a_document_wins() {
    let Some(schema) = TempSchema::new() else {
        return;
    };
    let (store, _clock) = open(&schema);
    let ada = user(&store, "ada");
    for round in 0..5 {
        let doc = document(&store, ada.id, &format!("{round}.pdf"));
        let barrier = std::sync::Barrier::new(4);
        let wins = std::thread::scope(|s| {
            let claims: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        store.start_processing(ada.id, doc.id)
                    })
                })
                .collect();
            claims
                .into_iter()
                .map(|claim| claim.join().expect("thread"))
                .filter(|result| match result {
                    Ok(_) => true,
                    Err(e) => {
                        assert!(
                            matches!(
                                e,
                                Error::Conflict {
                                    kind: ConflictKind::InvalidState,
                                    ..
                                }
                            ),
                            "{e:?}"
                        );
                        false
                    }
                })
                .count()
        });
        assert_eq!(wins, 1, "round {round}: exactly one claim succeeds");
    }
}
