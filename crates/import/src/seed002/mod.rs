//! Seed 002's RAG schema (SQLAlchemy), as its "Database Models" give it: integer keys
//! with a public `uuid` beside most of them; `users` with `user_roles` naming `roles`;
//! `documents` and their `document_chunks`; `conversations` with the documents they
//! search; `messages` with their RAG columns; `agent_logs` and `token_usage`.
//!
//! The ids kept in `imported_ids` are the public ones the old API handed out (the
//! `uuid` column; users have none and keep their integer id), so old links can be
//! redirected. Document and chunk ids inside messages (retrieved documents, sources)
//! and conversations (selected documents) are rewritten to the new ids. Embeddings
//! lived in ChromaDB, not in this file: chunks come over without them.

mod activity;
mod documents;

use std::collections::{HashMap, HashSet};

use chatstore::transfer::Value;
use chatstore::{ConversationId, ConversationStatus, Result, Timestamp, validate};

use crate::chat::{PlannedConversation, PlannedMessage, conversation_id, role};
use crate::metadata::message_metadata;
use crate::source::{SourceDb, SourceRow, flag, opt_time, time};
use crate::users::SourceUser;
use crate::{ImportOptions, Plan};

/// The source's name in reports and in `imported_ids`.
pub(crate) const SOURCE: &str = "seed002";

const SCHEMA: &str = "seed 002 (RAG schema)";

/// The id a record is known by outside the database: its `uuid`, else its integer key.
fn public_id(r: &SourceRow) -> String {
    r.get("uuid")
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| r.get("id").unwrap_or_default())
        .to_owned()
}

/// What later tables need to know of the records planned so far, by integer key.
#[derive(Default)]
struct Keys {
    /// Documents: integer key to public id, new id and upload time (their chunks' ids
    /// are derived from it); public id to new id.
    documents: HashMap<String, (String, uuid::Uuid, Timestamp)>,
    document_ids: HashMap<String, String>,
    /// Chunks: public id to new id.
    chunk_ids: HashMap<String, String>,
    /// Conversations: integer key to public id and new id.
    conversations: HashMap<String, (String, ConversationId)>,
    /// Messages: integer key to public id and creation time.
    messages: HashMap<String, (String, Timestamp)>,
    /// Agent logs: integer key to public id and new id.
    agent_logs: HashMap<String, (String, uuid::Uuid)>,
}

/// Reads and checks everything, building the rows to write.
pub(crate) fn plan(db: &SourceDb, options: &ImportOptions) -> Result<Plan> {
    db.require_columns(
        SCHEMA,
        "users",
        &["id", "username", "email", "hashed_password"],
    )?;
    db.require_columns(SCHEMA, "conversations", &["id", "user_id", "created_at"])?;
    db.require_columns(
        SCHEMA,
        "messages",
        &["id", "conversation_id", "role", "content", "created_at"],
    )?;
    let mut plan = Plan::new(SOURCE);
    let mut keys = Keys::default();
    plan_users(&mut plan, db, options)?;
    documents::plan(&mut plan, db, &mut keys)?;
    plan_conversations(&mut plan, db, &mut keys)?;
    plan_messages(&mut plan, db, options, &mut keys)?;
    activity::plan(&mut plan, db, &mut keys)?;
    Ok(plan)
}

/// Role names by user, from `user_roles` and `roles`.
fn user_roles(db: &SourceDb) -> Result<HashMap<String, Vec<String>>> {
    let mut roles = HashMap::new();
    if !db.has_table("user_roles")? || !db.has_table("roles")? {
        return Ok(roles);
    }
    let rows = db.rows(
        "SELECT ur.user_id, r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id
         ORDER BY ur.user_id, r.name",
        |r| crate::source::texts(r, 2),
    )?;
    for r in rows {
        if let [Some(user), Some(role)] = &r[..] {
            roles
                .entry(user.clone())
                .or_insert_with(Vec::new)
                .push(role.clone());
        }
    }
    Ok(roles)
}

fn plan_users(plan: &mut Plan, db: &SourceDb, options: &ImportOptions) -> Result<()> {
    let mut roles = user_roles(db)?;
    let mut taken = HashSet::new();
    for r in db.records("users", &["created_at", "id"])? {
        let original = r.text("id");
        let user = (|| -> Result<SourceUser> {
            Ok(SourceUser {
                original_id: original.clone(),
                username: Some(r.text("username")),
                email: r.text("email"),
                password_hash: r.text("hashed_password"),
                full_name: r.get("full_name").map(str::to_owned),
                is_active: flag(r.get("is_active"), true),
                created_at: time(&r.text("created_at"))?,
                updated_at: opt_time(r.get("updated_at"))?,
                last_login_at: None,
                preferred_llm: r.get("preferred_llm").map(str::to_owned),
                explainability_level: r.get("explainability_level").map(str::to_owned),
                metadata: None,
                roles: roles.remove(&original).unwrap_or_default(),
            })
        })();
        plan.add_user(original, user, &mut taken, options);
    }
    Ok(())
}

fn plan_conversations(plan: &mut Plan, db: &SourceDb, keys: &mut Keys) -> Result<()> {
    let mut unknown_selections = 0;
    for r in db.records("conversations", &["created_at", "id"])? {
        let original = public_id(&r);
        match conversation(plan, keys, &r, &mut unknown_selections) {
            Ok(planned) => {
                keys.conversations
                    .insert(r.text("id"), (original, planned.id));
                plan.conversations.push(planned);
            }
            Err(why) => plan.skip("conversation", "conversations", &original, why),
        }
    }
    if unknown_selections > 0 {
        plan.report.notes.push(format!(
            "{unknown_selections} selected documents that are not imported were left out of their conversations' selections"
        ));
    }
    Ok(())
}

