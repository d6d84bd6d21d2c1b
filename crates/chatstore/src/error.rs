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

/// Why a database could not be opened, as any backend can meet it; each variant says
/// what to do. What only one backend can meet (for SQLite, a missing directory or a
/// file that is not a database: `chatstore_sqlite::FileError`) is [`StartupError::Backend`].
/// A schema newer than this code is [`Error::SchemaTooNew`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartupError {
    /// The database server did not answer.
    #[error(
        "database server {target} cannot be reached: check that it runs and the address ({detail})"
    )]
    Unreachable {
        /// The address tried.
        target: String,
        /// What the connection attempt reported.
        detail: String,
    },

    /// The database server refused the credentials.
    #[error(
        "the database server refused user {user}: check the user and password in DATABASE_URL ({detail})"
    )]
    AuthenticationFailed {
        /// The user name tried.
        user: String,
        /// What the server reported.
        detail: String,
    },

    /// The server has no database of that name.
    #[error("database {name} does not exist on the server: create it or configure another")]
    NoSuchDatabase {
        /// The database name.
        name: String,
    },

    /// The server is older than chatstore needs.
    #[error(
        "database server version {found} is older than chatstore needs ({required}): upgrade the server"
    )]
    ServerTooOld {
        /// The server's version.
        found: String,
        /// The oldest version chatstore supports.
        required: String,
    },

    /// A failure only one backend can meet: its own error type, which says what to do
    /// (downcast it, or use the backend's helper, e.g. `chatstore_sqlite::FileError::of`).
    #[error(transparent)]
    Backend(Box<dyn std::error::Error + Send + Sync>),
}
