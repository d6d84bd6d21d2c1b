//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

use std::sync::Arc;

use chatstore::conformance::{Backend, test_config};
use chatstore::{ChatStore, Config, ManualClock, NoVectorIndex, Result, Store};
use chatstore_blob::{BlobConfig, SqliteBlobStore};
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

/// A main store and an attachment store side by side in a temporary directory, tied
/// together by a [`ChatStore`], with a manual clock.
pub struct TempChat {
    /// The stores.
    pub chat: ChatStore<SqliteStore, SqliteBlobStore>,
    /// The clock both stores read.
    pub clock: ManualClock,
    /// Where the files are.
    pub location: TempSqlite,
}

impl TempChat {
    /// Fresh stores.
    pub fn new() -> TempChat {
        TempChat::open(TempSqlite::new())
    }

    /// Opens the stores at `location` (again, if they exist).
    pub fn open(location: TempSqlite) -> TempChat {
        let (config, clock) = test_config();
        let store = location.open_sqlite(config).expect("main store opens");
        let blobs = SqliteBlobStore::open(
            BlobConfig::new(location.dir().join("files.db")).clock(Arc::new(clock.clone())),
        )
        .expect("blob store opens");
        let chat = ChatStore::new(store, blobs, NoVectorIndex).expect("stores tie together");
        TempChat {
            chat,
            clock,
            location,
        }
    }
}

impl Default for TempChat {
    fn default() -> Self {
        TempChat::new()
    }
}
