//! Seed 001's `chatbot.db` with its `files.db`. Seed 001 names the tables and what they
//! hold but gives no DDL, so the tables are read by column name: `users` (`id`, `email`,
//! `name`, `picture`, `created_at`, and a password hash when the app had one),
//! `conversations` (`id`, `user_id`, `title`, `model`, `created_at`, `updated_at`),
//! `messages` (`id`, `conversation_id`, `role`, `content`, `files` JSON, `created_at`;
//! any other column is kept in the message's metadata) and `message_costs` (`id`,
//! `message_id`, `conversation_id`, `user_id`, `model`, `input_tokens`,
//! `output_tokens`, `cost_usd`, `created_at`). `files.db` holds
//! `blobs(key, data, mime_type, size, created_at)` keyed `<message id>/<index>` and
//! `<message id>/<index>.thumb`; attachments of messages written before it existed
//! are base64 inside `messages.files`.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use chatstore::transfer::Value;
use chatstore::{ConversationId, ConversationStatus, Result, Timestamp, UsageId, validate};

use crate::chat::{PlannedConversation, PlannedMessage, conversation_id, message_id, role};
use crate::files;
use crate::linked::Linked;
use crate::metadata::message_metadata;
use crate::source::{SourceDb, SourceRow, opt_time, time};
use crate::users::SourceUser;
use crate::writer::{Record, row, target_table};
use crate::{ImportOptions, Plan};

/// The source's name in reports and in `imported_ids`.
pub(crate) const SOURCE: &str = "seed001";

const SCHEMA: &str = "seed 001 (chatbot.db)";

/// Message columns chatstore has a place for; the others go to the metadata.
const MESSAGE_COLUMNS: &[&str] = &[
    "id",
    "conversation_id",
    "role",
    "content",
    "files",
    "created_at",
];

/// Reads and checks everything, building the rows to write. The attachment database
/// is `options.files`, or the `files.db` beside `path` when there is one.
pub(crate) fn plan(db: &SourceDb, path: &Path, options: &ImportOptions) -> Result<Plan> {
    db.require_columns(SCHEMA, "users", &["id", "email", "created_at"])?;
    db.require_columns(SCHEMA, "conversations", &["id", "user_id", "created_at"])?;
    db.require_columns(
        SCHEMA,
        "messages",
        &["id", "conversation_id", "role", "content", "created_at"],
    )?;
    let mut plan = Plan::new(SOURCE);
    plan_users(&mut plan, db, options)?;
    plan_conversations(&mut plan, db)?;

    let files_db = attachment_db(path, options)?;
    let stored = match &files_db {
        Some(files_db) => files_db.strings("SELECT key FROM blobs")?,
        None => HashSet::new(),
    };
    plan_messages(&mut plan, db, options, &stored)?;
    if files_db.is_none() && plan.report.kinds.contains_key("attachment") {
        plan.report
            .notes
            .push("no files.db was found beside the source: give it with --files".into());
    }
    plan.files_db = files_db;
    if db.has_table("message_costs")? {
        plan_costs(&mut plan, db)?;
    }
    Ok(plan)
}

/// `options.files`, or `files.db` beside the source; checked to be seed 001's.
fn attachment_db(path: &Path, options: &ImportOptions) -> Result<Option<SourceDb>> {
    let beside = path.with_file_name("files.db");
    let chosen = match &options.files {
        Some(given) => given.as_path(),
        None if beside.is_file() => beside.as_path(),
        None => return Ok(None),
    };
    let db = SourceDb::open(chosen)?;
    db.require_columns("seed 001 (files.db)", "blobs", &["key", "data"])?;
    Ok(Some(db))
}

