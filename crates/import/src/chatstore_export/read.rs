//! Reading `export.json`: the file checked as a whole (JSON, an object, the format
//! chatstore writes, a readable user), then every other record parsed on its own, so
//! that one record that does not parse is skipped without losing the others.

use std::path::Path;

use chatstore::export::{ExportedFile, FORMAT};
use chatstore::{
    AgentLog, Chunk, Conversation, Document, Error, Message, Result, UsageRecord, User,
};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// A record that did not parse: the id it gives (or its position), and why.
#[derive(Debug)]
pub(super) struct Unreadable {
    /// The record's `id`, or `#n` for the n-th record of its list.
    pub id: String,
    /// What serde found wrong.
    pub reason: String,
}

/// A record as read.
pub(super) type Item<T> = std::result::Result<T, Unreadable>;

/// One conversation of the export with what it holds, each record read on its own.
pub(super) struct ConversationItem {
    /// The conversation.
    pub conversation: Item<Conversation>,
    /// Its messages.
    pub messages: Vec<Item<Message>>,
    /// Its agent runs.
    pub agent_logs: Vec<Item<AgentLog>>,
    /// Its attachment files.
    pub attachments: Vec<Item<ExportedFile>>,
}

/// One document with its chunks.
pub(super) struct DocumentItem {
    /// The document.
    pub document: Item<Document>,
    /// Its chunks.
    pub chunks: Vec<Item<Chunk>>,
}

/// Everything `export.json` holds.
pub(super) struct ExportFile {
    /// The user.
    pub user: User,
    /// The names of their roles.
    pub roles: Vec<String>,
    /// How many login sessions the export lists (they are never imported).
    pub sessions: usize,
    /// Their conversations.
    pub conversations: Vec<ConversationItem>,
    /// Their documents.
    pub documents: Vec<DocumentItem>,
    /// Their usage records.
    pub usage: Vec<Item<UsageRecord>>,
}

/// Reads `dir/export.json`. A missing file, a file that is not JSON or not an object,
/// another format, or a user that does not parse is [`Error::Validation`].
pub(super) fn read(dir: &Path) -> Result<ExportFile> {
    if !dir.is_dir() {
        return Err(Error::validation(
            "source",
            format!(
                "{} is not a directory: a chatstore export is the directory holding export.json",
                dir.display()
            ),
        ));
    }
    let path = dir.join("export.json");
    if !path.is_file() {
        return Err(Error::validation(
            "source",
            format!(
                "{} has no export.json: it is not a chatstore export, or an unfinished one",
                dir.display()
            ),
        ));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::validation("source", format!("{} cannot be read: {e}", path.display()))
    })?;
    chatstore::json::check_depth("export", &text)?;
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        Error::validation("export", format!("{} is not JSON ({e})", path.display()))
    })?;
    let Value::Object(mut top) = value else {
        return Err(Error::validation(
            "export",
            format!("{} is not a JSON object", path.display()),
        ));
    };
    match top.get("format").and_then(Value::as_str) {
        Some(FORMAT) => {}
        Some(other) => {
            return Err(Error::validation(
                "format",
                format!("{} is of format {other:?}, not {FORMAT:?}", path.display()),
            ));
        }
        None => {
            return Err(Error::validation(
                "format",
                format!(
                    "{} names no format: it is not a chatstore export",
                    path.display()
                ),
            ));
        }
    }
    let user = serde_json::from_value(top.remove("user").unwrap_or_default())
        .map_err(|e| Error::validation("user", format!("in {}: {e}", path.display())))?;
    let roles = list(&mut top, "roles")?
        .iter()
        .filter_map(|role| role.get("name").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    let sessions = list(&mut top, "sessions")?.len();
    let conversations = list(&mut top, "conversations")?
        .into_iter()
        .enumerate()
        .map(|(n, value)| conversation(n, value))
        .collect::<Result<_>>()?;
    let documents = list(&mut top, "documents")?
        .into_iter()
        .enumerate()
        .map(|(n, value)| document(n, value))
        .collect::<Result<_>>()?;
    let usage = items(list(&mut top, "usage")?);
    Ok(ExportFile {
        user,
        roles,
        sessions,
        conversations,
        documents,
        usage,
    })
}

fn conversation(n: usize, value: Value) -> Result<ConversationItem> {
    let mut object = object(n, "conversations", value)?;
    Ok(ConversationItem {
        conversation: item(n, object.remove("conversation").unwrap_or_default()),
        messages: items(list(&mut object, "messages")?),
        agent_logs: items(list(&mut object, "agent_logs")?),
        attachments: items(list(&mut object, "attachments")?),
    })
}

fn document(n: usize, value: Value) -> Result<DocumentItem> {
    let mut object = object(n, "documents", value)?;
    Ok(DocumentItem {
        document: item(n, object.remove("document").unwrap_or_default()),
        chunks: items(list(&mut object, "chunks")?),
    })
}

fn object(n: usize, list: &str, value: Value) -> Result<Map<String, Value>> {
    match value {
        Value::Object(object) => Ok(object),
        _ => Err(Error::validation(
            "export",
            format!("{list} #{n} is not a JSON object"),
        )),
    }
}

/// The array under `key` (taken out of `object`); a missing key or another type is
/// [`Error::Validation`]: the file is not what chatstore writes.
fn list(object: &mut Map<String, Value>, key: &str) -> Result<Vec<Value>> {
    match object.remove(key) {
        Some(Value::Array(values)) => Ok(values),
        Some(_) => Err(Error::validation(
            "export",
            format!("{key} is not a JSON array"),
        )),
        None => Err(Error::validation("export", format!("{key} is missing"))),
    }
}

fn items<T: DeserializeOwned>(values: Vec<Value>) -> Vec<Item<T>> {
    values
        .into_iter()
        .enumerate()
        .map(|(n, value)| item(n, value))
        .collect()
}

fn item<T: DeserializeOwned>(n: usize, value: Value) -> Item<T> {
    let id = value
        .get("id")
        .and_then(Value::as_str)
        .or_else(|| value.get("path").and_then(Value::as_str))
        .map_or_else(|| format!("#{n}"), str::to_owned);
    serde_json::from_value(value).map_err(|e| Unreadable {
        id,
        reason: format!("does not parse: {e}"),
    })
}
