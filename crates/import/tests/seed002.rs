//! Importing seed 002's RAG schema into SQLite (and PostgreSQL when `CHATSTORE_PG_URL`
//! is set): users with roles and argon2 passwords, documents and chunks, conversations
//! with selected documents, answers with RAG metadata pointing at the new ids, agent
//! logs and token usage; what names a record that is not imported is skipped with it.

mod common;
#[path = "fixtures/seed002.rs"]
mod fixtures;

use chatstore::transfer::{Endpoint, TableTransfer, table};
use chatstore::{
    AgentLogStore, AgentStatus, ChunkId, ConversationId, ConversationStore, DocumentId,
    DocumentScope, DocumentStore, HashScheme, MessageId, MessageQuery, MessageStore, NoBlobStore,
    OperationType, Password, PasswordHasher, PasswordParams, RbacStore, SystemStore, TimeRange,
    UsageStore, UserStore,
};
use chatstore_import::{ImportOptions, ImportReport, Source, import};
use common::{Fixture, PASSWORD, sqlite_store};
use fixtures::*;

fn sample() -> Fixture {
    let hasher = PasswordHasher::new(PasswordParams::fast_for_tests()).expect("hasher");
    let hash = hasher.hash(&Password::new(PASSWORD)).expect("hash");
    let fixture = Fixture::new("rag.db", SEED002_DDL);
    fixture.exec(&sample_sql(&hash));
    fixture
}

fn run(fixture: &Fixture, target: &dyn TableTransfer) -> chatstore::Result<ImportReport> {
    import(
        Source::Seed002,
        &fixture.path,
        Endpoint {
            rows: target,
            blobs: &NoBlobStore,
        },
        &ImportOptions {
            now: "2026-03-01T00:00:00Z".parse().expect("time"),
            ..ImportOptions::default()
        },
        &mut |_| {},
    )
}

fn imported(store: &dyn SystemStore, kind: &str, original: &str) -> uuid::Uuid {
    store
        .imported_id("seed002", kind, original)
        .expect("lookup")
        .unwrap_or_else(|| panic!("{kind} {original} is imported"))
}

