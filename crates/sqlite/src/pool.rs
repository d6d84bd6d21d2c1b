//! The reader pool's connection manager.
//!
//! SQLite connections to a local file do not go stale the way network connections do,
//! so instead of a test query on every checkout (which costs as much as a small read),
//! a connection is checked by what happens to it: one that reports an I/O error or
//! corruption, or is returned in the middle of a transaction, is marked broken and the
//! pool replaces it with a fresh one.

use std::cell::Cell;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;

/// A pooled read-only connection and whether it has shown itself broken.
pub(crate) struct Reader {
    pub(crate) conn: Connection,
    broken: Cell<bool>,
}

impl Reader {
    /// Marks the connection for replacement when it goes back to the pool.
    pub(crate) fn mark_broken(&self) {
        self.broken.set(true);
    }
}

/// Opens readers through r2d2_sqlite and judges their health as described above.
pub(crate) struct ReaderManager(pub(crate) SqliteConnectionManager);

impl r2d2::ManageConnection for ReaderManager {
    type Connection = Reader;
    type Error = rusqlite::Error;

    fn connect(&self) -> Result<Reader, rusqlite::Error> {
        Ok(Reader {
            conn: self.0.connect()?,
            broken: Cell::new(false),
        })
    }

    fn is_valid(&self, reader: &mut Reader) -> Result<(), rusqlite::Error> {
        reader
            .conn
            .prepare_cached("SELECT 1")?
            .query_row([], |_| Ok(()))
    }

    fn has_broken(&self, reader: &mut Reader) -> bool {
        reader.broken.get() || !reader.conn.is_autocommit()
    }
}
