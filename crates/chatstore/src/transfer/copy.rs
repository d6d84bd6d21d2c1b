//! Copying every table and attachment of one store into another.

use super::TableTransfer;
use super::tables::{CopyMode, TABLES, Table};
use super::value::Row;
use super::verify::{TableCheck, verify_copy};
use crate::{BlobStore, ConflictKind, Error, MessageId, Result, Timestamp};

/// One side of a copy: a store's rows and its attachments.
#[derive(Clone, Copy)]
pub struct Endpoint<'a> {
    /// The store's tables.
    pub rows: &'a dyn TableTransfer,
    /// Its attachments.
    pub blobs: &'a dyn BlobStore,
}

/// How a copy runs.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    /// Rows per batch, each batch one transaction on the target (default 500).
    pub batch_rows: u32,
    /// Compare the stores after copying (default on).
    pub verify: bool,
}

impl Default for CopyOptions {
    fn default() -> CopyOptions {
        CopyOptions {
            batch_rows: 500,
            verify: true,
        }
    }
}

/// What a copy is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Copying rows or attachments.
    Copy,
    /// Comparing source and target.
    Verify,
}

/// Where a copy stands, reported after every batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyProgress {
    /// Copying or verifying.
    pub step: Step,
    /// The table, or `"attachments"`.
    pub item: &'static str,
    /// Rows or attachments of `item` done so far (in the target, for a resumed copy).
    pub done: u64,
    /// How many `item` has in the source.
    pub total: u64,
}

/// What one table's copy did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCopied {
    /// The table.
    pub table: &'static str,
    /// Rows in the source.
    pub source_rows: u64,
    /// Rows this run wrote (0 when an earlier run had copied them all).
    pub written: u64,
}

/// What the attachment copy did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlobsCopied {
    /// Attachments written by this run.
    pub copied: u64,
    /// Attachments the target already held with the same content.
    pub present: u64,
    /// Bytes written by this run.
    pub bytes: u64,
}

/// What a copy did, and how the stores compared afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// Each table, in copy order.
    pub tables: Vec<TableCopied>,
    /// The attachments.
    pub blobs: BlobsCopied,
    /// The comparison of every table and of the attachments (empty when
    /// [`CopyOptions::verify`] is off); all match, or the copy returned an error.
    pub checks: Vec<TableCheck>,
}

impl CopyReport {
    /// Rows written by this run, over all tables.
    pub fn rows_written(&self) -> u64 {
        self.tables.iter().map(|table| table.written).sum()
    }
}

/// Copies every table and attachment of `source` into `target`, then (by default)
/// verifies that both hold the same rows and attachments.
///
/// Resumable: rows and attachments the target already has are not copied again, so
/// after an interruption the same call finishes the copy. A target holding rows the
/// source does not have (another store's data) is refused before anything is written:
/// [`Error::Conflict`] with [`ConflictKind::InvalidState`]. A verification that still
/// finds a difference after one more pass over the differing tables (the source
/// changed during the copy) is the same error, naming the tables.
pub fn copy_store(
    source: Endpoint<'_>,
    target: Endpoint<'_>,
    options: &CopyOptions,
    progress: &mut dyn FnMut(&CopyProgress),
) -> Result<CopyReport> {
    if options.batch_rows == 0 {
        return Err(Error::validation("batch_rows", "must be at least 1"));
    }
    refuse_foreign_rows(source.rows, target.rows)?;
    let mut tables = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        tables.push(copy_table(
            source.rows,
            target.rows,
            table,
            options,
            false,
            progress,
        )?);
    }
    let blobs = copy_blobs(source.blobs, target.blobs, progress)?;
    target.rows.finish_copy()?;
    let mut report = CopyReport {
        tables,
        blobs,
        checks: Vec::new(),
    };
    if options.verify {
        report.checks = verify_copy(source, target, options.batch_rows, progress)?;
        let differing: Vec<&'static str> = failed(&report.checks);
        if !differing.is_empty() {
            // A resumed copy skips keys below the target's last one, and leaves rows it
            // finds alone: one full pass over the differing tables brings over what the
            // source gained or changed since.
            for name in &differing {
                if let Some(table) = TABLES.iter().find(|table| table.name == *name) {
                    let again =
                        copy_table(source.rows, target.rows, table, options, true, progress)?;
                    if let Some(entry) = report.tables.iter_mut().find(|t| t.table == *name) {
                        entry.written += again.written;
                    }
                }
            }
            if differing.contains(&ATTACHMENTS) {
                let again = copy_blobs(source.blobs, target.blobs, progress)?;
                report.blobs.copied += again.copied;
                report.blobs.bytes += again.bytes;
            }
            target.rows.finish_copy()?;
            report.checks = verify_copy(source, target, options.batch_rows, progress)?;
        }
        let still: Vec<String> = report
            .checks
            .iter()
            .filter(|check| !check.matches())
            .map(ToString::to_string)
            .collect();
        if !still.is_empty() {
            return Err(Error::conflict(
                ConflictKind::InvalidState,
                "store copy",
                format!(
                    "the target does not match the source (did the source change during the copy?): {}",
                    still.join("; ")
                ),
            ));
        }
    }
    Ok(report)
}

