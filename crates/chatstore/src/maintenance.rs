//! Keeping a store healthy: schema version, integrity checks, compaction and backups.

use std::io::Write;
use std::path::Path;

use crate::Result;

/// Where [`MaintenanceStore::backup`] writes a consistent copy of a database.
pub enum BackupDestination<'a> {
    /// A file on this machine; an existing file there is replaced. The copy is written
    /// under a temporary name beside it and renamed into place when complete, so a crash
    /// never leaves a half-written backup under the file's name.
    File(&'a Path),
    /// A stream, for a backup that goes elsewhere (uploaded, piped to a compressor). The
    /// backend writes its own format: for SQLite, the bytes of a database file that
    /// opens on its own; for a server backend, its dump format. When this returns `Ok`,
    /// the whole copy has been written and flushed.
    Stream(&'a mut dyn Write),
}

impl std::fmt::Debug for BackupDestination<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BackupDestination::File(path) => f.debug_tuple("File").field(path).finish(),
            BackupDestination::Stream(_) => f.write_str("Stream(..)"),
        }
    }
}

/// Maintenance operations.
pub trait MaintenanceStore: Send + Sync {
    /// The time on the store's configured [`crate::Clock`]. Every timestamp the store
    /// writes comes from this clock, and so does every cut-off the library computes for
    /// it (orphan sweeps, interrupted processing), so that a host or a test with a clock
    /// of its own sees one consistent time.
    fn now(&self) -> crate::Timestamp;

    /// The schema version the database is at.
    fn schema_version(&self) -> Result<u32>;

    /// Checks the database's internal consistency; damage is [`crate::Error::Corrupt`].
    fn check_integrity(&self) -> Result<()>;

    /// Rebuilds the search index from the messages (it is derived data, and kept in step
    /// by every append, so this is only needed after repairing a damaged file).
    fn rebuild_search_index(&self) -> Result<()>;

    /// Reclaims the space of deleted rows and defragments the database. Needs a moment
    /// of exclusive access.
    fn vacuum(&self) -> Result<()>;

    /// Writes a consistent copy of the database to `destination` while it stays in use:
    /// every write acknowledged before the backup began is in it, and no write is half
    /// in it.
    fn backup(&self, destination: BackupDestination<'_>) -> Result<()>;

    /// Writes a consistent copy of the database to the file `destination`, replacing
    /// one that is there ([`BackupDestination::File`]).
    fn backup_to(&self, destination: &Path) -> Result<()> {
        self.backup(BackupDestination::File(destination))
    }
}
