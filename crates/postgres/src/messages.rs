//! [`MessageStore`] on PostgreSQL.
//!
//! An append is one transaction of three statements: bump the conversation (which also
//! proves it is the user's and active, and yields the message's position), look up the
//! parent, insert the message with its search vector. The bump comes first: its row lock,
//! held until commit, queues the appends to one conversation, and when it is granted the
//! previous append has committed, so the parent lookup (a statement of its own, with a
//! fresh snapshot at READ COMMITTED) sees the previous message.

use chatstore::Cursor;
use chatstore::messages::PreparedMessage;
use chatstore::{
    ConversationId, ConversationOp, Error, Message, MessageId, MessageMetadata, MessageQuery,
    MessageRole, MessageStore, NewMessage, Order, Page, RagMetadata, Result, RoleCounts, UserId,
    validate,
};
use postgres::Row;
use postgres::types::ToSql;
use std::sync::LazyLock;

use crate::PgStore;
use crate::conversations::load_conversation;
use crate::db::Conn;
use crate::row::{RowExt, UuidId, at, json_or_null};

/// The columns [`message_from_row`] reads, the conversation id last so that readers that
/// already know it can skip decoding it.
pub(crate) const MESSAGE_COLUMNS: &str = "m.id, m.seq, m.parent_id, m.role, m.content, \
     m.request_id, m.source, m.tokens, m.model_name, m.latency_ms, m.confidence_score, \
     m.low_confidence_warning, m.rag_metadata, m.files, m.created_at, m.conversation_id";

/// Reads a message from [`MESSAGE_COLUMNS`]; `conversation` is its conversation when the
/// caller already knows it.
fn message_from_row(row: &Row, conversation: Option<ConversationId>) -> Result<Message> {
    let rag: RagMetadata = row.json_or_default(12)?;
    Ok(Message {
        id: row.id(0)?,
        conversation_id: match conversation {
            Some(id) => id,
            None => row.id(15)?,
        },
        seq: row.uint(1)?,
        parent_id: row.opt_id(2)?,
        role: row.parse(3)?,
        content: row.text(4)?,
        metadata: MessageMetadata {
            request_id: row.opt_text(5)?,
            source: row.opt_text(6)?,
            tokens: row.opt_uint(7)?,
            model_name: row.opt_text(8)?,
            latency_ms: row.opt_uint(9)?,
            confidence_score: row.value(10)?,
            low_confidence_warning: row.boolean(11)?,
            ..MessageMetadata::default()
        }
        .with_rag(rag),
        files: row.json_or_default(13)?,
        created_at: row.ts(14)?,
    })
}

/// Maps rows whose conversation the caller does not know.
pub(crate) fn any_message(row: &Row) -> Result<Message> {
    message_from_row(row, None)
}

/// The user's message (through its conversation), or not-found.
pub(crate) fn load_message(
    conn: &mut Conn<'_, '_>,
    user: UserId,
    id: MessageId,
) -> Result<Message> {
    conn.row(
        &format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m
             JOIN conversations v ON v.id = m.conversation_id
             WHERE m.id = $1 AND v.user_id = $2"
        ),
        &[&id.stored(), &user.stored()],
    )?
    .map(|row| any_message(&row))
    .transpose()?
    .ok_or_else(|| Error::not_found("message", id))
}

impl PgStore {
    /// Runs a query on the messages of the user's conversation ($1 the conversation, $2
    /// the user, then `extra`); when it finds nothing, tells an empty conversation from
    /// one that is not the user's.
    fn conversation_messages(
        &self,
        user: UserId,
        conversation: ConversationId,
        sql: &str,
        extra: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Message>> {
        let ids = (conversation.stored(), user.stored());
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&ids.0, &ids.1];
        params.extend_from_slice(extra);
        self.db.read(|c| {
            let found = c
                .rows(sql, &params)?
                .iter()
                .map(|row| message_from_row(row, Some(conversation)))
                .collect::<Result<Vec<_>>>()?;
            if found.is_empty() {
                load_conversation(c, user, conversation)?;
            }
            Ok(found)
        })
    }
}

/// `WHERE` condition restricting `m` to conversation $1 of user $2.
const OWNED: &str = "m.conversation_id = $1 AND EXISTS (SELECT 1 FROM conversations v WHERE v.id = $1 AND v.user_id = $2)";

