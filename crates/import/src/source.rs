//! Reading the old app's SQLite files: opened read-only, so that importing never
//! changes them, and the values the Python app stored turned into ours.

use std::path::Path;

use chatstore::{Error, Result, Timestamp};
use rusqlite::{Connection, OpenFlags};

/// A source database, open read-only.
pub(crate) struct SourceDb {
    conn: Connection,
    path: String,
}

impl SourceDb {
    /// Opens `path` read-only (it must exist; nothing is created or changed, the
    /// journal mode included).
    pub(crate) fn open(path: &Path) -> Result<SourceDb> {
        if !path.is_file() {
            return Err(Error::validation(
                "source",
                format!("{} is not a file", path.display()),
            ));
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| backend(path, e))?;
        Ok(SourceDb {
            conn,
            path: path.display().to_string(),
        })
    }

    /// Fails unless every one of `tables` exists: the file is not of the schema named.
    pub(crate) fn require_tables(&self, schema: &str, tables: &[&str]) -> Result<()> {
        for table in tables {
            let found: i64 = self
                .conn
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                    [table],
                    |row| row.get(0),
                )
                .map_err(|e| self.error(e))?;
            if found == 0 {
                return Err(Error::validation(
                    "source",
                    format!(
                        "{} has no table {table}: it is not a {schema} database",
                        self.path
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Every row `sql` selects, each mapped by `f`.
    pub(crate) fn rows<T>(
        &self,
        sql: &str,
        mut f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        let mut statement = self.conn.prepare(sql).map_err(|e| self.error(e))?;
        let rows = statement
            .query_map([], |row| f(row))
            .map_err(|e| self.error(e))?;
        rows.collect::<rusqlite::Result<Vec<T>>>()
            .map_err(|e| self.error(e))
    }

    fn error(&self, e: rusqlite::Error) -> Error {
        Error::Backend {
            detail: format!("reading {}: {e}", self.path),
        }
    }
}

fn backend(path: &Path, e: rusqlite::Error) -> Error {
    Error::Backend {
        detail: format!("opening {} read-only: {e}", path.display()),
    }
}

/// A text column of any storage class, as text (integers and reals in their decimal form).
pub(crate) fn text(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<Option<String>> {
    use rusqlite::types::ValueRef;
    Ok(match row.get_ref(idx)? {
        ValueRef::Null => None,
        ValueRef::Integer(n) => Some(n.to_string()),
        ValueRef::Real(x) => Some(x.to_string()),
        ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t).into_owned()),
    })
}

/// The first `n` columns of a row, each as [`text`].
pub(crate) fn texts(row: &rusqlite::Row<'_>, n: usize) -> rusqlite::Result<Vec<Option<String>>> {
    (0..n).map(|i| text(row, i)).collect()
}

/// A Python datetime as SQLAlchemy or SQLite's `CURRENT_TIMESTAMP` stores it
/// (`2026-02-10 10:00:00`, with or without microseconds, `T` or a space, with or without
/// an offset; without one it is UTC).
pub(crate) fn time(raw: &str) -> Result<Timestamp> {
    let mut text = raw.trim().replacen(' ', "T", 1);
    let has_offset = text.ends_with('Z')
        || text
            .get(19..)
            .is_some_and(|tail| tail.contains('+') || tail.contains('-'));
    if !has_offset {
        text.push('Z');
    }
    text.parse()
        .map_err(|_| Error::validation("timestamp", format!("{raw:?} is not a date and time")))
}

/// An optional time column.
pub(crate) fn opt_time(raw: Option<&str>) -> Result<Option<Timestamp>> {
    raw.filter(|t| !t.trim().is_empty()).map(time).transpose()
}

/// A boolean as SQLite stores one (0/1, or the text `true`/`false`); NULL is `default`.
pub(crate) fn flag(raw: Option<&str>, default: bool) -> bool {
    match raw.map(|t| t.trim().to_ascii_lowercase()) {
        None => default,
        Some(t) => matches!(t.as_str(), "1" | "true" | "t" | "yes"),
    }
}

/// A JSON column: `None` when NULL or empty, an error naming `field` when not JSON.
pub(crate) fn json(field: &'static str, raw: Option<&str>) -> Result<Option<serde_json::Value>> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => {
            chatstore::json::check_depth(field, text)?;
            serde_json::from_str(text)
                .map(Some)
                .map_err(|e| Error::validation(field, format!("is not JSON: {e}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_datetimes_are_read_as_utc() {
        let expected: Timestamp = "2026-02-10T10:00:00Z".parse().unwrap();
        assert_eq!(time("2026-02-10 10:00:00").unwrap(), expected);
        assert_eq!(time("2026-02-10T10:00:00").unwrap(), expected);
        assert_eq!(time("2026-02-10T12:00:00+02:00").unwrap(), expected);
        assert_eq!(
            time("2026-02-10 10:00:00.250000").unwrap(),
            "2026-02-10T10:00:00.25Z".parse().unwrap()
        );
        assert!(time("yesterday").is_err());
        assert_eq!(opt_time(Some(" ")).unwrap(), None);
        assert!(flag(Some("1"), false) && !flag(Some("0"), true) && flag(None, true));
    }
}
