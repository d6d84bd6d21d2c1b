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

/// The text of the messages table's definition.
fn messages_sql(conn: &Connection) -> String {
    conn.query_row(
        "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'messages'",
        [],
        |row| row.get(0),
    )
    .expect("the messages table")
}

/// Inserts a message of `role` into a new conversation and rolls it back: whether the
/// table's checks let it in.
fn role_allowed(conn: &Connection, role: &str) -> bool {
    conn.execute_batch("SAVEPOINT probe").expect("savepoint");
    let inserted = conn.execute_batch(&format!(
        "INSERT INTO users (id, username, username_key, email, password_hash, created_at, updated_at)
             VALUES ('u-probe', 'probe', 'probe', 'probe@example.com', '-', 't', 't');
         INSERT INTO conversations (id, user_id, created_at, updated_at, last_activity_at)
             VALUES ('c-probe', 'u-probe', 't', 't', 't');
         INSERT INTO messages (id, conversation_id, seq, role, content, created_at)
             VALUES ('m-probe', 'c-probe', 1, '{role}', 'hello', 't');"
    ));
    conn.execute_batch("ROLLBACK TO probe; RELEASE probe")
        .expect("rolled back");
    match inserted {
        Ok(()) => true,
        Err(e) if e.to_string().contains("CHECK constraint failed: role") => false,
        Err(e) => panic!("{role}: {e}"),
    }
}

/// Whether inserting a message builds a temporary table (for a list of three or more
/// in a check) on `conn`.
fn insert_builds_a_temporary_table(conn: &Connection) -> bool {
    let mut explain = conn
        .prepare(
            "EXPLAIN INSERT INTO messages (id, conversation_id, seq, role, content, created_at)
             VALUES ('m', 'c', 1, 'user', 'hello', 't')",
        )
        .expect("explain");
    let opcodes: Vec<String> = explain
        .query_map([], |row| row.get(1))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("opcodes");
    opcodes.iter().any(|op| op == "OpenEphemeral")
}

#[test]
fn the_role_check_allows_exactly_what_it_allowed_without_a_temporary_table() {
    let db = TempSqlite::new();
    let store = db.open_sqlite(config()).expect("opens");
    let conn = Connection::open(db.path()).expect("open");
    let allowed = |conn: &Connection| {
        ["user", "assistant", "system", "robot", "User", ""]
            .into_iter()
            .filter(|role| role_allowed(conn, role))
            .collect::<Vec<_>>()
    };
    let check = "CHECK (role IN ('user', 'assistant') OR role = 'system')";
    assert!(messages_sql(&conn).contains(check));
    assert_eq!(allowed(&conn), ["user", "assistant", "system"]);
    assert!(!insert_builds_a_temporary_table(&conn));

    store.migrate_to(13).expect("down to 13");
    assert!(messages_sql(&conn).contains("CHECK (role IN ('user', 'assistant', 'system'))"));
    assert_eq!(allowed(&conn), ["user", "assistant", "system"]);
    assert!(
        insert_builds_a_temporary_table(&conn),
        "the list of three, read again by a connection opened before"
    );

    store.migrate_to(LATEST_VERSION).expect("up again");
    assert!(messages_sql(&conn).contains(check));
    assert!(
        !insert_builds_a_temporary_table(&conn),
        "a connection opened before the migration reads the schema again"
    );
    assert_eq!(allowed(&conn), ["user", "assistant", "system"]);
    store.check_integrity().expect("sound");
}
