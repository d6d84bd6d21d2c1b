//! Comparing two stores table by table: row counts and a digest of every row.

use std::fmt;

use super::TableTransfer;
use super::copy::{ATTACHMENTS, CopyProgress, Endpoint, Step};
use super::tables::{TABLES, Table};
use super::value::RowDigest;
use crate::{BlobStore, MessageId, Result, Timestamp};

/// How one table (or the attachments) compares between two stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCheck {
    /// The table, or `"attachments"`.
    pub table: &'static str,
    /// Rows (attachments) in the source.
    pub source_rows: u64,
    /// Rows (attachments) in the target.
    pub target_rows: u64,
    /// The digest of the source's rows in key order, 64 hex characters.
    pub source_digest: String,
    /// The digest of the target's rows in key order.
    pub target_digest: String,
}

impl TableCheck {
    /// True when both stores hold the same rows.
    pub fn matches(&self) -> bool {
        self.source_rows == self.target_rows && self.source_digest == self.target_digest
    }
}

impl fmt::Display for TableCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.matches() {
            write!(f, "{}: {} rows match", self.table, self.source_rows)
        } else if self.source_rows != self.target_rows {
            write!(
                f,
                "{}: {} rows in the source, {} in the target",
                self.table, self.source_rows, self.target_rows
            )
        } else {
            write!(
                f,
                "{}: {} rows on both sides, with different content",
                self.table, self.source_rows
            )
        }
    }
}

/// Compares every copied table and the attachments of two stores: row counts and a
/// digest of every row's values (attachments: key, size and blake3 hash of the bytes),
/// read from both stores at once. Works between any two backends, since the digest
/// ([`RowDigest`]) is taken over values, not over how a backend stores them.
pub fn verify_copy(
    source: Endpoint<'_>,
    target: Endpoint<'_>,
    batch_rows: u32,
    progress: &mut dyn FnMut(&CopyProgress),
) -> Result<Vec<TableCheck>> {
    let mut checks = Vec::with_capacity(TABLES.len() + 1);
    for table in TABLES {
        let (from, to) = both(
            || table_digest(source.rows, table, batch_rows),
            || table_digest(target.rows, table, batch_rows),
        )?;
        checks.push(check(table.name, &from, &to));
        progress(&CopyProgress {
            step: Step::Verify,
            item: table.name,
            done: from.rows(),
            total: from.rows(),
        });
    }
    let (from, to) = both(|| blob_digest(source.blobs), || blob_digest(target.blobs))?;
    checks.push(check(ATTACHMENTS, &from, &to));
    progress(&CopyProgress {
        step: Step::Verify,
        item: ATTACHMENTS,
        done: from.rows(),
        total: from.rows(),
    });
    Ok(checks)
}

fn check(table: &'static str, from: &RowDigest, to: &RowDigest) -> TableCheck {
    TableCheck {
        table,
        source_rows: from.rows(),
        target_rows: to.rows(),
        source_digest: from.hex(),
        target_digest: to.hex(),
    }
}

/// Runs both digests at once, one on another thread.
fn both(
    left: impl FnOnce() -> Result<RowDigest> + Send,
    right: impl FnOnce() -> Result<RowDigest>,
) -> Result<(RowDigest, RowDigest)> {
    std::thread::scope(|scope| {
        let left = scope.spawn(left);
        let right = right();
        let left = left
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        Ok((left?, right?))
    })
}

fn table_digest(rows: &dyn TableTransfer, table: &Table, batch: u32) -> Result<RowDigest> {
    let mut digest = RowDigest::new();
    let mut after = None;
    loop {
        let page = rows.read_rows(table, after.as_deref(), batch)?;
        let Some(last) = page.last() else {
            return Ok(digest);
        };
        after = Some(last[..table.key_len].to_vec());
        for row in &page {
            digest.add(row);
        }
    }
}

fn blob_digest(blobs: &dyn BlobStore) -> Result<RowDigest> {
    let mut digest = RowDigest::new();
    let mut after: Option<MessageId> = None;
    loop {
        let page = blobs.messages_with_blobs(Timestamp::MAX, after, 200)?;
        let Some(last) = page.last().copied() else {
            return Ok(digest);
        };
        for message in page {
            for info in blobs.list(message)? {
                let line = format!("{} {} {}", info.key, info.size, info.hash);
                digest.add_bytes(9, line.as_bytes());
            }
        }
        after = Some(last);
    }
}
