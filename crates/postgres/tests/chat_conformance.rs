//! The `ChatStore` conformance suite on PostgreSQL: every check of
//! `chatstore::conformance`'s chat suite on `PgStore` and `PgBlobStore` (a schema of
//! their own on the test server) with a vector index in a temporary directory.

mod common;

use chatstore::conformance::ChatBackend;
use chatstore::{Config, Result};
use chatstore_postgres::{PgBlobStore, PgStore};
use chatstore_vector::{HnswIndex, IndexConfig};
use common::TempSchema;

/// A schema on the test server, and a directory for the vector snapshots; both removed
/// when dropped.
struct TempStack {
    schema: TempSchema,
    dir: tempfile::TempDir,
}

impl ChatBackend for TempStack {
    type Store = PgStore;
    type Blobs = PgBlobStore;
    type Vectors = HnswIndex;

    fn open(&self, config: Config) -> Result<(PgStore, PgBlobStore, HnswIndex)> {
        let config = config.database_url(self.schema.url.clone());
        let store = PgStore::open_with(config, &self.schema.options())?;
        let blobs = store.blobs(64 << 20);
        Ok((
            store,
            blobs,
            HnswIndex::new(IndexConfig::new(self.dir.path().join("vectors")))?,
        ))
    }
}

chatstore::chat_conformance_suite!(match TempSchema::new() {
    Some(schema) => TempStack {
        schema,
        dir: tempfile::tempdir().expect("temporary directory"),
    },
    None => return,
});
