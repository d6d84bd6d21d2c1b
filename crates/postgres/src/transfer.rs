//! [`TableTransfer`] on PostgreSQL: the rows a store copy reads and writes. Parameters
//! carry casts so that each value binds as its column's type; what PostgreSQL derives
//! is written beside the copied rows: a message's search vector (and the parts of a
//! very long one), an embedding's version from the commit-ordered counter, and the
//! identity sequences of roles and permissions once everything is in.

use std::collections::HashMap;

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
        format!("${n}::{}", pg_type(kind))
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
}

/// A column PostgreSQL derives from a copied row, with the value that goes with it.
struct Derived {
    /// The column.
    column: &'static str,
    /// What its value is made from: the search text, or the embedding's version.
    kind: Kind,
    /// The expression writing the column from that value.
    write: fn(&str) -> String,
    /// Whether a row whose key was there already and is overwritten takes a new value
    /// (an embedding whose vector changed gets a new version, so indexes reread it).
    renewed: bool,
}

/// What PostgreSQL writes beside a copied row of `table`.
fn derived(table: &Table) -> &'static [Derived] {
    match table.name {
        "messages" => &[Derived {
            column: "search_vector",
            kind: Kind::Text,
            write: |text| format!("to_tsvector('simple', {text})"),
            renewed: false,
        }],
        "chunk_embeddings" => &[Derived {
            column: "version",
            kind: Kind::Integer,
            write: |version| version.to_owned(),
            renewed: true,
        }],
        _ => &[],
    }
}

/// The type name of a kind in a cast.
fn pg_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Id => "uuid",
        Kind::Text => "text",
        Kind::Integer => "bigint",
        Kind::Real => "double precision",
        Kind::Bool => "boolean",
        Kind::Time => "timestamptz",
        Kind::Json => "jsonb",
        Kind::Bytes => "bytea",
    }
}

/// One statement inserting a whole batch: every column (and derived value) bound as an
/// array and unnested, `conflict` deciding what happens to keys already there; returns
/// the first key column of each row written. One round trip per batch instead of one
/// per row.
fn batch_statement(table: &Table, conflict: &str) -> String {
    let derived = derived(table);
    let mut names: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
    names.extend(derived.iter().map(|d| d.column));
    let arrays: Vec<String> = table
        .columns
        .iter()
        .map(|c| c.kind)
        .chain(derived.iter().map(|d| d.kind))
        .enumerate()
        .map(|(i, kind)| format!("${}::{}[]", i + 1, pg_type(kind)))
        .collect();
    let renewed: String = derived
        .iter()
        .filter(|d| d.renewed)
        .map(|d| format!("{0} = excluded.{0}, ", d.column))
        .collect();
    let conflict = conflict.replacen("DO UPDATE SET ", &format!("DO UPDATE SET {renewed}"), 1);
    let values: Vec<String> = table
        .columns
        .iter()
        .map(|c| format!("r.{}", c.name))
        .chain(
            derived
                .iter()
                .map(|d| (d.write)(&format!("r.{}", d.column))),
        )
        .collect();
    format!(
        "INSERT INTO {name} ({columns}){overriding} SELECT {values} FROM unnest({arrays}) AS r({columns}) {conflict} RETURNING {name}.{key}",
        name = table.name,
        columns = names.join(", "),
        overriding = Postgres.overriding(table),
        values = values.join(", "),
        arrays = arrays.join(", "),
        key = table.columns[0].name,
    )
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
        self.write_rows(table, rows, &sql(table).insert_conflict)
    }

    fn refresh_rows(&self, table: &Table, rows: &[Row]) -> Result<u64> {
        self.write_rows(table, rows, &sql(table).refresh_conflict)
    }

    fn mirror_rows(&self, table: &Table, rows: &[Row]) -> Result<()> {
        check_rows(table, rows)?;
        if !derived(table).is_empty() {
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
    /// Writes `rows` in one statement and one transaction, `conflict` deciding about
    /// keys already there; a written message too long for one search vector gets its
    /// search parts.
    fn write_rows(&self, table: &Table, rows: &[Row], conflict: &str) -> Result<u64> {
        check_rows(table, rows)?;
        if rows.is_empty() {
            return Ok(0);
        }
        let statement = batch_statement(table, conflict);
        let mut arrays: Params = table
            .columns
            .iter()
            .enumerate()
            .map(|(i, column)| column_array(rows, i, column.kind))
            .collect();
        let mut parts: HashMap<Uuid, Vec<String>> = HashMap::new();
        if table.name == "messages" {
            let content = table.columns.iter().position(|c| c.name == "content");
            let mut texts = Vec::with_capacity(rows.len());
            for row in rows {
                let (Some(Value::Id(id)), Some(Value::Text(text))) =
                    (row.first(), content.map(|i| &row[i]))
                else {
                    return Err(Error::validation(
                        "row",
                        "a message needs its id and content",
                    ));
                };
                let (own, rest) = crate::search::search_texts(text);
                texts.push(own);
                if !rest.is_empty() {
                    parts.insert(*id, rest);
                }
            }
            arrays.push(Box::new(texts));
        }
        self.db.write(|c| {
            let mut params = refs(&arrays);
            let versions: Vec<i64>;
            if let Some(first) = take_versions(c, table, rows.len())? {
                versions = (first..).take(rows.len()).collect();
                params.push(&versions);
            }
            let written = c.rows(&statement, &params)?;
            if !parts.is_empty() {
                for row in &written {
                    let id: Uuid = row.value(0)?;
                    if let Some(rest) = parts.get(&id) {
                        crate::search::replace_search_parts(c, id, rest)?;
                    }
                }
            }
            Ok(written.len() as u64)
        })
    }
}

/// Column `i` of every row, as the array its column's type takes; NULL where a row
/// holds NULL (rows are checked, so every other value is of the column's kind).
fn column_array(rows: &[Row], i: usize, kind: Kind) -> Box<dyn ToSql + Sync> {
    macro_rules! array {
        ($variant:ident, $convert:expr) => {
            Box::new(
                rows.iter()
                    .map(|row| match &row[i] {
                        Value::$variant(value) => Some($convert(value)),
                        _ => None,
                    })
                    .collect::<Vec<_>>(),
            )
        };
    }
    match kind {
        Kind::Id => array!(Id, |v: &Uuid| *v),
        Kind::Text => array!(Text, |v: &String| v.clone()),
        Kind::Integer => array!(Integer, |v: &i64| *v),
        Kind::Real => array!(Real, |v: &f64| *v),
        Kind::Bool => array!(Bool, |v: &bool| *v),
        Kind::Time => array!(Time, |v: &Timestamp| at(*v)),
        Kind::Json => array!(Json, |v: &serde_json::Value| v.clone()),
        Kind::Bytes => array!(Bytes, |v: &Vec<u8>| v.clone()),
    }
}

type Params = Vec<Box<dyn ToSql + Sync>>;

fn refs(params: &Params) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|param| param.as_ref()).collect()
}

/// The first of `count` embedding versions, taken from the commit-ordered counter,
/// when `table` is the embeddings.
fn take_versions(c: &mut Conn<'_, '_>, table: &Table, count: usize) -> Result<Option<i64>> {
    if table.name != "chunk_embeddings" || count == 0 {
        return Ok(None);
    }
    let count = i64::try_from(count).map_err(|_| Error::validation("rows", "too many"))?;
    Ok(Some(
        crate::embeddings::take_versions(c, count)? - count + 1,
    ))
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
