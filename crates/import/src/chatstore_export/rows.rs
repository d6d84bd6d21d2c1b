//! The rows an exported record becomes, column by column, with its own id, times and
//! status, and what the export leaves out (a conversation's `last_activity_at` and
//! `status_before_delete`, a document's `is_processed` and `updated_at`) derived the
//! way the stores derive them.

use chatstore::transfer::{Row, Value};
use chatstore::{
    AgentLog, Chunk, Conversation, ConversationStatus, Document, DocumentId, Error, Message,
    ProcessingStatus, Result, Timestamp, UsageRecord, User, validate,
};

use crate::writer::{row, target_table};

fn text(value: &Option<String>) -> Value {
    value.clone().map_or(Value::Null, Value::Text)
}

fn time(value: Option<Timestamp>) -> Value {
    value.map_or(Value::Null, Value::Time)
}

fn int(value: Option<impl Into<i64>>) -> Value {
    value.map_or(Value::Null, |v| Value::Integer(v.into()))
}

fn count(field: &'static str, value: u64) -> Result<Value> {
    i64::try_from(value)
        .map(Value::Integer)
        .map_err(|_| Error::validation(field, "is out of range"))
}

/// JSON of `value`, or NULL when it is empty (`[]`, `{}`), as the stores keep it.
fn json_or_null<T: serde::Serialize>(value: &T) -> Result<Value> {
    let json = serde_json::to_value(value).map_err(|e| Error::Backend {
        detail: format!("cannot encode JSON: {e}"),
    })?;
    let empty = match &json {
        serde_json::Value::Array(items) => items.is_empty(),
        serde_json::Value::Object(fields) => fields.is_empty(),
        serde_json::Value::Null => true,
        _ => false,
    };
    Ok(if empty {
        Value::Null
    } else {
        Value::Json(json)
    })
}

fn json<T: serde::Serialize>(value: &T) -> Result<Value> {
    serde_json::to_value(value)
        .map(Value::Json)
        .map_err(|e| Error::Backend {
            detail: format!("cannot encode JSON: {e}"),
        })
}

/// The user's row, with `password_hash` in place of the hash the export leaves out.
pub(super) fn user(user: &User, password_hash: &str) -> Result<Row> {
    row(
        target_table("users")?,
        vec![
            ("id", Value::Id(user.id.as_uuid())),
            ("username", Value::Text(user.username.clone())),
            (
                "username_key",
                Value::Text(validate::username_key(&user.username)),
            ),
            ("email", Value::Text(user.email.clone())),
            ("password_hash", Value::Text(password_hash.to_owned())),
            ("full_name", text(&user.full_name)),
            ("is_active", Value::Bool(user.is_active)),
            ("created_at", Value::Time(user.created_at)),
            ("updated_at", Value::Time(user.updated_at)),
            ("last_login_at", time(user.last_login_at)),
            ("preferred_llm", Value::Text(user.preferred_llm.clone())),
            (
                "explainability_level",
                Value::Text(user.explainability_level.as_str().to_owned()),
            ),
            ("metadata", json(&user.metadata)?),
        ],
    )
}

/// A role grant.
pub(super) fn grant(user: &User, role_id: Value) -> Result<Row> {
    row(
        target_table("user_roles")?,
        vec![
            ("user_id", Value::Id(user.id.as_uuid())),
            ("role_id", role_id),
        ],
    )
}

/// What a deleted conversation is restored to: the status whose time it still carries
/// (deleting leaves `archived_at` and `closed_at` alone), else active.
fn status_before_delete(c: &Conversation) -> Value {
    if c.status != ConversationStatus::Deleted {
        return Value::Null;
    }
    match (c.archived_at, c.closed_at) {
        (Some(_), _) => Value::Text(ConversationStatus::Archived.as_str().to_owned()),
        (None, Some(_)) => Value::Text(ConversationStatus::Closed.as_str().to_owned()),
        (None, None) => Value::Null,
    }
}

