//! [`AgentLogStore`] on PostgreSQL.

use chatstore::agent_logs::PreparedAgentLog;
use chatstore::{
    AgentLog, AgentLogStore, ConflictKind, ConversationId, Error, MessageId, NewAgentLog, Result,
    UserId,
};
use postgres::Row;

use crate::PgStore;
use crate::db::Conn;
use crate::row::{RowExt, UuidId, at};

const AGENT_LOG_COLUMNS: &str = "a.id, a.message_id, a.agent_name, a.agent_type, a.action, \
     a.input_data, a.output_data, a.execution_time, a.tokens_used, a.status, a.error_message, \
     a.reasoning, a.confidence, a.created_at";

fn agent_log_from_row(row: &Row) -> Result<AgentLog> {
    Ok(AgentLog {
        id: row.id(0)?,
        message_id: row.id(1)?,
        agent_name: row.text(2)?,
        agent_type: row.opt_text(3)?,
        action: row.opt_text(4)?,
        input_data: row.opt_json(5)?,
        output_data: row.opt_json(6)?,
        execution_time: row.value(7)?,
        tokens_used: row.opt_uint(8)?,
        status: row.opt_parse(9)?,
        error_message: row.opt_text(10)?,
        reasoning: row.opt_text(11)?,
        confidence: row.value(12)?,
        created_at: row.ts(13)?,
    })
}

/// The conversation of the user's message, or not-found (another user's message is
/// not found either).
pub(crate) fn message_conversation(
    conn: &mut Conn<'_, '_>,
    user: UserId,
    message: MessageId,
) -> Result<ConversationId> {
    conn.row(
        "SELECT m.conversation_id FROM messages m
         JOIN conversations v ON v.id = m.conversation_id
         WHERE m.id = $1 AND v.user_id = $2",
        &[&message.stored(), &user.stored()],
    )?
    .map(|row| row.id(0))
    .transpose()?
    .ok_or_else(|| Error::not_found("message", message))
}

/// Fails with not-found unless the conversation is the user's.
pub(crate) fn require_conversation(
    conn: &mut Conn<'_, '_>,
    user: UserId,
    conversation: ConversationId,
) -> Result<()> {
    match conn.row(
        "SELECT 1 FROM conversations WHERE id = $1 AND user_id = $2",
        &[&conversation.stored(), &user.stored()],
    )? {
        Some(_) => Ok(()),
        None => Err(Error::not_found("conversation", conversation)),
    }
}

/// An insert whose target was deleted after it was checked fails its foreign key:
/// that is the target not found.
pub(crate) fn gone_as_not_found(
    result: Result<u64>,
    entity: &'static str,
    id: impl std::fmt::Display,
) -> Result<()> {
    match result {
        Err(Error::Conflict {
            kind: ConflictKind::ForeignKey,
            ..
        }) => Err(Error::not_found(entity, id)),
        other => other.map(drop),
    }
}

impl AgentLogStore for PgStore {
    fn record_agent_log(
        &self,
        user: UserId,
        message: MessageId,
        log: &NewAgentLog,
    ) -> Result<AgentLog> {
        let PreparedAgentLog {
            log: entry,
            input_json: input,
            output_json: output,
        } = log.prepare(message, self.now(), self.config.max_metadata_bytes)?;
        let tokens = entry.tokens_used.map(i64::from);
        let status = entry.status.map(|s| s.as_str());
        let created = at(entry.created_at);
        self.db.write(|c| {
            message_conversation(c, user, message)?;
            let inserted = c.execute(
                "INSERT INTO agent_logs (id, message_id, agent_name, agent_type, action,
                     input_data, output_data, execution_time, tokens_used, status,
                     error_message, reasoning, confidence, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6::text::jsonb, $7::text::jsonb, $8, $9, $10,
                     $11, $12, $13, $14)",
                &[
                    &entry.id.stored(),
                    &message.stored(),
                    &entry.agent_name,
                    &entry.agent_type,
                    &entry.action,
                    &input,
                    &output,
                    &entry.execution_time,
                    &tokens,
                    &status,
                    &entry.error_message,
                    &entry.reasoning,
                    &entry.confidence,
                    &created,
                ],
            );
            gone_as_not_found(inserted, "message", message)
        })?;
        Ok(entry)
    }

    fn agent_logs(&self, user: UserId, message: MessageId) -> Result<Vec<AgentLog>> {
        let rows = self.db.read_snapshot(|c| {
            message_conversation(c, user, message)?;
            c.rows(
                &format!(
                    "SELECT {AGENT_LOG_COLUMNS} FROM agent_logs a
                     WHERE a.message_id = $1 ORDER BY a.created_at, a.id"
                ),
                &[&message.stored()],
            )
        })?;
        rows.iter().map(agent_log_from_row).collect()
    }

    fn conversation_agent_logs(
        &self,
        user: UserId,
        conversation: ConversationId,
    ) -> Result<Vec<AgentLog>> {
        let rows = self.db.read_snapshot(|c| {
            require_conversation(c, user, conversation)?;
            c.rows(
                &format!(
                    "SELECT {AGENT_LOG_COLUMNS} FROM agent_logs a
                     JOIN messages m ON m.id = a.message_id
                     WHERE m.conversation_id = $1 ORDER BY a.created_at, a.id"
                ),
                &[&conversation.stored()],
            )
        })?;
        rows.iter().map(agent_log_from_row).collect()
    }
}
