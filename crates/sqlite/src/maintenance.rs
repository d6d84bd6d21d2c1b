//! [`MaintenanceStore`] on SQLite: integrity check, VACUUM, online backup and the
//! search index rebuild.

use chatstore::{BackupDestination, MaintenanceStore, Result};

use crate::SqliteStore;
use crate::migrate;

impl MaintenanceStore for SqliteStore {
    fn now(&self) -> chatstore::Timestamp {
        SqliteStore::now(self)
    }

    fn schema_version(&self) -> Result<u32> {
        self.db.with_writer(|c| migrate::current_version(c.raw()))
    }

    fn check_integrity(&self) -> Result<()> {
        self.db.check_integrity()
    }

    fn vacuum(&self) -> Result<()> {
        self.db.vacuum()
    }

    fn backup(&self, destination: BackupDestination<'_>) -> Result<()> {
        self.db.backup(destination)
    }

    fn rebuild_search_index(&self) -> Result<()> {
        // From scratch: every message, waiting or not, is in the rebuilt index.
        self.db.write(|c| {
            c.execute(
                "INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')",
                &[],
            )?;
            c.execute(
                "UPDATE search_indexed SET upto = coalesce((SELECT max(pk) FROM messages), 0)",
                &[],
            )
            .map(drop)
        })
    }
}
