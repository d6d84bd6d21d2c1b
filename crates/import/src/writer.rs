//! Writing imported records into the target through [`TableTransfer`], with the ids
//! they had in the source recorded beside the new ones in `imported_ids`.
//!
//! Rows go in with `ON CONFLICT (key) DO NOTHING` and every new id is derived from the
//! source, the kind and the original id, so running an import again writes nothing
//! twice and an interrupted import is finished by running it again. A record's row is
//! written before its `imported_ids` row, so the latter never names a missing record.

use std::collections::HashMap;

use chatstore::transfer::{Row, Table, TableTransfer, Value, table};
use chatstore::{Error, Result, Timestamp};
use uuid::Uuid;

use crate::Progress;
use crate::report::ImportReport;

/// Rows per transaction.
const BATCH: usize = 500;

/// One record ready to write: its row in its table, and the ids to remember.
pub(crate) struct Record {
    /// The id it had in the source.
    pub original_id: String,
    /// Its id here.
    pub new_id: Uuid,
    /// Its row, in the order of its table's columns.
    pub row: Row,
}

/// Builds a row of `table` from named values; columns not named are NULL. Naming a
/// column the table does not have is a bug of the importer, reported as such.
pub(crate) fn row(table: &Table, values: Vec<(&str, Value)>) -> Result<Row> {
    let mut row = vec![Value::Null; table.columns.len()];
    for (name, value) in values {
        let index = table
            .columns
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| Error::Backend {
                detail: format!(
                    "the importer names a column {}.{name} that is not there",
                    table.name
                ),
            })?;
        row[index] = value;
    }
    Ok(row)
}

/// The copied table `name`.
pub(crate) fn target_table(name: &str) -> Result<&'static Table> {
    table(name).ok_or_else(|| Error::Backend {
        detail: format!("chatstore has no copied table {name}"),
    })
}

/// Writes records of one source into one target.
pub(crate) struct Writer<'a> {
    target: &'a dyn TableTransfer,
    source: &'static str,
    now: Timestamp,
}

impl<'a> Writer<'a> {
    /// A writer for records of `source` into `target`, stamping `imported_ids` with `now`.
    pub(crate) fn new(target: &'a dyn TableTransfer, source: &'static str, now: Timestamp) -> Self {
        Writer {
            target,
            source,
            now,
        }
    }

    /// Writes `records` of `kind` into `table_name` in batches, then their ids, and
    /// counts what was new and what was already there.
    pub(crate) fn write(
        &self,
        report: &mut ImportReport,
        kind: &str,
        table_name: &str,
        records: &mut [Record],
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<()> {
        self.write_prepared(
            report,
            kind,
            table_name,
            records,
            &mut |_, _| Ok(()),
            progress,
        )
    }

    /// As [`Writer::write`], with `prepare` run on each batch before it is written
    /// (messages: their attachments are stored first, and their rows name them).
    pub(crate) fn write_prepared(
        &self,
        report: &mut ImportReport,
        kind: &str,
        table_name: &str,
        records: &mut [Record],
        prepare: &mut dyn FnMut(&mut ImportReport, &mut [Record]) -> Result<()>,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<()> {
        let table = target_table(table_name)?;
        let total = records.len() as u64;
        progress(Progress {
            kind,
            done: 0,
            total,
        });
        for (n, batch) in records.chunks_mut(BATCH).enumerate() {
            prepare(report, batch)?;
            self.write_batch(report, kind, table, batch)?;
            let done = (n * BATCH + batch.len()) as u64;
            progress(Progress { kind, done, total });
        }
        Ok(())
    }

    fn write_batch(
        &self,
        report: &mut ImportReport,
        kind: &str,
        table: &Table,
        batch: &[Record],
    ) -> Result<()> {
        let rows: Vec<Row> = batch.iter().map(|r| r.row.clone()).collect();
        let inserted = self.target.insert_rows(table, &rows)?;
        self.remember(kind, batch)?;
        report.written(kind, inserted, rows.len() as u64 - inserted);
        Ok(())
    }

    /// Writes one record alone (users: a unique email or name taken by another account
    /// refuses it without refusing the others). `Ok(false)` when the target refused it
    /// as a conflict.
    pub(crate) fn write_one(
        &self,
        report: &mut ImportReport,
        kind: &str,
        table_name: &str,
        record: &Record,
    ) -> Result<bool> {
        let table = target_table(table_name)?;
        match self
            .target
            .insert_rows(table, std::slice::from_ref(&record.row))
        {
            Ok(inserted) => {
                self.remember(kind, std::slice::from_ref(record))?;
                report.written(kind, inserted, 1 - inserted);
                Ok(true)
            }
            Err(Error::Conflict { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Rows of another table that belong to records already counted (role grants).
    pub(crate) fn write_rows(&self, table_name: &str, rows: &[Row]) -> Result<()> {
        let table = target_table(table_name)?;
        for batch in rows.chunks(BATCH) {
            self.target.insert_rows(table, batch)?;
        }
        Ok(())
    }

    /// The target's role ids, by role name (roles are granted by name).
    pub(crate) fn role_ids(&self) -> Result<HashMap<String, Value>> {
        Ok(self
            .read_all("roles")?
            .into_iter()
            .filter_map(|r| match (&r[1], &r[0]) {
                (Value::Text(name), id) => Some((name.clone(), id.clone())),
                _ => None,
            })
            .collect())
    }

    /// Every row of the target's table `name` (small tables only: roles).
    pub(crate) fn read_all(&self, name: &str) -> Result<Vec<Row>> {
        let table = target_table(name)?;
        let mut rows = Vec::new();
        loop {
            let after = rows.last().map(|r: &Row| r[..table.key_len].to_vec());
            let page = self.target.read_rows(table, after.as_deref(), 1000)?;
            let done = page.len() < 1000;
            rows.extend(page);
            if done {
                return Ok(rows);
            }
        }
    }

    fn remember(&self, kind: &str, records: &[Record]) -> Result<()> {
        let table = target_table("imported_ids")?;
        let rows = records
            .iter()
            .map(|r| {
                row(
                    table,
                    vec![
                        ("source", Value::Text(self.source.to_owned())),
                        ("kind", Value::Text(kind.to_owned())),
                        ("original_id", Value::Text(r.original_id.clone())),
                        ("new_id", Value::Id(r.new_id)),
                        ("imported_at", Value::Time(self.now)),
                    ],
                )
            })
            .collect::<Result<Vec<_>>>()?;
        self.target.insert_rows(table, &rows).map(drop)
    }
}
