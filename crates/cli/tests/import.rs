//! `chatstore import` run as a binary on a fixture made with seed 000's own DDL:
//! counts and contents, old passwords logging in, a second run importing nothing, a
//! bad record skipped or (with `--strict`) stopping the import before anything is
//! written, and the source file's bytes unchanged. With `CHATSTORE_PG_URL`, the same
//! import into PostgreSQL.

mod common;
#[path = "../../import/tests/fixtures/seed000.rs"]
mod fixtures;

use std::path::{Path, PathBuf};

use chatstore::{
    Config, ConversationId, ConversationStore, HashScheme, MessageQuery, MessageStore, Password,
    PasswordParams, SystemStore, UserStore,
};
use chatstore_sqlite::SqliteStore;
use common::{on, run};
use fixtures::{ELIGIBILITY, SEED000_DDL, sample_sql};

/// A seed 000 database with the sample (and `extra` SQL) in a fresh directory.
fn source(extra: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let path = tmp.path().join("organic-fishstick.db");
    let conn = rusqlite::Connection::open(&path).expect("fixture");
    conn.execute_batch(SEED000_DDL).expect("the seed's DDL");
    conn.execute_batch(&sample_sql()).expect("the sample");
    conn.execute_batch(extra).expect("extra rows");
    drop(conn);
    (tmp, path)
}

fn library(dir: &Path) -> SqliteStore {
    let main = dir.join("chatstore.db");
    SqliteStore::open(
        Config::new(main.to_string_lossy()).password_params(PasswordParams::fast_for_tests()),
    )
    .expect("store")
}

fn path_arg(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

#[test]
fn import_seed000_into_a_new_store_twice() {
    let (tmp, db) = source("");
    let before = std::fs::read(&db).expect("source bytes");
    let store = tmp.path().join("store");
    let first = on(&store, &["import", "seed000", path_arg(&db), "--json"])
        .ok()
        .json();
    assert_eq!(first["kinds"]["user"]["imported"], 3);
    assert_eq!(first["kinds"]["conversation"]["imported"], 3);
    assert_eq!(first["kinds"]["message"]["imported"], 5);
    assert_eq!(first["skipped"].as_array().map(Vec::len), Some(0));
    assert_eq!(first["must_reset"][0]["email"], "old@example.com");

    let second = on(&store, &["import", "seed000", path_arg(&db)]).ok();
    assert!(second.stdout.contains("already there"), "{}", second.stdout);
    let again = on(&store, &["import", "seed000", path_arg(&db), "--json"])
        .ok()
        .json();
    assert_eq!(again["kinds"]["message"]["imported"], 0);
    assert_eq!(again["kinds"]["message"]["present"], 5);
    assert_eq!(std::fs::read(&db).expect("source bytes"), before);

    let s = library(&store);
    let john = s.user_by_email("user1@example.com").expect("john");
    s.authenticate("user1", &Password::new(fixtures_password()))
        .expect("the old bcrypt password logs in");
    assert_eq!(
        s.password_scheme(john.id).expect("scheme"),
        Some(HashScheme::Argon2)
    );
    let id = s
        .imported_id("seed000", "conversation", ELIGIBILITY)
        .expect("lookup")
        .expect("imported");
    let id = ConversationId::from_uuid(id).expect("conversation id");
    let messages = s
        .messages(john.id, id, &MessageQuery::default())
        .expect("messages");
    assert_eq!(messages.items.len(), 4);
    assert_eq!(
        messages.items[0].created_at,
        "2026-02-15T14:15:00Z".parse().unwrap()
    );
    assert_eq!(s.conversation(john.id, id).expect("c").message_count, 4);
    on(&store, &["check"]).ok();
}

fn fixtures_password() -> &'static str {
    "correct horse battery"
}

#[test]
fn a_bad_record_is_skipped_or_stops_a_strict_import() {
    let (tmp, db) = source(
        "INSERT INTO messages VALUES ('m-bad', 'conv-archived', 'robot', 'beep', NULL,
                                      '2026-01-07 09:00:00', NULL);",
    );
    let before = std::fs::read(&db).expect("source bytes");
    let strict = tmp.path().join("strict");
    let refused = on(&strict, &["import", "seed000", path_arg(&db), "--strict"]);
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("m-bad"), "{}", refused.stderr);
    let s = library(&strict);
    assert!(
        s.user_by_email("user1@example.com").is_err(),
        "nothing written"
    );

    let lenient = tmp.path().join("lenient");
    let report = on(&lenient, &["import", "seed000", path_arg(&db), "--json"])
        .ok()
        .json();
    assert_eq!(report["skipped"][0]["table"], "messages");
    assert_eq!(report["skipped"][0]["original_id"], "m-bad");
    assert!(
        report["skipped"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("role")),
        "{report}"
    );
    assert_eq!(report["kinds"]["message"]["imported"], 5);
    assert_eq!(std::fs::read(&db).expect("source bytes"), before);
}

#[test]
fn import_refuses_a_missing_file_and_files_for_seed000() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let store = tmp.path().join("store");
    let missing = on(&store, &["import", "seed000", "/nonexistent/organic.db"]);
    assert_ne!(missing.code, 0);
    assert!(missing.stderr.contains("not a file"), "{}", missing.stderr);
    let (_src, db) = source("");
    let files = on(
        &store,
        &["import", "seed000", path_arg(&db), "--files", "files.db"],
    );
    assert_eq!(files.code, 2, "{files:?}");
    let unknown = run(&["import", "seed999", path_arg(&db)]);
    assert_eq!(unknown.code, 2);
}
