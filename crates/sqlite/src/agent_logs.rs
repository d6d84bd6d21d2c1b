//! [`AgentLogStore`] on SQLite.

use chatstore::agent_logs::PreparedAgentLog;
use chatstore::{AgentLog, AgentLogStore, ConversationId, MessageId, NewAgentLog, Result, UserId};
use rusqlite::Row;

use crate::SqliteStore;
use crate::conversations::load_conversation;
use crate::messages::load_message;
use crate::row::RowExt;

const AGENT_LOG_COLUMNS: &str = "a.id, a.message_id, a.agent_name, a.agent_type, a.action, \
     a.input_data, a.output_data, a.execution_time, a.tokens_used, a.status, a.error_message, \
     a.reasoning, a.confidence, a.created_at";

fn agent_log_from_row(row: &Row<'_>) -> Result<AgentLog> {
    Ok(AgentLog {
        id: row.parse(0)?,
        message_id: row.parse(1)?,
        agent_name: row.text(2)?,
        agent_type: row.opt_text(3)?,
        action: row.opt_text(4)?,
        input_data: row.opt_json(5)?,
        output_data: row.opt_json(6)?,
        execution_time: row.opt_real(7)?,
        tokens_used: row.opt_uint(8)?,
        status: row.opt_parse(9)?,
        error_message: row.opt_text(10)?,
        reasoning: row.opt_text(11)?,
        confidence: row.opt_real(12)?,
        created_at: row.ts(13)?,
    })
}

impl AgentLogStore for SqliteStore {
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
        self.db.write(|c| {
            load_message(c, user, message)?;
            c.execute(
                "INSERT INTO agent_logs (id, message_id, agent_name, agent_type, action,
                     input_data, output_data, execution_time, tokens_used, status,
                     error_message, reasoning, confidence, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                &[
                    &entry.id.to_string(),
                    &message.to_string(),
                    &entry.agent_name,
                    &entry.agent_type,
                    &entry.action,
                    &input,
                    &output,
                    &entry.execution_time,
                    &entry.tokens_used,
                    &entry.status.map(|s| s.as_str()),
                    &entry.error_message,
                    &entry.reasoning,
                    &entry.confidence,
                    &entry.created_at.to_string(),
                ],
            )
            .map(drop)
        })?;
        Ok(entry)
    }

    fn agent_logs(&self, user: UserId, message: MessageId) -> Result<Vec<AgentLog>> {
        self.db.read_snapshot(|c| {
            load_message(c, user, message)?;
            c.rows(
                &format!(
                    "SELECT {AGENT_LOG_COLUMNS} FROM agent_logs a
                     WHERE a.message_id = ?1 ORDER BY a.created_at, a.id"
                ),
                &[&message.to_string()],
                agent_log_from_row,
            )
        })
    }

    fn conversation_agent_logs(
        &self,
        user: UserId,
        conversation: ConversationId,
    ) -> Result<Vec<AgentLog>> {
        self.db.read_snapshot(|c| {
            load_conversation(c, user, conversation)?;
            c.rows(
                &format!(
                    "SELECT {AGENT_LOG_COLUMNS} FROM agent_logs a
                     JOIN messages m ON m.id = a.message_id
                     WHERE m.conversation_id = ?1 ORDER BY a.created_at, a.id"
                ),
                &[&conversation.to_string()],
                agent_log_from_row,
            )
        })
    }
}
