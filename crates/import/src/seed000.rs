//! Seed 000's `organic-fishstick.db` (SQLAlchemy): `users` keyed by email, their
//! `conversations` (UUID text ids, upper-case statuses, hidden and archived flags) and
//! `messages` with a `msg_metadata` JSON object. Login sessions are not brought over:
//! the old app kept their tokens in plain text, and its users simply log in again.

use std::collections::HashSet;

use chatstore::transfer::Value;
use chatstore::{ConversationStatus, MessageRole, Result, validate};

use crate::chat::{PlannedConversation, PlannedMessage, conversation_id};
use crate::metadata::message_metadata;
use crate::source::{SourceDb, flag, json, opt_time, texts, time};
use crate::users::SourceUser;
use crate::{ImportOptions, Plan};

/// The source's name in reports and in `imported_ids`.
pub(crate) const SOURCE: &str = "seed000";

/// Reads and checks everything, building the rows to write.
pub(crate) fn plan(db: &SourceDb, options: &ImportOptions) -> Result<Plan> {
    db.require_tables(
        "seed 000 (organic-fishstick.db)",
        &["users", "conversations", "messages"],
    )?;
    let mut plan = Plan::new(SOURCE);
    let mut taken = HashSet::new();

    let rows = db.rows(
        "SELECT user_id, email, password_hash, full_name, is_active, created_at, last_login,
                metadata
         FROM users ORDER BY created_at, user_id",
        |r| texts(r, 8),
    )?;
    for r in rows {
        let original = r[0].clone().unwrap_or_default();
        let user = (|| -> Result<SourceUser> {
            Ok(SourceUser {
                original_id: original.clone(),
                username: None,
                email: r[1].clone().unwrap_or_default(),
                password_hash: r[2].clone().unwrap_or_default(),
                full_name: r[3].clone(),
                is_active: flag(r[4].as_deref(), true),
                created_at: time(r[5].as_deref().unwrap_or_default())?,
                updated_at: None,
                last_login_at: opt_time(r[6].as_deref())?,
                preferred_llm: None,
                explainability_level: None,
                metadata: json("metadata", r[7].as_deref())?,
                roles: Vec::new(),
            })
        })();
        plan.add_user(original, user, &mut taken, options);
    }

    let rows = db.rows(
        "SELECT id, user_id, title, status, created_at, updated_at, archived_at, is_hidden,
                hidden_at, auto_hidden, last_opened_at
         FROM conversations ORDER BY created_at, id",
        |r| texts(r, 11),
    )?;
    for r in rows {
        let original = r[0].clone().unwrap_or_default();
        match conversation(&plan, &r) {
            Ok(planned) => plan.conversations.push(planned),
            Err(why) => plan.skip("conversation", "conversations", &original, why),
        }
    }

    let known: HashSet<String> = plan
        .conversations
        .iter()
        .map(|c| c.original_id.clone())
        .collect();
    let rows = db.rows(
        "SELECT id, conversation_id, role, content, msg_metadata, created_at
         FROM messages ORDER BY created_at, rowid",
        |r| texts(r, 6),
    )?;
    for r in rows {
        let original = r[0].clone().unwrap_or_default();
        let conversation = r[1].clone().unwrap_or_default();
        if !known.contains(&conversation) {
            plan.skip_message_of(&original, &conversation);
            continue;
        }
        match message(options, &r) {
            Ok(planned) => plan.messages.push(planned),
            Err(why) => plan.skip("message", "messages", &original, why),
        }
    }
    Ok(plan)
}

fn conversation(
    plan: &Plan,
    r: &[Option<String>],
) -> std::result::Result<PlannedConversation, String> {
    let original = r[0].clone().unwrap_or_default();
    let owner = r[1].clone().unwrap_or_default();
    let user = *plan
        .user_ids
        .get(&owner)
        .ok_or_else(|| format!("its user {owner} is not imported"))?;
    let status: ConversationStatus = r[3]
        .as_deref()
        .unwrap_or("active")
        .trim()
        .to_ascii_lowercase()
        .parse()
        .map_err(|e: chatstore::Error| e.to_string())?;
    let title = validate::optional_text("title", r[2].as_deref()).map_err(|e| e.to_string())?;
    let created_at = time(r[4].as_deref().unwrap_or_default()).map_err(|e| e.to_string())?;
    let updated_at = opt_time(r[5].as_deref()).map_err(|e| e.to_string())?;
    let archived_at = opt_time(r[6].as_deref()).map_err(|e| e.to_string())?;
    let hidden_at = opt_time(r[8].as_deref()).map_err(|e| e.to_string())?;
    let last_opened_at = opt_time(r[10].as_deref()).map_err(|e| e.to_string())?;
    let when = |t: Option<chatstore::Timestamp>| t.map_or(Value::Null, Value::Time);
    let changed = updated_at.unwrap_or(created_at);
    let mut values = vec![
        ("user_id", Value::Id(user.as_uuid())),
        ("title", title.map_or(Value::Null, Value::Text)),
        ("status", Value::Text(status.as_str().to_owned())),
        ("is_hidden", Value::Bool(flag(r[7].as_deref(), false))),
        ("hidden_at", when(hidden_at)),
        ("auto_hidden", Value::Bool(flag(r[9].as_deref(), false))),
        ("last_opened_at", when(last_opened_at)),
    ];
    match status {
        ConversationStatus::Archived => {
            values.push(("archived_at", Value::Time(archived_at.unwrap_or(changed))));
        }
        ConversationStatus::Closed => values.push(("closed_at", Value::Time(changed))),
        ConversationStatus::Deleted => {
            values.push(("deleted_at", Value::Time(changed)));
            values.push(("status_before_delete", Value::Text("active".into())));
        }
        _ => values.push(("archived_at", when(archived_at))),
    }
    Ok(PlannedConversation {
        id: conversation_id(SOURCE, &original, created_at),
        original_id: original,
        owner,
        created_at,
        updated_at,
        values,
    })
}

fn message(
    options: &ImportOptions,
    r: &[Option<String>],
) -> std::result::Result<PlannedMessage, String> {
    let role: MessageRole = r[2]
        .as_deref()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
        .parse()
        .map_err(|e: chatstore::Error| e.to_string())?;
    let content = r[3].clone().unwrap_or_default();
    validate::body("content", &content, options.max_message_bytes).map_err(|e| e.to_string())?;
    let metadata = match json("msg_metadata", r[4].as_deref()).map_err(|e| e.to_string())? {
        None => Default::default(),
        Some(serde_json::Value::Object(object)) => message_metadata(object),
        Some(other) => message_metadata([("legacy".to_owned(), other)].into_iter().collect()),
    };
    metadata
        .validate(options.max_metadata_bytes)
        .map_err(|e| e.to_string())?;
    Ok(PlannedMessage {
        original_id: r[0].clone().unwrap_or_default(),
        conversation: r[1].clone().unwrap_or_default(),
        parent: None,
        role,
        content,
        metadata,
        created_at: time(r[5].as_deref().unwrap_or_default()).map_err(|e| e.to_string())?,
    })
}
