//! Keeping the attachment file healthy: integrity, content verification, compaction,
//! backups.

use chatstore::{BackupDestination, BlobKey, MessageId, Result};
use chatstore_sqlite::engine::RowExt;

use crate::SqliteBlobStore;
use crate::checks::checks_of;
use chatstore::blob::content_hash;

impl SqliteBlobStore {
    /// Checks the file's structure (SQLite's integrity check and its references);
    /// damage is [`chatstore::Error::Corrupt`], a file deleted or replaced since the store
    /// opened it [`chatstore::Error::Io`]. See [`SqliteBlobStore::verify_contents`] for the
    /// bytes themselves.
    pub fn check_integrity(&self) -> Result<()> {
        self.db.check_integrity()
    }

    /// Re-reads every stored content and compares it with its blake3 hash (the content
    /// address); returns the keys whose bytes are damaged (empty when all is well).
    /// Reads the whole file: run it at a quiet time.
    ///
    /// Contents whose bytes match their hash but whose fast checksums (what every read
    /// checks) are missing — stored before the checksums existed — or damaged get them
    /// recorded afresh, in one write after the check; a store with nothing to record is
    /// only read.
    pub fn verify_contents(&self) -> Result<Vec<BlobKey>> {
        let (damaged, fixes) = self.db.read_snapshot(|c| {
            let mut damaged = Vec::new();
            let mut fixes = Vec::new();
            let sql = "SELECT c.id, c.hash, c.data, k.checks FROM contents c
                       LEFT JOIN content_checks k ON k.content_id = c.id";
            c.rows(sql, &[], |row| {
                let data = row.value(2)?.as_blob().map_err(|e| row.corrupt(2, e))?;
                let stored = row
                    .value(3)?
                    .as_blob_or_null()
                    .map_err(|e| row.corrupt(3, e))?;
                let (id, hash) = (row.int(0)?, row.text(1)?);
                if content_hash(data) != hash {
                    damaged.push(id);
                } else {
                    let checks = checks_of(data);
                    if stored != Some(checks.as_slice()) {
                        fixes.push((id, hash, checks));
                    }
                }
                Ok(())
            })?;
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
            Ok((keys, fixes))
        })?;
        if !fixes.is_empty() {
            self.db.write(|c| {
                for (id, hash, checks) in &fixes {
                    // The same id and hash: the same bytes, even if the content was
                    // deleted and its id taken again since the check.
                    c.execute(
                        "INSERT INTO content_checks (content_id, checks)
                         SELECT id, ?3 FROM contents WHERE id = ?1 AND hash = ?2
                         ON CONFLICT (content_id) DO UPDATE SET checks = excluded.checks",
                        &[id, hash, checks],
                    )?;
                }
                Ok(())
            })?;
        }
        Ok(damaged)
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
