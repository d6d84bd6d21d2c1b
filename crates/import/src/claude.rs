//! Claude's `conversations.json` (its data export): an array of conversations (`uuid`,
//! `name`, `created_at`, `updated_at`, `chat_messages`), each a linear list of
//! messages from `human` or `assistant`. A message's text is its `text` blocks (or its
//! `text` field); other blocks (tool use, tool results) become a bracketed placeholder,
//! and attachments are kept as names, types and sizes in the message's metadata.

use chatstore::transfer::Value as Cell;
use chatstore::{MessageMetadata, MessageRole, UserId, validate};
use serde_json::Value;

use crate::chat::{PlannedConversation, PlannedMessage, conversation_id};
use crate::exports::{Notes, attachment_names, checked, iso_time, owners, string};
use crate::{ImportOptions, Plan};

/// The source's name in reports and in `imported_ids`.
pub(crate) const SOURCE: &str = "claude";
/// Where its records are, for the report.
const FILE: &str = "conversations.json";

/// Builds the rows to write for `user` from the parsed export.
pub(crate) fn plan(conversations: Vec<Value>, user: UserId, options: &ImportOptions) -> Plan {
    let mut plan = Plan::new(SOURCE);
    plan.owners = owners(user);
    let mut notes = Notes::default();
    for (index, c) in conversations.iter().enumerate() {
        let original = string(c, "uuid").map_or_else(|| format!("#{index}"), str::to_owned);
        let planned = match planned_conversation(c, &original, user) {
            Ok(planned) => planned,
            Err(why) => {
                plan.skip("conversation", FILE, &original, why);
                continue;
            }
        };
        let created = planned.created_at;
        plan.conversations.push(planned);
        let messages = c.get("chat_messages").and_then(Value::as_array);
        for (n, m) in messages.into_iter().flatten().enumerate() {
            let id = string(m, "uuid").map_or_else(|| format!("{original}#{n}"), str::to_owned);
            match message_of(m, &id, options, &mut notes, created) {
                Ok(Some(mut planned)) => {
                    planned.conversation = original.clone();
                    plan.messages.push(planned);
                }
                Ok(None) => {}
                Err(why) => plan.skip("message", FILE, &id, why),
            }
        }
    }
    plan.report.notes = notes.lines();
    plan
}

fn planned_conversation(
    c: &Value,
    original: &str,
    user: UserId,
) -> Result<PlannedConversation, String> {
    if original.starts_with('#') {
        return Err("it has no uuid".into());
    }
    let created_at = iso_time(c.get("created_at"))?.ok_or("it has no created_at")?;
    let updated_at = iso_time(c.get("updated_at"))?;
    let title = validate::optional_text("title", c.get("name").and_then(Value::as_str))
        .map_err(|e| e.to_string())?;
    Ok(PlannedConversation {
        id: conversation_id(SOURCE, original, created_at),
        original_id: original.to_owned(),
        owner: user.to_string(),
        created_at,
        updated_at,
        values: vec![
            ("user_id", Cell::Id(user.as_uuid())),
            ("title", title.map_or(Cell::Null, Cell::Text)),
            ("status", Cell::Text("active".into())),
            ("is_hidden", Cell::Bool(false)),
            ("auto_hidden", Cell::Bool(false)),
        ],
    })
}

/// One message: `Ok(None)` when it has no text (noted).
fn message_of(
    m: &Value,
    id: &str,
    options: &ImportOptions,
    notes: &mut Notes,
    conversation_time: chatstore::Timestamp,
) -> Result<Option<PlannedMessage>, String> {
    let role = match m.get("sender").and_then(Value::as_str) {
        Some("human") => MessageRole::User,
        Some("assistant") => MessageRole::Assistant,
        other => return Err(format!("sender {other:?} is neither human nor assistant")),
    };
    let mut text = blocks(m.get("content"), notes);
    if text.trim().is_empty() {
        text = string(m, "text").unwrap_or_default().to_owned();
    }
    if text.trim().is_empty() {
        notes.add("messages without text not imported");
        return Ok(None);
    }
    validate::body("content", &text, options.max_message_bytes).map_err(|e| e.to_string())?;
    let mut metadata = MessageMetadata::default();
    let mut files = Vec::new();
    for key in ["attachments", "files"] {
        if let Value::Array(list) = attachment_names(m.get(key).unwrap_or(&Value::Null)) {
            files.extend(list);
        }
    }
    if !files.is_empty() {
        notes.add("attachments kept by name only (their contents are not imported)");
        metadata
            .extra
            .insert("attachments".into(), Value::Array(files));
    }
    let created_at = iso_time(m.get("created_at"))?.unwrap_or(conversation_time);
    Ok(Some(PlannedMessage {
        original_id: id.to_owned(),
        conversation: String::new(),
        parent: None,
        role,
        content: text,
        metadata: checked(metadata, options.max_metadata_bytes)?,
        created_at,
    }))
}

/// The text of content blocks: `text` blocks as they are, others as `[type: name]`.
fn blocks(content: Option<&Value>, notes: &mut Notes) -> String {
    let mut texts = Vec::new();
    for block in content.and_then(Value::as_array).into_iter().flatten() {
        let kind = string(block, "type").unwrap_or("block");
        match (kind, block.get("text").and_then(Value::as_str)) {
            ("text", Some(text)) if !text.trim().is_empty() => texts.push(text.to_owned()),
            ("text", _) => {}
            (kind, _) => {
                notes.add(format!("non-text blocks kept as a placeholder ({kind})"));
                texts.push(match string(block, "name") {
                    Some(name) => format!("[{kind}: {name}]"),
                    None => format!("[{kind}]"),
                });
            }
        }
    }
    texts.join("\n\n")
}
