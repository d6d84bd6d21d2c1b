//! Agent logs: what each agent did while answering a message, for auditing and
//! explainability.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::enums::string_enum;
use crate::{AgentLogId, ConversationId, Error, MessageId, Result, Timestamp, UserId, validate};

string_enum! {
    /// How an agent run ended.
    AgentStatus, field = "agent status" {
        /// It finished.
        Success = "success",
        /// It failed; see the error message.
        Failed = "failed",
        /// It ran out of time.
        Timeout = "timeout",
    }
}

/// A recorded agent run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentLog {
    /// The entry's id.
    pub id: AgentLogId,
    /// The message the agent worked on.
    pub message_id: MessageId,
    /// Agent name (ResearchAgent, ...).
    pub agent_name: String,
    /// Agent type (research, analyzer, grounding, explainability).
    pub agent_type: Option<String>,
    /// What it did.
    pub action: Option<String>,
    /// Its input.
    pub input_data: Option<Value>,
    /// Its output.
    pub output_data: Option<Value>,
    /// Seconds it took.
    pub execution_time: Option<f64>,
    /// Tokens it used.
    pub tokens_used: Option<u32>,
    /// How it ended.
    pub status: Option<AgentStatus>,
    /// Why it failed.
    pub error_message: Option<String>,
    /// Its explanation of what it did.
    pub reasoning: Option<String>,
    /// Its confidence, 0–1.
    pub confidence: Option<f64>,
    /// When it was recorded.
    pub created_at: Timestamp,
}

/// An agent run to record. Only the message and agent name are required.
#[derive(Debug, Clone, Default)]
pub struct NewAgentLog {
    /// Agent name (required, not blank).
    pub agent_name: String,
    /// Agent type.
    pub agent_type: Option<String>,
    /// Action.
    pub action: Option<String>,
    /// Input (any JSON).
    pub input_data: Option<Value>,
    /// Output (any JSON).
    pub output_data: Option<Value>,
    /// Seconds it took (finite, not negative).
    pub execution_time: Option<f64>,
    /// Tokens it used.
    pub tokens_used: Option<u32>,
    /// How it ended.
    pub status: Option<AgentStatus>,
    /// Why it failed.
    pub error_message: Option<String>,
    /// Its reasoning.
    pub reasoning: Option<String>,
    /// Its confidence, 0–1.
    pub confidence: Option<f64>,
}

impl NewAgentLog {
    /// A log entry with just the agent's name.
    pub fn new(agent_name: &str) -> NewAgentLog {
        NewAgentLog {
            agent_name: agent_name.to_owned(),
            ..NewAgentLog::default()
        }
    }

    /// Checks the entry and makes the record a backend stores for `message` at `now`:
    /// a name, short texts within limits, a non-negative finite time, a confidence in
    /// 0–1, no NUL anywhere, and each JSON value and long text at most
    /// `max_metadata_bytes` ([`crate::Config::max_metadata_bytes`]). Anything else is
    /// [`crate::Error::Validation`] naming the field.
    pub fn prepare(
        &self,
        message: MessageId,
        now: Timestamp,
        max_metadata_bytes: usize,
    ) -> Result<PreparedAgentLog> {
        let json = |field, value: &Option<Value>| {
            value
                .as_ref()
                .map(|v| validate::json_within(field, v, max_metadata_bytes))
                .transpose()
        };
        let long_text = |field, text: &Option<String>| -> Result<Option<String>> {
            if let Some(text) = text {
                validate::no_nul(field, text)?;
                if text.len() > max_metadata_bytes {
                    return Err(Error::validation(
                        field,
                        format!("must be at most {max_metadata_bytes} bytes"),
                    ));
                }
            }
            Ok(text.clone())
        };
        let log = AgentLog {
            id: AgentLogId::new(),
            message_id: message,
            agent_name: validate::required_text("agent_name", &self.agent_name)?,
            agent_type: validate::optional_text("agent_type", self.agent_type.as_deref())?,
            action: validate::optional_text("action", self.action.as_deref())?,
            input_data: self.input_data.clone(),
            output_data: self.output_data.clone(),
            execution_time: self
                .execution_time
                .map(|t| validate::non_negative("execution_time", t))
                .transpose()?,
            tokens_used: self.tokens_used,
            status: self.status,
            error_message: long_text("error_message", &self.error_message)?,
            reasoning: long_text("reasoning", &self.reasoning)?,
            confidence: self
                .confidence
                .map(|c| validate::unit_interval("confidence", c))
                .transpose()?,
            created_at: now,
        };
        Ok(PreparedAgentLog {
            input_json: json("input_data", &log.input_data)?,
            output_json: json("output_data", &log.output_data)?,
            log,
        })
    }
}

/// An agent log checked by [`NewAgentLog::prepare`]: the record, and its JSON values
/// serialised as a backend stores them.
#[derive(Debug, Clone)]
pub struct PreparedAgentLog {
    /// The record, as it will read back.
    pub log: AgentLog,
    /// `input_data` as JSON text.
    pub input_json: Option<String>,
    /// `output_data` as JSON text.
    pub output_json: Option<String>,
}

/// Recording and reading agent logs. The message must be the user's
/// ([`crate::Error::NotFound`] otherwise).
pub trait AgentLogStore: Send + Sync {
    /// Records an agent run on one of the user's messages.
    fn record_agent_log(
        &self,
        user: UserId,
        message: MessageId,
        log: &NewAgentLog,
    ) -> Result<AgentLog>;

    /// The runs recorded for a message, oldest first.
    fn agent_logs(&self, user: UserId, message: MessageId) -> Result<Vec<AgentLog>>;

    /// The runs recorded for every message of a conversation, oldest first.
    fn conversation_agent_logs(
        &self,
        user: UserId,
        conversation: ConversationId,
    ) -> Result<Vec<AgentLog>>;
}
