//! Keeping a store healthy: schema version, integrity checks, compaction and backups.

use std::path::Path;

use crate::Result;

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

    /// Reclaims the space of deleted rows and defragments the database. Needs a moment
    /// of exclusive access.
    fn vacuum(&self) -> Result<()>;

    /// Writes a consistent copy of the database to `destination` while it stays in use.
    /// An existing file there is replaced.
    fn backup_to(&self, destination: &Path) -> Result<()>;
}