/// A conversation's row, with its counters from the messages imported (`count` of
/// them, the last written at `last`).
pub(super) fn conversation(
    c: &Conversation,
    count: u64,
    last: Option<Timestamp>,
    selected: &[DocumentId],
) -> Result<Row> {
    row(
        target_table("conversations")?,
        vec![
            ("id", Value::Id(c.id.as_uuid())),
            ("user_id", Value::Id(c.user_id.as_uuid())),
            ("title", text(&c.title)),
            ("status", Value::Text(c.status.as_str().to_owned())),
            ("status_before_delete", status_before_delete(c)),
            ("message_count", self::count("message_count", count)?),
            ("created_at", Value::Time(c.created_at)),
            (
                "updated_at",
                Value::Time(last.map_or(c.updated_at, |l| l.max(c.updated_at))),
            ),
            ("last_message_at", time(last)),
            (
                "last_activity_at",
                Value::Time(last.unwrap_or(c.created_at)),
            ),
            ("last_opened_at", time(c.last_opened_at)),
            ("archived_at", time(c.archived_at)),
            ("closed_at", time(c.closed_at)),
            ("deleted_at", time(c.deleted_at)),
            ("is_hidden", Value::Bool(c.is_hidden)),
            ("hidden_at", time(c.hidden_at)),
            ("auto_hidden", Value::Bool(c.auto_hidden)),
            ("llm_provider", text(&c.llm_provider)),
            ("llm_model", text(&c.llm_model)),
            ("selected_document_ids", json_or_null(&selected)?),
            ("expires_at", time(c.expires_at)),
        ],
    )
}

/// A message's row at position `seq` of its conversation.
pub(super) fn message(m: &Message, seq: u64) -> Result<Row> {
    let meta = &m.metadata;
    let latency = meta
        .latency_ms
        .map(|l| count("metadata.latency_ms", l))
        .transpose()?
        .unwrap_or(Value::Null);
    row(
        target_table("messages")?,
        vec![
            ("id", Value::Id(m.id.as_uuid())),
            ("conversation_id", Value::Id(m.conversation_id.as_uuid())),
            ("seq", count("seq", seq)?),
            (
                "parent_id",
                m.parent_id.map_or(Value::Null, |p| Value::Id(p.as_uuid())),
            ),
            ("role", Value::Text(m.role.as_str().to_owned())),
            ("content", Value::Text(m.content.clone())),
            ("request_id", text(&meta.request_id)),
            ("source", text(&meta.source)),
            ("tokens", int(meta.tokens)),
            ("model_name", text(&meta.model_name)),
            ("latency_ms", latency),
            (
                "confidence_score",
                meta.confidence_score.map_or(Value::Null, Value::Real),
            ),
            (
                "low_confidence_warning",
                Value::Bool(meta.low_confidence_warning),
            ),
            ("rag_metadata", json_or_null(&meta.rag())?),
            ("files", json_or_null(&m.files)?),
            ("created_at", Value::Time(m.created_at)),
        ],
    )
}

/// A document's row.
pub(super) fn document(d: &Document) -> Result<Row> {
    let updated = [d.processed_at, d.summarized_at]
        .into_iter()
        .flatten()
        .fold(d.uploaded_at, Timestamp::max);
    row(
        target_table("documents")?,
        vec![
            ("id", Value::Id(d.id.as_uuid())),
            ("owner_id", Value::Id(d.owner_id.as_uuid())),
            ("filename", Value::Text(d.filename.clone())),
            ("file_path", Value::Text(d.file_path.clone())),
            ("file_type", text(&d.file_type)),
            (
                "file_size",
                d.file_size
                    .map(|s| count("file_size", s))
                    .transpose()?
                    .unwrap_or(Value::Null),
            ),
            ("title", Value::Text(d.title.clone())),
            ("description", text(&d.description)),
            ("category", text(&d.category)),
            ("tags", json(&d.tags)?),
            ("scope", Value::Text(d.scope.as_str().to_owned())),
            ("auto_summary", text(&d.auto_summary)),
            ("auto_keywords", json(&d.auto_keywords)?),
            ("auto_topics", json(&d.auto_topics)?),
            ("content_type", text(&d.content_type)),
            ("summarization_model", text(&d.summarization_model)),
            ("summarization_tokens", int(d.summarization_tokens)),
            ("summarized_at", time(d.summarized_at)),
            (
                "is_processed",
                Value::Bool(d.status == ProcessingStatus::Completed),
            ),
            (
                "processing_status",
                Value::Text(d.status.as_str().to_owned()),
            ),
            ("error_message", text(&d.error_message)),
            ("num_chunks", Value::Integer(d.num_chunks.into())),
            ("num_tokens", count("num_tokens", d.num_tokens)?),
            ("uploaded_at", Value::Time(d.uploaded_at)),
            ("processed_at", time(d.processed_at)),
            ("updated_at", Value::Time(updated)),
        ],
    )
}

