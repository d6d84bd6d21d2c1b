//! What deleting a user reports on PostgreSQL, with rows written by hand in every table
//! it reaches, and the append-only rule of messages mapped to the error every backend
//! uses. (Users, sessions and roles as such are the conformance suite's, in
//! `tests/conformance.rs`.)

mod common;

use chatstore::{ConflictKind, Error, NewUser, UserStore};
use chatstore_postgres::PgStore;
use common::TempSchema;

fn open(schema: &TempSchema) -> PgStore {
    PgStore::open_with(schema.config(), &schema.options()).expect("opens")
}

#[test]
fn deleting_a_user_says_what_else_must_go_and_unselects_their_documents() {
    use chatstore::{ConversationId, DocumentId, MessageId};
    let Some(mut schema) = TempSchema::new() else {
        return;
    };
    let store = open(&schema);
    let ada = store
        .create_user(&NewUser::new("ada", "ada@example.com", "correct horse"))
        .expect("registers");
    let bob = store
        .create_user(&NewUser::new("bob", "bob@example.com", "correct horse"))
        .expect("registers");
    let (ada_chat, bob_chat) = (ConversationId::new(), ConversationId::new());
    let (with_file, without_file) = (MessageId::new(), MessageId::new());
    let (ada_doc, bob_doc) = (DocumentId::new(), DocumentId::new());
    // Rows of the stores still to come, written by hand: a conversation of each user,
    // two messages of Ada's (one with a file), a document of each, and Bob's
    // conversation selecting both (as if Ada's were global).
    schema.execute(&format!(
        "INSERT INTO conversations (id, user_id, created_at, updated_at, last_activity_at, selected_document_ids)
         VALUES ('{ada_chat}', '{ada}', now(), now(), now(), NULL),
                ('{bob_chat}', '{bob}', now(), now(), now(), '[\"{ada_doc}\", \"{bob_doc}\"]');
         INSERT INTO messages (id, conversation_id, seq, role, content, search_vector, files, created_at)
         VALUES ('{with_file}', '{ada_chat}', 1, 'user', 'see file', to_tsvector('simple', 'see file'),
                 '[{{\"name\": \"a.txt\"}}]', now()),
                ('{without_file}', '{ada_chat}', 2, 'user', 'no file', to_tsvector('simple', 'no file'),
                 NULL, now());
         INSERT INTO documents (id, owner_id, filename, file_path, title, uploaded_at, updated_at)
         VALUES ('{ada_doc}', '{ada}', 'a.pdf', 'a.pdf', 'a', now(), now()),
                ('{bob_doc}', '{bob}', 'b.pdf', 'b.pdf', 'b', now(), now());",
        ada = ada.id,
        bob = bob.id,
    ));
    let mut connection = store.connection().expect("connection");
    let rewrite = connection
        .client()
        .execute(
            &format!("UPDATE {}.messages SET content = 'rewritten'", schema.name),
            &[],
        )
        .expect_err("messages are append-only");
    assert!(matches!(
        chatstore_postgres::from_postgres(rewrite),
        Error::Conflict {
            kind: ConflictKind::InvalidState,
            ..
        }
    ));
    drop(connection);
    let cleanup = store.delete_user(ada.id).expect("deletes");
    assert_eq!(cleanup.messages_with_files, [with_file]);
    assert_eq!(cleanup.documents, [ada_doc]);
    assert_eq!(cleanup.deleted, 1);
    assert_eq!(
        schema.texts("SELECT selected_document_ids::text FROM conversations"),
        [format!("[\"{bob_doc}\"]")],
        "Bob's selection keeps only his document"
    );
    assert_eq!(
        schema.texts("SELECT id::text FROM documents"),
        [bob_doc.to_string()]
    );
    assert!(schema.texts("SELECT id::text FROM messages").is_empty());
    assert!(matches!(
        store.delete_user(ada.id),
        Err(Error::NotFound { .. })
    ));
}