fn plan_users(plan: &mut Plan, db: &SourceDb, options: &ImportOptions) -> Result<()> {
    let mut taken = HashSet::new();
    for r in db.records("users", &["created_at", "id"])? {
        let original = r.text("id");
        let user = (|| -> Result<SourceUser> {
            let picture = r
                .get("picture")
                .map(|p| serde_json::json!({ "picture": p }));
            Ok(SourceUser {
                original_id: original.clone(),
                username: r.get("username").map(str::to_owned),
                email: r.text("email"),
                // Accounts signed in with Google have no password: they set one.
                password_hash: r
                    .first(&["password_hash", "hashed_password"])
                    .unwrap_or_default()
                    .to_owned(),
                full_name: r.first(&["name", "full_name"]).map(str::to_owned),
                is_active: true,
                created_at: time(&r.text("created_at"))?,
                updated_at: opt_time(r.get("updated_at"))?,
                last_login_at: opt_time(r.get("last_login"))?,
                preferred_llm: None,
                explainability_level: None,
                metadata: picture,
                roles: Vec::new(),
            })
        })();
        plan.add_user(original, user, &mut taken, options);
    }
    Ok(())
}

fn plan_conversations(plan: &mut Plan, db: &SourceDb) -> Result<()> {
    for r in db.records("conversations", &["created_at", "id"])? {
        let original = r.text("id");
        match conversation(plan, &r) {
            Ok(planned) => plan.conversations.push(planned),
            Err(why) => plan.skip("conversation", "conversations", &original, why),
        }
    }
    Ok(())
}

fn conversation(plan: &Plan, r: &SourceRow) -> std::result::Result<PlannedConversation, String> {
    let original = r.text("id");
    let owner = r.text("user_id");
    let user = *plan
        .user_ids
        .get(&owner)
        .ok_or_else(|| format!("its user {owner} is not imported"))?;
    let title = validate::optional_text("title", r.get("title")).map_err(|e| e.to_string())?;
    let model = validate::optional_text("model", r.get("model")).map_err(|e| e.to_string())?;
    let created_at = time(&r.text("created_at")).map_err(|e| e.to_string())?;
    let updated_at = opt_time(r.get("updated_at")).map_err(|e| e.to_string())?;
    let text = |v: Option<String>| v.map_or(Value::Null, Value::Text);
    Ok(PlannedConversation {
        id: conversation_id(SOURCE, &original, created_at),
        original_id: original,
        owner,
        created_at,
        updated_at,
        values: vec![
            ("user_id", Value::Id(user.as_uuid())),
            ("title", text(title)),
            (
                "status",
                Value::Text(ConversationStatus::Active.as_str().to_owned()),
            ),
            ("is_hidden", Value::Bool(false)),
            ("auto_hidden", Value::Bool(false)),
            ("llm_model", text(model)),
        ],
    })
}

fn plan_messages(
    plan: &mut Plan,
    db: &SourceDb,
    options: &ImportOptions,
    stored: &HashSet<String>,
) -> Result<()> {
    let known: HashSet<String> = plan
        .conversations
        .iter()
        .map(|c| c.original_id.clone())
        .collect();
    for r in db.records("messages", &["created_at", "id"])? {
        let original = r.text("id");
        let conversation = r.text("conversation_id");
        if !known.contains(&conversation) {
            plan.skip_message_of(&original, &conversation);
            continue;
        }
        let mut missing = Vec::new();
        let planned = message(options, &r).and_then(|m| {
            files::plan(r.get("files"), &original, stored, &mut missing).map(|f| (m, f))
        });
        match planned {
            Ok((message, attachments)) => {
                for key in missing {
                    plan.skip(
                        "attachment",
                        "files",
                        &key,
                        "its bytes are neither inline nor in files.db".into(),
                    );
                }
                if !attachments.is_empty() {
                    plan.files.insert(original, attachments);
                }
                plan.messages.push(message);
            }
            Err(why) => plan.skip("message", "messages", &original, why),
        }
    }
    Ok(())
}

fn message(options: &ImportOptions, r: &SourceRow) -> std::result::Result<PlannedMessage, String> {
    let content = r.text("content");
    validate::body("content", &content, options.max_message_bytes).map_err(|e| e.to_string())?;
    let metadata = message_metadata(r.others(MESSAGE_COLUMNS));
    metadata
        .validate(options.max_metadata_bytes)
        .map_err(|e| e.to_string())?;
    Ok(PlannedMessage {
        original_id: r.text("id"),
        conversation: r.text("conversation_id"),
        parent: None,
        role: role(r.get("role"))?,
        content,
        metadata,
        created_at: time(&r.text("created_at")).map_err(|e| e.to_string())?,
    })
}

