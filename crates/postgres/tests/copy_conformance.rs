//! The store copy suite between PostgreSQL and SQLite, both ways, and between two
//! PostgreSQL schemas: every check of `chatstore::conformance`'s copy suite.

mod common;

use chatstore::conformance::CopyBackend;
use chatstore::{Config, Result};
use chatstore_blob::{BlobConfig, SqliteBlobStore};
use chatstore_postgres::{PgBlobStore, PgStore};
use chatstore_sqlite::SqliteStore;
use common::TempSchema;

/// A store and its attachments in a schema of their own on the test server.
struct PgSide(TempSchema);

impl CopyBackend for PgSide {
    type Store = PgStore;
    type Blobs = PgBlobStore;

    fn open(&self, config: Config) -> Result<(PgStore, PgBlobStore)> {
        let config = config.database_url(self.0.url.clone());
        let store = PgStore::open_with(config, &self.0.options())?;
        let blobs = store.blobs(64 << 20);
        Ok((store, blobs))
    }
}

/// A SQLite store (`chatstore.db`) and its attachments (`files.db`) in a temporary
/// directory.
struct SqliteSide(tempfile::TempDir);

impl SqliteSide {
    fn new() -> SqliteSide {
        SqliteSide(tempfile::tempdir().expect("temporary directory"))
    }
}

impl CopyBackend for SqliteSide {
    type Store = SqliteStore;
    type Blobs = SqliteBlobStore;

    fn open(&self, config: Config) -> Result<(SqliteStore, SqliteBlobStore)> {
        let path = self.0.path().join("chatstore.db");
        let blobs = BlobConfig::new(self.0.path().join("files.db")).clock(config.clock.clone());
        let store = SqliteStore::open(config.database_url(path.to_string_lossy()))?;
        Ok((store, SqliteBlobStore::open(blobs)?))
    }
}

/// A schema on the test server, or the end of the test when there is none.
macro_rules! pg {
    () => {
        match TempSchema::new() {
            Some(schema) => PgSide(schema),
            None => return,
        }
    };
}

mod sqlite_to_postgres {
    use super::*;
    chatstore::copy_conformance_suite!(SqliteSide::new(), pg!());
}

mod postgres_to_sqlite {
    use super::*;
    chatstore::copy_conformance_suite!(pg!(), SqliteSide::new());
}

mod postgres_to_postgres {
    use super::*;
    chatstore::copy_conformance_suite!(pg!(), pg!());
}
