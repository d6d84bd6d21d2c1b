//! Connections and transactions.
//!
//! One writer connection behind a mutex, and a pool of read-only connections (the shape
//! sqlx's SQLite pool uses): SQLite lets one writer in at a time anyway, so writers queue
//! on the mutex in order instead of spinning in SQLite's busy handler, while readers run
//! in parallel on WAL snapshots.
//!
//! Every write is one transaction that takes the write lock up front (`BEGIN IMMEDIATE`),
//! commits or rolls back as a whole, and is retried with exponential backoff if another
//! process holds the lock. Reads are never retried: they fail fast.
//!
//! Statements are prepared once per connection and cached. Page sizes are bound as
//! `LIMIT ?N + 0`: SQLite re-prepares a statement whose `LIMIT` is a bare parameter every
//! time it runs.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chatstore::{Error, Result, RetryPolicy};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags, Row, ToSql};

use crate::checkpoint::Checkpointer;
use crate::errors::{SqliteResultExt, from_sqlite};
use crate::identity::FileIdentity;
use crate::migrate::Migration;
pub use crate::options::DbOptions;
use crate::pool::ReaderManager;
use crate::row::RowExt;
use crate::slow_log::SlowLog;

/// Statements kept prepared per connection (the hot paths use about thirty).
const STATEMENT_CACHE: usize = 128;

impl DbOptions {
    /// PRAGMAs every connection gets. `synchronous=NORMAL` in WAL mode loses nothing
    /// when the process crashes (committed pages are in the WAL file); only a power
    /// loss or OS crash can roll back the last commits, and never corrupts.
    fn apply(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.busy_timeout(self.sqlite.busy_timeout)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let synchronous = if self.sqlite.fsync_every_commit {
            "FULL"
        } else {
            "NORMAL"
        };
        conn.execute_batch(&format!(
            "PRAGMA foreign_keys = ON;
             PRAGMA synchronous = {synchronous};
             PRAGMA temp_store = MEMORY;
             PRAGMA cache_size = -16000;
             PRAGMA mmap_size = {};
             PRAGMA wal_autocheckpoint = {};
             PRAGMA secure_delete = {};",
            self.sqlite.mmap_size,
            self.checkpoint_pages,
            if self.sqlite.secure_delete {
                "ON"
            } else {
                "OFF"
            }
        ))
    }
}

/// Opens the read-write connection and applies the settings.
pub(crate) fn open_writer(path: &Path, settings: &DbOptions) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    settings.apply(&conn)?;
    Ok(conn)
}

