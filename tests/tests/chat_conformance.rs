//! The `ChatStore` conformance suite, run against the SQLite stack: every check of
//! `chatstore::conformance`'s chat suite on `SqliteStore`, `SqliteBlobStore` and
//! `HnswIndex` side by side in a temporary directory.

use chatstore::conformance::ChatBackend;
use chatstore::{Config, Result};
use chatstore_blob::{BlobConfig, SqliteBlobStore};
use chatstore_sqlite::SqliteStore;
use chatstore_tests::TempSqlite;
use chatstore_vector::{HnswIndex, IndexConfig};

/// `chatstore.db`, `files.db` and the vector snapshots (`vectors/`) in a temporary
/// directory, removed when dropped.
struct TempStack(TempSqlite);

impl ChatBackend for TempStack {
    type Store = SqliteStore;
    type Blobs = SqliteBlobStore;
    type Vectors = HnswIndex;

    fn open(&self, config: Config) -> Result<(SqliteStore, SqliteBlobStore, HnswIndex)> {
        let dir = self.0.dir();
        let blobs = BlobConfig::new(dir.join("files.db")).clock(config.clock.clone());
        Ok((
            self.0.open_sqlite(config)?,
            SqliteBlobStore::open(blobs)?,
            HnswIndex::new(IndexConfig::new(dir.join("vectors")))?,
        ))
    }
}

chatstore::chat_conformance_suite!(TempStack(TempSqlite::new()));
