//! [`UsageStore`] on PostgreSQL: records are prepared (checked and priced) by the core.
//! Sums of `bigint` columns are `numeric` in PostgreSQL: they are cast back to `bigint`,
//! and `coalesce`d so that a range with no records sums to 0.

use chatstore::usage::RECORD_COLUMNS;
use chatstore::{
    ConversationId, DailyUsage, Error, ModelUsage, NewUsage, Result, TimeRange, UsageBreakdown,
    UsageRecord, UsageStore, UsageTotals, UserId,
};
use postgres::Row;
use postgres::types::ToSql;

use crate::PgStore;
use crate::agent_logs::{gone_as_not_found, message_conversation, require_conversation};
use crate::row::{RowExt, UuidId, at};
use crate::users::require_user;

/// Sums of a group of records, read by [`totals_from_row`].
const TOTALS: &str = "count(*), coalesce(sum(prompt_tokens), 0)::bigint, \
     coalesce(sum(completion_tokens), 0)::bigint, coalesce(sum(total_tokens), 0)::bigint, \
     coalesce(sum(embedding_tokens), 0)::bigint, coalesce(sum(estimated_cost), 0)";

fn totals_from_row(row: &Row, at: usize) -> Result<UsageTotals> {
    Ok(UsageTotals {
        requests: row.uint(at)?,
        prompt_tokens: row.uint(at + 1)?,
        completion_tokens: row.uint(at + 2)?,
        total_tokens: row.uint(at + 3)?,
        embedding_tokens: row.uint(at + 4)?,
        cost: row.value(at + 5)?,
    })
}

fn breakdown_from_row(row: &Row) -> Result<UsageBreakdown> {
    Ok(UsageBreakdown {
        provider: row.text(0)?,
        operation_type: row.parse(1)?,
        totals: totals_from_row(row, 2)?,
    })
}

fn model_from_row(row: &Row) -> Result<ModelUsage> {
    Ok(ModelUsage {
        provider: row.text(0)?,
        model: row.text(1)?,
        totals: totals_from_row(row, 2)?,
    })
}

/// A token count as `bigint` takes it (counts are bounded far below its limit).
fn tokens(field: &'static str, value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| Error::validation(field, "is too large"))
}

/// The totals of records grouped by `group` (columns, which also order the groups), in
/// one user's records of a range (`of_user`: $1 user, $2 start, $3 end) or everyone's
/// ($1 start, $2 end).
fn grouped(group: &str, of_user: bool) -> String {
    let scope = if of_user {
        "user_id = $1 AND created_at >= $2 AND created_at < $3"
    } else {
        "created_at >= $1 AND created_at < $2"
    };
    format!(
        "SELECT {group}, {TOTALS} FROM token_usage WHERE {scope} GROUP BY {group} ORDER BY {group}"
    )
}

impl PgStore {
    /// Runs an aggregate over the user's records in the range ($1 user, $2 start, $3 end).
    fn user_usage<T>(
        &self,
        user: UserId,
        range: TimeRange,
        sql: &str,
        map: impl Fn(&Row) -> Result<T>,
    ) -> Result<Vec<T>> {
        let (start, end) = (at(range.start), at(range.end));
        let params: [&(dyn ToSql + Sync); 3] = [&user.stored(), &start, &end];
        let rows = self.db.read_snapshot(|c| {
            require_user(c, user)?;
            c.rows(sql, &params)
        })?;
        rows.iter().map(map).collect()
    }

    /// Runs an aggregate over everyone's records in the range ($1 start, $2 end).
    fn everyone_usage<T>(
        &self,
        range: TimeRange,
        sql: &str,
        map: impl Fn(&Row) -> Result<T>,
    ) -> Result<Vec<T>> {
        let (start, end) = (at(range.start), at(range.end));
        let rows = self.db.read(|c| c.rows(sql, &[&start, &end]))?;
        rows.iter().map(map).collect()
    }
}

