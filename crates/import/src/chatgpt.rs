//! ChatGPT's `conversations.json` ("Export data"): an array of conversations, each a
//! message tree in `mapping` (node id → `{id, message, parent, children}`). Every node
//! with a visible message becomes a message whose parent is its nearest kept ancestor,
//! so regenerated answers and edited questions stay as branches. Empty nodes, hidden
//! system messages, tool messages and the assistant's calls to tools are left out, and
//! their children attached to the nearest kept ancestor.

use std::collections::HashSet;

use chatstore::transfer::Value as Cell;
use chatstore::{MessageMetadata, MessageRole, UserId, validate};
use serde_json::{Map, Value};

use crate::chat::{PlannedConversation, PlannedMessage, conversation_id};
use crate::exports::{Notes, attachment_names, checked, owners, string, unix_seconds};
use crate::{ImportOptions, Plan};

/// The source's name in reports and in `imported_ids`.
pub(crate) const SOURCE: &str = "chatgpt";
/// Where its records are, for the report.
const FILE: &str = "conversations.json";

/// Builds the rows to write for `user` from the parsed export.
pub(crate) fn plan(conversations: Vec<Value>, user: UserId, options: &ImportOptions) -> Plan {
    let mut plan = Plan::new(SOURCE);
    plan.owners = owners(user);
    let mut notes = Notes::default();
    for (index, conversation) in conversations.iter().enumerate() {
        let original = string(conversation, "conversation_id")
            .or_else(|| string(conversation, "id"))
            .map_or_else(|| format!("#{index}"), str::to_owned);
        match planned_conversation(conversation, &original, user) {
            Ok(planned) => {
                let created = planned.created_at;
                plan.conversations.push(planned);
                walk(
                    &mut plan,
                    &mut notes,
                    options,
                    conversation,
                    &original,
                    created,
                );
            }
            Err(why) => plan.skip("conversation", FILE, &original, why),
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
        return Err("it has no id".into());
    }
    if !c.get("mapping").is_some_and(Value::is_object) {
        return Err("it has no message tree (mapping)".into());
    }
    let created_at = unix_seconds(c.get("create_time"))?.ok_or("it has no create_time")?;
    let updated_at = unix_seconds(c.get("update_time"))?;
    let title = validate::optional_text("title", c.get("title").and_then(Value::as_str))
        .map_err(|e| e.to_string())?;
    let archived = c.get("is_archived").and_then(Value::as_bool) == Some(true);
    let mut values = vec![
        ("user_id", Cell::Id(user.as_uuid())),
        ("title", title.map_or(Cell::Null, Cell::Text)),
        (
            "status",
            Cell::Text(if archived { "archived" } else { "active" }.into()),
        ),
        ("is_hidden", Cell::Bool(false)),
        ("auto_hidden", Cell::Bool(false)),
    ];
    if archived {
        values.push(("archived_at", Cell::Time(updated_at.unwrap_or(created_at))));
    }
    Ok(PlannedConversation {
        id: conversation_id(SOURCE, original, created_at),
        original_id: original.to_owned(),
        owner: user.to_string(),
        created_at,
        updated_at,
        values,
    })
}

/// Walks the tree depth first from its roots, parents before children.
fn walk(
    plan: &mut Plan,
    notes: &mut Notes,
    options: &ImportOptions,
    conversation: &Value,
    original: &str,
    created: chatstore::Timestamp,
) {
    let Some(mapping) = conversation.get("mapping").and_then(Value::as_object) else {
        return;
    };
    let mut roots: Vec<&String> = mapping
        .iter()
        .filter(|(_, node)| !string(node, "parent").is_some_and(|p| mapping.contains_key(p)))
        .map(|(id, _)| id)
        .collect();
    roots.sort();
    // (node id, nearest kept ancestor, its time)
    let mut stack: Vec<(&str, Option<String>, chatstore::Timestamp)> = roots
        .into_iter()
        .rev()
        .map(|id| (id.as_str(), None, created))
        .collect();
    let mut seen = HashSet::new();
    while let Some((id, kept, time)) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        let node = &mapping[id];
        let (kept, time) = match node.get("message").filter(|m| m.is_object()) {
            None => (kept, time),
            Some(message) => match message_of(message, id, options, notes, time) {
                Ok(Some(mut planned)) => {
                    planned.conversation = original.to_owned();
                    planned.parent = kept;
                    let next = (Some(planned.original_id.clone()), planned.created_at);
                    plan.messages.push(planned);
                    next
                }
                Ok(None) => (kept, time),
                Err(why) => {
                    plan.skip("message", FILE, id, why);
                    (kept, time)
                }
            },
        };
        let children = node.get("children").and_then(Value::as_array);
        for child in children.into_iter().flatten().rev() {
            if let Some(child) = child.as_str().filter(|c| mapping.contains_key(*c)) {
                stack.push((child, kept.clone(), time));
            }
        }
    }
}

