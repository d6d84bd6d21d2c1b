//! [`ConversationStore`] on PostgreSQL.
//!
//! Every change that depends on the conversation's status locks its row first
//! (`SELECT ... FOR UPDATE`), so that two changes racing each other are checked one after
//! the other (see "Check-then-write sequences" in `docs/architecture.md`). Selected
//! documents are locked `FOR SHARE` before the conversation (the lock order: user,
//! documents, conversation), so that a document deleted meanwhile is either unselected
//! after the selection lands or found gone.

use chatstore::Cursor;
use chatstore::conversations::{prepare_model, prepare_title};
use chatstore::{
    Cleanup, Conversation, ConversationId, ConversationOp, ConversationQuery, ConversationStatus,
    ConversationStore, ConversationSummary, DocumentId, Error, MessageId, NewConversation, Page,
    Result, Timestamp, UserId, Visibility, validate,
};
use postgres::Row;
use postgres::types::ToSql;
use uuid::Uuid;

use crate::PgStore;
use crate::db::Conn;
use crate::row::{RowExt, UuidId, at, json_or_null};

use ConversationStatus::{Active, Archived, Closed};

pub(crate) const CONVERSATION_COLUMNS: &str = "v.id, v.user_id, v.title, v.status, \
     v.message_count, v.created_at, v.updated_at, v.last_message_at, v.last_opened_at, \
     v.archived_at, v.closed_at, v.deleted_at, v.is_hidden, v.hidden_at, v.auto_hidden, \
     v.llm_provider, v.llm_model, v.selected_document_ids, v.expires_at";

/// The listing query: statuses a text array ($2), visibility a boolean array of the
/// `is_hidden` values shown ($3), the page size $4, the time expired temporary
/// conversations are left out at ($5). It reads only the covering index.
macro_rules! list_sql {
    ($keyset:literal) => {
        concat!(
            "SELECT v.id, v.title, v.status, v.message_count, v.last_activity_at, v.is_hidden,
                    v.auto_hidden
             FROM conversations v
             WHERE v.user_id = $1 AND v.status = ANY($2) AND v.is_hidden = ANY($3)
               AND (v.expires_at IS NULL OR v.expires_at > $5)",
            $keyset,
            " ORDER BY v.last_activity_at DESC, v.id DESC LIMIT $4"
        )
    };
}

/// The first page of a listing.
const LIST_FIRST_PAGE: &str = list_sql!("");
/// A later page: rows after the cursor ($6, $7).
const LIST_NEXT_PAGE: &str = list_sql!(" AND (v.last_activity_at, v.id) < ($6, $7)");

/// The statuses a listing shows (every status but deleted when none are named).
fn listed_statuses(statuses: &[ConversationStatus]) -> Vec<&'static str> {
    if statuses.is_empty() {
        [Active, Archived, Closed]
            .iter()
            .map(|s| s.as_str())
            .collect()
    } else {
        statuses.iter().map(|s| s.as_str()).collect()
    }
}

fn summary_from_row(row: &Row) -> Result<ConversationSummary> {
    Ok(ConversationSummary {
        id: row.id(0)?,
        title: row.opt_text(1)?,
        status: row.parse(2)?,
        message_count: row.uint(3)?,
        last_activity_at: row.ts(4)?,
        is_hidden: row.boolean(5)?,
        auto_hidden: row.boolean(6)?,
    })
}

fn conversation_from_row(row: &Row) -> Result<Conversation> {
    Ok(Conversation {
        id: row.id(0)?,
        user_id: row.id(1)?,
        title: row.opt_text(2)?,
        status: row.parse(3)?,
        message_count: row.uint(4)?,
        created_at: row.ts(5)?,
        updated_at: row.ts(6)?,
        last_message_at: row.opt_ts(7)?,
        last_opened_at: row.opt_ts(8)?,
        archived_at: row.opt_ts(9)?,
        closed_at: row.opt_ts(10)?,
        deleted_at: row.opt_ts(11)?,
        is_hidden: row.boolean(12)?,
        hidden_at: row.opt_ts(13)?,
        auto_hidden: row.boolean(14)?,
        llm_provider: row.opt_text(15)?,
        llm_model: row.opt_text(16)?,
        selected_document_ids: row.json_or_default(17)?,
        expires_at: row.opt_ts(18)?,
    })
}

