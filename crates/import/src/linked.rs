//! Records that belong to others (a chunk to its document, a usage record to its user
//! and message): written after what they name, and skipped, with the reason, when
//! something they name was not imported, so that nothing imported points at nothing.

use std::collections::{HashMap, HashSet};

use chatstore::Result;

use crate::Progress;
use crate::report::ImportReport;
use crate::writer::{Record, Writer};

/// A record of another table than users, conversations and messages.
pub(crate) struct Linked {
    /// Its kind in reports and in `imported_ids` (`document`, `usage`, ...).
    pub kind: &'static str,
    /// The source table it comes from.
    pub source_table: &'static str,
    /// The target table it goes to.
    pub table: &'static str,
    /// Its row.
    pub record: Record,
    /// The records it names, by kind and source id: each must be imported first.
    pub needs: Vec<(&'static str, String)>,
}

/// The source ids of the records in the target, by kind: imported by this run or an
/// earlier one.
pub(crate) type Present = HashMap<&'static str, HashSet<String>>;

/// Writes `linked` in order, each run of one kind in batches, after leaving out (and
/// reporting) the records that name something not in `present`; what is written joins
/// `present`, so later kinds may name it.
pub(crate) fn write(
    writer: &Writer<'_>,
    report: &mut ImportReport,
    linked: Vec<Linked>,
    present: &mut Present,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<()> {
    let mut rest = linked.into_iter().peekable();
    while let Some(first) = rest.next() {
        let (kind, table) = (first.kind, first.table);
        let mut run = vec![first];
        while let Some(next) = rest.next_if(|l| l.kind == kind) {
            run.push(next);
        }
        let mut records = Vec::with_capacity(run.len());
        for linked in run {
            let missing = linked
                .needs
                .iter()
                .find(|(k, id)| !present.get(k).is_some_and(|ids| ids.contains(id)));
            match missing {
                Some((k, id)) => report.skip(
                    kind,
                    linked.source_table,
                    &linked.record.original_id,
                    format!("its {k} {id} is not imported"),
                ),
                None => records.push(linked.record),
            }
        }
        writer.write(report, kind, table, &mut records, progress)?;
        present
            .entry(kind)
            .or_default()
            .extend(records.into_iter().map(|r| r.original_id));
    }
    Ok(())
}
