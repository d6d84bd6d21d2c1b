//! Agent logs: what each agent did while answering a message, for auditing and
//! explainability.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::enums::string_enum;
use crate::{AgentLogId, ConversationId, MessageId, Result, Timestamp, UserId};

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