/// Each message cost becomes a usage record of its user, conversation and message.
fn plan_costs(plan: &mut Plan, db: &SourceDb) -> Result<()> {
    let conversations: HashMap<&str, ConversationId> = plan
        .conversations
        .iter()
        .map(|c| (c.original_id.as_str(), c.id))
        .collect();
    let messages: HashMap<&str, Timestamp> = plan
        .messages
        .iter()
        .map(|m| (m.original_id.as_str(), m.created_at))
        .collect();
    let table = target_table("token_usage")?;
    let mut linked = Vec::new();
    let mut skipped = Vec::new();
    for r in db.records("message_costs", &["created_at", "id"])? {
        let original = r.text("id");
        let record = (|| -> std::result::Result<Linked, String> {
            let user_original = r.text("user_id");
            let message_original = r.text("message_id");
            let user = plan
                .user_ids
                .get(&user_original)
                .ok_or_else(|| format!("its user {user_original} is not imported"))?;
            let message_created = messages
                .get(message_original.as_str())
                .ok_or_else(|| format!("its message {message_original} is not imported"))?;
            let message = message_id(SOURCE, &message_original, *message_created);
            let conversation = r
                .get("conversation_id")
                .and_then(|c| conversations.get(c))
                .map_or(Value::Null, |c| Value::Id(c.as_uuid()));
            let model =
                validate::required_text("model", &r.text("model")).map_err(|e| e.to_string())?;
            let (prompt, completion) = (r.count("input_tokens")?, r.count("output_tokens")?);
            let cost = r
                .real("cost_usd")
                .map_err(|e| e.to_string())?
                .unwrap_or(0.0);
            let cost = validate::non_negative("cost_usd", cost).map_err(|e| e.to_string())?;
            let created_at = time(&r.text("created_at")).map_err(|e| e.to_string())?;
            let id = UsageId::derived(
                created_at,
                format!("{SOURCE}\0usage\0{original}").as_bytes(),
            );
            let row = row(
                table,
                vec![
                    ("id", Value::Id(id.as_uuid())),
                    ("user_id", Value::Id(user.as_uuid())),
                    ("conversation_id", conversation),
                    ("message_id", Value::Id(message.as_uuid())),
                    ("provider", Value::Text(provider_of(&model).to_owned())),
                    ("model", Value::Text(model)),
                    ("operation_type", Value::Text("chat".into())),
                    ("prompt_tokens", Value::Integer(prompt)),
                    ("completion_tokens", Value::Integer(completion)),
                    ("total_tokens", Value::Integer(prompt + completion)),
                    ("embedding_tokens", Value::Integer(0)),
                    ("estimated_cost", Value::Real(cost)),
                    ("currency", Value::Text("USD".into())),
                    ("created_at", Value::Time(created_at)),
                ],
            )
            .map_err(|e| e.to_string())?;
            Ok(Linked {
                kind: "usage",
                source_table: "message_costs",
                table: "token_usage",
                record: Record {
                    original_id: original.clone(),
                    new_id: id.as_uuid(),
                    row,
                },
                needs: vec![("user", user_original), ("message", message_original)],
            })
        })();
        match record {
            Ok(record) => linked.push(record),
            Err(why) => skipped.push((original, why)),
        }
    }
    for (original, why) in skipped {
        plan.skip("usage", "message_costs", &original, why);
    }
    plan.linked.extend(linked);
    Ok(())
}

/// The provider of a model, by its name (seed 001 records only the model).
fn provider_of(model: &str) -> &'static str {
    let model = model.to_ascii_lowercase();
    if model.starts_with("gemini") || model.starts_with("imagen") {
        "google"
    } else if model.starts_with("gpt") || model.starts_with("o1") || model.starts_with("o3") {
        "openai"
    } else if model.starts_with("claude") {
        "anthropic"
    } else {
        "unknown"
    }
}
