//! [`TableTransfer`] on PostgreSQL: the rows a store copy reads and writes. Parameters
//! carry casts so that each value binds as its column's type; what PostgreSQL derives
//! is written beside the copied rows: a message's search vector (and the parts of a
//! very long one), an embedding's version from the commit-ordered counter, and the
//! identity sequences of roles and permissions once everything is in.

use chatstore::transfer::{
    Column, Dialect, Kind, Row, Table, TableSql, TableTransfer, Value, check_key, check_rows,
    keys_not_in,
};
use chatstore::{Error, Result, Timestamp};
use postgres::types::ToSql;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::PgStore;
use crate::db::Conn;
use crate::row::{RowExt, at};

/// Tables whose integer keys are identity columns.
const IDENTITY_TABLES: [&str; 2] = ["roles", "permissions"];

/// PostgreSQL's spelling: `$n` parameters cast to their column's type, integers read
/// as `bigint` whatever their width.
struct Postgres;

impl Dialect for Postgres {
    fn param(&self, n: usize, kind: Kind) -> String {
        let cast = match kind {
            Kind::Id => "uuid",
            Kind::Text => "text",
            Kind::Integer => "bigint",
            Kind::Real => "double precision",
            Kind::Bool => "boolean",
            Kind::Time => "timestamptz",
            Kind::Json => "jsonb",
            Kind::Bytes => "bytea",
        };
        format!("${n}::{cast}")
    }

    fn select(&self, column: &Column) -> String {
        match column.kind {
            Kind::Integer => format!("{}::bigint", column.name),
            _ => column.name.to_owned(),
        }
    }

    fn overriding(&self, table: &Table) -> &'static str {
        if IDENTITY_TABLES.contains(&table.name) {
            " OVERRIDING SYSTEM VALUE"
        } else {
            ""
        }
    }

    fn derived_columns(&self, table: &Table) -> Vec<(&'static str, String)> {
        let next = table.columns.len() + 1;
        match table.name {
            "messages" => vec![(
                "search_vector",
                format!("to_tsvector('simple', {})", self.param(next, Kind::Text)),
            )],
            "chunk_embeddings" => vec![("version", self.param(next, Kind::Integer))],
            _ => Vec::new(),
        }
    }
}

fn sql(table: &Table) -> TableSql {
    TableSql::new(table, &Postgres)
}

impl TableTransfer for PgStore {
    fn count_rows(&self, table: &Table) -> Result<u64> {
        let sql = sql(table);
        self.db.read(|c| {
            c.row(&sql.count, &[])?
                .map(|row| row.uint(0))
                .transpose()
                .map(Option::unwrap_or_default)
        })
    }

    fn read_rows(&self, table: &Table, after: Option<&[Value]>, limit: u32) -> Result<Vec<Row>> {
        let sql = sql(table);
        let limit = i64::from(limit);
        let mut params = match after {
            None => Params::new(),
            Some(key) => {
                check_key(table, key)?;
                bind(key, table.key())
            }
        };
        params.push(Box::new(limit));
        let statement = if after.is_some() {
            &sql.rows_after
        } else {
            &sql.first_rows
        };
        let rows = self.db.read(|c| c.rows(statement, &refs(&params)))?;
        rows.iter().map(|row| decode(row, table.columns)).collect()
    }

    fn last_key(&self, table: &Table) -> Result<Option<Row>> {
        let sql = sql(table);
        self.db
            .read(|c| c.row(&sql.last_key, &[]))?
            .map(|row| decode(&row, table.key()))
            .transpose()
    }

    fn contains_key(&self, table: &Table, key: &[Value]) -> Result<bool> {
        check_key(table, key)?;
        let sql = sql(table);
        let params = bind(key, table.key());
        Ok(self
            .db
            .read(|c| c.row(&sql.contains_key, &refs(&params)))?
            .is_some())
    }

    fn insert_rows(&self, table: &Table, rows: &[Row]) -> Result<u64> {
        self.write_rows(table, rows, &sql(table).insert)
    }

    fn refresh_rows(&self, table: &Table, rows: &[Row]) -> Result<u64> {
        self.write_rows(table, rows, &sql(table).refresh)
    }

    fn mirror_rows(&self, table: &Table, rows: &[Row]) -> Result<()> {
        check_rows(table, rows)?;
        if !Postgres.derived_columns(table).is_empty() {
            return Err(Error::validation(
                "table",
                format!("{} cannot be mirrored", table.name),
            ));
        }
        let sql = sql(table);
        let bound: Vec<Params> = rows.iter().map(|row| bind(row, table.columns)).collect();
        self.db.write(|c| {
            let keys = c
                .rows(&sql.all_keys, &[])?
                .iter()
                .map(|row| decode(row, table.key()))
                .collect::<Result<Vec<_>>>()?;
            for key in keys_not_in(table, keys, rows) {
                c.execute(&sql.delete_key, &refs(&bind(&key, table.key())))?;
            }
            for params in &bound {
                c.execute(&sql.refresh, &refs(params))?;
            }
            Ok(())
        })
    }

