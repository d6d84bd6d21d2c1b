//! The blob store conformance suite, run against `SqliteBlobStore`: every check of
//! `chatstore::conformance`'s blob suite on a fresh `files.db` in a temporary directory.

use chatstore::conformance::BlobBackend;
use chatstore::{BlobStore, Result};
use chatstore_blob::{BlobConfig, SqliteBlobStore};

/// The size limit the suite's stores are opened with: above the suite's largest blob,
/// small enough for a blob one byte over it to be built in memory.
const MAX_BLOB_BYTES: u64 = 4 << 20;

/// A `files.db` in a temporary directory, removed when dropped.
struct TempBlobs(tempfile::TempDir);

impl BlobBackend for TempBlobs {
    fn open(&self) -> Result<Box<dyn BlobStore>> {
        let config = BlobConfig::new(self.0.path().join("files.db")).max_blob_bytes(MAX_BLOB_BYTES);
        Ok(Box::new(SqliteBlobStore::open(config)?))
    }

    fn max_blob_bytes(&self) -> u64 {
        MAX_BLOB_BYTES
    }
}

chatstore::blob_conformance_suite!(TempBlobs(tempfile::tempdir().expect("temporary directory")));
