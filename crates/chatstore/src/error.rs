//! The one error type every chatstore crate returns.
//!
//! Variants say what happened and what to do about it. Backends map their own errors onto
//! these so that a host handles SQLite and PostgreSQL the same way: a unique-constraint
//! violation is [`Error::Conflict`] with [`ConflictKind::Unique`] on both.

use std::io;
use std::path::PathBuf;

use crate::IdKind;

/// A chatstore result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in chatstore.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The entity does not exist, or is not visible to the user asking for it.
    ///
    /// Another user's conversation is reported exactly like a missing one, so that ids
    /// cannot be probed.
    #[error("{entity} {key} not found")]
    NotFound {
        /// What was looked for ("conversation", "role", ...).
        entity: &'static str,
        /// The id or name that was looked for.
        key: String,
    },

    /// The write would break a constraint (a duplicate email, a reference to something
    /// missing, a lifecycle step out of order). Nothing was changed.
    #[error("conflict ({kind}) on {constraint}: {detail}")]
    Conflict {
        /// Which kind of constraint.
        kind: ConflictKind,
        /// The constraint, column or rule involved (`users.email`, `document status`).
        constraint: String,
        /// A readable explanation.
        detail: String,
    },

    /// Input was rejected before anything was written.
    #[error("invalid {field}: {reason}")]
    Validation {
        /// The field or argument at fault.
        field: &'static str,
        /// Why it was rejected.
        reason: String,
    },

    /// A string was not an id of the expected kind.
    #[error("{id:?} is not a {expected} id{}", found.map(|k| format!(" (it is a {k} id)")).unwrap_or_default())]
    InvalidId {
        /// The kind of id the caller asked for.
        expected: IdKind,
        /// The kind the id actually carries, when it is a chatstore id of another kind.
        found: Option<IdKind>,
        /// The offending text (cut to 64 characters).
        id: String,
    },

    /// Login failed: unknown user or wrong password (deliberately not told apart).
    #[error("invalid username/email or password")]
    InvalidCredentials,

    /// The account exists but is deactivated.
    #[error("user account is deactivated")]
    UserInactive,

    /// The session token is unknown, expired or revoked.
    #[error("session is invalid, expired or revoked: log in again")]
    InvalidSession,

    /// The user lacks a permission the operation requires.
    #[error("permission {permission} is required")]
    Forbidden {
        /// The permission that was missing.
        permission: String,
    },

    /// The database is locked by another writer. Retrying later can succeed.
    #[error("database is busy: {detail} (retry later)")]
    Busy {
        /// What the backend reported.
        detail: String,
    },

    /// The database cannot be reached right now (server down, disk full, pool exhausted).
    #[error("database unavailable: {detail}")]
    Unavailable {
        /// What the backend reported.
        detail: String,
    },

    /// Stored data failed a consistency check: a damaged file, a hash that does not match.
    #[error("stored data is corrupt: {detail}")]
    Corrupt {
        /// What was found to be wrong.
        detail: String,
    },

    /// An operating-system I/O error on a file chatstore manages.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// The database could not be opened; the inner error says why and what to do.
    #[error(transparent)]
    Startup(#[from] StartupError),

    /// The database was written by a newer chatstore than this one.
    #[error(
        "database schema version {found} is newer than this chatstore supports ({supported}): upgrade chatstore; refusing to downgrade silently"
    )]
    SchemaTooNew {
        /// The version recorded in the database.
        found: u32,
        /// The newest version this code knows.
        supported: u32,
    },

    /// A schema migration failed; its transaction was rolled back.
    #[error("migration {version} ({name}) failed: {detail}")]
    Migration {
        /// The migration's version number.
        version: u32,
        /// The migration's name.
        name: &'static str,
        /// What went wrong.
        detail: String,
    },

    /// The host's [`crate::embeddings::Embedder`] failed, or returned vectors that do
    /// not fit the collection; nothing was stored.
    #[error("the embedder failed: {source}")]
    Embedder {
        /// What the embedder reported, or what was wrong with its vectors.
        #[source]
        source: crate::embeddings::EmbedError,
    },

    /// An unexpected error from the storage backend.
    #[error("storage backend error: {detail}")]
    Backend {
        /// What the backend reported.
        detail: String,
    },
}

impl Error {
    /// True when the same operation may succeed if retried later (busy or unavailable).
    pub fn is_retriable(&self) -> bool {
        matches!(self, Error::Busy { .. } | Error::Unavailable { .. })
    }

    /// Shorthand for [`Error::Validation`].
    pub fn validation(field: &'static str, reason: impl Into<String>) -> Error {
        Error::Validation {
            field,
            reason: reason.into(),
        }
    }

    /// A closure mapping an I/O error on `path` to [`Error::Io`], for `map_err`.
    pub fn io(path: &std::path::Path) -> impl Fn(std::io::Error) -> Error + '_ {
        move |source| Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Shorthand for [`Error::NotFound`].
    pub fn not_found(entity: &'static str, key: impl ToString) -> Error {
        Error::NotFound {
            entity,
            key: key.to_string(),
        }
    }

    /// Shorthand for [`Error::Conflict`].
    pub fn conflict(
        kind: ConflictKind,
        constraint: impl Into<String>,
        detail: impl Into<String>,
    ) -> Error {
        Error::Conflict {
            kind,
            constraint: constraint.into(),
            detail: detail.into(),
        }
    }
}

/// The kind of constraint a [`Error::Conflict`] broke, the same on every backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConflictKind {
    /// A unique value is already taken.
    Unique,
    /// A referenced row does not exist, or a row is still referenced.
    ForeignKey,
    /// A required value is missing.
    NotNull,
    /// A check constraint rejected the value.
    Check,
    /// The entity is not in a state that allows the operation.
    InvalidState,
}

impl std::fmt::Display for ConflictKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ConflictKind::Unique => "unique",
            ConflictKind::ForeignKey => "foreign key",
            ConflictKind::NotNull => "not null",
            ConflictKind::Check => "check",
            ConflictKind::InvalidState => "invalid state",
        })
    }
}

/// Why a database could not be opened. Each variant names the path and the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartupError {
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
