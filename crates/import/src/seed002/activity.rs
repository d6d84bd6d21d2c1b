//! Seed 002's `agent_logs` (each belongs to a message) and `token_usage` (each to a
//! user, and to the conversation, message and agent run it names).

use chatstore::transfer::Value;
use chatstore::{AgentLogId, AgentStatus, OperationType, Result, UsageId, validate};

use super::{Keys, SOURCE, public_id};
use crate::Plan;
use crate::chat::message_id;
use crate::linked::Linked;
use crate::source::{SourceDb, SourceRow, time};
use crate::writer::{Record, row, target_table};

type Outcome<T> = std::result::Result<T, String>;

/// Plans every agent log and usage record (when the tables are there).
pub(super) fn plan(plan: &mut Plan, db: &SourceDb, keys: &mut Keys) -> Result<()> {
    if db.has_table("agent_logs")? {
        for r in db.records("agent_logs", &["created_at", "id"])? {
            let original = public_id(&r);
            match agent_log(keys, &r) {
                Ok(linked) => {
                    keys.agent_logs
                        .insert(r.text("id"), (original, linked.record.new_id));
                    plan.linked.push(linked);
                }
                Err(why) => plan.skip("agent_log", "agent_logs", &original, why),
            }
        }
    }
    if db.has_table("token_usage")? {
        for r in db.records("token_usage", &["created_at", "id"])? {
            let original = public_id(&r);
            match usage(plan, keys, &r) {
                Ok(linked) => plan.linked.push(linked),
                Err(why) => plan.skip("usage", "token_usage", &original, why),
            }
        }
    }
    Ok(())
}

fn agent_log(keys: &Keys, r: &SourceRow) -> Outcome<Linked> {
    let original = public_id(r);
    let message_key = r.text("message_id");
    let (message_original, message_created) = keys
        .messages
        .get(&message_key)
        .ok_or_else(|| format!("its message {message_key} is not imported"))?;
    let message = message_id(SOURCE, message_original, *message_created);
    let agent_name =
        validate::required_text("agent_name", &r.text("agent_name")).map_err(|e| e.to_string())?;
    let status = match r.get("status").map(|s| s.trim().to_ascii_lowercase()) {
        None => Value::Null,
        Some(s) if s.is_empty() => Value::Null,
        Some(s) => {
            let status: AgentStatus = s.parse().map_err(|e: chatstore::Error| e.to_string())?;
            Value::Text(status.as_str().to_owned())
        }
    };
    let created_at = time(&r.text("created_at")).map_err(|e| e.to_string())?;
    let id = AgentLogId::derived(
        created_at,
        format!("{SOURCE}\0agent_log\0{original}").as_bytes(),
    );
    let row = row(
        target_table("agent_logs").map_err(|e| e.to_string())?,
        vec![
            ("id", Value::Id(id.as_uuid())),
            ("message_id", Value::Id(message.as_uuid())),
            ("agent_name", Value::Text(agent_name)),
            ("agent_type", r.text_value("agent_type")?),
            ("action", r.text_value("action")?),
            ("input_data", r.json_value("input_data")?),
            ("output_data", r.json_value("output_data")?),
            ("execution_time", r.real_value("execution_time")?),
            ("tokens_used", r.count_value("tokens_used")?),
            ("status", status),
            ("error_message", r.text_value("error_message")?),
            ("reasoning", r.text_value("reasoning")?),
            ("confidence", r.real_value("confidence")?),
            ("created_at", Value::Time(created_at)),
        ],
    )
    .map_err(|e| e.to_string())?;
    Ok(Linked {
        kind: "agent_log",
        source_table: "agent_logs",
        table: "agent_logs",
        record: Record {
            original_id: original,
            new_id: id.as_uuid(),
            row,
        },
        needs: vec![("message", message_original.clone())],
    })
}

fn usage(plan: &Plan, keys: &Keys, r: &SourceRow) -> Outcome<Linked> {
    let original = public_id(r);
    let owner = r.text("user_id");
    let user = plan
        .user_ids
        .get(&owner)
        .ok_or_else(|| format!("its user {owner} is not imported"))?;
    let mut needs = vec![("user", owner)];
    let conversation = match r.get("conversation_id") {
        None => Value::Null,
        Some(key) => {
            let (original, id) = keys
                .conversations
                .get(key)
                .ok_or_else(|| format!("its conversation {key} is not imported"))?;
            needs.push(("conversation", original.clone()));
            Value::Id(id.as_uuid())
        }
    };
    let message = match r.get("message_id") {
        None => Value::Null,
        Some(key) => {
            let (original, created) = keys
                .messages
                .get(key)
                .ok_or_else(|| format!("its message {key} is not imported"))?;
            needs.push(("message", original.clone()));
            Value::Id(message_id(SOURCE, original, *created).as_uuid())
        }
    };
    let agent_log = match r.get("agent_log_id") {
        None => Value::Null,
        Some(key) => {
            let (original, id) = keys
                .agent_logs
                .get(key)
                .ok_or_else(|| format!("its agent log {key} is not imported"))?;
            needs.push(("agent_log", original.clone()));
            Value::Id(*id)
        }
    };
    let provider =
        validate::required_text("provider", &r.text("provider")).map_err(|e| e.to_string())?;
    let model = validate::required_text("model", &r.text("model")).map_err(|e| e.to_string())?;
    let operation: OperationType = r
        .text("operation_type")
        .trim()
        .to_ascii_lowercase()
        .parse()
        .map_err(|e: chatstore::Error| e.to_string())?;
    let (prompt, completion) = (r.count("prompt_tokens")?, r.count("completion_tokens")?);
    let cost = r
        .real("estimated_cost")
        .map_err(|e| e.to_string())?
        .unwrap_or(0.0);
    let cost = validate::non_negative("estimated_cost", cost).map_err(|e| e.to_string())?;
    let currency = r
        .get("currency")
        .filter(|c| !c.trim().is_empty())
        .unwrap_or("USD")
        .to_owned();
    let created_at = time(&r.text("created_at")).map_err(|e| e.to_string())?;
    let id = UsageId::derived(
        created_at,
        format!("{SOURCE}\0usage\0{original}").as_bytes(),
    );
    let row = row(
        target_table("token_usage").map_err(|e| e.to_string())?,
        vec![
            ("id", Value::Id(id.as_uuid())),
            ("user_id", Value::Id(user.as_uuid())),
            ("conversation_id", conversation),
            ("message_id", message),
            ("agent_log_id", agent_log),
            ("provider", Value::Text(provider)),
            ("model", Value::Text(model)),
            ("operation_type", Value::Text(operation.as_str().to_owned())),
            ("prompt_tokens", Value::Integer(prompt)),
            ("completion_tokens", Value::Integer(completion)),
            ("total_tokens", Value::Integer(prompt + completion)),
            (
                "embedding_tokens",
                Value::Integer(r.count("embedding_tokens")?),
            ),
            ("estimated_cost", Value::Real(cost)),
            ("currency", Value::Text(currency)),
            ("created_at", Value::Time(created_at)),
        ],
    )
    .map_err(|e| e.to_string())?;
    Ok(Linked {
        kind: "usage",
        source_table: "token_usage",
        table: "token_usage",
        record: Record {
            original_id: original,
            new_id: id.as_uuid(),
            row,
        },
        needs,
    })
}
