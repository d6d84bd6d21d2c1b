//! The PostgreSQL schema against a real server: every SQLite table has its counterpart,
//! messages are append-only, deleting a document takes its chunks and embeddings and
//! records the removals, and embedding versions grow in commit order.

mod common;

use chatstore_postgres::PgStore;
use common::TempSchema;

/// Every table of the SQLite schema (FTS5's `messages_fts` aside: PostgreSQL searches
/// `messages.search_vector`, with `message_search_parts` for messages too large for one
/// vector), plus `embedding_version`, which stands in for SQLite's `sqlite_sequence` row
/// of `chunk_embeddings`, and the attachment store's (`files.db` on SQLite):
/// `blob_contents`, `blob_chunks` (the bytes, in chunks) and `blobs`.
const TABLES: &[&str] = &[
    "agent_logs",
    "blob_chunks",
    "blob_contents",
    "blobs",
    "chunk_embeddings",
    "conversations",
    "document_chunks",
    "documents",
    "embedding_cache",
    "embedding_collections",
    "embedding_removal_marks",
    "embedding_removals",
    "embedding_removals_forgotten",
    "embedding_version",
    "imported_ids",
    "message_search_parts",
    "messages",
    "permissions",
    "role_permissions",
    "roles",
    "schema_migrations",
    "token_usage",
    "user_roles",
    "user_sessions",
    "users",
];

const USER: &str = "00000000-0000-7000-8000-000000000001";
const CONVERSATION: &str = "00000000-0000-7000-8000-000000000002";
const MESSAGE: &str = "00000000-0000-7000-8000-000000000003";
const DOCUMENT: &str = "00000000-0000-7000-8000-000000000004";
const OTHER_DOCUMENT: &str = "00000000-0000-7000-8000-000000000005";

fn open() -> Option<(TempSchema, PgStore)> {
    let schema = TempSchema::new()?;
    let store = PgStore::open_with(schema.config(), &schema.options()).expect("opens");
    Some((schema, store))
}

fn insert_user(schema: &mut TempSchema) {
    schema.execute(&format!(
        "INSERT INTO users (id, username, username_key, email, password_hash, created_at, updated_at)
         VALUES ('{USER}', 'Ada', 'ada', 'ada@example.com', 'x', now(), now())"
    ));
}

/// A document with `chunks` chunks, each embedded in collection `c`, one version each.
fn insert_embedded_document(schema: &mut TempSchema, id: &str, chunks: u32) {
    schema.execute(&format!(
        "INSERT INTO documents (id, owner_id, filename, file_path, title, uploaded_at, updated_at)
         VALUES ('{id}', '{USER}', 'a.txt', 'a.txt', 'A', now(), now());
         INSERT INTO document_chunks (id, document_id, chunk_index, content)
         SELECT gen_random_uuid(), '{id}', i, 'chunk ' || i FROM generate_series(0, {chunks} - 1) i;
         WITH v AS (UPDATE embedding_version SET latest = latest + {chunks} WHERE id = 1
                    RETURNING latest)
         INSERT INTO chunk_embeddings (version, collection, chunk_id, vector)
         SELECT v.latest - {chunks} + row_number() OVER (ORDER BY k.chunk_index), 'c', k.id,
                '\\x0000803f'::bytea
         FROM document_chunks k, v WHERE k.document_id = '{id}';"
    ));
}

fn number(schema: &mut TempSchema, sql: &str) -> i64 {
    let texts = schema.texts(&format!("SELECT ({sql})::text"));
    texts[0].parse().expect("a number")
}

#[test]
fn every_sqlite_table_has_its_postgresql_counterpart() {
    let Some((mut schema, _store)) = open() else {
        return;
    };
    let tables = schema.texts(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1",
    );
    assert_eq!(tables, TABLES);
    let views = schema.texts(
        "SELECT viewname::text FROM pg_views WHERE schemaname = current_schema() ORDER BY 1",
    );
    assert_eq!(views, ["messages_with_metadata"]);
}

