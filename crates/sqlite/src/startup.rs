//! Opening a database: where it is, and the startup check that turns each way opening a
//! file can fail into a distinct, actionable [`FileError`].

use chatstore::{Error, Result, StartupError};
use rusqlite::{Connection, ErrorCode, OpenFlags};
use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind, Read};
use std::path::{Path, PathBuf};

use crate::db::{DbOptions, open_writer};
use crate::errors::from_sqlite;

/// The first 16 bytes of every SQLite database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// The file a `DATABASE_URL` names: a plain path, or SQLAlchemy's
/// `sqlite:///relative/path.db` and `sqlite:////absolute/path.db`.
///
/// ```
/// use chatstore_sqlite::database_path;
/// use std::path::PathBuf;
///
/// assert_eq!(database_path("chat.db").unwrap(), PathBuf::from("chat.db"));
/// assert_eq!(database_path("sqlite:///data/chat.db").unwrap(), PathBuf::from("data/chat.db"));
/// assert_eq!(database_path("sqlite:////var/chat.db").unwrap(), PathBuf::from("/var/chat.db"));
/// assert!(database_path("postgresql://db/chat").is_err());
/// assert!(database_path("sqlite://:memory:").is_err());
/// ```
pub fn database_path(url: &str) -> Result<PathBuf> {
    let url = url.trim();
    let path = if let Some(rest) = url.strip_prefix("sqlite://") {
        rest.strip_prefix('/').unwrap_or(rest)
    } else if url.contains("://") {
        return Err(Error::validation(
            "database_url",
            format!("{url:?} is not a SQLite location: use a path or sqlite:///path"),
        ));
    } else {
        url
    };
    if path.is_empty() || path.contains(":memory:") {
        return Err(Error::validation(
            "database_url",
            "needs a file path (in-memory databases cannot be shared by a pool)",
        ));
    }
    Ok(PathBuf::from(path))
}

/// Why a SQLite file could not be opened: what only a backend on files meets. It reaches
/// the caller as [`chatstore::Error::Startup`] with [`StartupError::Backend`];
/// [`FileError::of`] finds it there.
///
/// ```
/// use chatstore_sqlite::{FileError, SqliteStore};
///
/// let err = SqliteStore::open_path("/no/such/directory/chat.db").unwrap_err();
/// assert!(matches!(FileError::of(&err), Some(FileError::MissingDirectory { .. })));
/// assert!(err.to_string().contains("does not exist"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// The directory that should hold the database does not exist.
    #[error("directory {} does not exist: create it or configure another database path", path.display())]
    MissingDirectory {
        /// The missing directory.
        path: PathBuf,
    },

    /// The directory exists but this process cannot create files in it.
    #[error("directory {} is not writable by this process: fix its permissions or configure another database path ({source})", path.display())]
    UnwritableDirectory {
        /// The directory.
        path: PathBuf,
        /// The error the write probe got.
        #[source]
        source: io::Error,
    },

    /// The database file exists but cannot be opened for reading and writing.
    #[error("database file {} cannot be read and written by this process: fix its permissions ({source})", path.display())]
    UnreadableFile {
        /// The file.
        path: PathBuf,
        /// The error opening it gave.
        #[source]
        source: io::Error,
    },

    /// The file exists but is not a database of this backend.
    #[error("{} is not a SQLite database: move it aside or configure another path", path.display())]
    NotADatabase {
        /// The file.
        path: PathBuf,
    },

    /// The file is a SQLite database of another application (the Python app's
    /// `chatbot.db`, say): chatstore opened it read-only to look, and changed nothing.
    #[error("{} holds another application's tables ({}), not a chatstore database: chatstore leaves it untouched; configure another path, and bring its data over with an import", path.display(), tables.join(", "))]
    ForeignDatabase {
        /// The file.
        path: PathBuf,
        /// Its tables (the first few).
        tables: Vec<String>,
    },

    /// Another process holds a lock on the database and did not release it in time.
    #[error("database {} is locked by another process: stop the other process or wait and retry", path.display())]
    Locked {
        /// The database file.
        path: PathBuf,
    },

    /// The disk reported an I/O error while opening.
    #[error("disk I/O error opening {}: check the disk's health and free space ({detail})", path.display())]
    DiskIo {
        /// The database file.
        path: PathBuf,
        /// What the backend reported.
        detail: String,
    },
}

impl FileError {
    /// The file error inside `error`, if it is one.
    pub fn of(error: &Error) -> Option<&FileError> {
        match error {
            Error::Startup(StartupError::Backend(inner)) => inner.downcast_ref(),
            _ => None,
        }
    }
}

impl From<FileError> for Error {
    fn from(error: FileError) -> Error {
        Error::Startup(StartupError::Backend(Box::new(error)))
    }
}

