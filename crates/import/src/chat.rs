//! Conversations and their messages, assembled the way chatstore keeps them: messages
//! numbered in order (`seq` from 1), each following its parent (the one before it
//! unless the source names another), and the conversation's counters (message count,
//! last message, last activity) computed from the messages actually imported.

use std::collections::HashMap;

use chatstore::transfer::{Row, Value};
use chatstore::{ConversationId, MessageId, MessageMetadata, MessageRole, Result, Timestamp};

use crate::writer::{Record, row, target_table};

/// A conversation read and checked, before its counters are known.
pub(crate) struct PlannedConversation {
    /// Its id in the source.
    pub original_id: String,
    /// Its id here.
    pub id: ConversationId,
    /// Its user's id in the source.
    pub owner: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed in the source, if it says.
    pub updated_at: Option<Timestamp>,
    /// Its other columns (user, title, status, times, flags), by name.
    pub values: Vec<(&'static str, Value)>,
}

/// A message read and checked.
pub(crate) struct PlannedMessage {
    /// Its id in the source.
    pub original_id: String,
    /// Its conversation's id in the source.
    pub conversation: String,
    /// The source id of the message it answers, when the source records one.
    pub parent: Option<String>,
    /// Who wrote it.
    pub role: MessageRole,
    /// What it says.
    pub content: String,
    /// Its metadata.
    pub metadata: MessageMetadata,
    /// When it was written.
    pub created_at: Timestamp,
}

/// A role as the old apps wrote it (any case; Gemini's `model` is the assistant).
pub(crate) fn role(raw: Option<&str>) -> std::result::Result<MessageRole, String> {
    match raw.unwrap_or_default().trim().to_ascii_lowercase().as_str() {
        "model" => Ok(MessageRole::Assistant),
        other => other.parse().map_err(|e: chatstore::Error| e.to_string()),
    }
}

/// The id a conversation of `source` with `original_id` gets.
pub(crate) fn conversation_id(
    source: &str,
    original_id: &str,
    created_at: Timestamp,
) -> ConversationId {
    ConversationId::derived(
        created_at,
        format!("{source}\0conversation\0{original_id}").as_bytes(),
    )
}

/// The id a message of `source` with `original_id` gets.
pub(crate) fn message_id(source: &str, original_id: &str, created_at: Timestamp) -> MessageId {
    MessageId::derived(
        created_at,
        format!("{source}\0message\0{original_id}").as_bytes(),
    )
}

/// Rows of the conversations and of their messages, in order. Messages whose
/// conversation is not among `conversations` must have been filtered out already.
pub(crate) fn assemble(
    source: &str,
    conversations: Vec<PlannedConversation>,
    mut messages: Vec<PlannedMessage>,
) -> Result<(Vec<Record>, Vec<Record>)> {
    // Stable: messages written at the same time keep the source's order.
    messages.sort_by_key(|m| m.created_at);
    let mut by_conversation: HashMap<&str, Vec<&PlannedMessage>> = HashMap::new();
    for message in &messages {
        by_conversation
            .entry(message.conversation.as_str())
            .or_default()
            .push(message);
    }
    let conversations_table = target_table("conversations")?;
    let messages_table = target_table("messages")?;
    let mut conversation_rows = Vec::new();
    let mut message_rows = Vec::new();
    for conversation in conversations {
        let thread = by_conversation
            .remove(conversation.original_id.as_str())
            .unwrap_or_default();
        let mut ids: HashMap<&str, MessageId> = HashMap::new();
        let mut previous: Option<MessageId> = None;
        for (index, message) in thread.iter().enumerate() {
            let id = message_id(source, &message.original_id, message.created_at);
            let parent = message
                .parent
                .as_deref()
                .and_then(|p| ids.get(p).copied())
                .or(previous);
            ids.insert(&message.original_id, id);
            previous = Some(id);
            message_rows.push(Record {
                original_id: message.original_id.clone(),
                new_id: id.as_uuid(),
                row: message_row(
                    messages_table,
                    conversation.id,
                    index as i64 + 1,
                    id,
                    parent,
                    message,
                )?,
            });
        }
        let last = thread.last().map(|m| m.created_at);
        let updated = match (conversation.updated_at, last) {
            (Some(a), Some(b)) => a.max(b),
            (a, b) => a.or(b).unwrap_or(conversation.created_at),
        };
        let mut values = conversation.values;
        values.extend([
            ("id", Value::Id(conversation.id.as_uuid())),
            ("message_count", Value::Integer(thread.len() as i64)),
            ("created_at", Value::Time(conversation.created_at)),
            ("updated_at", Value::Time(updated)),
            ("last_message_at", last.map_or(Value::Null, Value::Time)),
            (
                "last_activity_at",
                Value::Time(last.unwrap_or(conversation.created_at)),
            ),
        ]);
        conversation_rows.push(Record {
            original_id: conversation.original_id,
            new_id: conversation.id.as_uuid(),
            row: row(conversations_table, values)?,
        });
    }
    Ok((conversation_rows, message_rows))
}

fn message_row(
    table: &chatstore::transfer::Table,
    conversation: ConversationId,
    seq: i64,
    id: MessageId,
    parent: Option<MessageId>,
    message: &PlannedMessage,
) -> Result<Row> {
    let m = &message.metadata;
    let text = |v: &Option<String>| v.clone().map_or(Value::Null, Value::Text);
    let rag = match m.rag() {
        Some(rag) => Value::Json(
            serde_json::to_value(rag)
                .map_err(|e| chatstore::Error::validation("metadata", e.to_string()))?,
        ),
        None => Value::Null,
    };
    row(
        table,
        vec![
            ("id", Value::Id(id.as_uuid())),
            ("conversation_id", Value::Id(conversation.as_uuid())),
            ("seq", Value::Integer(seq)),
            (
                "parent_id",
                parent.map_or(Value::Null, |p| Value::Id(p.as_uuid())),
            ),
            ("role", Value::Text(message.role.as_str().to_owned())),
            ("content", Value::Text(message.content.clone())),
            ("request_id", text(&m.request_id)),
            ("source", text(&m.source)),
            (
                "tokens",
                m.tokens.map_or(Value::Null, |t| Value::Integer(t.into())),
            ),
            ("model_name", text(&m.model_name)),
            (
                "latency_ms",
                m.latency_ms
                    .and_then(|l| i64::try_from(l).ok())
                    .map_or(Value::Null, Value::Integer),
            ),
            (
                "confidence_score",
                m.confidence_score.map_or(Value::Null, Value::Real),
            ),
            (
                "low_confidence_warning",
                Value::Bool(m.low_confidence_warning),
            ),
            ("rag_metadata", rag),
            ("created_at", Value::Time(message.created_at)),
        ],
    )
}
