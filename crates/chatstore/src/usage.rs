//! Token usage metering: one record per model call, priced on insert, with aggregates by
//! provider and operation, per conversation, and per day.

use serde::{Deserialize, Serialize};

use crate::enums::string_enum;
use crate::{AgentLogId, ConversationId, Error, MessageId, Result, Timestamp, UsageId, UserId};

string_enum! {
    /// What a model call was for.
    OperationType, field = "operation_type" {
        /// A conversation answer.
        Chat = "chat",
        /// Embedding document chunks or a question.
        Embedding = "embedding",
        /// Analysis agent work.
        Analysis = "analysis",
        /// Grounding verification.
        Grounding = "grounding",
        /// Explainability reasoning.
        Explanation = "explanation",
        /// Document summarisation.
        Summarization = "summarization",
    }
}

/// A recorded model call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageRecord {
    /// The record's id.
    pub id: UsageId,
    /// Who incurred it.
    pub user_id: UserId,
    /// Its conversation.
    pub conversation_id: Option<ConversationId>,
    /// Its message.
    pub message_id: Option<MessageId>,
    /// Its agent run.
    pub agent_log_id: Option<AgentLogId>,
    /// Provider (custom, ollama, ...).
    pub provider: String,
    /// Model.
    pub model: String,
    /// What it was for.
    pub operation_type: OperationType,
    /// Input tokens.
    pub prompt_tokens: u64,
    /// Output tokens.
    pub completion_tokens: u64,
    /// Prompt plus completion tokens.
    pub total_tokens: u64,
    /// Embedding tokens.
    pub embedding_tokens: u64,
    /// Cost from the configured price table at the time of recording.
    pub estimated_cost: f64,
    /// Currency of the cost.
    pub currency: String,
    /// When it was recorded.
    pub created_at: Timestamp,
}

/// Most tokens of one kind a single recorded call may carry: a thousand times the
/// largest context windows in use, so no real call is refused, while sums over
/// billions of records still fit in 64 bits.
pub const MAX_TOKENS_PER_CALL: u64 = 1_000_000_000;

/// A model call to record. The store computes the total and the cost.
#[derive(Debug, Clone)]
pub struct NewUsage {
    /// Provider (required).
    pub provider: String,
    /// Model (required).
    pub model: String,
    /// What it was for.
    pub operation_type: OperationType,
    /// Input tokens.
    pub prompt_tokens: u64,
    /// Output tokens.
    pub completion_tokens: u64,
    /// Embedding tokens.
    pub embedding_tokens: u64,
    /// Its conversation (must be the user's).
    pub conversation_id: Option<ConversationId>,
    /// Its message (must be the user's).
    pub message_id: Option<MessageId>,
    /// Its agent run (must be on one of the user's messages).
    pub agent_log_id: Option<AgentLogId>,
}

impl NewUsage {
    /// A call with no links to a conversation, message or agent run.
    pub fn new(
        provider: &str,
        model: &str,
        operation_type: OperationType,
        prompt_tokens: u64,
        completion_tokens: u64,
    ) -> NewUsage {
        NewUsage {
            provider: provider.to_owned(),
            model: model.to_owned(),
            operation_type,
            prompt_tokens,
            completion_tokens,
            embedding_tokens: 0,
            conversation_id: None,
            message_id: None,
            agent_log_id: None,
        }
    }
}

impl NewUsage {
    /// The record this call makes for `user` at `now`: checked (provider and model
    /// given, token counts within [`MAX_TOKENS_PER_CALL`]), totalled, and priced with
    /// `prices` as they are now, so later price changes do not rewrite history. A
    /// backend stores it as it is, after checking the links belong to the user.
    pub fn prepare(
        &self,
        user: UserId,
        prices: &crate::PriceTable,
        now: Timestamp,
    ) -> Result<UsageRecord> {
        self.check_tokens()?;
        let provider = crate::validate::required_text("provider", &self.provider)?;
        let model = crate::validate::required_text("model", &self.model)?;
        let cost = prices.cost(
            &provider,
            &model,
            self.prompt_tokens,
            self.completion_tokens,
            self.embedding_tokens,
        );
        Ok(UsageRecord {
            id: UsageId::new(),
            user_id: user,
            conversation_id: self.conversation_id,
            message_id: self.message_id,
            agent_log_id: self.agent_log_id,
            provider,
            model,
            operation_type: self.operation_type,
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            total_tokens: self.prompt_tokens + self.completion_tokens,
            embedding_tokens: self.embedding_tokens,
            estimated_cost: crate::validate::non_negative("estimated_cost", cost.amount)?,
            currency: cost.currency,
            created_at: now,
        })
    }

    /// Checks the token counts: each at most [`MAX_TOKENS_PER_CALL`].
    pub fn check_tokens(&self) -> Result<()> {
        for (field, count) in [
            ("prompt_tokens", self.prompt_tokens),
            ("completion_tokens", self.completion_tokens),
            ("embedding_tokens", self.embedding_tokens),
        ] {
            if count > MAX_TOKENS_PER_CALL {
                return Err(Error::validation(
                    field,
                    format!("{count} is more than the {MAX_TOKENS_PER_CALL} one call can use"),
                ));
            }
        }
        Ok(())
    }
}