/// A database: its writer connection and its reader pool.
pub struct Db {
    path: PathBuf,
    settings: DbOptions,
    writer: Mutex<Option<Connection>>,
    readers: r2d2::Pool<ReaderManager>,
    retry: RetryPolicy,
    slow: SlowLog,
    checkpointer: Option<Checkpointer>,
    /// The file opened, to notice it being deleted or replaced underneath.
    file: FileIdentity,
    /// A reader found the file damaged: readers check it opens before using the pool.
    damaged: Arc<AtomicBool>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Db {
    /// Opens (creating if needed) the database at `path`: runs the startup check,
    /// switches to WAL, applies `migrations` up to their last version (unless
    /// [`crate::SqliteOptions::skip_migrations`]), and starts the reader pool.
    pub fn open(path: &Path, options: &DbOptions, migrations: &[Migration]) -> Result<Db> {
        let writer = crate::startup::open_checked(path, options)?;
        if !options.sqlite.skip_migrations {
            crate::migrate::migrate_to(&writer, migrations, crate::migrate::latest(migrations))?;
        }
        Db::new(path.to_path_buf(), writer, options.clone())
    }

    /// Wraps an open, migrated writer connection and starts the reader pool.
    fn new(path: PathBuf, writer: Connection, settings: DbOptions) -> Result<Db> {
        let file = FileIdentity::of(&path)?;
        let reader_settings = settings.clone();
        let manager = SqliteConnectionManager::file(&path)
            .with_flags(OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .with_init(move |conn| reader_settings.apply(conn));
        let readers = r2d2::Pool::builder()
            .max_size(settings.pool_size)
            .min_idle(Some(1))
            .max_lifetime(None)
            .connection_timeout(settings.pool_timeout)
            .test_on_check_out(false)
            .build(ReaderManager(manager))
            .map_err(|e| Error::Unavailable {
                detail: format!("cannot open reader connections to {}: {e}", path.display()),
            })?;
        let checkpointer = if settings.background_checkpoint {
            Some(Checkpointer::start(&path).map_err(from_sqlite)?)
        } else {
            None
        };
        Ok(Db {
            path,
            writer: Mutex::new(Some(writer)),
            readers,
            retry: settings.write_retry,
            slow: SlowLog::new(settings.slow_query_threshold, settings.echo),
            settings,
            checkpointer,
            file,
            damaged: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on a reader connection. Statements see the latest committed data; use
    /// [`Db::read_snapshot`] when several statements must agree.
    pub fn read<T>(&self, f: impl FnOnce(&Conn<'_>) -> Result<T>) -> Result<T> {
        self.reader()?.run(f)
    }

    /// A reader connection to hold beyond one call (a streaming read). It goes back to
    /// the pool when dropped. A file deleted or replaced since it was opened is
    /// [`Error::Io`]; reads check that at most every quarter of a second (until then
    /// they still see the intact bytes of the file that was opened).
    ///
    /// After a reader found the file damaged, the next reads (and writes) first check
    /// that the file opens, on a connection of their own, and report [`Error::Corrupt`]
    /// at once while it does not: the pool cannot replace its connections to such a
    /// file and would otherwise keep callers waiting for the whole pool timeout.
    pub fn reader(&self) -> Result<ReadConnection> {
        self.file.check_for_read()?;
        self.recheck_damage()?;
        let reader = self.readers.get().map_err(|e| Error::Unavailable {
            detail: format!("no free database connection: {e}"),
        })?;
        Ok(ReadConnection {
            reader,
            slow: self.slow,
            damaged: Arc::clone(&self.damaged),
        })
    }

    /// When a reader found the file damaged: opens a connection of its own and reads
    /// the schema, returning the damage, if it is still there, as an error.
    fn recheck_damage(&self) -> Result<()> {
        if !self.damaged.load(Ordering::Relaxed) {
            return Ok(());
        }
        self.fresh_reader()?
            .query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
            .db()?;
        self.damaged.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// A read-only connection of its own, outside the pool, with the usual settings:
    /// it shares no cached state with the pooled readers.
    fn fresh_reader(&self) -> Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags).db()?;
        self.settings.apply(&conn).db()?;
        Ok(conn)
    }

    /// Runs `f` in a read transaction: every statement sees the same snapshot.
    pub fn read_snapshot<T>(&self, f: impl FnOnce(&Conn<'_>) -> Result<T>) -> Result<T> {
        self.read(|conn| conn.in_transaction("BEGIN", f))
    }

    /// Runs `f` in a write transaction, retrying the whole transaction with backoff while
    /// the database is busy. `f` may run more than once, so it must not have effects
    /// outside the transaction.
    ///
    /// After the commit the file is checked to still be the one opened: a write into a
    /// file that was deleted or replaced meanwhile would vanish with it, so it is
    /// [`Error::Io`] rather than acknowledged.
    pub fn write<T>(&self, mut f: impl FnMut(&Conn<'_>) -> Result<T>) -> Result<T> {
        // The writer may not read the damaged pages itself (it finds recent ones in its
        // cache and the log), so a write into a file readers found damaged is refused.
        self.recheck_damage()?;
        let written = self
            .retry
            .run(|| self.with_writer(|conn| conn.in_transaction("BEGIN IMMEDIATE", &mut f)))?;
        self.file.check()?;
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.committed();
        }
        Ok(written)
    }

    /// Closes every connection, first folding the write-ahead log into the database file
    /// so that the file alone holds everything. Errors are reported, not swallowed.
    pub fn close(self) -> Result<()> {
        drop(self.checkpointer);
        drop(self.readers);
        let writer = self
            .writer
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        match writer {
            Some(conn) => {
                conn.execute_batch("PRAGMA optimize;").db()?;
                fold_log(&conn)?;
                conn.close().map_err(|(_, error)| from_sqlite(error))
            }
            None => Ok(()),
        }
    }

    /// Checks the file's structure (SQLite's integrity check, which includes the FTS5
    /// indexes, and its foreign keys); damage is [`Error::Corrupt`] listing what was
    /// found.
    ///
    /// The check runs on a connection opened for it alone. A connection that has read
    /// a full-text index caches that index's structure, and FTS5's integrity check
    /// trusts the cache without asking whether another connection has committed since
    /// (its cursors ask; the check does not, as of SQLite 3.53). On a pooled reader
    /// the check would then read segments the writer has merged away and report
    /// corruption that is not in the file.
    pub fn check_integrity(&self) -> Result<()> {
        self.file.check()?;
        let fresh = self.fresh_reader()?;
        let conn = Conn {
            inner: &fresh,
            slow: self.slow,
        };
        let problems = conn.in_transaction("BEGIN", |c| {
            let mut found = c.rows("PRAGMA integrity_check", &[], |row| row.text(0))?;
            found.extend(c.rows("PRAGMA foreign_key_check", &[], |row| {
                Ok(format!("dangling reference in {}", row.str(0)?))
            })?);
            Ok(found)
        })?;
        match problems.as_slice() {
            [ok] if ok == "ok" => Ok(()),
            _ => Err(Error::Corrupt {
                detail: problems.join("; "),
            }),
        }
    }

    /// Rebuilds the file without the space of deleted rows, and folds the log into it
    /// so that the file on disk actually shrinks.
    pub fn vacuum(&self) -> Result<()> {
        self.with_writer(|c| {
            fold_log(c.raw())?;
            c.raw().execute_batch("VACUUM; PRAGMA optimize;").db()?;
            fold_log(c.raw())
        })
    }

    /// Runs `f` on the writer connection outside any transaction (for VACUUM, backups
    /// and migrations). A writer that fails its health check is replaced first.
    pub fn with_writer<T>(&self, f: impl FnOnce(&Conn<'_>) -> Result<T>) -> Result<T> {
        let mut guard = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let healthy = guard.as_ref().is_some_and(|conn| {
            // A transaction left open by a panicking caller is rolled back here.
            conn.is_autocommit() || conn.execute_batch("ROLLBACK").is_ok()
        });
        if !healthy {
            *guard = Some(open_writer(&self.path, &self.settings).db()?);
        }
        let conn = guard.as_ref().ok_or_else(|| Error::Unavailable {
            detail: "writer connection unavailable".to_owned(),
        })?;
        let result = f(&Conn {
            inner: conn,
            slow: self.slow,
        });
        if is_connection_failure(&result) {
            // Reopen on next use rather than keep a connection that may be broken.
            *guard = None;
        }
        result
    }
}

/// A pooled reader connection held by the caller.
pub struct ReadConnection {
    reader: r2d2::PooledConnection<ReaderManager>,
    slow: SlowLog,
    damaged: Arc<AtomicBool>,
}

impl ReadConnection {
    /// Runs `f` on the connection; a connection failure retires it from the pool, and
    /// damage makes the next reads check the file first (see [`Db::reader`]).
    pub fn run<T>(&self, f: impl FnOnce(&Conn<'_>) -> Result<T>) -> Result<T> {
        let result = f(&Conn {
            inner: &self.reader.conn,
            slow: self.slow,
        });
        if is_connection_failure(&result) {
            self.reader.mark_broken();
        }
        if matches!(result, Err(Error::Corrupt { .. })) {
            self.damaged.store(true, Ordering::Relaxed);
        }
        result
    }
}

/// Folds the whole write-ahead log into the database file and empties it, waiting out
/// a checkpoint the background thread may be running at that moment.
fn fold_log(conn: &Connection) -> Result<()> {
    for _ in 0..200 {
        let busy: i64 = conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))
            .db()?;
        if busy == 0 {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(Error::Busy {
        detail: "the write-ahead log could not be folded into the database file".to_owned(),
    })
}

/// True for the errors after which a connection is not trusted again.
fn is_connection_failure<T>(result: &Result<T>) -> bool {
    matches!(
        result,
        Err(Error::Unavailable { .. } | Error::Corrupt { .. })
    )
}

/// A connection with timed, parameterised statement helpers.
pub struct Conn<'a> {
    inner: &'a Connection,
    slow: SlowLog,
}

impl Conn<'_> {
    /// The underlying connection, for APIs the helpers do not cover.
    pub fn raw(&self) -> &Connection {
        self.inner
    }

    /// Runs a statement; returns the number of rows changed.
    pub fn execute(&self, sql: &str, params: &[&dyn ToSql]) -> Result<usize> {
        self.slow
            .time(sql, params, || {
                self.inner.prepare_cached(sql)?.execute(params)
            })
            .db()
    }

    /// The first row mapped by `map`, or `None`.
    pub fn row<T>(
        &self,
        sql: &str,
        params: &[&dyn ToSql],
        map: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        self.slow.time(sql, params, || {
            let mut statement = self.inner.prepare_cached(sql).db()?;
            let mut rows = statement.query(params).db()?;
            match rows.next().db()? {
                Some(row) => map(row).map(Some),
                None => Ok(None),
            }
        })
    }

    /// Every row, mapped by `map`.
    pub fn rows<T>(
        &self,
        sql: &str,
        params: &[&dyn ToSql],
        mut map: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.slow.time(sql, params, || {
            let mut statement = self.inner.prepare_cached(sql).db()?;
            let mut rows = statement.query(params).db()?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().db()? {
                out.push(map(row)?);
            }
            Ok(out)
        })
    }

    /// True when the query returns at least one row.
    pub fn exists(&self, sql: &str, params: &[&dyn ToSql]) -> Result<bool> {
        self.row(sql, params, |_| Ok(())).map(|row| row.is_some())
    }

    /// Runs `f` between `begin` and COMMIT, rolling back if it fails.
    pub fn in_transaction<T>(
        &self,
        begin: &str,
        f: impl FnOnce(&Conn<'_>) -> Result<T>,
    ) -> Result<T> {
        self.execute(begin, &[])?;
        let result = f(self).and_then(|value| self.execute("COMMIT", &[]).map(|_| value));
        if result.is_err()
            && !self.inner.is_autocommit()
            && let Err(error) = self.inner.execute_batch("ROLLBACK")
        {
            tracing::error!(error = %from_sqlite(error), "rollback failed");
        }
        result
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use chatstore::{Config, PasswordParams};
    use rusqlite::{Connection, StatementStatus, ToSql};

    use crate::SqliteStore;

    /// A migrated database in a temporary directory, and a separate connection to it.
    pub(crate) fn scratch() -> (tempfile::TempDir, SqliteStore, Connection) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("scratch.db");
        let config =
            Config::new(path.to_string_lossy()).password_params(PasswordParams::fast_for_tests());
        let store = SqliteStore::open(config).expect("store opens");
        let conn = Connection::open(&path).expect("second connection");
        (dir, store, conn)
    }

    /// Runs `sql` several times with `params` and checks SQLite never had to prepare it
    /// again (which it does, for example, for a bare `LIMIT ?`).
    pub(crate) fn assert_prepared_once(conn: &Connection, sql: &str, params: &[&dyn ToSql]) {
        let mut statement = conn.prepare(sql).expect("statement prepares");
        for _ in 0..3 {
            let mut rows = statement.query(params).expect("statement runs");
            while rows.next().expect("rows step").is_some() {}
        }
        assert_eq!(statement.get_status(StatementStatus::RePrepare), 0, "{sql}");
    }

    #[test]
    fn a_bare_limit_parameter_would_be_prepared_again() {
        let (_dir, _store, conn) = scratch();
        let mut statement = conn
            .prepare("SELECT id FROM users LIMIT ?1")
            .expect("statement prepares");
        for _ in 0..3 {
            statement.query([5]).expect("runs").next().expect("steps");
        }
        assert!(
            statement.get_status(StatementStatus::RePrepare) > 0,
            "SQLite no longer re-prepares for LIMIT ?; the `?N + 0` workaround can go"
        );
    }
}
