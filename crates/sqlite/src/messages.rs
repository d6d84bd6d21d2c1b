//! [`MessageStore`] on SQLite.
//!
//! An append is one transaction of three statements: bump the conversation (which also
//! proves it is the user's and active, and yields the message's position), look up the
//! parent, insert the message (a trigger adds it to the full-text index).

use chatstore::Cursor;
use chatstore::messages::PreparedMessage;
use chatstore::{
    ConversationId, ConversationOp, Error, Message, MessageId, MessageMetadata, MessageQuery,
    MessageRole, MessageStore, NewMessage, Order, Page, RagMetadata, Result, RoleCounts, Timestamp,
    UserId, validate,
};
use rusqlite::{Row, ToSql};
use std::sync::LazyLock;

use crate::SqliteStore;
use crate::conversations::load_conversation;
use crate::db::Conn;
use crate::row::{RowExt, json_or_null};

/// The columns [`message_from_row`] reads, the conversation id last so that readers that
/// already know it can skip decoding it.
pub(crate) const MESSAGE_COLUMNS: &str = "m.id, m.seq, m.parent_id, m.role, m.content, \
     m.request_id, m.source, m.tokens, m.model_name, m.latency_ms, m.confidence_score, \
     m.low_confidence_warning, m.rag_metadata, m.files, m.created_at, m.conversation_id";

/// Reads a message from [`MESSAGE_COLUMNS`]; `conversation` is its conversation when the
/// caller already knows it.
fn message_from_row(row: &Row<'_>, conversation: Option<ConversationId>) -> Result<Message> {
    let rag: RagMetadata = row.json(12)?;
    Ok(Message {
        id: row.parse(0)?,
        conversation_id: match conversation {
            Some(id) => id,
            None => row.parse(15)?,
        },
        seq: row.uint(1)?,
        parent_id: row.opt_parse(2)?,
        role: row.parse(3)?,
        content: row.text(4)?,
        metadata: MessageMetadata {
            request_id: row.opt_text(5)?,
            source: row.opt_text(6)?,
            tokens: row.opt_uint(7)?,
            model_name: row.opt_text(8)?,
            latency_ms: row.opt_uint(9)?,
            confidence_score: row.opt_real(10)?,
            low_confidence_warning: row.boolean(11)?,
            ..MessageMetadata::default()
        }
        .with_rag(rag),
        files: row.json(13)?,
        created_at: row.ts(14)?,
    })
}

/// Maps rows whose conversation the caller does not know.
pub(crate) fn any_message(row: &Row<'_>) -> Result<Message> {
    message_from_row(row, None)
}

/// The user's message (through its conversation), or not-found.
pub(crate) fn load_message(conn: &Conn<'_>, user: UserId, id: MessageId) -> Result<Message> {
    conn.row(
        &format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m
             JOIN conversations v ON v.id = m.conversation_id
             WHERE m.id = ?1 AND v.user_id = ?2"
        ),
        &[&id.to_string(), &user.to_string()],
        any_message,
    )?
    .ok_or_else(|| Error::not_found("message", id))
}

impl SqliteStore {
    /// Runs a query on the messages of the user's conversation; when it finds nothing,
    /// tells an empty conversation from one that is not the user's.
    fn conversation_messages(
        &self,
        user: UserId,
        conversation: ConversationId,
        sql: &str,
        extra: &[&dyn ToSql],
    ) -> Result<Vec<Message>> {
        let ids = (conversation.to_string(), user.to_string());
        let mut params: Vec<&dyn ToSql> = vec![&ids.0, &ids.1];
        params.extend_from_slice(extra);
        self.db.read(|c| {
            let found = c.rows(sql, &params, |row| {
                message_from_row(row, Some(conversation))
            })?;
            if found.is_empty() {
                load_conversation(c, user, conversation)?;
            }
            Ok(found)
        })
    }
}

/// `WHERE` condition restricting `m` to conversation ?1 of user ?2.
const OWNED: &str = "m.conversation_id = ?1 AND EXISTS (SELECT 1 FROM conversations v WHERE v.id = ?1 AND v.user_id = ?2)";