/// A chunk's row.
pub(super) fn chunk(c: &Chunk) -> Result<Row> {
    row(
        target_table("document_chunks")?,
        vec![
            ("id", Value::Id(c.id.as_uuid())),
            ("document_id", Value::Id(c.document_id.as_uuid())),
            ("chunk_index", Value::Integer(c.chunk_index.into())),
            ("content", Value::Text(c.content.clone())),
            ("num_tokens", int(c.num_tokens)),
            ("page_number", int(c.page_number)),
            ("section", text(&c.section)),
            ("embedding_id", text(&c.embedding_id)),
        ],
    )
}

/// An agent run's row.
pub(super) fn agent_log(l: &AgentLog) -> Result<Row> {
    let data = |v: &Option<serde_json::Value>| v.clone().map_or(Value::Null, Value::Json);
    row(
        target_table("agent_logs")?,
        vec![
            ("id", Value::Id(l.id.as_uuid())),
            ("message_id", Value::Id(l.message_id.as_uuid())),
            ("agent_name", Value::Text(l.agent_name.clone())),
            ("agent_type", text(&l.agent_type)),
            ("action", text(&l.action)),
            ("input_data", data(&l.input_data)),
            ("output_data", data(&l.output_data)),
            (
                "execution_time",
                l.execution_time.map_or(Value::Null, Value::Real),
            ),
            ("tokens_used", int(l.tokens_used)),
            (
                "status",
                l.status
                    .map_or(Value::Null, |s| Value::Text(s.as_str().to_owned())),
            ),
            ("error_message", text(&l.error_message)),
            ("reasoning", text(&l.reasoning)),
            ("confidence", l.confidence.map_or(Value::Null, Value::Real)),
            ("created_at", Value::Time(l.created_at)),
        ],
    )
}

/// A usage record's row (its links as the plan left them).
pub(super) fn usage(u: &UsageRecord) -> Result<Row> {
    let id = |v: Option<uuid::Uuid>| v.map_or(Value::Null, Value::Id);
    row(
        target_table("token_usage")?,
        vec![
            ("id", Value::Id(u.id.as_uuid())),
            ("user_id", Value::Id(u.user_id.as_uuid())),
            (
                "conversation_id",
                id(u.conversation_id.map(|c| c.as_uuid())),
            ),
            ("message_id", id(u.message_id.map(|m| m.as_uuid()))),
            ("agent_log_id", id(u.agent_log_id.map(|a| a.as_uuid()))),
            ("provider", Value::Text(u.provider.clone())),
            ("model", Value::Text(u.model.clone())),
            (
                "operation_type",
                Value::Text(u.operation_type.as_str().to_owned()),
            ),
            ("prompt_tokens", count("prompt_tokens", u.prompt_tokens)?),
            (
                "completion_tokens",
                count("completion_tokens", u.completion_tokens)?,
            ),
            ("total_tokens", count("total_tokens", u.total_tokens)?),
            (
                "embedding_tokens",
                count("embedding_tokens", u.embedding_tokens)?,
            ),
            ("estimated_cost", Value::Real(u.estimated_cost)),
            ("currency", Value::Text(u.currency.clone())),
            ("created_at", Value::Time(u.created_at)),
        ],
    )
}