/// The last $3 messages, newest first.
static LAST_MESSAGES: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {MESSAGE_COLUMNS} FROM messages m WHERE {OWNED} ORDER BY m.seq DESC LIMIT $3")
});

impl MessageStore for PgStore {
    fn append_message(
        &self,
        user: UserId,
        conversation: ConversationId,
        message: &NewMessage,
    ) -> Result<Message> {
        let PreparedMessage { id, latency_ms } = message.prepare(
            user,
            self.config.max_message_bytes,
            self.config.max_metadata_bytes,
        )?;
        let rag = json_or_null(&message.metadata.rag())?;
        let files = json_or_null(&message.files)?;
        let (search_text, search_parts) = crate::search::search_texts(&message.content);
        let meta = &message.metadata;
        let tokens = meta.tokens.map(i64::from);
        let now = self.now();
        let now_at = at(now);
        let (conversation_id, user_id) = (conversation.stored(), user.stored());
        let (seq, parent_id) = self.db.write(|c| {
            let seq = c.row(
                "UPDATE conversations SET message_count = message_count + 1,
                        last_message_at = $1, last_activity_at = $1, updated_at = $1,
                        is_hidden = CASE WHEN auto_hidden THEN false ELSE is_hidden END,
                        hidden_at = CASE WHEN auto_hidden THEN NULL ELSE hidden_at END,
                        auto_hidden = false
                 WHERE id = $2 AND user_id = $3 AND status = 'active'
                   AND (expires_at IS NULL OR expires_at > $1)
                 RETURNING message_count",
                &[&now_at, &conversation_id, &user_id],
            )?;
            let Some(seq) = seq.map(|row| row.value::<i64>(0)).transpose()? else {
                // Not the user's, or not in a status that takes messages: say which.
                let current = load_conversation(c, user, conversation)?;
                current.check_unexpired(now)?;
                current.check(ConversationOp::Append)?;
                return Err(Error::Backend {
                    detail: format!("conversation {conversation} refused a message it allows"),
                });
            };
            // A named parent must be in this conversation; by default the parent is the
            // previous message, found inside the INSERT itself.
            if let Some(parent) = message.parent {
                let found = c.row(
                    "SELECT 1 FROM messages WHERE id = $1 AND conversation_id = $2",
                    &[&parent.stored(), &conversation_id],
                )?;
                if found.is_none() {
                    return Err(Error::not_found("message", parent));
                }
            }
            let inserted = c.row(
                "INSERT INTO messages (id, conversation_id, seq, parent_id, role, content,
                     request_id, source, tokens, model_name, latency_ms, confidence_score,
                     low_confidence_warning, rag_metadata, files, created_at, search_vector)
                 VALUES ($1, $2, $3::bigint,
                         coalesce($4, (SELECT p.id FROM messages p
                                       WHERE p.conversation_id = $2 AND p.seq = $3::bigint - 1)),
                         $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                         to_tsvector('simple', $17))
                 RETURNING parent_id",
                &[
                    &id.stored(),
                    &conversation_id,
                    &seq,
                    &message.parent.map(|p| p.stored()),
                    &message.role.as_str(),
                    &message.content,
                    &meta.request_id,
                    &meta.source,
                    &tokens,
                    &meta.model_name,
                    &latency_ms,
                    &meta.confidence_score,
                    &meta.low_confidence_warning,
                    &rag,
                    &files,
                    &now_at,
                    &search_text,
                ],
            )?;
            let parent_id: Option<MessageId> =
                inserted.map(|row| row.opt_id(0)).transpose()?.flatten();
            if !search_parts.is_empty() {
                crate::search::add_search_parts(c, id.stored(), &search_parts)?;
            }
            Ok((seq, parent_id))
        })?;
        Ok(Message {
            id,
            conversation_id: conversation,
            seq: u64::try_from(seq).map_err(|_| Error::Corrupt {
                detail: format!("conversation {conversation} has message count {seq}"),
            })?,
            parent_id,
            role: message.role,
            content: message.content.clone(),
            metadata: message.metadata.clone(),
            files: message.files.clone(),
            created_at: now,
        })
    }

    fn message(&self, user: UserId, id: MessageId) -> Result<Message> {
        self.db.read(|c| load_message(c, user, id))
    }

    fn last_messages(
        &self,
        user: UserId,
        conversation: ConversationId,
        n: u32,
    ) -> Result<Vec<Message>> {
        let n = i64::from(validate::page_limit(n)?);
        let mut messages = self.conversation_messages(user, conversation, &LAST_MESSAGES, &[&n])?;
        messages.reverse();
        Ok(messages)
    }

    fn messages(
        &self,
        user: UserId,
        conversation: ConversationId,
        query: &MessageQuery,
    ) -> Result<Page<Message>> {
        let limit = validate::page_limit(query.limit)?;
        let after = query.cursor.as_ref().map(Cursor::key_u64).transpose()?;
        let (compare, direction, start) = match query.order {
            Order::Asc => (">", "ASC", 0),
            Order::Desc => ("<", "DESC", i64::MAX),
        };
        let after = after.map_or(start, |seq| i64::try_from(seq).unwrap_or(i64::MAX));
        let fetch = i64::from(limit) + 1;
        let items = self.conversation_messages(
            user,
            conversation,
            &format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE {OWNED} AND m.seq {compare} $3
                 ORDER BY m.seq {direction} LIMIT $4"
            ),
            &[&after, &fetch],
        )?;
        Ok(Page::from_rows(items, limit, |m| {
            Cursor::from_key(&[&m.seq])
        }))
    }

    fn branch(&self, user: UserId, leaf: MessageId, limit: u32) -> Result<Vec<Message>> {
        let limit = i64::from(validate::page_limit(limit)?);
        let sql = format!(
            "WITH RECURSIVE chain(id, depth) AS (
                 SELECT m.id, 0::bigint FROM messages m
                 JOIN conversations v ON v.id = m.conversation_id
                 WHERE m.id = $1 AND v.user_id = $2
                 UNION ALL
                 SELECT m.parent_id, chain.depth + 1 FROM chain
                 JOIN messages m ON m.id = chain.id
                 WHERE m.parent_id IS NOT NULL AND chain.depth + 1 < $3
             )
             SELECT {MESSAGE_COLUMNS} FROM chain JOIN messages m ON m.id = chain.id
             ORDER BY chain.depth DESC"
        );
        let found = self.db.read(|c| {
            c.rows(&sql, &[&leaf.stored(), &user.stored(), &limit])?
                .iter()
                .map(any_message)
                .collect::<Result<Vec<_>>>()
        })?;
        if found.is_empty() {
            return Err(Error::not_found("message", leaf));
        }
        Ok(found)
    }

    fn children(&self, user: UserId, parent: MessageId) -> Result<Vec<Message>> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m
             WHERE m.conversation_id = $1 AND m.parent_id = $2 ORDER BY m.seq"
        );
        self.db.read_snapshot(|c| {
            let parent = load_message(c, user, parent)?;
            c.rows(
                &sql,
                &[&parent.conversation_id.stored(), &parent.id.stored()],
            )?
            .iter()
            .map(|row| message_from_row(row, Some(parent.conversation_id)))
            .collect()
        })
    }

    fn count_messages_by_role(
        &self,
        user: UserId,
        conversation: Option<ConversationId>,
    ) -> Result<RoleCounts> {
        let conversation_id = conversation.map(|c| c.stored());
        self.db.read_snapshot(|c| {
            if let Some(conversation) = conversation {
                load_conversation(c, user, conversation)?;
            }
            let rows = c.rows(
                "SELECT m.role, count(*) FROM messages m
                 JOIN conversations v ON v.id = m.conversation_id
                 WHERE v.user_id = $1 AND ($2::uuid IS NULL OR v.id = $2)
                 GROUP BY m.role",
                &[&user.stored(), &conversation_id],
            )?;
            rows.iter()
                .map(|row| Ok((row.parse::<MessageRole>(0)?, row.uint::<u64>(1)?)))
                .collect::<Result<RoleCounts>>()
        })
    }

    fn messages_by_source(
        &self,
        user: UserId,
        conversation: ConversationId,
        source: &str,
    ) -> Result<Vec<Message>> {
        self.conversation_messages(
            user,
            conversation,
            &format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE {OWNED} AND m.source = $3
                 ORDER BY m.seq"
            ),
            &[&source],
        )
    }
}
