//! Maps SQLite's errors onto [`chatstore::Error`], so a host sees the same kinds on every
//! backend: busy is retriable, a constraint names the constraint, damage is corruption.

use chatstore::{ConflictKind, Error};
use rusqlite::ffi;

/// Converts a rusqlite error into the chatstore error that says what happened.
pub fn from_sqlite(error: rusqlite::Error) -> Error {
    use rusqlite::ErrorCode as Code;
    match error {
        rusqlite::Error::SqliteFailure(failure, message) => {
            let detail = message.unwrap_or_else(|| failure.to_string());
            match failure.code {
                Code::DatabaseBusy | Code::DatabaseLocked => Error::Busy { detail },
                Code::ConstraintViolation => constraint(failure.extended_code, detail),
                Code::DatabaseCorrupt | Code::NotADatabase => Error::Corrupt { detail },
                Code::DiskFull
                | Code::CannotOpen
                | Code::SystemIoFailure
                | Code::ReadOnly
                | Code::PermissionDenied
                | Code::FileLockingProtocolFailed
                | Code::OutOfMemory => Error::Unavailable {
                    detail: with_advice(failure.code, detail),
                },
                Code::TooBig => Error::validation("value", detail),
                _ => Error::Backend { detail },
            }
        }
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::Utf8Error(..) => Error::Corrupt {
            detail: format!("unexpected stored value: {error}"),
        },
        other => Error::Backend {
            detail: other.to_string(),
        },
    }
}

/// SQLite's terse message for a fault that can clear, followed by what to do about it.
fn with_advice(code: rusqlite::ErrorCode, detail: String) -> String {
    use rusqlite::ErrorCode as Code;
    let advice = match code {
        Code::DiskFull => "free space on the disk holding the database, then retry",
        Code::SystemIoFailure => {
            "check the disk's health, its free space and whether its file system went read-only, then retry"
        }
        Code::ReadOnly => {
            "the database file or its file system is read-only: make it writable, then retry"
        }
        Code::CannotOpen => {
            "check that the file's directory exists and is writable by this process, then retry"
        }
        Code::PermissionDenied => "fix the file's permissions, then retry",
        _ => return detail,
    };
    format!("{detail} ({advice})")
}

/// A constraint failure: SQLite's message is "UNIQUE constraint failed: users.email", so
/// the part after the colon names the constraint. A trigger's `RAISE(ABORT, ...)` is a
/// rule of the data model, reported as an invalid state.
fn constraint(extended_code: i32, detail: String) -> Error {
    let kind = match extended_code {
        ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => ConflictKind::Unique,
        ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ConflictKind::ForeignKey,
        ffi::SQLITE_CONSTRAINT_NOTNULL => ConflictKind::NotNull,
        ffi::SQLITE_CONSTRAINT_TRIGGER => ConflictKind::InvalidState,
        _ => ConflictKind::Check,
    };
    let constraint = detail
        .split_once(": ")
        .map(|(_, names)| names.to_owned())
        .unwrap_or_else(|| detail.clone());
    Error::Conflict {
        kind,
        constraint,
        detail,
    }
}

/// `?`-friendly conversion for rusqlite results.
pub trait SqliteResultExt<T> {
    /// Maps the error with [`from_sqlite`].
    fn db(self) -> chatstore::Result<T>;
}

impl<T> SqliteResultExt<T> for rusqlite::Result<T> {
    fn db(self) -> chatstore::Result<T> {
        self.map_err(from_sqlite)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    fn fails(sql: &str) -> Error {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "PRAGMA foreign_keys=ON;
             CREATE TABLE p(id INTEGER PRIMARY KEY, email TEXT UNIQUE NOT NULL CHECK(length(email) > 2));
             CREATE TABLE c(p_id INTEGER REFERENCES p(id));
             INSERT INTO p VALUES (1, 'a@b');
             CREATE TRIGGER no_delete BEFORE DELETE ON p BEGIN SELECT RAISE(ABORT, 'rows of p are kept'); END;",
        )
        .unwrap();
        from_sqlite(conn.execute_batch(sql).unwrap_err())
    }

    #[test]
    fn constraints_are_told_apart_and_named() {
        match fails("INSERT INTO p VALUES (2, 'a@b')") {
            Error::Conflict {
                kind: ConflictKind::Unique,
                constraint,
                ..
            } => assert_eq!(constraint, "p.email"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            fails("INSERT INTO c VALUES (9)"),
            Error::Conflict {
                kind: ConflictKind::ForeignKey,
                ..
            }
        ));
        assert!(matches!(
            fails("INSERT INTO p VALUES (3, NULL)"),
            Error::Conflict {
                kind: ConflictKind::NotNull,
                ..
            }
        ));
        assert!(matches!(
            fails("INSERT INTO p VALUES (4, 'x')"),
            Error::Conflict {
                kind: ConflictKind::Check,
                ..
            }
        ));
        assert!(matches!(
            fails("DELETE FROM p"),
            Error::Conflict {
                kind: ConflictKind::InvalidState,
                ..
            }
        ));
        assert!(matches!(fails("SELEC 1"), Error::Backend { .. }));
    }
}