/// Messages with files after id ?1, in id order, at most ?2.
pub(crate) static WITH_FILES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m
         WHERE m.files IS NOT NULL AND m.id > ?1 ORDER BY m.id LIMIT ?2 + 0"
    )
});

/// The last ?3 messages, newest first. (`?3 + 0`: a bare `LIMIT ?` makes SQLite
/// re-prepare the statement on every run.)
static LAST_MESSAGES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE {OWNED} ORDER BY m.seq DESC LIMIT ?3 + 0"
    )
});

/// What an append writes, owned, so that whichever thread writes the group can run it.
struct AppendRow {
    user: UserId,
    conversation: ConversationId,
    now: Timestamp,
    id: String,
    now_text: String,
    conversation_text: String,
    user_text: String,
    parent: Option<String>,
    role: &'static str,
    content: String,
    metadata: MessageMetadata,
    latency_ms: Option<i64>,
    rag: Option<String>,
    files: Option<String>,
}

/// Appends `row` to its conversation: the conversation's count and times move on, and
/// the message takes the next position. Returns the position and the parent.
///
/// No statement here has a `RETURNING` clause: SQLite gathers returned rows in a
/// temporary table and journals such a statement on its own inside the transaction,
/// which cost appends about a sixth of their work.
fn write_append(c: &Conn<'_>, row: &AppendRow) -> Result<(i64, Option<String>)> {
    let bumped = c.execute(
        "UPDATE conversations SET message_count = message_count + 1,
                last_message_at = ?1, last_activity_at = ?1, updated_at = ?1,
                is_hidden = CASE WHEN auto_hidden = 1 THEN 0 ELSE is_hidden END,
                hidden_at = CASE WHEN auto_hidden = 1 THEN NULL ELSE hidden_at END,
                auto_hidden = 0
         WHERE id = ?2 AND user_id = ?3 AND status = 'active'
           AND (expires_at IS NULL OR expires_at > ?1)",
        &[&row.now_text, &row.conversation_text, &row.user_text],
    )?;
    if bumped == 0 {
        // Not the user's, or not in a status that takes messages: say which.
        let current = load_conversation(c, row.user, row.conversation)?;
        current.check_unexpired(row.now)?;
        current.check(ConversationOp::Append)?;
        return Err(Error::Backend {
            detail: format!(
                "conversation {} refused a message it allows",
                row.conversation
            ),
        });
    }
    // The position the update gave the message, and the message before it: the parent
    // unless the caller named one.
    let (seq, previous) = c
        .row(
            "SELECT v.message_count,
                    (SELECT p.id FROM messages p
                     WHERE p.conversation_id = v.id AND p.seq = v.message_count - 1)
             FROM conversations v WHERE v.id = ?1",
            &[&row.conversation_text],
            |r| Ok((r.int(0)?, r.opt_text(1)?)),
        )?
        .ok_or_else(|| Error::not_found("conversation", row.conversation))?;
    let parent_id = match &row.parent {
        Some(parent) => {
            let found = c.exists(
                "SELECT 1 FROM messages WHERE id = ?1 AND conversation_id = ?2",
                &[parent, &row.conversation_text],
            )?;
            if !found {
                return Err(Error::not_found("message", parent));
            }
            Some(parent.clone())
        }
        None => previous,
    };
    let meta = &row.metadata;
    c.execute(
        "INSERT INTO messages (id, conversation_id, seq, parent_id, role, content,
             request_id, source, tokens, model_name, latency_ms, confidence_score,
             low_confidence_warning, rag_metadata, files, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        &[
            &row.id,
            &row.conversation_text,
            &seq,
            &parent_id,
            &row.role,
            &row.content,
            &meta.request_id,
            &meta.source,
            &meta.tokens,
            &meta.model_name,
            &row.latency_ms,
            &meta.confidence_score,
            &meta.low_confidence_warning,
            &row.rag,
            &row.files,
            &row.now_text,
        ],
    )?;
    Ok((seq, parent_id))
}