    fn finish_copy(&self) -> Result<()> {
        self.db.write(|c| {
            for table in IDENTITY_TABLES {
                c.execute(
                    &format!(
                        "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                         coalesce(max(id), 0) + 1, false) FROM {table}"
                    ),
                    &[],
                )?;
            }
            Ok(())
        })
    }
}

impl PgStore {
    /// Runs `statement` (an insert of one row with its derived values) for every row,
    /// in one transaction; a new long message gets its search parts.
    fn write_rows(&self, table: &Table, rows: &[Row], statement: &str) -> Result<u64> {
        check_rows(table, rows)?;
        let prepared = prepare(table, rows)?;
        self.db.write(|c| {
            let versions = take_versions(c, table, rows.len())?;
            let mut written = 0;
            for (i, (params, search_parts)) in prepared.iter().enumerate() {
                let mut params = refs(params);
                let version;
                if let Some(first) = versions {
                    version = first + i as i64;
                    params.push(&version);
                }
                let added = c.execute(statement, &params)?;
                if added == 1
                    && !search_parts.is_empty()
                    && let Some(Value::Id(id)) = rows[i].first()
                {
                    crate::search::replace_search_parts(c, *id, search_parts)?;
                }
                written += added;
            }
            Ok(written)
        })
    }
}

type Params = Vec<Box<dyn ToSql + Sync>>;

fn refs(params: &Params) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|param| param.as_ref()).collect()
}

/// Each row's parameters, with the derived values that do not depend on the
/// transaction (a message's search text) and a long message's search parts.
fn prepare(table: &Table, rows: &[Row]) -> Result<Vec<(Params, Vec<String>)>> {
    let content = table.columns.iter().position(|c| c.name == "content");
    rows.iter()
        .map(|row| {
            let mut params = bind(row, table.columns);
            let mut parts = Vec::new();
            if table.name == "messages" {
                let Some(Value::Text(text)) = content.map(|i| &row[i]) else {
                    return Err(Error::validation("row", "a message needs its content"));
                };
                let (own, rest) = crate::search::search_texts(text);
                params.push(Box::new(own));
                parts = rest;
            }
            Ok((params, parts))
        })
        .collect()
}

/// The first of `count` embedding versions, taken from the commit-ordered counter,
/// when `table` is the embeddings.
fn take_versions(c: &mut Conn<'_, '_>, table: &Table, count: usize) -> Result<Option<i64>> {
    if table.name != "chunk_embeddings" || count == 0 {
        return Ok(None);
    }
    let count = i64::try_from(count).map_err(|_| Error::validation("rows", "too many"))?;
    let latest: i64 = c
        .row(
            "UPDATE embedding_version SET latest = latest + $1 WHERE id = 1 RETURNING latest",
            &[&count],
        )?
        .ok_or_else(|| Error::Corrupt {
            detail: "embedding_version has no row".to_owned(),
        })?
        .value(0)?;
    Ok(Some(latest - count + 1))
}

/// Values as their columns' types take them; NULL typed by its column.
fn bind(values: &[Value], columns: &[Column]) -> Params {
    values
        .iter()
        .zip(columns)
        .map(|(value, column)| -> Box<dyn ToSql + Sync> {
            match value {
                Value::Null => match column.kind {
                    Kind::Id => Box::new(None::<Uuid>),
                    Kind::Text => Box::new(None::<String>),
                    Kind::Integer => Box::new(None::<i64>),
                    Kind::Real => Box::new(None::<f64>),
                    Kind::Bool => Box::new(None::<bool>),
                    Kind::Time => Box::new(None::<OffsetDateTime>),
                    Kind::Json => Box::new(None::<serde_json::Value>),
                    Kind::Bytes => Box::new(None::<Vec<u8>>),
                },
                Value::Id(id) => Box::new(*id),
                Value::Text(text) => Box::new(text.clone()),
                Value::Integer(n) => Box::new(*n),
                Value::Real(x) => Box::new(*x),
                Value::Bool(b) => Box::new(*b),
                Value::Time(time) => Box::new(at(*time)),
                Value::Json(json) => Box::new(json.clone()),
                Value::Bytes(bytes) => Box::new(bytes.clone()),
            }
        })
        .collect()
}

/// A row's first `columns.len()` columns as values of their kinds.
fn decode(row: &postgres::Row, columns: &[Column]) -> Result<Row> {
    columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            let value = match column.kind {
                Kind::Id => row.value::<Option<Uuid>>(i)?.map(Value::Id),
                Kind::Text => row.value::<Option<String>>(i)?.map(Value::Text),
                Kind::Integer => row.value::<Option<i64>>(i)?.map(Value::Integer),
                Kind::Real => row.value::<Option<f64>>(i)?.map(Value::Real),
                Kind::Bool => row.value::<Option<bool>>(i)?.map(Value::Bool),
                Kind::Time => row
                    .value::<Option<OffsetDateTime>>(i)?
                    .map(|time| Value::Time(Timestamp::from_offset_date_time(time))),
                Kind::Json => row.value::<Option<serde_json::Value>>(i)?.map(Value::Json),
                Kind::Bytes => row.value::<Option<Vec<u8>>>(i)?.map(Value::Bytes),
            };
            Ok(value.unwrap_or(Value::Null))
        })
        .collect()
}
