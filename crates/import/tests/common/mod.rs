//! Fixtures for the import tests: source databases made from a seed's DDL, target
//! stores on SQLite and (with `CHATSTORE_PG_URL`) PostgreSQL, and a target that fails
//! part way through an import.

#![allow(dead_code)]

use std::path::PathBuf;

use chatstore_postgres::PgStore;
use chatstore_sqlite::SqliteStore;

#[path = "../../../postgres/tests/common/mod.rs"]
mod pg;

/// The password every fixture hash was made from.
pub const PASSWORD: &str = "correct horse battery";

/// A source database in a temporary directory.
pub struct Fixture {
    _dir: tempfile::TempDir,
    /// Its path.
    pub path: PathBuf,
}

impl Fixture {
    /// A new database called `name` holding `ddl`.
    pub fn new(name: &str, ddl: &str) -> Fixture {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join(name);
        let fixture = Fixture { _dir: dir, path };
        fixture.exec(ddl);
        fixture
    }

    /// Runs SQL on it (the test writing its sample, never the importer).
    pub fn exec(&self, sql: &str) {
        let conn = rusqlite::Connection::open(&self.path).expect("open fixture");
        conn.execute_batch(sql)
            .unwrap_or_else(|e| panic!("fixture SQL fails: {e}\n{sql}"));
    }

    /// The file's bytes.
    pub fn bytes(&self) -> Vec<u8> {
        std::fs::read(&self.path).expect("read fixture")
    }
}

/// A fresh SQLite store with cheap password hashing.
pub fn sqlite_store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("chatstore.db");
    let config = chatstore::conformance::test_config()
        .0
        .database_url(path.to_string_lossy());
    let store = SqliteStore::open(config).expect("store");
    (dir, store)
}

/// A PostgreSQL store in a schema of its own, or `None` when PostgreSQL tests are skipped.
pub struct PgSchema {
    /// The store.
    pub store: PgStore,
    _schema: pg::TempSchema,
}

/// A store in a fresh schema (`None`, after a loud SKIPPED line, without a server).
pub fn pg_schema(_test: &str) -> Option<PgSchema> {
    let schema = pg::TempSchema::new()?;
    let store = PgStore::open_with(schema.config(), &schema.options()).expect("PostgreSQL store");
    Some(PgSchema {
        store,
        _schema: schema,
    })
}

/// A SQLite store with its attachment file, as a host opens them.
pub type SqliteChat = chatstore::ChatStore<SqliteStore, chatstore_blob::SqliteBlobStore>;

/// A fresh SQLite store with attachments and cheap password hashing.
pub fn sqlite_chat() -> (tempfile::TempDir, SqliteChat) {
    let (dir, store) = sqlite_store();
    let blobs = chatstore_blob::SqliteBlobStore::open(chatstore_blob::BlobConfig::new(
        dir.path().join("files.db"),
    ))
    .expect("attachment store");
    let chat = chatstore::ChatStore::new(store, blobs, chatstore::NoVectorIndex).expect("chat");
    (dir, chat)
}
