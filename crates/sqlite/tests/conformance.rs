//! The backend conformance suite, run against SQLite: every check of
//! `chatstore::conformance` on a fresh database in a temporary directory.

use chatstore::conformance::Backend;
use chatstore::{Config, Result, Store};
use chatstore_sqlite::SqliteStore;

/// A database file in a temporary directory, removed when dropped.
struct TempSqlite(tempfile::TempDir);

impl Backend for TempSqlite {
    fn open(&self, config: Config) -> Result<Box<dyn Store>> {
        let path = self.0.path().join("chatstore.db");
        let store = SqliteStore::open(config.database_url(path.to_string_lossy()))?;
        Ok(Box::new(store))
    }
}

chatstore::conformance_suite!(TempSqlite(
    tempfile::tempdir().expect("temporary directory")
));