/// The name attachments are reported under.
pub(super) const ATTACHMENTS: &str = "attachments";

fn failed(checks: &[TableCheck]) -> Vec<&'static str> {
    checks
        .iter()
        .filter(|check| !check.matches())
        .map(|check| check.table)
        .collect()
}

/// A target whose last row in some table is not in the source holds another store's
/// data: copying into it would mix two stores.
fn refuse_foreign_rows(source: &dyn TableTransfer, target: &dyn TableTransfer) -> Result<()> {
    for table in TABLES.iter().filter(|table| table.mode == CopyMode::Append) {
        if let Some(key) = target.last_key(table)?
            && !source.contains_key(table, &key)?
        {
            return Err(Error::conflict(
                ConflictKind::InvalidState,
                "store copy",
                format!(
                    "the target's {} holds rows the source does not have: copy into a new store, or into an unfinished copy of this source",
                    table.name
                ),
            ));
        }
    }
    Ok(())
}

fn copy_table(
    source: &dyn TableTransfer,
    target: &dyn TableTransfer,
    table: &'static Table,
    options: &CopyOptions,
    from_start: bool,
    progress: &mut dyn FnMut(&CopyProgress),
) -> Result<TableCopied> {
    let total = source.count_rows(table)?;
    let mut report = |done| {
        progress(&CopyProgress {
            step: Step::Copy,
            item: table.name,
            done,
            total,
        })
    };
    if table.mode == CopyMode::Mirror {
        let rows = read_all(source, table, options.batch_rows)?;
        let same = read_all(target, table, options.batch_rows)? == rows;
        if !same {
            target.mirror_rows(table, &rows)?;
        }
        report(total);
        return Ok(TableCopied {
            table: table.name,
            source_rows: total,
            written: if same { 0 } else { rows.len() as u64 },
        });
    }
    let mut after = if from_start {
        None
    } else {
        target.last_key(table)?
    };
    let mut done = if after.is_some() {
        target.count_rows(table)?
    } else {
        0
    };
    let mut written = 0;
    report(done);
    loop {
        let rows = source.read_rows(table, after.as_deref(), options.batch_rows)?;
        let Some(last) = rows.last() else { break };
        let key: Row = last[..table.key_len].to_vec();
        let inserted = if from_start {
            target.refresh_rows(table, &rows)?
        } else {
            target.insert_rows(table, &rows)?
        };
        written += inserted;
        done += inserted;
        report(done.min(total));
        after = Some(key);
    }
    Ok(TableCopied {
        table: table.name,
        source_rows: total,
        written,
    })
}

/// Every row of a small table.
fn read_all(rows: &dyn TableTransfer, table: &Table, batch: u32) -> Result<Vec<Row>> {
    let mut all: Vec<Row> = Vec::new();
    loop {
        let after = all.last().map(|row| row[..table.key_len].to_vec());
        let page = rows.read_rows(table, after.as_deref(), batch)?;
        if page.is_empty() {
            return Ok(all);
        }
        all.extend(page);
    }
}

/// Messages per page when walking the attachments.
const MESSAGES_PER_PAGE: u32 = 200;

fn copy_blobs(
    source: &dyn BlobStore,
    target: &dyn BlobStore,
    progress: &mut dyn FnMut(&CopyProgress),
) -> Result<BlobsCopied> {
    let total = source.stats()?.keys;
    let mut copied = BlobsCopied::default();
    let mut after: Option<MessageId> = None;
    loop {
        let page = source.messages_with_blobs(Timestamp::MAX, after, MESSAGES_PER_PAGE)?;
        let Some(last) = page.last().copied() else {
            break;
        };
        for message in page {
            for info in source.list(message)? {
                if target.info(&info.key)?.as_ref() == Some(&info) {
                    copied.present += 1;
                } else {
                    let mut reader = source.open(&info.key)?;
                    target.put_stream(&info.key, info.size, &mut reader)?;
                    copied.copied += 1;
                    copied.bytes += info.size;
                }
            }
            progress(&CopyProgress {
                step: Step::Copy,
                item: ATTACHMENTS,
                done: copied.copied + copied.present,
                total,
            });
        }
        after = Some(last);
    }
    Ok(copied)
}