/// The conversation in `row`, or not-found.
fn found(row: Option<Row>, id: ConversationId) -> Result<Conversation> {
    row.map(|row| conversation_from_row(&row))
        .transpose()?
        .ok_or_else(|| Error::not_found("conversation", id))
}

/// The user's conversation, or not-found (also when it belongs to someone else).
pub(crate) fn load_conversation(
    conn: &mut Conn<'_, '_>,
    user: UserId,
    id: ConversationId,
) -> Result<Conversation> {
    let row = conn.row(
        &format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations v WHERE v.id = $1 AND v.user_id = $2"
        ),
        &[&id.stored(), &user.stored()],
    )?;
    found(row, id)
}

/// [`load_conversation`], locking the row until the transaction ends: the status read
/// stays the status until the change is written.
fn lock_conversation(
    conn: &mut Conn<'_, '_>,
    user: UserId,
    id: ConversationId,
) -> Result<Conversation> {
    let row = conn.row(
        &format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations v
             WHERE v.id = $1 AND v.user_id = $2 FOR UPDATE"
        ),
        &[&id.stored(), &user.stored()],
    )?;
    found(row, id)
}

/// The ids of messages with attachments in the conversations `condition` selects
/// (a condition on `v`, the conversations table).
pub(crate) fn messages_with_files(
    conn: &mut Conn<'_, '_>,
    condition: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<MessageId>> {
    conn.rows(
        &format!(
            "SELECT m.id FROM messages m JOIN conversations v ON v.id = m.conversation_id
             WHERE {condition} AND m.files IS NOT NULL"
        ),
        params,
    )?
    .iter()
    .map(|row| row.id(0))
    .collect()
}

/// Locks (`FOR SHARE`) the documents of a checked selection
/// ([`validate::document_selection`]) that are visible to the user, so that none is
/// deleted before the transaction ends; returns the first one that is not (missing, or
/// not the user's and not global).
fn lock_selection(
    conn: &mut Conn<'_, '_>,
    user: UserId,
    documents: &[DocumentId],
) -> Result<Option<DocumentId>> {
    if documents.is_empty() {
        return Ok(None);
    }
    let ids: Vec<Uuid> = documents.iter().map(UuidId::stored).collect();
    let visible: Vec<Uuid> = conn
        .rows(
            "SELECT id FROM documents WHERE id = ANY($1) AND (owner_id = $2 OR scope = 'global')
             ORDER BY id FOR SHARE",
            &[&ids, &user.stored()],
        )?
        .iter()
        .map(|row| row.value::<Uuid>(0))
        .collect::<Result<_>>()?;
    Ok(documents
        .iter()
        .find(|d| !visible.contains(&d.stored()))
        .copied())
}

/// The JSON to store for a checked selection whose documents are locked and visible.
fn selection_json(documents: &[DocumentId]) -> Result<Option<serde_json::Value>> {
    let ids: Vec<String> = documents.iter().map(ToString::to_string).collect();
    json_or_null(&ids)
}

impl PgStore {
    /// Locks the user's conversation, checks its status allows `op`, applies the `SET`
    /// clause (parameters: $1 the id, $2 now, then `params`) and returns the result.
    fn change(
        &self,
        user: UserId,
        id: ConversationId,
        op: ConversationOp,
        set: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Conversation> {
        let time = self.now();
        let now = at(time);
        let stored = id.stored();
        let sql = format!(
            "UPDATE conversations v SET {set} WHERE v.id = $1 RETURNING {CONVERSATION_COLUMNS}"
        );
        self.db.write(|c| {
            let current = lock_conversation(c, user, id)?;
            current.check_unexpired(time)?;
            current.check(op)?;
            let mut all: Vec<&(dyn ToSql + Sync)> = vec![&stored, &now];
            all.extend_from_slice(params);
            let row = c.row(&sql, &all)?;
            found(row, id)
        })
    }
}

impl ConversationStore for PgStore {
    fn create_conversation(&self, user: UserId, new: &NewConversation) -> Result<Conversation> {
        let new = new.prepare()?;
        let id = ConversationId::new();
        let time = self.now();
        let now = at(time);
        let expires_at = new.expires_at(time).map(at);
        let selection = selection_json(&new.selected_document_ids)?;
        self.db.write(|c| {
            crate::users::require_user(c, user)?;
            if let Some(missing) = lock_selection(c, user, &new.selected_document_ids)? {
                return Err(Error::not_found("document", missing));
            }
            let row = c.row(
                &format!(
                    "INSERT INTO conversations AS v (id, user_id, title, created_at, updated_at,
                         last_activity_at, llm_provider, llm_model, selected_document_ids,
                         expires_at)
                     VALUES ($1, $2, $3, $4, $4, $4, $5, $6, $7, $8)
                     RETURNING {CONVERSATION_COLUMNS}"
                ),
                &[
                    &id.stored(),
                    &user.stored(),
                    &new.title,
                    &now,
                    &new.llm_provider,
                    &new.llm_model,
                    &selection,
                    &expires_at,
                ],
            )?;
            found(row, id)
        })
    }

    fn conversation(&self, user: UserId, id: ConversationId) -> Result<Conversation> {
        let found = self.db.read(|c| load_conversation(c, user, id))?;
        found.check_unexpired(self.now())?;
        Ok(found)
    }

    fn list_conversations(
        &self,
        user: UserId,
        query: &ConversationQuery,
    ) -> Result<Page<ConversationSummary>> {
        let limit = validate::page_limit(query.limit)?;
        let hidden: Vec<bool> = match query.visibility {
            Visibility::Visible => vec![false],
            Visibility::Hidden => vec![true],
            Visibility::All => vec![false, true],
        };
        let after = query
            .cursor
            .as_ref()
            .map(Cursor::key2::<Timestamp, ConversationId>)
            .transpose()?
            .map(|(time, id)| (at(time), id.stored()));
        let statuses = listed_statuses(&query.statuses);
        let (owner, fetch, now) = (user.stored(), i64::from(limit) + 1, at(self.now()));
        let rows = self.db.read(|c| match &after {
            None => c.rows(LIST_FIRST_PAGE, &[&owner, &statuses, &hidden, &fetch, &now]),
            Some((time, id)) => c.rows(
                LIST_NEXT_PAGE,
                &[&owner, &statuses, &hidden, &fetch, &now, time, id],
            ),
        })?;
        let items = rows
            .iter()
            .map(summary_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(items, limit, |v| {
            Cursor::from_key(&[&v.last_activity_at, &v.id])
        }))
    }

    fn rename_conversation(
        &self,
        user: UserId,
        id: ConversationId,
        title: Option<&str>,
    ) -> Result<Conversation> {
        let title = prepare_title(title)?;
        self.change(
            user,
            id,
            ConversationOp::Rename,
            "title = $3, updated_at = $2",
            &[&title],
        )
    }

    fn set_conversation_model(
        &self,
        user: UserId,
        id: ConversationId,
        provider: Option<&str>,
        model: Option<&str>,
    ) -> Result<Conversation> {
        let (provider, model) = prepare_model(provider, model)?;
        self.change(
            user,
            id,
            ConversationOp::ChangeModel,
            "llm_provider = $3, llm_model = $4, updated_at = $2",
            &[&provider, &model],
        )
    }

    fn set_selected_documents(
        &self,
        user: UserId,
        id: ConversationId,
        documents: &[DocumentId],
    ) -> Result<Conversation> {
        let now = at(self.now());
        // Checked again below, after the status, so that errors come in SQLite's order;
        // here only to know which documents to lock before the conversation.
        let checked = validate::document_selection(documents).ok();
        self.db.write(|c| {
            let missing = match &checked {
                Some(selection) => lock_selection(c, user, selection)?,
                None => None,
            };
            lock_conversation(c, user, id)?.check(ConversationOp::SelectDocuments)?;
            let selection = validate::document_selection(documents)?;
            if let Some(missing) = missing {
                return Err(Error::not_found("document", missing));
            }
            let row = c.row(
                &format!(
                    "UPDATE conversations v SET selected_document_ids = $1, updated_at = $2
                     WHERE v.id = $3 RETURNING {CONVERSATION_COLUMNS}"
                ),
                &[&selection_json(&selection)?, &now, &id.stored()],
            )?;
            found(row, id)
        })
    }

    fn archive_conversation(&self, user: UserId, id: ConversationId) -> Result<Conversation> {
        self.change(
            user,
            id,
            ConversationOp::Archive,
            "status = 'archived', archived_at = $2, updated_at = $2",
            &[],
        )
    }

    fn unarchive_conversation(&self, user: UserId, id: ConversationId) -> Result<Conversation> {
        self.change(
            user,
            id,
            ConversationOp::Unarchive,
            "status = 'active', archived_at = NULL, updated_at = $2",
            &[],
        )
    }

    fn close_conversation(&self, user: UserId, id: ConversationId) -> Result<Conversation> {
        self.change(
            user,
            id,
            ConversationOp::Close,
            "status = 'closed', closed_at = $2, archived_at = NULL, updated_at = $2",
            &[],
        )
    }

    fn reopen_conversation(&self, user: UserId, id: ConversationId) -> Result<Conversation> {
        self.change(
            user,
            id,
            ConversationOp::Reopen,
            "status = 'active', closed_at = NULL, updated_at = $2",
            &[],
        )
    }

    fn delete_conversation(&self, user: UserId, id: ConversationId) -> Result<Conversation> {
        self.change(
            user,
            id,
            ConversationOp::Delete,
            "status_before_delete = status, status = 'deleted', deleted_at = $2, updated_at = $2",
            &[],
        )
    }

    fn restore_conversation(&self, user: UserId, id: ConversationId) -> Result<Conversation> {
        self.change(
            user,
            id,
            ConversationOp::Restore,
            "status = coalesce(status_before_delete, 'active'), status_before_delete = NULL,
             deleted_at = NULL, updated_at = $2",
            &[],
        )
    }

    fn purge_conversation(&self, user: UserId, id: ConversationId) -> Result<Cleanup> {
        let stored = id.stored();
        self.db.write(|c| {
            // Locked: a restore cannot commit in between, and no message can be
            // appended (it is deleted), so the list of files is complete.
            lock_conversation(c, user, id)?.check(ConversationOp::Purge)?;
            let messages_with_files = messages_with_files(c, "v.id = $1", &[&stored])?;
            c.execute("DELETE FROM conversations WHERE id = $1", &[&stored])?;
            Ok(Cleanup {
                messages_with_files,
                documents: Vec::new(),
                deleted: 1,
            })
        })
    }

    fn hide_conversation(&self, user: UserId, id: ConversationId) -> Result<Conversation> {
        self.change(
            user,
            id,
            ConversationOp::Hide,
            "is_hidden = true, hidden_at = $2, auto_hidden = false, updated_at = $2",
            &[],
        )
    }

    fn unhide_conversation(&self, user: UserId, id: ConversationId) -> Result<Conversation> {
        self.change(
            user,
            id,
            ConversationOp::Unhide,
            "is_hidden = false, hidden_at = NULL, auto_hidden = false, updated_at = $2",
            &[],
        )
    }

    fn mark_conversation_opened(&self, user: UserId, id: ConversationId) -> Result<Conversation> {
        self.change(
            user,
            id,
            ConversationOp::Open,
            "last_opened_at = $2, updated_at = $2,
             is_hidden = CASE WHEN auto_hidden THEN false ELSE is_hidden END,
             hidden_at = CASE WHEN auto_hidden THEN NULL ELSE hidden_at END,
             auto_hidden = false",
            &[],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConversationStatus::Deleted;

    #[test]
    fn listed_statuses_default_to_all_but_deleted() {
        assert_eq!(listed_statuses(&[]), ["active", "archived", "closed"]);
        assert_eq!(listed_statuses(&[Deleted]), ["deleted"]);
        assert_eq!(listed_statuses(&[Active, Closed]), ["active", "closed"]);
    }
}