impl UsageRecord {
    /// Checks that the record's message, which is in `message_conversation`, belongs to
    /// the record's conversation when it names one; otherwise [`Error::Validation`] on
    /// `message_id`. A backend calls it after loading the message (and checking that
    /// both are the user's).
    ///
    /// ```
    /// use chatstore::{ConversationId, NewUsage, OperationType, PriceTable, Timestamp, UserId};
    ///
    /// let mut usage = NewUsage::new("ollama", "llama3", OperationType::Chat, 10, 5);
    /// let conversation = ConversationId::new();
    /// usage.conversation_id = Some(conversation);
    /// let record = usage.prepare(UserId::new(), &PriceTable::default(), Timestamp::MIN).unwrap();
    /// assert!(record.check_message_conversation(conversation).is_ok());
    /// assert!(record.check_message_conversation(ConversationId::new()).is_err());
    /// ```
    pub fn check_message_conversation(&self, message_conversation: ConversationId) -> Result<()> {
        if self
            .conversation_id
            .is_some_and(|v| v != message_conversation)
        {
            return Err(Error::validation(
                "message_id",
                "belongs to another conversation than conversation_id",
            ));
        }
        Ok(())
    }
}

/// Summed usage.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct UsageTotals {
    /// Number of records.
    pub requests: u64,
    /// Input tokens.
    pub prompt_tokens: u64,
    /// Output tokens.
    pub completion_tokens: u64,
    /// Prompt plus completion tokens.
    pub total_tokens: u64,
    /// Embedding tokens.
    pub embedding_tokens: u64,
    /// Cost.
    pub cost: f64,
}

/// Usage of one provider for one kind of operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageBreakdown {
    /// Provider.
    pub provider: String,
    /// Operation type.
    pub operation_type: OperationType,
    /// Sums.
    pub totals: UsageTotals,
}

/// Usage on one UTC day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DailyUsage {
    /// The day, `YYYY-MM-DD`.
    pub day: String,
    /// Sums.
    pub totals: UsageTotals,
}

/// A half-open time range: from `start` (included) to `end` (excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// First instant included.
    pub start: Timestamp,
    /// First instant excluded.
    pub end: Timestamp,
}

impl TimeRange {
    /// A range; `end` before `start` is [`Error::Validation`].
    pub fn new(start: Timestamp, end: Timestamp) -> Result<TimeRange> {
        if end < start {
            return Err(Error::validation(
                "time range",
                format!("end {end} is before start {start}"),
            ));
        }
        Ok(TimeRange { start, end })
    }

    /// All of time.
    pub const ALL: TimeRange = TimeRange {
        start: Timestamp::MIN,
        end: Timestamp::MAX,
    };
}

/// Recording and summing token usage.
pub trait UsageStore: Send + Sync {
    /// Records a model call, pricing it with the configured price table.
    fn record_usage(&self, user: UserId, usage: &NewUsage) -> Result<UsageRecord>;

    /// The user's usage in the range, grouped by provider and operation type, sorted by
    /// provider and then operation type name (byte order, as for every name listed).
    fn usage_by_provider(&self, user: UserId, range: TimeRange) -> Result<Vec<UsageBreakdown>>;

    /// Everyone's usage in the range, grouped and sorted as [`UsageStore::usage_by_provider`].
    fn system_usage(&self, range: TimeRange) -> Result<Vec<UsageBreakdown>>;

    /// The user's total usage in the range.
    fn usage_totals(&self, user: UserId, range: TimeRange) -> Result<UsageTotals>;

    /// The usage recorded against one of the user's conversations.
    fn conversation_usage(&self, user: UserId, conversation: ConversationId)
    -> Result<UsageTotals>;

    /// The user's usage per UTC day in the range, days without usage left out.
    fn daily_usage(&self, user: UserId, range: TimeRange) -> Result<Vec<DailyUsage>>;

    /// Every record of the user's in the range, oldest first (for exports and audits).
    fn usage_records(&self, user: UserId, range: TimeRange) -> Result<Vec<UsageRecord>>;
}

/// The columns of a usage record, in the order [`UsageRecord`]'s fields are read by
/// every backend.
pub const RECORD_COLUMNS: &str = "id, user_id, conversation_id, message_id, agent_log_id, \
     provider, model, operation_type, prompt_tokens, completion_tokens, total_tokens, \
     embedding_tokens, estimated_cost, currency, created_at";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_must_be_in_the_records_conversation() {
        let user = UserId::new();
        let prices = crate::PriceTable::default();
        let mut usage = NewUsage::new("ollama", "llama3", OperationType::Chat, 1, 1);
        let unlinked = usage.prepare(user, &prices, Timestamp::MIN).unwrap();
        assert!(
            unlinked
                .check_message_conversation(ConversationId::new())
                .is_ok()
        );

        let conversation = ConversationId::new();
        usage.conversation_id = Some(conversation);
        let linked = usage.prepare(user, &prices, Timestamp::MIN).unwrap();
        assert!(linked.check_message_conversation(conversation).is_ok());
        assert!(matches!(
            linked.check_message_conversation(ConversationId::new()),
            Err(Error::Validation {
                field: "message_id",
                ..
            })
        ));
    }
}