impl MessageStore for SqliteStore {
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
        let now = self.now();
        let row = AppendRow {
            user,
            conversation,
            now,
            id: id.to_string(),
            now_text: now.to_string(),
            conversation_text: conversation.to_string(),
            user_text: user.to_string(),
            parent: message.parent.map(|p| p.to_string()),
            role: message.role.as_str(),
            content: message.content.clone(),
            metadata: message.metadata.clone(),
            latency_ms,
            rag: json_or_null(&message.metadata.rag())?,
            files: json_or_null(&message.files)?,
        };
        // Appends from many threads at once share transactions (group commit).
        let (seq, parent_id) = self
            .appends
            .write(&self.db, move |c| write_append(c, &row))?;
        self.indexer.appended(1);
        Ok(Message {
            id,
            conversation_id: conversation,
            seq: seq as u64,
            parent_id: parent_id.map(|p| p.parse()).transpose()?,
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
        let n = validate::page_limit(n)?;
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
        let items = self.conversation_messages(
            user,
            conversation,
            &format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE {OWNED} AND m.seq {compare} ?3
                 ORDER BY m.seq {direction} LIMIT ?4 + 0"
            ),
            &[&after, &(limit + 1)],
        )?;
        Ok(Page::from_rows(items, limit, |m| {
            Cursor::from_key(&[&m.seq])
        }))
    }

    fn branch(&self, user: UserId, leaf: MessageId, limit: u32) -> Result<Vec<Message>> {
        let limit = i64::from(validate::page_limit(limit)?);
        let found = self.db.read(|c| {
            c.rows(
                &format!(
                    "WITH RECURSIVE chain(id, depth) AS (
                         SELECT m.id, 0 FROM messages m
                         JOIN conversations v ON v.id = m.conversation_id
                         WHERE m.id = ?1 AND v.user_id = ?2
                         UNION ALL
                         SELECT m.parent_id, chain.depth + 1 FROM chain
                         JOIN messages m ON m.id = chain.id
                         WHERE m.parent_id IS NOT NULL AND chain.depth + 1 < ?3
                     )
                     SELECT {MESSAGE_COLUMNS} FROM chain JOIN messages m ON m.id = chain.id
                     ORDER BY chain.depth DESC"
                ),
                &[&leaf.to_string(), &user.to_string(), &limit],
                any_message,
            )
        })?;
        if found.is_empty() {
            return Err(Error::not_found("message", leaf));
        }
        Ok(found)
    }

    fn children(&self, user: UserId, parent: MessageId) -> Result<Vec<Message>> {
        self.db.read_snapshot(|c| {
            let parent = load_message(c, user, parent)?;
            c.rows(
                &format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages m
                     WHERE m.conversation_id = ?1 AND m.parent_id = ?2 ORDER BY m.seq"
                ),
                &[&parent.conversation_id.to_string(), &parent.id.to_string()],
                |row| message_from_row(row, Some(parent.conversation_id)),
            )
        })
    }

    fn count_messages_by_role(
        &self,
        user: UserId,
        conversation: Option<ConversationId>,
    ) -> Result<RoleCounts> {
        let conversation_text = conversation.map(|c| c.to_string());
        self.db.read_snapshot(|c| {
            if let Some(conversation) = conversation {
                load_conversation(c, user, conversation)?;
            }
            let counts = c.rows(
                "SELECT m.role, count(*) FROM messages m
                 JOIN conversations v ON v.id = m.conversation_id
                 WHERE v.user_id = ?1 AND (?2 IS NULL OR v.id = ?2)
                 GROUP BY m.role",
                &[&user.to_string(), &conversation_text],
                |row| Ok((row.parse::<MessageRole>(0)?, row.uint::<u64>(1)?)),
            )?;
            Ok(counts.into_iter().collect())
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
                "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE {OWNED} AND m.source = ?3
                 ORDER BY m.seq"
            ),
            &[&source],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::tests::{assert_prepared_once, scratch};

    #[test]
    fn last_messages_statement_is_prepared_once() {
        let (_dir, _store, conn) = scratch();
        let ids = (ConversationId::new().to_string(), UserId::new().to_string());
        assert_prepared_once(&conn, &LAST_MESSAGES, &[&ids.0, &ids.1, &20]);
    }
}