/// The message of a node: `Ok(None)` when it is left out on purpose (noted).
fn message_of(
    m: &Value,
    node_id: &str,
    options: &ImportOptions,
    notes: &mut Notes,
    parent_time: chatstore::Timestamp,
) -> Result<Option<PlannedMessage>, String> {
    let original = string(m, "id").unwrap_or(node_id).to_owned();
    let role = m
        .pointer("/author/role")
        .and_then(Value::as_str)
        .unwrap_or("");
    let meta = m.get("metadata").cloned().unwrap_or(Value::Null);
    let hidden = meta.get("is_visually_hidden_from_conversation") == Some(&Value::Bool(true));
    let role = match role {
        "tool" => return Ok(note(notes, "tool messages not imported")),
        "system" if hidden => return Ok(note(notes, "hidden system messages not imported")),
        "assistant" if string(m, "recipient").is_some_and(|r| r != "all") => {
            return Ok(note(notes, "assistant calls to tools not imported"));
        }
        "user" | "assistant" | "system" => {
            role.parse::<MessageRole>().map_err(|e| e.to_string())?
        }
        other => return Err(format!("author role {other:?} is not one chatstore has")),
    };
    let content = m.get("content").cloned().unwrap_or(Value::Null);
    let kind = string(&content, "content_type")
        .unwrap_or("text")
        .to_owned();
    let text = flatten(&content, &kind, notes);
    if text.trim().is_empty() {
        return Ok(note(
            notes,
            format!("messages without text not imported ({kind})"),
        ));
    }
    validate::body("content", &text, options.max_message_bytes).map_err(|e| e.to_string())?;
    let mut metadata = MessageMetadata {
        model_name: string(&meta, "model_slug").map(str::to_owned),
        ..MessageMetadata::default()
    };
    if kind != "text" {
        metadata
            .extra
            .insert("content_type".into(), Value::String(kind));
    }
    if let Some(files) = meta.get("attachments").filter(|a| a.is_array()) {
        metadata
            .extra
            .insert("attachments".into(), attachment_names(files));
    }
    let created_at = unix_seconds(m.get("create_time"))?.unwrap_or(parent_time);
    Ok(Some(PlannedMessage {
        original_id: original,
        conversation: String::new(),
        parent: None,
        role,
        content: text,
        metadata: checked(metadata, options.max_metadata_bytes)?,
        created_at,
    }))
}

fn note(notes: &mut Notes, what: impl Into<String>) -> Option<PlannedMessage> {
    notes.add(what);
    None
}

/// The text of a message's content: string parts as they are, other parts as a
/// bracketed placeholder (`[image: file-service://…]`), code fenced.
fn flatten(content: &Value, kind: &str, notes: &mut Notes) -> String {
    if let Some(parts) = content.get("parts").and_then(Value::as_array) {
        let mut texts = Vec::new();
        for part in parts {
            match part {
                Value::String(s) if !s.trim().is_empty() => texts.push(s.clone()),
                Value::Object(object) => texts.push(placeholder(object, notes)),
                _ => {}
            }
        }
        return texts.join("\n\n");
    }
    match string(content, "text") {
        Some(text) if kind == "code" => {
            let language = string(content, "language").filter(|l| *l != "unknown");
            format!("```{}\n{text}\n```", language.unwrap_or(""))
        }
        Some(text) => text.to_owned(),
        None => String::new(),
    }
}

fn placeholder(part: &Map<String, Value>, notes: &mut Notes) -> String {
    if let Some(text) = part.get("text").and_then(Value::as_str) {
        return text.to_owned();
    }
    let kind = part
        .get("content_type")
        .and_then(Value::as_str)
        .unwrap_or("part");
    notes.add(format!("non-text parts kept as a placeholder ({kind})"));
    match part.get("asset_pointer").and_then(Value::as_str) {
        Some(pointer) if kind == "image_asset_pointer" => format!("[image: {pointer}]"),
        Some(pointer) => format!("[{kind}: {pointer}]"),
        None => format!("[{kind}]"),
    }
}
