//! Keeping the attachment file healthy: integrity, content verification, compaction,
//! backups.

use chatstore::{BackupDestination, BlobKey, MessageId, Result};
use chatstore_sqlite::engine::RowExt;

use crate::SqliteBlobStore;
use chatstore::blob::content_hash;

impl SqliteBlobStore {
    /// Checks the file's structure (SQLite's integrity check and its references);
    /// damage is [`chatstore::Error::Corrupt`], a file deleted or replaced since the store
    /// opened it [`chatstore::Error::Io`]. See [`SqliteBlobStore::verify_contents`] for the
    /// bytes themselves.
    pub fn check_integrity(&self) -> Result<()> {
        self.db.check_integrity()
    }

    /// Re-reads every stored content and compares it with its hash; returns the keys
    /// whose bytes are damaged (empty when all is well). Reads the whole file: run it
    /// at a quiet time.
    pub fn verify_contents(&self) -> Result<Vec<BlobKey>> {
        self.db.read_snapshot(|c| {
            let damaged: Vec<i64> = c
                .rows("SELECT id, hash, data FROM contents", &[], |row| {
                    let data = row.value(2)?.as_blob().map_err(|e| row.corrupt(2, e))?;
                    Ok((row.int(0)?, content_hash(data) != row.str(1)?))
                })?
                .into_iter()
                .filter_map(|(id, bad)| bad.then_some(id))
                .collect();
            let mut keys = Vec::new();
            for id in damaged {
                keys.extend(c.rows(
                    "SELECT message_id, idx, thumbnail FROM blobs WHERE content_id = ?1",
                    &[&id],
                    |row| {
                        Ok(BlobKey {
                            message: row.parse::<MessageId>(0)?,
                            index: row.uint(1)?,
                            thumbnail: row.boolean(2)?,
                        })
                    },
                )?);
            }
            Ok(keys)
        })
    }

    /// Writes a consistent copy of the attachment file while it stays in use (the same
    /// online backup as the main store's [`chatstore::MaintenanceStore::backup`]).
    pub fn backup(&self, destination: BackupDestination<'_>) -> Result<()> {
        self.db.backup(destination)
    }

    /// Reclaims the space of deleted blobs and defragments the file.
    pub fn vacuum(&self) -> Result<()> {
        self.db.vacuum()
    }
}
