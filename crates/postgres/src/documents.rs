//! Documents on PostgreSQL: what other stores need of them so far.

use chatstore::{DocumentId, Result};

use crate::db::Conn;

/// Removes these documents from every conversation's selection, inside the caller's
/// transaction (a selection never names a deleted document); an emptied selection
/// becomes NULL.
pub(crate) fn unselect_documents(conn: &mut Conn<'_, '_>, documents: &[DocumentId]) -> Result<()> {
    if documents.is_empty() {
        return Ok(());
    }
    let gone: Vec<String> = documents.iter().map(ToString::to_string).collect();
    conn.execute(
        "UPDATE conversations SET selected_document_ids = (
             SELECT jsonb_agg(e) FROM jsonb_array_elements(selected_document_ids) e
             WHERE NOT (e #>> '{}' = ANY($1)))
         WHERE selected_document_ids ?| $1",
        &[&gone],
    )
    .map(drop)
}