#[test]
fn messages_are_append_only_and_searchable() {
    let Some((mut schema, _store)) = open() else {
        return;
    };
    insert_user(&mut schema);
    schema.execute(&format!(
        "INSERT INTO conversations (id, user_id, created_at, updated_at, last_activity_at)
         VALUES ('{CONVERSATION}', '{USER}', now(), now(), now());
         INSERT INTO messages (id, conversation_id, seq, role, content, rag_metadata,
                               search_vector, created_at)
         VALUES ('{MESSAGE}', '{CONVERSATION}', 1, 'user', 'hello world',
                 '{{\"sources\": [\"a\"]}}', to_tsvector('simple', 'hello world'), now());"
    ));
    let mut client = postgres::Client::connect(&schema.url, postgres::NoTls).expect("connects");
    client
        .batch_execute(&format!("SET search_path = {}", schema.name))
        .expect("search path");
    let refused = client
        .execute(
            "UPDATE messages SET content = 'rewritten' WHERE id = $1::text::uuid",
            &[&MESSAGE],
        )
        .expect_err("append-only");
    let db = refused.as_db_error().expect("a server error");
    assert_eq!(db.message(), "messages are append-only");
    assert_eq!(db.code().code(), "23000");
    // Columns outside the log's content may change.
    client
        .execute("UPDATE messages SET tokens = 3, files = '[]'", &[])
        .expect("not part of what was said");
    let content = schema.texts("SELECT content FROM messages");
    assert_eq!(content, ["hello world"]);
    let found = schema.texts(
        "SELECT id::text FROM messages WHERE search_vector @@ to_tsquery('simple', 'worl:*')",
    );
    assert_eq!(found, [MESSAGE]);
    let metadata = schema.texts(
        "SELECT concat_ws(' ', msg_metadata->>'tokens', msg_metadata->>'low_confidence_warning',
                          msg_metadata->>'request_id', msg_metadata->>'sources')
         FROM messages_with_metadata",
    );
    assert_eq!(metadata, [r#"3 false ["a"]"#]);
}

#[test]
fn deleting_a_document_takes_its_chunks_and_embeddings_and_records_the_removals() {
    let Some((mut schema, _store)) = open() else {
        return;
    };
    insert_user(&mut schema);
    schema.execute(
        "INSERT INTO embedding_collections (name, dimension, distance, created_at)
         VALUES ('c', 1, 'cosine', now())",
    );
    insert_embedded_document(&mut schema, DOCUMENT, 3);
    insert_embedded_document(&mut schema, OTHER_DOCUMENT, 2);
    let before = number(&mut schema, "SELECT max(version) FROM chunk_embeddings");
    assert_eq!(before, 5);
    // Deleted through the schema-qualified name, with another search_path: the trigger
    // still finds its tables.
    let name = schema.name.clone();
    schema.execute(&format!(
        "SET search_path = public; DELETE FROM {name}.documents WHERE id = '{DOCUMENT}'"
    ));
    assert_eq!(number(&mut schema, "SELECT count(*) FROM documents"), 1);
    assert_eq!(
        number(&mut schema, "SELECT count(*) FROM document_chunks"),
        2
    );
    assert_eq!(
        number(
            &mut schema,
            &format!(
                "SELECT count(*) FROM chunk_embeddings e JOIN document_chunks k ON k.id = e.chunk_id
                 WHERE k.document_id = '{OTHER_DOCUMENT}' AND e.version > 3"
            )
        ),
        2,
        "the other document's embeddings are left"
    );
    let removals =
        schema.texts("SELECT r.version::text FROM embedding_removals r ORDER BY r.version");
    assert_eq!(removals, ["6", "7", "8"], "above every earlier version");
    assert_eq!(
        number(&mut schema, "SELECT latest FROM embedding_version"),
        8
    );
    // Dropping the collection removes the rest, each with a version of its own.
    schema.execute("DELETE FROM embedding_collections WHERE name = 'c'");
    let removals =
        schema.texts("SELECT r.version::text FROM embedding_removals r ORDER BY r.version");
    assert_eq!(removals, ["6", "7", "8", "9", "10"]);
}

#[test]
fn embedding_versions_follow_commit_order() {
    let Some((_schema, store)) = open() else {
        return;
    };
    let next = "UPDATE embedding_version SET latest = latest + 1 WHERE id = 1 RETURNING latest";
    let mut first = store.connection().expect("connection");
    let mut second = store.connection().expect("connection");
    let mut a = first.client().transaction().expect("begins");
    let taken: i64 = a.query_one(next, &[]).expect("version").get(0);
    assert_eq!(taken, 1);
    // The second writer waits for the first to commit, then takes the version after it.
    let waiting = std::thread::spawn(move || {
        let mut b = second.client().transaction().expect("begins");
        let taken: i64 = b.query_one(next, &[]).expect("version").get(0);
        b.commit().expect("commits");
        taken
    });
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert!(
        !waiting.is_finished(),
        "the second writer waits on the row lock"
    );
    a.commit().expect("commits");
    assert_eq!(waiting.join().expect("thread"), 2);
}

#[test]
fn the_schema_goes_down_to_nothing_and_up_again_with_data_in_it() {
    let Some((mut schema, store)) = open() else {
        return;
    };
    insert_user(&mut schema);
    schema.execute(&format!(
        "INSERT INTO conversations (id, user_id, created_at, updated_at, last_activity_at)
         VALUES ('{CONVERSATION}', '{USER}', now(), now(), now());
         INSERT INTO messages (id, conversation_id, seq, role, content, search_vector, created_at)
         VALUES ('{MESSAGE}', '{CONVERSATION}', 1, 'user', 'hello world',
                 to_tsvector('simple', 'hello world'), now());"
    ));
    // Down past the search column and up again: the messages kept are indexed again.
    store.migrate_to(3).expect("down to 3");
    store
        .migrate_to(chatstore_postgres::LATEST_VERSION)
        .expect("up again");
    let found = schema.texts(
        "SELECT id::text FROM messages WHERE search_vector @@ to_tsquery('simple', 'hello')",
    );
    assert_eq!(found, [MESSAGE]);
    store.migrate_to(0).expect("down to 0");
    assert_eq!(
        schema.texts(
            "SELECT proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = current_schema()"
        ),
        Vec::<String>::new(),
        "no function is left behind"
    );
    assert_eq!(
        schema.texts(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
        ),
        ["schema_migrations"]
    );
    store
        .migrate_to(chatstore_postgres::LATEST_VERSION)
        .expect("up from nothing");
    assert_eq!(
        store.schema_version().expect("version"),
        chatstore_postgres::LATEST_VERSION
    );
}
