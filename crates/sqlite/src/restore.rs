//! Restoring a database file from a backup in place, only when no other connection has
//! it open.

use std::path::Path;
use std::time::Duration;

use chatstore::{Error, Result};
use rusqlite::backup::Backup;
use rusqlite::{Connection, ErrorCode, OpenFlags};

use crate::FileError;
use crate::errors::SqliteResultExt;

/// Pages copied per step.
const PAGES_PER_STEP: i32 = 1024;

/// Replaces the contents of the chatstore database (or attachment file) at `target`
/// with the database file `backup`, which is only read.
///
/// The copy goes through SQLite's backup API on a connection that holds `target`
/// exclusively for the whole restore: if any other connection, of this process or
/// another, has the file open (a running host), nothing is changed and the error is
/// [`FileError::Locked`]. The copy is one transaction, so an interrupted restore leaves
/// the old contents; afterwards the file is in WAL mode, as chatstore keeps it. Check
/// the backup first (open a copy of it and run the integrity check): this copies
/// whatever it is given.
///
/// ```
/// use chatstore::UserStore;
/// use chatstore_sqlite::{SqliteStore, restore_database};
///
/// # let dir = tempfile::tempdir().unwrap();
/// let live = dir.path().join("chatstore.db");
/// let copy = dir.path().join("backup.db");
/// let store = SqliteStore::open_path(&live)?;
/// chatstore::MaintenanceStore::backup_to(&store, &copy)?;
/// // Refused while the store is open...
/// assert!(restore_database(&copy, &live).is_err());
/// store.close()?;
/// // ...and done once it is closed.
/// restore_database(&copy, &live)?;
/// # Ok::<(), chatstore::Error>(())
/// ```
pub fn restore_database(backup: &Path, target: &Path) -> Result<()> {
    if !target.is_file() {
        return Err(Error::NotFound {
            entity: "database file",
            key: target.display().to_string(),
        });
    }
    let source = Connection::open_with_flags(
        backup,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .db()?;
    let in_use = |error: rusqlite::Error| -> Error {
        match error.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => FileError::Locked {
                path: target.to_path_buf(),
            }
            .into(),
            _ => crate::errors::from_sqlite(error),
        }
    };
    let mut destination = Connection::open_with_flags(
        target,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .db()?;
    destination.busy_timeout(Duration::ZERO).db()?;
    // In exclusive locking mode the first write takes an exclusive lock on the file
    // and keeps it until the connection closes; every other open connection (a WAL
    // connection holds a shared lock for as long as it is open) makes that fail.
    destination
        .pragma_update(None, "locking_mode", "EXCLUSIVE")
        .map_err(in_use)?;
    destination
        .execute_batch("BEGIN EXCLUSIVE; SELECT count(*) FROM sqlite_schema; COMMIT;")
        .map_err(in_use)?;
    {
        let backup = Backup::new(&source, &mut destination).map_err(in_use)?;
        backup
            .run_to_completion(PAGES_PER_STEP, Duration::ZERO, None)
            .map_err(in_use)?;
    }
    destination
        .query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
        .db()?;
    destination.close().map_err(|(_, e)| e).db()
}
