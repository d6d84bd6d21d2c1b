//! [`MaintenanceStore`] on SQLite: integrity check, VACUUM and online backup.

use std::path::Path;
use std::time::Duration;

use chatstore::{Error, MaintenanceStore, Result};
use rusqlite::Connection;
use rusqlite::backup::Backup;

use crate::SqliteStore;
use crate::errors::SqliteResultExt;
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

    fn backup_to(&self, destination: &Path) -> Result<()> {
        let io = |source: std::io::Error| Error::Io {
            path: destination.to_path_buf(),
            source,
        };
        // Copy to a temporary name and rename, so a crash mid-backup never leaves a
        // half-written file under the backup's name.
        let partial = destination.with_extension("partial");
        let _ = std::fs::remove_file(&partial);
        self.db.read(|c| {
            let mut target = Connection::open(&partial).db()?;
            let backup = Backup::new(c.raw(), &mut target).db()?;
            backup
                .run_to_completion(256, Duration::from_millis(1), None)
                .db()?;
            drop(backup);
            target.execute_batch("PRAGMA journal_mode = DELETE;").db()?;
            target.close().map_err(|(_, e)| e).db()
        })?;
        std::fs::rename(&partial, destination).map_err(io)?;
        Ok(())
    }
}
