//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

use chatstore::conformance::Backend;
use chatstore::{Config, Result, Store};
use chatstore_sqlite::SqliteStore;

/// A SQLite database in a temporary directory, removed when dropped.
pub struct TempSqlite {
    dir: tempfile::TempDir,
}

impl TempSqlite {
    /// A fresh, empty location.
    pub fn new() -> TempSqlite {
        TempSqlite {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    /// The directory holding the database.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The database file.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("chatstore.db")
    }

    /// Opens the concrete store with `config` pointed at this location.
    pub fn open_sqlite(&self, config: Config) -> Result<SqliteStore> {
        SqliteStore::open(config.database_url(self.path().to_string_lossy()))
    }
}

impl Default for TempSqlite {
    fn default() -> Self {
        TempSqlite::new()
    }
}

impl Backend for TempSqlite {
    fn open(&self, config: Config) -> Result<Box<dyn Store>> {
        Ok(Box::new(self.open_sqlite(config)?))
    }
}
