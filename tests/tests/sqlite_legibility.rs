//! A person opening the database with the `sqlite3` shell can read it: ids are UUID
//! text, timestamps RFC 3339 text, JSON columns valid JSON, and the source system's
//! `msg_metadata` is available as a view.

use chatstore::{
    ConversationStore, MessageMetadata, MessageStore, NewConversation, NewMessage, NewUser,
    SourceRef, UserStore,
};
use chatstore_tests::TempSqlite;
use rusqlite::Connection;

#[test]
fn ids_timestamps_and_json_are_legible() {
    let db = TempSqlite::new();
    let store = db
        .open_sqlite(chatstore::conformance::test_config().0)
        .expect("opens");
    let user = store
        .create_user(&NewUser::new("ada", "ada@example.com", "password1"))
        .expect("user");
    let chat = store
        .create_conversation(user.id, &NewConversation::titled("Eligibility"))
        .expect("chat");
    let metadata = MessageMetadata {
        request_id: Some("req-1".into()),
        tokens: Some(245),
        sources: vec![SourceRef {
            id: chatstore::DocumentId::new(),
            filename: "report.pdf".into(),
            title: None,
            relevance_score: 0.9,
            cited_text: None,
            page: Some(3),
        }],
        ..MessageMetadata::default()
    };
    store
        .append_message(
            user.id,
            chat.id,
            &NewMessage::assistant("Yes.").with_metadata(metadata),
        )
        .expect("append");
    let conn = Connection::open(db.path()).expect("open like the sqlite3 shell");

    let (id, created): (String, String) = conn
        .query_row("SELECT id, created_at FROM users", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("user row");
    assert_eq!(id, user.id.to_string());
    assert_eq!(id.len(), 36);
    assert!(
        created.len() == 27 && created.ends_with('Z') && created.as_bytes()[10] == b'T',
        "{created}"
    );
    let parsed_by_sqlite: Option<String> = conn
        .query_row("SELECT datetime(created_at) FROM users", [], |r| r.get(0))
        .expect("datetime()");
    assert!(
        parsed_by_sqlite.is_some(),
        "SQLite's date functions read the timestamps"
    );

    let msg_metadata: String = conn
        .query_row("SELECT msg_metadata FROM messages_with_metadata", [], |r| {
            r.get(0)
        })
        .expect("view");
    let value: serde_json::Value = serde_json::from_str(&msg_metadata).expect("valid JSON");
    assert_eq!(value["request_id"], "req-1");
    assert_eq!(value["tokens"], 245);
    assert_eq!(value["sources"][0]["filename"], "report.pdf");

    for (table, column) in [
        ("users", "metadata"),
        ("messages", "rag_metadata"),
        ("conversations", "selected_document_ids"),
    ] {
        let invalid: i64 = conn
            .query_row(
                &format!("SELECT count(*) FROM {table} WHERE {column} IS NOT NULL AND NOT json_valid({column})"),
                [],
                |r| r.get(0),
            )
            .expect("check");
        assert_eq!(invalid, 0, "{table}.{column}");
    }
}