/// Checks, before SQLite touches anything, that the database can be opened: the
/// directory exists and is writable, and an existing file is readable, writable and a
/// SQLite database.
pub(crate) fn check_location(path: &Path) -> Result<(), FileError> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !directory.is_dir() {
        return Err(FileError::MissingDirectory { path: directory });
    }
    probe_writable(&directory)?;
    match OpenOptions::new().read(true).write(true).open(path) {
        Ok(file) => check_header(path, file),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(source) => Err(FileError::UnreadableFile {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Creates and removes a file in the directory: SQLite needs to create its journal files
/// there even when the database itself exists.
fn probe_writable(directory: &Path) -> Result<(), FileError> {
    let probe = directory.join(format!(".chatstore-write-probe-{}", std::process::id()));
    let result = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map(drop);
    match result {
        Ok(()) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            let _ = std::fs::remove_file(&probe);
            probe_writable(directory)
        }
        Err(source) => Err(FileError::UnwritableDirectory {
            path: directory.to_path_buf(),
            source,
        }),
    }
}

/// Looks, on a read-only connection that changes nothing, at the tables of an existing
/// database: one with tables but without chatstore's migration record belongs to
/// another application, and opening it for writing would switch its journal mode and
/// add tables before anything failed.
fn check_not_foreign(path: &Path) -> Result<(), FileError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let Ok(conn) = Connection::open_with_flags(path, flags) else {
        // What cannot be opened to look is reported by the opening proper.
        return Ok(());
    };
    let listed = conn.prepare(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
         ORDER BY name",
    );
    let tables: Vec<String> = match listed {
        Ok(mut statement) => match statement.query_map([], |row| row.get(0)) {
            Ok(rows) => rows.filter_map(std::result::Result::ok).collect(),
            Err(_) => return Ok(()),
        },
        Err(_) => return Ok(()),
    };
    let ours = conn
        .query_row(
            "SELECT count(*) FROM pragma_table_info('schema_migrations')
             WHERE name IN ('version', 'name', 'checksum', 'applied_at')",
            [],
            |row| row.get::<_, i64>(0),
        )
        .is_ok_and(|columns| columns == 4);
    if tables.is_empty() || ours {
        return Ok(());
    }
    Err(FileError::ForeignDatabase {
        path: path.to_path_buf(),
        tables: tables.into_iter().take(8).collect(),
    })
}

fn check_header(path: &Path, mut file: File) -> Result<(), FileError> {
    let mut header = [0u8; 16];
    let mut read = 0;
    while read < header.len() {
        match file.read(&mut header[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(FileError::UnreadableFile {
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
    }
    // An empty file is a database SQLite has not written yet.
    if read == 0 {
        Ok(())
    } else if read == header.len() && &header == SQLITE_HEADER {
        check_not_foreign(path)
    } else {
        Err(FileError::NotADatabase {
            path: path.to_path_buf(),
        })
    }
}

/// Opens the writer connection, sets the page size of a new file, switches the database
/// to WAL, and proves it can take the write lock, waiting up to `startup_timeout` for
/// another process to let go of it.
pub(crate) fn open_checked(path: &Path, settings: &DbOptions) -> Result<Connection> {
    check_location(path)?;
    let startup_error = |error: rusqlite::Error| -> Error {
        let code = error.sqlite_error_code();
        let path = path.to_path_buf();
        match code {
            Some(ErrorCode::NotADatabase) => FileError::NotADatabase { path }.into(),
            // Two files are opened (the database and the attachment store): say which.
            Some(ErrorCode::DatabaseCorrupt) => Error::Corrupt {
                detail: format!(
                    "database file {} is damaged ({error}): restore it from a backup",
                    path.display()
                ),
            },
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                FileError::Locked { path }.into()
            }
            Some(ErrorCode::SystemIoFailure | ErrorCode::DiskFull) => FileError::DiskIo {
                path,
                detail: error.to_string(),
            }
            .into(),
            Some(ErrorCode::CannotOpen | ErrorCode::PermissionDenied | ErrorCode::ReadOnly) => {
                FileError::UnreadableFile {
                    path,
                    source: std::io::Error::new(ErrorKind::PermissionDenied, error.to_string()),
                }
                .into()
            }
            _ => from_sqlite(error),
        }
    };
    let conn = open_writer(path, settings).map_err(startup_error)?;
    conn.busy_timeout(settings.startup_timeout)
        .map_err(startup_error)?;
    if let Some(page_size) = settings.sqlite.page_size {
        // Takes effect only on a file with no tables yet.
        conn.pragma_update(None, "page_size", page_size)
            .map_err(startup_error)?;
    }
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
        .map_err(startup_error)?;
    conn.execute_batch("BEGIN IMMEDIATE; SELECT count(*) FROM sqlite_schema; COMMIT;")
        .map_err(startup_error)?;
    conn.busy_timeout(settings.sqlite.busy_timeout)
        .map_err(startup_error)?;
    Ok(conn)
}
