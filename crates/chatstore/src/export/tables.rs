//! Messages and usage as CSV, one row each, for spreadsheets.

use std::path::Path;

use super::UserExport;
use crate::{Error, Result};

/// Writes every message of `export`: conversation, position, parent, role, time,
/// content.
pub(super) fn write_messages(export: &UserExport, path: &Path) -> Result<()> {
    let mut out = writer(path)?;
    row(
        &mut out,
        path,
        [
            "conversation_id",
            "conversation_title",
            "message_id",
            "seq",
            "parent_id",
            "role",
            "created_at",
            "content",
        ],
    )?;
    for item in &export.conversations {
        let title = item.conversation.title.clone().unwrap_or_default();
        for m in &item.messages {
            row(
                &mut out,
                path,
                [
                    item.conversation.id.to_string(),
                    title.clone(),
                    m.id.to_string(),
                    m.seq.to_string(),
                    m.parent_id.map(|p| p.to_string()).unwrap_or_default(),
                    m.role.to_string(),
                    m.created_at.to_string(),
                    m.content.clone(),
                ],
            )?;
        }
    }
    out.flush().map_err(Error::io(path))
}

/// Writes every usage record of `export`.
pub(super) fn write_usage(export: &UserExport, path: &Path) -> Result<()> {
    let mut out = writer(path)?;
    row(
        &mut out,
        path,
        [
            "created_at",
            "provider",
            "model",
            "operation_type",
            "prompt_tokens",
            "completion_tokens",
            "embedding_tokens",
            "total_tokens",
            "estimated_cost",
            "currency",
            "conversation_id",
            "message_id",
        ],
    )?;
    for u in &export.usage {
        row(
            &mut out,
            path,
            [
                u.created_at.to_string(),
                u.provider.clone(),
                u.model.clone(),
                u.operation_type.to_string(),
                u.prompt_tokens.to_string(),
                u.completion_tokens.to_string(),
                u.embedding_tokens.to_string(),
                u.total_tokens.to_string(),
                u.estimated_cost.to_string(),
                u.currency.clone(),
                u.conversation_id.map(|c| c.to_string()).unwrap_or_default(),
                u.message_id.map(|m| m.to_string()).unwrap_or_default(),
            ],
        )?;
    }
    out.flush().map_err(Error::io(path))
}

fn writer(path: &Path) -> Result<csv::Writer<std::fs::File>> {
    csv::Writer::from_path(path).map_err(|e| csv_error(path, e))
}

fn row<I, T>(out: &mut csv::Writer<std::fs::File>, path: &Path, cells: I) -> Result<()>
where
    I: IntoIterator<Item = T>,
    T: AsRef<[u8]>,
{
    out.write_record(cells).map_err(|e| csv_error(path, e))
}

fn csv_error(path: &Path, error: csv::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(error),
    }
}