impl UsageStore for PgStore {
    fn record_usage(&self, user: UserId, usage: &NewUsage) -> Result<UsageRecord> {
        let record = usage.prepare(user, &self.config.pricing, self.now())?;
        let prompt = tokens("prompt_tokens", record.prompt_tokens)?;
        let completion = tokens("completion_tokens", record.completion_tokens)?;
        let total = tokens("total_tokens", record.total_tokens)?;
        let embedding = tokens("embedding_tokens", record.embedding_tokens)?;
        let created = at(record.created_at);
        self.db.write(|c| {
            require_user(c, user)?;
            if let Some(conversation) = record.conversation_id {
                require_conversation(c, user, conversation)?;
            }
            if let Some(message) = record.message_id {
                let conversation = message_conversation(c, user, message)?;
                record.check_message_conversation(conversation)?;
            }
            if let Some(log) = record.agent_log_id {
                let owned = c.row(
                    "SELECT 1 FROM agent_logs a JOIN messages m ON m.id = a.message_id
                     JOIN conversations v ON v.id = m.conversation_id
                     WHERE a.id = $1 AND v.user_id = $2",
                    &[&log.stored(), &user.stored()],
                )?;
                if owned.is_none() {
                    return Err(Error::not_found("agent log", log));
                }
            }
            let inserted = c.execute(
                "INSERT INTO token_usage (id, user_id, conversation_id, message_id, agent_log_id,
                     provider, model, operation_type, prompt_tokens, completion_tokens,
                     total_tokens, embedding_tokens, estimated_cost, currency, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
                &[
                    &record.id.stored(),
                    &user.stored(),
                    &record.conversation_id.map(|v| v.stored()),
                    &record.message_id.map(|m| m.stored()),
                    &record.agent_log_id.map(|a| a.stored()),
                    &record.provider,
                    &record.model,
                    &record.operation_type.as_str(),
                    &prompt,
                    &completion,
                    &total,
                    &embedding,
                    &record.estimated_cost,
                    &record.currency,
                    &created,
                ],
            );
            // A link deleted since it was checked: what it pointed to is gone.
            gone_as_not_found(inserted, "usage link", record.id)
        })?;
        Ok(record)
    }

    fn usage_by_provider(&self, user: UserId, range: TimeRange) -> Result<Vec<UsageBreakdown>> {
        self.user_usage(
            user,
            range,
            &grouped("provider, operation_type", true),
            breakdown_from_row,
        )
    }

    fn system_usage(&self, range: TimeRange) -> Result<Vec<UsageBreakdown>> {
        self.everyone_usage(
            range,
            &grouped("provider, operation_type", false),
            breakdown_from_row,
        )
    }

    fn usage_totals(&self, user: UserId, range: TimeRange) -> Result<UsageTotals> {
        let totals = self.user_usage(
            user,
            range,
            &format!(
                "SELECT {TOTALS} FROM token_usage
                 WHERE user_id = $1 AND created_at >= $2 AND created_at < $3"
            ),
            |row| totals_from_row(row, 0),
        )?;
        Ok(totals.into_iter().next().unwrap_or_default())
    }

    fn conversation_usage(
        &self,
        user: UserId,
        conversation: ConversationId,
    ) -> Result<UsageTotals> {
        let row = self.db.read_snapshot(|c| {
            require_conversation(c, user, conversation)?;
            c.row(
                &format!("SELECT {TOTALS} FROM token_usage WHERE conversation_id = $1"),
                &[&conversation.stored()],
            )
        })?;
        row.map(|row| totals_from_row(&row, 0))
            .transpose()
            .map(Option::unwrap_or_default)
    }

    fn daily_usage(&self, user: UserId, range: TimeRange) -> Result<Vec<DailyUsage>> {
        self.user_usage(
            user,
            range,
            &format!(
                "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, {TOTALS}
                 FROM token_usage
                 WHERE user_id = $1 AND created_at >= $2 AND created_at < $3
                 GROUP BY day ORDER BY day"
            ),
            |row| {
                Ok(DailyUsage {
                    day: row.text(0)?,
                    totals: totals_from_row(row, 1)?,
                })
            },
        )
    }

    fn usage_by_model(&self, user: UserId, range: TimeRange) -> Result<Vec<ModelUsage>> {
        self.user_usage(
            user,
            range,
            &grouped("provider, model", true),
            model_from_row,
        )
    }

    fn system_usage_by_model(&self, range: TimeRange) -> Result<Vec<ModelUsage>> {
        self.everyone_usage(range, &grouped("provider, model", false), model_from_row)
    }

    fn usage_records(&self, user: UserId, range: TimeRange) -> Result<Vec<UsageRecord>> {
        self.user_usage(
            user,
            range,
            &format!(
                "SELECT {RECORD_COLUMNS} FROM token_usage
                 WHERE user_id = $1 AND created_at >= $2 AND created_at < $3
                 ORDER BY created_at, id"
            ),
            |row| {
                Ok(UsageRecord {
                    id: row.id(0)?,
                    user_id: row.id(1)?,
                    conversation_id: row.opt_id(2)?,
                    message_id: row.opt_id(3)?,
                    agent_log_id: row.opt_id(4)?,
                    provider: row.text(5)?,
                    model: row.text(6)?,
                    operation_type: row.parse(7)?,
                    prompt_tokens: row.uint(8)?,
                    completion_tokens: row.uint(9)?,
                    total_tokens: row.uint(10)?,
                    embedding_tokens: row.uint(11)?,
                    estimated_cost: row.value(12)?,
                    currency: row.text(13)?,
                    created_at: row.ts(14)?,
                })
            },
        )
    }
}
