//! What the conversation exports people already have (ChatGPT's and Claude's
//! `conversations.json`) share: the file read as one JSON array, the target user
//! checked, times converted, and notes on what was left out on purpose.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use chatstore::transfer::{TableTransfer, Value as Cell};
use chatstore::{Error, MessageMetadata, Result, Timestamp, UserId};
use serde_json::Value;

use crate::writer::target_table;

/// The conversations of the export at `path`: a JSON array, or an error naming the
/// file and, for malformed JSON, the line and column. Nothing is written before this.
pub(crate) fn read(path: &Path, what: &str) -> Result<Vec<Value>> {
    if !path.is_file() {
        return Err(Error::validation(
            "source",
            format!("{} is not a file", path.display()),
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::validation("source", format!("{} cannot be read: {e}", path.display()))
    })?;
    chatstore::json::check_depth("export", &text)?;
    match serde_json::from_str(&text) {
        Ok(Value::Array(items)) => Ok(items),
        Ok(_) => Err(Error::validation(
            "export",
            format!("{} is not {what}: it is not a JSON array", path.display()),
        )),
        Err(e) => Err(Error::validation(
            "export",
            format!("{} is not {what}: malformed JSON ({e})", path.display()),
        )),
    }
}

/// Fails with [`Error::NotFound`] unless `user` is a user of `target`.
pub(crate) fn require_user(target: &dyn TableTransfer, user: UserId) -> Result<()> {
    if target.contains_key(target_table("users")?, &[Cell::Id(user.as_uuid())])? {
        Ok(())
    } else {
        Err(Error::NotFound {
            entity: "user",
            key: user.to_string(),
        })
    }
}

/// Unix seconds (a float, as ChatGPT writes them); `None` when null or absent.
pub(crate) fn unix_seconds(
    value: Option<&Value>,
) -> std::result::Result<Option<Timestamp>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            let seconds = n.as_f64().unwrap_or(f64::NAN);
            if !seconds.is_finite() {
                return Err(format!("{n} is not a time"));
            }
            Timestamp::from_unix_micros((seconds * 1e6).round() as i64)
                .map(Some)
                .map_err(|e| e.to_string())
        }
        Some(other) => Err(format!("{other} is not a time in Unix seconds")),
    }
}

/// An ISO 8601 time (as Claude writes them); `None` when null or absent.
pub(crate) fn iso_time(value: Option<&Value>) -> std::result::Result<Option<Timestamp>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => crate::source::time(text)
            .map(Some)
            .map_err(|e| e.to_string()),
        Some(other) => Err(format!("{other} is not a date and time")),
    }
}

/// A string field, trimmed; `None` when absent, null, empty or not a string.
pub(crate) fn string<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Checks `metadata` against the size limit, as a reason on failure.
pub(crate) fn checked(
    metadata: MessageMetadata,
    max_bytes: usize,
) -> std::result::Result<MessageMetadata, String> {
    metadata.validate(max_bytes).map_err(|e| e.to_string())?;
    Ok(metadata)
}

/// Counts of what an import left out or changed on purpose, by description.
#[derive(Default)]
pub(crate) struct Notes(BTreeMap<String, u64>);

impl Notes {
    /// Counts one more `what`.
    pub(crate) fn add(&mut self, what: impl Into<String>) {
        *self.0.entry(what.into()).or_default() += 1;
    }

    /// The notes as report lines: `3 tool messages not imported`.
    pub(crate) fn lines(self) -> Vec<String> {
        self.0
            .into_iter()
            .map(|(what, n)| format!("{n} {what}"))
            .collect()
    }
}

/// The set holding the target user's key, the owner of every imported conversation.
pub(crate) fn owners(user: UserId) -> HashSet<String> {
    HashSet::from([user.to_string()])
}

/// Attachment entries cut to their names, types and sizes.
pub(crate) fn attachment_names(files: &Value) -> Value {
    let keep = [
        "name",
        "mime_type",
        "mimeType",
        "size",
        "file_name",
        "file_type",
        "file_size",
    ];
    Value::Array(
        files
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
            .map(|f| {
                Value::Object(
                    f.iter()
                        .filter(|(k, _)| keep.contains(&k.as_str()))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                )
            })
            .collect(),
    )
}
