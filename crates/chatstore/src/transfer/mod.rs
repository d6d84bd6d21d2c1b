//! Copying a whole store from one backend to another: SQLite (the store and its
//! `files.db`) to PostgreSQL and back, or between two stores of one backend.
//!
//! [`copy_store`] moves every table of [`TABLES`] in an order foreign keys accept, then
//! every attachment, then compares the two stores table by table ([`verify_copy`]: row
//! counts and a digest of every row's content). Rows go over in key order, one batch
//! per transaction, and rows the target already has are left alone, so a copy that
//! was interrupted (a crash, a lost connection, Ctrl-C) is finished by running it
//! again; nothing is copied twice. What a backend derives from the rows (the search
//! index, embedding versions and their change log) is rebuilt by the target, not copied.
//!
//! Copy from a store nothing writes to (stop the application, or copy a backup): rows
//! that change during a copy make the verification fail, and the target must be a new
//! store or an earlier, unfinished copy of the same source.
//!
//! ```no_run
//! # fn demo(
//! #     sqlite: &dyn chatstore::transfer::TableTransfer, files: &dyn chatstore::BlobStore,
//! #     postgres: &dyn chatstore::transfer::TableTransfer, pg_files: &dyn chatstore::BlobStore,
//! # ) -> chatstore::Result<()> {
//! use chatstore::transfer::{CopyOptions, Endpoint, copy_store};
//!
//! let report = copy_store(
//!     Endpoint { rows: sqlite, blobs: files },
//!     Endpoint { rows: postgres, blobs: pg_files },
//!     &CopyOptions::default(),
//!     &mut |progress| eprintln!("{} {}/{}", progress.item, progress.done, progress.total),
//! )?;
//! assert!(report.checks.iter().all(|check| check.matches()));
//! # Ok(()) }
//! ```

mod copy;
mod sql;
mod tables;
mod value;
mod verify;

pub use copy::{
    BlobsCopied, CopyOptions, CopyProgress, CopyReport, Endpoint, Step, TableCopied, copy_store,
};
pub use sql::{Dialect, TableSql};
pub use tables::{Column, CopyMode, Kind, TABLES, Table, table};
pub use value::{Row, RowDigest, Value};
pub use verify::{TableCheck, verify_copy};

use crate::{Error, Result};

/// Row-level access to a store's tables for [`copy_store`]: implemented by each
/// backend's store. It reaches across users, like
/// [`SystemStore`](crate::SystemStore), and is meant for operators' tools only.
pub trait TableTransfer: Send + Sync {
    /// How many rows `table` holds.
    fn count_rows(&self, table: &Table) -> Result<u64>;

    /// Up to `limit` rows of `table` in key order, after the row whose key is `after`
    /// (from the first row when `None`); each row's values follow `table.columns`.
    fn read_rows(&self, table: &Table, after: Option<&[Value]>, limit: u32) -> Result<Vec<Row>>;

    /// The key of `table`'s last row in key order, or `None` when it is empty.
    fn last_key(&self, table: &Table) -> Result<Option<Row>>;

    /// True when `table` has a row with this key.
    fn contains_key(&self, table: &Table, key: &[Value]) -> Result<bool>;

    /// Inserts `rows` in one transaction, leaving alone every row whose key the table
    /// already has; returns how many were inserted. A row that does not fit the table
    /// ([`check_rows`]) is [`Error::Validation`] and nothing is inserted.
    fn insert_rows(&self, table: &Table, rows: &[Row]) -> Result<u64>;

    /// Inserts `rows` in one transaction, overwriting the changeable columns
    /// ([`Table::mutable`]) of rows whose key the table already has where they differ;
    /// returns how many rows were inserted or changed. Bad rows as for
    /// [`TableTransfer::insert_rows`].
    fn refresh_rows(&self, table: &Table, rows: &[Row]) -> Result<u64>;

    /// Makes `table` hold exactly `rows`, in one transaction: rows with other keys are
    /// deleted, rows with these keys refreshed.
    fn mirror_rows(&self, table: &Table, rows: &[Row]) -> Result<()>;

    /// Brings up to date what the backend derives from copied rows (identity
    /// sequences, counters); called once every table has been copied.
    fn finish_copy(&self) -> Result<()>;
}

/// Checks that every row has one value per column of `table`, each of its column's kind.
pub fn check_rows(table: &Table, rows: &[Row]) -> Result<()> {
    for row in rows {
        check_values(table, table.columns, row)?;
    }
    Ok(())
}

/// Checks that `key` has one value per key column of `table`, each of its kind.
pub fn check_key(table: &Table, key: &[Value]) -> Result<()> {
    check_values(table, table.key(), key)
}

fn check_values(table: &Table, columns: &[Column], values: &[Value]) -> Result<()> {
    if values.len() != columns.len() {
        return Err(Error::validation(
            "row",
            format!(
                "{} expects {} values, got {}",
                table.name,
                columns.len(),
                values.len()
            ),
        ));
    }
    for (column, value) in columns.iter().zip(values) {
        if !value.fits(column.kind) {
            return Err(Error::validation(
                "row",
                format!(
                    "{}.{} holds {:?} values, got {value:?}",
                    table.name, column.name, column.kind
                ),
            ));
        }
    }
    Ok(())
}

/// The keys among `keys` that no row of `rows` has: what a mirrored table must lose.
pub fn keys_not_in(table: &Table, keys: Vec<Row>, rows: &[Row]) -> Vec<Row> {
    keys.into_iter()
        .filter(|key| !rows.iter().any(|row| row[..table.key_len] == key[..]))
        .collect()
}
