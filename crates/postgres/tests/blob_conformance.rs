//! The blob store conformance suite, run against `PgBlobStore`: every check of
//! `chatstore::conformance`'s blob suite in a schema of its own on the server
//! `CHATSTORE_PG_URL` names (each check skips, saying so once, when it names none).

mod common;

use chatstore::conformance::BlobBackend;
use chatstore::{BlobStore, Result};
use chatstore_postgres::PgBlobStore;
use common::TempSchema;

/// The size limit the suite's stores are opened with: above the suite's largest blob,
/// small enough for a blob one byte over it to be built in memory.
const MAX_BLOB_BYTES: u64 = 4 << 20;

/// A schema on the test server, dropped when this value is.
struct TempPgBlobs(TempSchema);

impl BlobBackend for TempPgBlobs {
    fn open(&self) -> Result<Box<dyn BlobStore>> {
        Ok(Box::new(PgBlobStore::open(
            &self.0.config(),
            &self.0.options(),
            MAX_BLOB_BYTES,
        )?))
    }

    fn max_blob_bytes(&self) -> u64 {
        MAX_BLOB_BYTES
    }
}

chatstore::blob_conformance_suite!(match TempSchema::new() {
    Some(schema) => TempPgBlobs(schema),
    None => return,
});
