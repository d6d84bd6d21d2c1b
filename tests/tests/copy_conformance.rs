//! The store copy suite between two SQLite stores (`chatstore.db` and `files.db` each in
//! a temporary directory): every check of `chatstore::conformance`'s copy suite.

use chatstore::conformance::CopyBackend;
use chatstore::{Config, Result};
use chatstore_blob::{BlobConfig, SqliteBlobStore};
use chatstore_sqlite::SqliteStore;
use chatstore_tests::TempSqlite;

/// A SQLite store and its attachments in a temporary directory.
struct SqliteSide(TempSqlite);

impl CopyBackend for SqliteSide {
    type Store = SqliteStore;
    type Blobs = SqliteBlobStore;

    fn open(&self, config: Config) -> Result<(SqliteStore, SqliteBlobStore)> {
        let blobs = BlobConfig::new(self.0.dir().join("files.db")).clock(config.clock.clone());
        Ok((self.0.open_sqlite(config)?, SqliteBlobStore::open(blobs)?))
    }
}

chatstore::copy_conformance_suite!(SqliteSide(TempSqlite::new()), SqliteSide(TempSqlite::new()));
