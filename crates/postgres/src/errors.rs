//! How PostgreSQL's errors become chatstore's: by SQLSTATE, the same kinds and
//! [`ConflictKind`]s as on every backend.

use chatstore::{ConflictKind, Error, StartupError};
use postgres::error::SqlState;

/// Maps an error of a statement or transaction.
pub fn from_postgres(error: postgres::Error) -> Error {
    let Some(db) = error.as_db_error() else {
        // No answer from the server: the connection is gone. Whether a COMMIT in flight
        // took effect is unknown, so this is never retried blindly.
        return Error::Unavailable {
            detail: format!("lost the database connection: {error}"),
        };
    };
    let code = db.code();
    let detail = || match db.detail() {
        Some(more) => format!("{}: {more}", db.message()),
        None => db.message().to_owned(),
    };
    let conflict = |kind| Error::Conflict {
        kind,
        constraint: db.constraint().unwrap_or("unknown").to_owned(),
        detail: detail(),
    };
    match code {
        c if *c == SqlState::UNIQUE_VIOLATION => conflict(ConflictKind::Unique),
        c if *c == SqlState::FOREIGN_KEY_VIOLATION => conflict(ConflictKind::ForeignKey),
        c if *c == SqlState::NOT_NULL_VIOLATION => conflict(ConflictKind::NotNull),
        c if *c == SqlState::CHECK_VIOLATION => conflict(ConflictKind::Check),
        // Raised by the schema's own rules (messages are append-only).
        c if *c == SqlState::INTEGRITY_CONSTRAINT_VIOLATION => conflict(ConflictKind::InvalidState),
        c if is_retriable(c) => Error::Busy { detail: detail() },
        c if *c == SqlState::CHARACTER_NOT_IN_REPERTOIRE
            || *c == SqlState::UNTRANSLATABLE_CHARACTER
            || *c == SqlState::PROGRAM_LIMIT_EXCEEDED =>
        {
            Error::validation("value", detail())
        }
        c if c.code().starts_with("08")
            || *c == SqlState::ADMIN_SHUTDOWN
            || *c == SqlState::CRASH_SHUTDOWN
            || *c == SqlState::CANNOT_CONNECT_NOW
            || *c == SqlState::TOO_MANY_CONNECTIONS
            || *c == SqlState::DISK_FULL
            || *c == SqlState::READ_ONLY_SQL_TRANSACTION =>
        {
            Error::Unavailable { detail: detail() }
        }
        c if *c == SqlState::DATA_CORRUPTED || *c == SqlState::INDEX_CORRUPTED => {
            Error::Corrupt { detail: detail() }
        }
        c => Error::Backend {
            detail: format!("{} ({})", detail(), c.code()),
        },
    }
}

/// Serialization failures, deadlocks and lock timeouts: the whole transaction may be
/// tried again ([`chatstore::RetryPolicy::run`] does).
pub fn is_retriable(code: &SqlState) -> bool {
    *code == SqlState::T_R_SERIALIZATION_FAILURE
        || *code == SqlState::T_R_DEADLOCK_DETECTED
        || *code == SqlState::LOCK_NOT_AVAILABLE
}

/// Maps an error met while connecting for the first time: what any backend can meet,
/// as a [`StartupError`].
pub fn startup_error(error: postgres::Error, target: &str, user: &str, database: &str) -> Error {
    let startup = match error.as_db_error().map(|db| db.code().clone()) {
        Some(c)
            if c == SqlState::INVALID_PASSWORD
                || c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
        {
            StartupError::AuthenticationFailed {
                user: user.to_owned(),
                detail: error.to_string(),
            }
        }
        Some(c) if c == SqlState::INVALID_CATALOG_NAME => StartupError::NoSuchDatabase {
            name: database.to_owned(),
        },
        Some(_) => return from_postgres(error),
        None => StartupError::Unreachable {
            target: target.to_owned(),
            detail: error.to_string(),
        },
    };
    Error::Startup(startup)
}

/// Extension for `postgres` results: `.db()` maps the error.
pub trait PgResultExt<T> {
    /// Maps the error with [`from_postgres`].
    fn db(self) -> chatstore::Result<T>;
}

impl<T> PgResultExt<T> for Result<T, postgres::Error> {
    fn db(self) -> chatstore::Result<T> {
        self.map_err(from_postgres)
    }
}