fn imports_the_sample<S>(store: &S)
where
    S: UserStore
        + RbacStore
        + DocumentStore
        + ConversationStore
        + MessageStore
        + AgentLogStore
        + UsageStore
        + SystemStore
        + TableTransfer,
{
    let fixture = sample();
    let before = fixture.bytes();
    let report = run(&fixture, store).expect("the import succeeds");
    assert_eq!(fixture.bytes(), before, "the source is not changed");
    for (kind, n) in [
        ("user", 2),
        ("document", 2),
        ("chunk", 2),
        ("conversation", 2),
        ("message", 3),
        ("agent_log", 2),
        ("usage", 2),
    ] {
        assert_eq!(
            report.counts(kind).imported,
            n,
            "{kind}: {:?}",
            report.skipped
        );
    }
    let skipped: Vec<_> = report
        .skipped
        .iter()
        .map(|s| (s.table.as_str(), s.original_id.as_str()))
        .collect();
    assert_eq!(
        skipped,
        [
            ("documents", "dead0000-0000-4000-8000-000000000003"),
            ("document_chunks", "0a6b3f1e-5c2d-4e8f-9a7b-3c4d5e6f7a8d"),
            ("token_usage", "f1000000-0000-4000-8000-000000000003"),
        ]
    );
    assert!(report.must_reset.is_empty());
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("without embeddings"))
    );
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("selected documents"))
    );

    let ada = store.user_by_username("ada").expect("ada");
    assert_eq!(ada.full_name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(ada.preferred_llm, "custom");
    assert_eq!(ada.created_at, "2025-01-10T09:00:00Z".parse().unwrap());
    let roles = |id| -> Vec<String> {
        store
            .user_roles(id)
            .expect("roles")
            .into_iter()
            .map(|r| r.name)
            .collect()
    };
    assert_eq!(roles(ada.id), ["admin"]);
    let grace = store.user_by_username("grace").expect("grace");
    assert_eq!(
        roles(grace.id),
        ["analyst"],
        "a role chatstore lacks is left out"
    );
    store
        .authenticate("grace", &Password::new(PASSWORD))
        .expect("argon2 passwords log in as they are");
    assert_eq!(
        store.password_scheme(grace.id).unwrap(),
        Some(HashScheme::Argon2)
    );

    let report_doc = DocumentId::from_uuid(imported(store, "document", REPORT_DOC)).unwrap();
    let doc = store.document(ada.id, report_doc).expect("document");
    assert_eq!(
        (doc.title.as_str(), doc.scope, doc.tags.clone()),
        (
            "Q3 Report",
            DocumentScope::User,
            vec!["finance".to_owned(), "q3".to_owned()]
        )
    );
    assert_eq!(doc.uploaded_at, "2025-01-12T10:00:00Z".parse().unwrap());
    let chunks = store.chunks(ada.id, report_doc).expect("chunks");
    assert_eq!(chunks.len(), 2);
    assert_eq!(chunks[0].content, "Revenue increased by 12% in Q3.");
    assert_eq!(chunks[0].embedding_id.as_deref(), Some("chroma-1"));
    let report_chunk = ChunkId::from_uuid(imported(store, "chunk", REPORT_CHUNK)).unwrap();
    assert_eq!(chunks[0].id, report_chunk);

    let conversation = ConversationId::from_uuid(imported(
        store,
        "conversation",
        "a1000000-0000-4000-8000-000000000001",
    ))
    .unwrap();
    let c = store
        .conversation(ada.id, conversation)
        .expect("conversation");
    assert_eq!(
        c.selected_document_ids,
        [report_doc],
        "rewritten to the new id"
    );
    assert_eq!(c.llm_model.as_deref(), Some("deepseek-chat"));
    assert_eq!(c.message_count, 2);

    let answer_id = MessageId::from_uuid(imported(store, "message", ANSWER)).unwrap();
    let messages = store
        .messages(ada.id, conversation, &MessageQuery::default())
        .expect("messages")
        .items;
    let answer = messages.iter().find(|m| m.id == answer_id).expect("answer");
    let m = &answer.metadata;
    assert_eq!(m.retrieved_documents.len(), 1, "{m:?}");
    assert_eq!(m.retrieved_documents[0].document_id, report_doc);
    assert_eq!(m.retrieved_documents[0].chunk_id, report_chunk);
    assert_eq!(m.sources[0].id, report_doc);
    assert_eq!(m.confidence_score, Some(0.82));
    assert!(!m.low_confidence_warning);
    assert_eq!(m.reasoning_chain.len(), 1);
    assert_eq!(m.agents_involved, ["ResearchAgent", "GroundingAgent"]);
    assert!(m.grounding_evidence.is_some());
    assert!(m.extra.is_empty(), "{:?}", m.extra);

    let logs = store
        .conversation_agent_logs(ada.id, conversation)
        .expect("agent logs");
    let statuses: Vec<_> = logs
        .iter()
        .map(|l| (l.agent_name.as_str(), l.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("ResearchAgent", Some(AgentStatus::Success)),
            ("GroundingAgent", Some(AgentStatus::Failed))
        ]
    );
    assert!(logs.iter().all(|l| l.message_id == answer_id));

    let usage = store.usage_records(ada.id, TimeRange::ALL).expect("usage");
    let seen: Vec<_> = usage
        .iter()
        .map(|u| (u.operation_type, u.total_tokens, u.embedding_tokens))
        .collect();
    assert_eq!(
        seen,
        [
            (OperationType::Embedding, 0, 480),
            (OperationType::Chat, 1500, 0)
        ]
    );
    let chat = &usage[1];
    assert_eq!(chat.message_id, Some(answer_id));
    assert_eq!(chat.conversation_id, Some(conversation));
    assert_eq!(chat.agent_log_id, Some(logs[0].id));

    let again = run(&fixture, store).expect("again");
    assert_eq!(again.imported(), 0, "{:?}", again.kinds);
    assert_eq!(
        store.count_rows(table("token_usage").unwrap()).unwrap(),
        2,
        "nothing twice"
    );
}

#[test]
fn imports_the_sample_into_sqlite() {
    let (_dir, store) = sqlite_store();
    imports_the_sample(&store);
}

#[test]
fn imports_the_sample_into_postgres() {
    if let Some(pg) = common::pg_schema("seed002") {
        imports_the_sample(&pg.store);
    }
}

#[test]
fn a_seed000_file_is_not_taken_for_seed002() {
    let fixture = Fixture::new(
        "rag.db",
        "CREATE TABLE users (user_id TEXT, email TEXT, password_hash TEXT);",
    );
    let (_dir, store) = sqlite_store();
    let err = run(&fixture, &store).expect_err("another schema");
    assert!(err.to_string().contains("no column"), "{err}");
    assert_eq!(store.count_rows(table("users").unwrap()).unwrap(), 0);
}
