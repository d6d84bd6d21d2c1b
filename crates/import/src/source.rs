//! Reading the old app's SQLite files: opened read-only, so that importing never
//! changes them, and the values the Python app stored turned into ours.

use std::path::Path;

use chatstore::transfer::Value;
use chatstore::{Error, Result, Timestamp, validate};
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
            if !self.has_table(table)? {
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

    /// Fails unless `table` exists with every one of `columns`.
    pub(crate) fn require_columns(
        &self,
        schema: &str,
        table: &str,
        columns: &[&str],
    ) -> Result<()> {
        self.require_tables(schema, &[table])?;
        let have = self.columns(table)?;
        match columns.iter().find(|c| !have.iter().any(|h| h == *c)) {
            None => Ok(()),
            Some(missing) => Err(Error::validation(
                "source",
                format!(
                    "{}: table {table} has no column {missing}: it is not a {schema} database",
                    self.path
                ),
            )),
        }
    }

    /// The first column of every row `sql` selects, as text.
    pub(crate) fn strings(&self, sql: &str) -> Result<std::collections::HashSet<String>> {
        let rows = self.rows(sql, |r| text(r, 0))?;
        Ok(rows.into_iter().flatten().collect())
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

    /// True when the database has a table called `name`.
    pub(crate) fn has_table(&self, name: &str) -> Result<bool> {
        let found: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [name],
                |row| row.get(0),
            )
            .map_err(|e| self.error(e))?;
        Ok(found > 0)
    }

    /// The column names of `table`, in their order (none when there is no such table).
    pub(crate) fn columns(&self, table: &str) -> Result<Vec<String>> {
        let mut statement = self
            .conn
            .prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")
            .map_err(|e| self.error(e))?;
        let names = statement
            .query_map([table], |row| row.get::<_, String>(0))
            .map_err(|e| self.error(e))?;
        names
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.error(e))
    }

    /// Every row of `table`, every column as text ([`text`]), ordered by the columns
    /// of `order` that the table has (then by rowid): for schemas known only by their
    /// column names, whose tables may have more columns or fewer.
    pub(crate) fn records(&self, table: &str, order: &[&str]) -> Result<Vec<SourceRow>> {
        let columns = self.columns(table)?;
        if columns.is_empty() {
            return Ok(Vec::new());
        }
        let quote = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
        let mut keys: Vec<String> = order
            .iter()
            .filter(|name| columns.iter().any(|c| c == *name))
            .map(|name| quote(name))
            .collect();
        keys.push("rowid".to_owned());
        let list: Vec<String> = columns.iter().map(|c| quote(c)).collect();
        let sql = format!(
            "SELECT {} FROM {} ORDER BY {}",
            list.join(", "),
            quote(table),
            keys.join(", ")
        );
        let n = columns.len();
        let rows = self.rows(&sql, |r| texts(r, n))?;
        Ok(rows
            .into_iter()
            .map(|values| SourceRow {
                columns: columns.clone(),
                values,
            })
            .collect())
    }

    /// The bytes of the first column of the one row `sql` selects with `key`, if any.
    pub(crate) fn bytes(&self, sql: &str, key: &str) -> Result<Option<Vec<u8>>> {
        use rusqlite::OptionalExtension;
        self.conn
            .query_row(sql, [key], |row| row.get::<_, Vec<u8>>(0))
            .optional()
            .map_err(|e| self.error(e))
    }

    fn error(&self, e: rusqlite::Error) -> Error {
        Error::Backend {
            detail: format!("reading {}: {e}", self.path),
        }
    }
}

/// One row of a source table, by column name.
pub(crate) struct SourceRow {
    columns: Vec<String>,
    values: Vec<Option<String>>,
}

impl SourceRow {
    /// The value of `column` as text; `None` when NULL or when there is no such column.
    pub(crate) fn get(&self, column: &str) -> Option<&str> {
        self.columns
            .iter()
            .position(|c| c == column)
            .and_then(|i| self.values[i].as_deref())
    }

    /// The value of `column`, or an empty string.
    pub(crate) fn text(&self, column: &str) -> String {
        self.get(column).unwrap_or_default().to_owned()
    }

    /// The first of `columns` the row has a value in (tables named the same thing
    /// differently: `hashed_password`, `password_hash`).
    pub(crate) fn first(&self, columns: &[&str]) -> Option<&str> {
        columns.iter().find_map(|c| self.get(c))
    }

    /// An integer column: `None` when NULL or missing, an error when not a number.
    pub(crate) fn integer(&self, column: &'static str) -> Result<Option<i64>> {
        self.get(column)
            .map(|t| {
                t.trim()
                    .parse::<i64>()
                    .or_else(|_| t.trim().parse::<f64>().map(|x| x as i64))
                    .map_err(|_| Error::validation(column, format!("{t:?} is not a number")))
            })
            .transpose()
    }

    /// A real column: `None` when NULL or missing, an error when not a number.
    pub(crate) fn real(&self, column: &'static str) -> Result<Option<f64>> {
        self.get(column)
            .map(|t| {
                t.trim()
                    .parse::<f64>()
                    .map_err(|_| Error::validation(column, format!("{t:?} is not a number")))
            })
            .transpose()
    }

    /// An optional text column as a row value, checked as chatstore checks text.
    pub(crate) fn text_value(&self, column: &'static str) -> std::result::Result<Value, String> {
        validate::optional_text(column, self.get(column))
            .map(|v| v.map_or(Value::Null, Value::Text))
            .map_err(|e| e.to_string())
    }

    /// An optional real column as a row value.
    pub(crate) fn real_value(&self, column: &'static str) -> std::result::Result<Value, String> {
        Ok(self
            .real(column)
            .map_err(|e| e.to_string())?
            .map_or(Value::Null, Value::Real))
    }

    /// An optional count (a whole number, not negative) as a row value.
    pub(crate) fn count_value(&self, column: &'static str) -> std::result::Result<Value, String> {
        match self.integer(column).map_err(|e| e.to_string())? {
            Some(n) if n < 0 => Err(format!("{column} is negative")),
            n => Ok(n.map_or(Value::Null, Value::Integer)),
        }
    }

    /// A count that is 0 when NULL.
    pub(crate) fn count(&self, column: &'static str) -> std::result::Result<i64, String> {
        match self.count_value(column)? {
            Value::Integer(n) => Ok(n),
            _ => Ok(0),
        }
    }

    /// An optional JSON column as a row value.
    pub(crate) fn json_value(&self, column: &'static str) -> std::result::Result<Value, String> {
        Ok(json(column, self.get(column))
            .map_err(|e| e.to_string())?
            .map_or(Value::Null, Value::Json))
    }

    /// The non-NULL values of the columns not among `known`, as JSON (each value parsed
    /// as JSON when it is, else kept as text): what a schema added that chatstore has
    /// no column for, kept so that nothing the old app recorded is lost.
    pub(crate) fn others(&self, known: &[&str]) -> serde_json::Map<String, serde_json::Value> {
        self.columns
            .iter()
            .zip(&self.values)
            .filter(|(name, _)| !known.contains(&name.as_str()))
            .filter_map(|(name, value)| {
                let value = value.as_deref()?;
                let parsed = serde_json::from_str(value)
                    .unwrap_or_else(|_| serde_json::Value::String(value.to_owned()));
                Some((name.clone(), parsed))
            })
            .collect()
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
