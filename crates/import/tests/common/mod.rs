//! Fixtures for the import tests: source databases made from a seed's DDL, target
//! stores on SQLite and (with `CHATSTORE_PG_URL`) PostgreSQL, and a target that fails
//! part way through an import.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use chatstore::Result;
use chatstore::transfer::{Row, Table, TableTransfer, Value};
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

/// A target whose inserts fail after `allowed` of them succeeded, as if the process
/// died there.
pub struct Failing<'a> {
    inner: &'a dyn TableTransfer,
    allowed: u32,
    done: AtomicU32,
}

impl<'a> Failing<'a> {
    /// Wraps `inner`, letting `allowed` inserts through.
    pub fn new(inner: &'a dyn TableTransfer, allowed: u32) -> Failing<'a> {
        Failing {
            inner,
            allowed,
            done: AtomicU32::new(0),
        }
    }
}

impl TableTransfer for Failing<'_> {
    fn count_rows(&self, table: &Table) -> Result<u64> {
        self.inner.count_rows(table)
    }
    fn read_rows(&self, table: &Table, after: Option<&[Value]>, limit: u32) -> Result<Vec<Row>> {
        self.inner.read_rows(table, after, limit)
    }
    fn last_key(&self, table: &Table) -> Result<Option<Row>> {
        self.inner.last_key(table)
    }
    fn contains_key(&self, table: &Table, key: &[Value]) -> Result<bool> {
        self.inner.contains_key(table, key)
    }
    fn insert_rows(&self, table: &Table, rows: &[Row]) -> Result<u64> {
        if self.done.fetch_add(1, Ordering::SeqCst) >= self.allowed {
            return Err(chatstore::Error::Backend {
                detail: "the connection was lost".into(),
            });
        }
        self.inner.insert_rows(table, rows)
    }
    fn refresh_rows(&self, table: &Table, rows: &[Row]) -> Result<u64> {
        self.inner.refresh_rows(table, rows)
    }
    fn mirror_rows(&self, table: &Table, rows: &[Row]) -> Result<()> {
        self.inner.mirror_rows(table, rows)
    }
    fn finish_copy(&self) -> Result<()> {
        self.inner.finish_copy()
    }
}
