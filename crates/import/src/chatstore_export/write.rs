//! Writing a checked plan: parents before the records that refer to them, and each
//! batch of messages only after its attachments are stored, so that however the import
//! stops, nothing points at a missing record or attachment. Rows go in with
//! `ON CONFLICT DO NOTHING` on their key, so a second run counts everything as present.

use chatstore::Result;
use chatstore::transfer::{Endpoint, Row};

use super::files;
use super::plan::Plan;
use crate::Progress;
use crate::report::ImportReport;
use crate::writer::target_table;

/// Rows per transaction.
const BATCH: usize = 500;

/// Writes `plan` into `target`; returns its report with the counts.
pub(super) fn write(
    plan: Plan,
    target: Endpoint<'_>,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<ImportReport> {
    let Plan {
        mut report,
        user,
        grants,
        documents,
        chunks,
        conversations,
        messages,
        agent_logs,
        usage,
    } = plan;
    let mut rows = Rows {
        target,
        report: &mut report,
        progress,
    };
    if let Some(user) = user {
        rows.insert("user", "users", &[user])?;
        target
            .rows
            .insert_rows(target_table("user_roles")?, &grants)?;
    }
    rows.insert("document", "documents", &documents)?;
    rows.insert("chunk", "document_chunks", &chunks)?;
    rows.insert("conversation", "conversations", &conversations)?;
    let total = messages.len() as u64;
    let mut done = 0;
    (rows.progress)(Progress {
        kind: "message",
        done,
        total,
    });
    for batch in messages.chunks(BATCH) {
        for blob in batch.iter().flat_map(|m| &m.blobs) {
            let written = files::put(target.blobs, blob)?;
            rows.report
                .written("attachment", u64::from(written), u64::from(!written));
        }
        let batch_rows: Vec<Row> = batch.iter().map(|m| m.row.clone()).collect();
        rows.batch("message", "messages", &batch_rows)?;
        done += batch.len() as u64;
        (rows.progress)(Progress {
            kind: "message",
            done,
            total,
        });
    }
    rows.insert("agent_log", "agent_logs", &agent_logs)?;
    rows.insert("usage", "token_usage", &usage)?;
    Ok(report)
}

struct Rows<'a, 'p> {
    target: Endpoint<'a>,
    report: &'a mut ImportReport,
    progress: &'a mut (dyn FnMut(Progress<'_>) + 'p),
}

impl Rows<'_, '_> {
    /// Inserts `rows` of `kind` into `table` in batches, reporting progress.
    fn insert(&mut self, kind: &str, table: &str, rows: &[Row]) -> Result<()> {
        let total = rows.len() as u64;
        let mut done = 0;
        (self.progress)(Progress { kind, done, total });
        for batch in rows.chunks(BATCH) {
            self.batch(kind, table, batch)?;
            done += batch.len() as u64;
            (self.progress)(Progress { kind, done, total });
        }
        Ok(())
    }

    /// Inserts one batch in one transaction and counts what was new.
    fn batch(&mut self, kind: &str, table: &str, rows: &[Row]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let inserted = self.target.rows.insert_rows(target_table(table)?, rows)?;
        self.report
            .written(kind, inserted, rows.len() as u64 - inserted);
        Ok(())
    }
}
