//! Schema migrations: ordered, recorded, idempotent on re-open, reversible, and refusing
//! a database newer than the code.

use chatstore::{ConversationStore, Error, MaintenanceStore, NewConversation, NewUser, UserStore};
use chatstore_sqlite::{LATEST_VERSION, MIGRATIONS};
use chatstore_tests::TempSqlite;
use rusqlite::Connection;

fn config() -> chatstore::Config {
    chatstore::conformance::test_config().0
}

fn tables(path: &std::path::Path) -> Vec<String> {
    let conn = Connection::open(path).expect("open");
    let mut statement = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .expect("prepare");
    statement
        .query_map([], |row| row.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

#[test]
fn a_new_database_is_at_the_latest_version_with_every_migration_recorded() {
    let db = TempSqlite::new();
    let store = db.open_sqlite(config()).expect("opens");
    assert_eq!(store.schema_version().expect("version"), LATEST_VERSION);
    let conn = Connection::open(db.path()).expect("open");
    let recorded: Vec<(u32, String)> = conn
        .prepare("SELECT version, name FROM schema_migrations ORDER BY version")
        .expect("prepare")
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    let expected: Vec<(u32, String)> = MIGRATIONS
        .iter()
        .map(|m| (m.version, m.name.to_owned()))
        .collect();
    assert_eq!(recorded, expected);
    assert!(
        MIGRATIONS
            .windows(2)
            .all(|w| w[1].version == w[0].version + 1)
    );
}

#[test]
fn reopening_applies_nothing_and_keeps_data() {
    let db = TempSqlite::new();
    let store = db.open_sqlite(config()).expect("opens");
    let user = store
        .create_user(&NewUser::new("ada", "ada@example.com", "password1"))
        .expect("user");
    drop(store);
    let schema_before = tables(&db.path());
    let store = db.open_sqlite(config()).expect("re-opens");
    assert_eq!(tables(&db.path()), schema_before);
    assert_eq!(
        store.user(user.id).expect("still there").email,
        "ada@example.com"
    );
}

#[test]
fn closing_folds_the_log_into_the_database_file() {
    let db = TempSqlite::new();
    let store = db.open_sqlite(config()).expect("opens");
    let user = store
        .create_user(&NewUser::new("ada", "ada@example.com", "password1"))
        .expect("user");
    store.close().expect("closes cleanly");
    let wal = db.dir().join("chatstore.db-wal");
    assert!(!wal.exists() || std::fs::metadata(&wal).expect("stat").len() == 0);
    // The file alone is complete: copy it somewhere else and read the user back.
    let copy = TempSqlite::new();
    std::fs::copy(db.path(), copy.path()).expect("copy");
    let reopened = copy.open_sqlite(config()).expect("copy opens");
    assert_eq!(reopened.user(user.id).expect("user").username, "ada");
}

#[test]
fn every_migration_goes_down_and_up_again() {
    let db = TempSqlite::new();
    let store = db.open_sqlite(config()).expect("opens");
    let full = tables(&db.path());
    for version in (0..LATEST_VERSION).rev() {
        store.migrate_to(version).expect("down");
        assert_eq!(store.schema_version().expect("version"), version);
    }
    assert_eq!(tables(&db.path()), vec!["schema_migrations".to_owned()]);
    for version in 1..=LATEST_VERSION {
        store.migrate_to(version).expect("up");
        assert_eq!(store.schema_version().expect("version"), version);
    }
    assert_eq!(tables(&db.path()), full);
    let user = store
        .create_user(&NewUser::new("ada", "ada@example.com", "password1"))
        .expect("works after");
    store
        .create_conversation(user.id, &NewConversation::titled("again"))
        .expect("works after");
}

#[test]
fn migrating_beyond_the_latest_version_is_refused() {
    let db = TempSqlite::new();
    let store = db.open_sqlite(config()).expect("opens");
    assert!(matches!(
        store.migrate_to(LATEST_VERSION + 1),
        Err(Error::Validation { .. })
    ));
    assert_eq!(store.schema_version().expect("version"), LATEST_VERSION);
}

#[test]
fn a_newer_schema_is_a_clear_error_not_a_downgrade() {
    let db = TempSqlite::new();
    drop(db.open_sqlite(config()).expect("opens"));
    let conn = Connection::open(db.path()).expect("open");
    conn.execute(
        "INSERT INTO schema_migrations VALUES (?1, 'from_the_future', 'x', '2030-01-01T00:00:00.000000Z')",
        [LATEST_VERSION + 1],
    )
    .expect("pretend a newer chatstore wrote it");
    let schema_before = tables(&db.path());
    match db.open_sqlite(config()) {
        Err(Error::SchemaTooNew { found, supported }) => {
            assert_eq!((found, supported), (LATEST_VERSION + 1, LATEST_VERSION));
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
    assert_eq!(tables(&db.path()), schema_before, "nothing dropped");
}

#[test]
fn an_applied_migration_that_differs_from_the_code_is_reported() {
    let db = TempSqlite::new();
    drop(db.open_sqlite(config()).expect("opens"));
    let conn = Connection::open(db.path()).expect("open");
    conn.execute(
        "UPDATE schema_migrations SET checksum = 'edited' WHERE version = 2",
        [],
    )
    .expect("tamper");
    assert!(matches!(
        db.open_sqlite(config()),
        Err(Error::Corrupt { .. })
    ));
}

#[test]
fn a_failing_migration_is_rolled_back_whole() {
    let db = TempSqlite::new();
    let store = db.open_sqlite(config()).expect("opens");
    store.migrate_to(2).expect("down to 2");
    // Make migration 3 fail halfway: its first table is created, its second clashes.
    let conn = Connection::open(db.path()).expect("open");
    conn.execute_batch("CREATE TABLE messages (x)")
        .expect("obstacle");
    let before = tables(&db.path());
    match store.migrate_to(3) {
        Err(Error::Migration { version: 3, .. }) => {}
        other => panic!("expected migration 3 to fail, got {other:?}"),
    }
    assert_eq!(
        tables(&db.path()),
        before,
        "the half-applied migration left nothing"
    );
    assert_eq!(store.schema_version().expect("version"), 2);
}

/// One row in every table with a check on a list of values, written by hand.
const ROWS: &str = "
    INSERT INTO users (id, username, username_key, email, password_hash, created_at, updated_at)
        VALUES ('u', 'probe', 'probe', 'probe@example.com', '-', 't', 't');
    INSERT INTO conversations (id, user_id, created_at, updated_at, last_activity_at)
        VALUES ('c', 'u', 't', 't', 't');
    INSERT INTO messages (id, conversation_id, seq, role, content, created_at)
        VALUES ('m', 'c', 1, 'user', 'hello', 't');
    INSERT INTO documents (id, owner_id, filename, file_path, title, uploaded_at, updated_at)
        VALUES ('d', 'u', 'a.pdf', '/a.pdf', 'A', 't', 't');
    INSERT INTO agent_logs (id, message_id, agent_name, created_at)
        VALUES ('a', 'm', 'retriever', 't');
    INSERT INTO embedding_collections (name, dimension, distance, created_at)
        VALUES ('e', 3, 'cosine', 't');";

/// Each checked column, a statement giving it the value ?1 (an update of the row above,
/// or for append-only messages a second insert), and the values tried: every value the
/// store writes, and some it must refuse.
const CHECKED: &[(&str, &str, &[&str])] = &[
    (
        "users.explainability_level",
        "UPDATE users SET explainability_level = ?1 WHERE id = 'u'",
        &["basic", "detailed", "debug", "Debug", "verbose", ""],
    ),
    (
        "conversations.status",
        "UPDATE conversations SET status = ?1 WHERE id = 'c'",
        &["active", "archived", "closed", "deleted", "gone", ""],
    ),
    (
        "conversations.status_before_delete",
        "UPDATE conversations SET status_before_delete = ?1 WHERE id = 'c'",
        &["active", "archived", "closed", "deleted", "gone"],
    ),
    (
        "messages.role",
        "INSERT INTO messages (id, conversation_id, seq, role, content, created_at)
         VALUES ('m2', 'c', 2, ?1, 'again', 't')",
        &["user", "assistant", "system", "robot", "User", ""],
    ),
    (
        "documents.processing_status",
        "UPDATE documents SET processing_status = ?1 WHERE id = 'd'",
        &["pending", "processing", "completed", "failed", "done"],
    ),
    (
        "agent_logs.status",
        "UPDATE agent_logs SET status = ?1 WHERE id = 'a'",
        &["success", "failed", "timeout", "skipped"],
    ),
    (
        "embedding_collections.distance",
        "UPDATE embedding_collections SET distance = ?1 WHERE name = 'e'",
        &["cosine", "dot", "l2", "L2", "euclid"],
    ),
];

/// For every checked column, the values (and NULL, as "NULL") its check lets in, tried
/// one by one on rows written and rolled back.
fn allowed_values(conn: &Connection) -> Vec<(String, Vec<String>)> {
    conn.execute_batch("SAVEPOINT probe").expect("savepoint");
    conn.execute_batch(ROWS).expect("rows");
    let allowed = CHECKED
        .iter()
        .map(|(column, probe, values)| {
            let tried = values.iter().map(|v| Some(*v)).chain([None]);
            let passed = tried
                .filter(|value| {
                    conn.execute_batch("SAVEPOINT value").expect("savepoint");
                    let written = conn.execute(probe, [value]);
                    conn.execute_batch("ROLLBACK TO value; RELEASE value")
                        .expect("rolled back");
                    match written {
                        Ok(n) => n == 1,
                        Err(e) if e.to_string().contains("constraint failed") => false,
                        Err(e) => panic!("{column} = {value:?}: {e}"),
                    }
                })
                .map(|value| value.unwrap_or("NULL").to_owned())
                .collect();
            (column.to_string(), passed)
        })
        .collect();
    conn.execute_batch("ROLLBACK TO probe; RELEASE probe")
        .expect("rolled back");
    allowed
}

/// The tables whose inserts (those of [`ROWS`]) build a temporary table on `conn`:
/// SQLite does for a check on a list of three or more values.
fn inserts_with_a_temporary_table(conn: &Connection) -> Vec<String> {
    ROWS.split(';')
        .filter(|sql| !sql.trim().is_empty())
        .filter(|insert| {
            let mut explain = conn.prepare(&format!("EXPLAIN {insert}")).expect("explain");
            let opcodes: Vec<String> = explain
                .query_map([], |row| row.get(1))
                .expect("query")
                .collect::<Result<_, _>>()
                .expect("opcodes");
            opcodes.iter().any(|op| op == "OpenEphemeral")
        })
        .map(|insert| {
            insert
                .split_whitespace()
                .nth(2)
                .expect("INSERT INTO <table>")
                .to_owned()
        })
        .collect()
}

#[test]
fn checks_on_lists_allow_exactly_what_they_allowed_without_temporary_tables() {
    let db = TempSqlite::new();
    let store = db.open_sqlite(config()).expect("opens");
    let conn = Connection::open(db.path()).expect("open");
    let expected: Vec<(String, Vec<String>)> = [
        (
            "users.explainability_level",
            &["basic", "detailed", "debug"][..],
        ),
        (
            "conversations.status",
            &["active", "archived", "closed", "deleted"],
        ),
        (
            "conversations.status_before_delete",
            &["active", "archived", "closed", "NULL"],
        ),
        ("messages.role", &["user", "assistant", "system"]),
        (
            "documents.processing_status",
            &["pending", "processing", "completed", "failed"],
        ),
        (
            "agent_logs.status",
            &["success", "failed", "timeout", "NULL"],
        ),
        ("embedding_collections.distance", &["cosine", "dot", "l2"]),
    ]
    .iter()
    .map(|(column, values)| {
        (
            column.to_string(),
            values.iter().map(|v| v.to_string()).collect(),
        )
    })
    .collect();
    assert_eq!(allowed_values(&conn), expected);
    assert!(inserts_with_a_temporary_table(&conn).is_empty());

    // Migrations 14 and 15 down: the lists as first written, allowing the same.
    store.migrate_to(13).expect("down to 13");
    assert_eq!(allowed_values(&conn), expected);
    assert_eq!(
        inserts_with_a_temporary_table(&conn),
        [
            "users",
            "conversations",
            "messages",
            "documents",
            "agent_logs",
            "embedding_collections"
        ],
        "every table with a list of three, read again by a connection opened before"
    );

    store.migrate_to(LATEST_VERSION).expect("up again");
    assert_eq!(allowed_values(&conn), expected);
    assert!(
        inserts_with_a_temporary_table(&conn).is_empty(),
        "a connection opened before the migrations reads the schema again"
    );
    store.check_integrity().expect("sound");
}
