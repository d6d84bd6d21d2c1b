//! [`TableTransfer`] on SQLite: the rows a store copy reads and writes. Ids, times and
//! JSON are stored as text, booleans as 0/1; the full-text index follows inserted
//! messages through its triggers and embedding versions come from the table's own
//! `AUTOINCREMENT`, so nothing derived needs copying.

use chatstore::transfer::{
    Column, Dialect, Kind, Row, Table, TableSql, TableTransfer, Value, check_key, check_rows,
    keys_not_in,
};
use chatstore::{Result, Timestamp};
use rusqlite::ToSql;
use rusqlite::types::{Null, ValueRef};

use crate::SqliteStore;
use crate::row::{RowExt, json_text};

/// SQLite's spelling: numbered `?` parameters, columns read as stored.
struct Sqlite;

impl Dialect for Sqlite {
    fn param(&self, n: usize, _kind: Kind) -> String {
        format!("?{n}")
    }
}

fn sql(table: &Table) -> TableSql {
    TableSql::new(table, &Sqlite)
}

impl TableTransfer for SqliteStore {
    fn count_rows(&self, table: &Table) -> Result<u64> {
        let sql = sql(table);
        let count = self
            .db
            .read(|c| c.row(&sql.count, &[], |row| row.uint::<u64>(0)))?;
        Ok(count.unwrap_or(0))
    }

    fn read_rows(&self, table: &Table, after: Option<&[Value]>, limit: u32) -> Result<Vec<Row>> {
        let sql = sql(table);
        let limit = i64::from(limit);
        match after {
            None => self
                .db
                .read(|c| c.rows(&sql.first_rows, &[&limit], |row| decode(row, table.columns))),
            Some(key) => {
                check_key(table, key)?;
                let mut params = bind(key)?;
                params.push(Box::new(limit));
                self.db.read(|c| {
                    c.rows(&sql.rows_after, &refs(&params), |row| {
                        decode(row, table.columns)
                    })
                })
            }
        }
    }

    fn last_key(&self, table: &Table) -> Result<Option<Row>> {
        let sql = sql(table);
        self.db
            .read(|c| c.row(&sql.last_key, &[], |row| decode(row, table.key())))
    }

    fn contains_key(&self, table: &Table, key: &[Value]) -> Result<bool> {
        check_key(table, key)?;
        let sql = sql(table);
        let params = bind(key)?;
        self.db
            .read(|c| c.exists(&sql.contains_key, &refs(&params)))
    }

    fn insert_rows(&self, table: &Table, rows: &[Row]) -> Result<u64> {
        let inserted = self.write_rows(table, rows, &sql(table).insert)?;
        if table.name == "messages" {
            self.indexer.appended(inserted as usize);
        }
        Ok(inserted)
    }

    fn refresh_rows(&self, table: &Table, rows: &[Row]) -> Result<u64> {
        self.write_rows(table, rows, &sql(table).refresh)
    }

    fn mirror_rows(&self, table: &Table, rows: &[Row]) -> Result<()> {
        check_rows(table, rows)?;
        let sql = sql(table);
        let bound = rows
            .iter()
            .map(|row| bind(row))
            .collect::<Result<Vec<_>>>()?;
        self.db.write(|c| {
            let keys = c.rows(&sql.all_keys, &[], |row| decode(row, table.key()))?;
            for key in keys_not_in(table, keys, rows) {
                c.execute(&sql.delete_key, &refs(&bind(&key)?))?;
            }
            for row in &bound {
                c.execute(&sql.refresh, &refs(row))?;
            }
            Ok(())
        })
    }

    fn finish_copy(&self) -> Result<()> {
        Ok(())
    }
}

impl SqliteStore {
    /// Runs `statement` (an insert of one row) for every row, in one transaction.
    fn write_rows(&self, table: &Table, rows: &[Row], statement: &str) -> Result<u64> {
        check_rows(table, rows)?;
        let rows = rows
            .iter()
            .map(|row| bind(row))
            .collect::<Result<Vec<_>>>()?;
        self.db.write(|c| {
            let mut written = 0;
            for row in &rows {
                written += c.execute(statement, &refs(row))? as u64;
            }
            Ok(written)
        })
    }
}

type Params = Vec<Box<dyn ToSql>>;

fn refs(params: &Params) -> Vec<&dyn ToSql> {
    params.iter().map(|param| param.as_ref()).collect()
}

/// Values in the form SQLite stores them.
fn bind(values: &[Value]) -> Result<Params> {
    values
        .iter()
        .map(|value| -> Result<Box<dyn ToSql>> {
            Ok(match value {
                Value::Null => Box::new(Null),
                Value::Id(id) => Box::new(id.hyphenated().to_string()),
                Value::Text(text) => Box::new(text.clone()),
                Value::Integer(n) => Box::new(*n),
                Value::Real(x) => Box::new(*x),
                Value::Bool(b) => Box::new(i64::from(*b)),
                Value::Time(at) => Box::new(at.to_string()),
                Value::Json(json) => Box::new(json_text(json)?),
                Value::Bytes(bytes) => Box::new(bytes.clone()),
            })
        })
        .collect()
}

/// A row's first `columns.len()` columns as values of their kinds.
fn decode(row: &rusqlite::Row<'_>, columns: &[Column]) -> Result<Row> {
    columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            if matches!(row.value(i)?, ValueRef::Null) {
                return Ok(Value::Null);
            }
            Ok(match column.kind {
                Kind::Id => {
                    Value::Id(uuid::Uuid::parse_str(row.str(i)?).map_err(|e| row.corrupt(i, e))?)
                }
                Kind::Text => Value::Text(row.text(i)?),
                Kind::Integer => Value::Integer(row.int(i)?),
                Kind::Real => Value::Real(row.opt_real(i)?.unwrap_or_default()),
                Kind::Bool => Value::Bool(row.boolean(i)?),
                Kind::Time => Value::Time(row.parse::<Timestamp>(i)?),
                Kind::Json => Value::Json(
                    chatstore::json::decode_stored(row.str(i)?).map_err(|e| row.corrupt(i, e))?,
                ),
                Kind::Bytes => match row.value(i)? {
                    ValueRef::Blob(bytes) => Value::Bytes(bytes.to_vec()),
                    _ => return Err(row.corrupt(i, "expected a blob")),
                },
            })
        })
        .collect()
}
