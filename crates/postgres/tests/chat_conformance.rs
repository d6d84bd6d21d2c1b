//! The `ChatStore` conformance suite with the main store on PostgreSQL: every check of
//! `chatstore::conformance`'s chat suite on `PgStore` (a schema of its own on the test
//! server), beside an attachment store and a vector index in a temporary directory.

mod common;

use chatstore::conformance::ChatBackend;
use chatstore::{Config, Result};
use chatstore_blob::{BlobConfig, SqliteBlobStore};
use chatstore_postgres::PgStore;
use chatstore_vector::{HnswIndex, IndexConfig};
use common::TempSchema;

/// A schema on the test server, and a directory for the attachments and the vector
/// snapshots; both removed when dropped.
struct TempStack {
    schema: TempSchema,
    dir: tempfile::TempDir,
}

impl ChatBackend for TempStack {
    type Store = PgStore;
    type Blobs = SqliteBlobStore;
    type Vectors = HnswIndex;

    fn open(&self, config: Config) -> Result<(PgStore, SqliteBlobStore, HnswIndex)> {
        let blobs = BlobConfig::new(self.dir.path().join("files.db")).clock(config.clock.clone());
        let config = config.database_url(self.schema.url.clone());
        Ok((
            PgStore::open_with(config, &self.schema.options())?,
            SqliteBlobStore::open(blobs)?,
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