fn conversation(
    plan: &Plan,
    keys: &Keys,
    r: &SourceRow,
    unknown_selections: &mut usize,
) -> std::result::Result<PlannedConversation, String> {
    let original = public_id(r);
    let owner = r.text("user_id");
    let user = *plan
        .user_ids
        .get(&owner)
        .ok_or_else(|| format!("its user {owner} is not imported"))?;
    let text = |field: &'static str| -> std::result::Result<Value, String> {
        validate::optional_text(field, r.get(field))
            .map(|v| v.map_or(Value::Null, Value::Text))
            .map_err(|e| e.to_string())
    };
    let selected =
        match crate::source::json("selected_document_ids", r.get("selected_document_ids"))
            .map_err(|e| e.to_string())?
        {
            None | Some(serde_json::Value::Null) => Value::Null,
            Some(serde_json::Value::Array(ids)) => {
                let mapped: Vec<serde_json::Value> = ids
                    .iter()
                    .filter_map(|id| {
                        let key = id.as_str().map_or_else(|| id.to_string(), str::to_owned);
                        let new = keys.document_ids.get(&key);
                        if new.is_none() {
                            *unknown_selections += 1;
                        }
                        new.map(|n| serde_json::Value::String(n.clone()))
                    })
                    .collect();
                if mapped.is_empty() {
                    Value::Null
                } else {
                    Value::Json(serde_json::Value::Array(mapped))
                }
            }
            Some(_) => return Err("selected_document_ids is not a JSON array".to_owned()),
        };
    let created_at = time(&r.text("created_at")).map_err(|e| e.to_string())?;
    Ok(PlannedConversation {
        id: conversation_id(SOURCE, &original, created_at),
        original_id: original,
        owner,
        created_at,
        updated_at: opt_time(r.get("updated_at")).map_err(|e| e.to_string())?,
        values: vec![
            ("user_id", Value::Id(user.as_uuid())),
            ("title", text("title")?),
            (
                "status",
                Value::Text(ConversationStatus::Active.as_str().to_owned()),
            ),
            ("is_hidden", Value::Bool(false)),
            ("auto_hidden", Value::Bool(false)),
            ("llm_provider", text("llm_provider")?),
            ("llm_model", text("llm_model")?),
            ("selected_document_ids", selected),
        ],
    })
}

/// Message columns that are not metadata.
const MESSAGE_COLUMNS: &[&str] = &[
    "id",
    "uuid",
    "conversation_id",
    "role",
    "content",
    "created_at",
];

fn plan_messages(
    plan: &mut Plan,
    db: &SourceDb,
    options: &ImportOptions,
    keys: &mut Keys,
) -> Result<()> {
    for r in db.records("messages", &["created_at", "id"])? {
        let original = public_id(&r);
        let conversation = r.text("conversation_id");
        let Some((conversation_original, _)) = keys.conversations.get(&conversation) else {
            plan.skip_message_of(&original, &conversation);
            continue;
        };
        match message(options, keys, &r, conversation_original.clone()) {
            Ok(planned) => {
                keys.messages
                    .insert(r.text("id"), (original, planned.created_at));
                plan.messages.push(planned);
            }
            Err(why) => plan.skip("message", "messages", &original, why),
        }
    }
    Ok(())
}

fn message(
    options: &ImportOptions,
    keys: &Keys,
    r: &SourceRow,
    conversation: String,
) -> std::result::Result<PlannedMessage, String> {
    let content = r.text("content");
    validate::body("content", &content, options.max_message_bytes).map_err(|e| e.to_string())?;
    let mut object = r.others(MESSAGE_COLUMNS);
    if let Some(warning) = r.get("low_confidence_warning") {
        object.insert(
            "low_confidence_warning".into(),
            serde_json::Value::Bool(flag(Some(warning), false)),
        );
    }
    for (field, id_keys) in [
        ("retrieved_documents", &["document_id", "chunk_id"][..]),
        ("sources", &["id"][..]),
    ] {
        if let Some(serde_json::Value::Array(entries)) = object.get_mut(field) {
            for entry in entries.iter_mut().filter_map(|e| e.as_object_mut()) {
                for key in id_keys {
                    rewrite_id(keys, key, entry);
                }
            }
        }
    }
    let metadata = message_metadata(object);
    metadata
        .validate(options.max_metadata_bytes)
        .map_err(|e| e.to_string())?;
    Ok(PlannedMessage {
        original_id: public_id(r),
        conversation,
        parent: None,
        role: role(r.get("role"))?,
        content,
        metadata,
        created_at: time(&r.text("created_at")).map_err(|e| e.to_string())?,
    })
}

/// Replaces a document or chunk id in a metadata entry by its new id, when imported.
fn rewrite_id(keys: &Keys, key: &str, entry: &mut serde_json::Map<String, serde_json::Value>) {
    let Some(old) = entry.get(key).and_then(|v| v.as_str()) else {
        return;
    };
    let new = match key {
        "chunk_id" => keys.chunk_ids.get(old),
        _ => keys.document_ids.get(old),
    };
    if let Some(new) = new {
        entry.insert(key.to_owned(), serde_json::Value::String(new.clone()));
    }
}
