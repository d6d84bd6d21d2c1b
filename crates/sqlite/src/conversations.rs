//! [`ConversationStore`] on SQLite.

use chatstore::Cursor;
use chatstore::conversations::{prepare_model, prepare_title};
use chatstore::{
    Cleanup, Conversation, ConversationId, ConversationOp, ConversationQuery, ConversationStatus,
    ConversationStore, ConversationSummary, DocumentId, Error, MessageId, NewConversation, Page,
    Result, Timestamp, UserId, Visibility, validate,
};
use rusqlite::{Row, ToSql};

use crate::SqliteStore;
use crate::db::Conn;
use crate::row::{RowExt, json_or_null};

use ConversationStatus::{Active, Archived, Closed, Deleted};

const CONVERSATION_COLUMNS: &str = "v.id, v.user_id, v.title, v.status, v.message_count, \
     v.created_at, v.updated_at, v.last_message_at, v.last_opened_at, v.archived_at, \
     v.closed_at, v.deleted_at, v.is_hidden, v.hidden_at, v.auto_hidden, v.llm_provider, \
     v.llm_model, v.selected_document_ids, v.expires_at";

/// The listing query. Its text never changes, so it is prepared once per connection:
/// statuses are a bit mask (?2, see [`status_mask`]), visibility a range of `is_hidden`
/// (?3 to ?4), the page size a parameter written `?5 + 0` (a bare `LIMIT ?` makes
/// SQLite re-prepare the statement on every run), and the time expired temporary
/// conversations are left out at ?6.
macro_rules! list_sql {
    ($keyset:literal) => {
        concat!(
            "SELECT v.id, v.title, v.status, v.message_count, v.last_activity_at, v.is_hidden,
                    v.auto_hidden
             FROM conversations v
             WHERE v.user_id = ?1
               AND (?2 & CASE v.status WHEN 'active' THEN 1 WHEN 'archived' THEN 2
                                       WHEN 'closed' THEN 4 ELSE 8 END) <> 0
               AND v.is_hidden BETWEEN ?3 AND ?4
               AND (v.expires_at IS NULL OR v.expires_at > ?6)",
            $keyset,
            " ORDER BY v.last_activity_at DESC, v.id DESC LIMIT ?5 + 0"
        )
    };
}

/// The first page of a listing.
const LIST_FIRST_PAGE: &str = list_sql!("");
/// A later page: rows after the cursor (?7, ?8).
const LIST_NEXT_PAGE: &str = list_sql!(" AND (v.last_activity_at, v.id) < (?7, ?8)");

/// The bit mask of the statuses a listing shows (every status but deleted when none are
/// named).
fn status_mask(statuses: &[ConversationStatus]) -> i64 {
    let bit = |status: &ConversationStatus| match status {
        Active => 1,
        Archived => 2,
        Closed => 4,
        Deleted => 8,
    };
    if statuses.is_empty() {
        1 | 2 | 4
    } else {
        statuses.iter().map(bit).fold(0, |mask, b| mask | b)
    }
}

fn summary_from_row(row: &Row<'_>) -> Result<ConversationSummary> {
    Ok(ConversationSummary {
        id: row.parse(0)?,
        title: row.opt_text(1)?,
        status: row.parse(2)?,
        message_count: row.uint(3)?,
        last_activity_at: row.ts(4)?,
        is_hidden: row.boolean(5)?,
        auto_hidden: row.boolean(6)?,
    })
}

fn conversation_from_row(row: &Row<'_>) -> Result<Conversation> {
    Ok(Conversation {
        id: row.parse(0)?,
        user_id: row.parse(1)?,
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
        selected_document_ids: row.json(17)?,
        expires_at: row.opt_ts(18)?,
    })
}

/// The user's conversation, or not-found (also when it belongs to someone else).
pub(crate) fn load_conversation(
    conn: &Conn<'_>,
    user: UserId,
    id: ConversationId,
) -> Result<Conversation> {
    conn.row(
        &format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations v WHERE v.id = ?1 AND v.user_id = ?2"
        ),
        &[&id.to_string(), &user.to_string()],
        conversation_from_row,
    )?
    .ok_or_else(|| Error::not_found("conversation", id))
}

/// The ids of messages with attachments in the conversations `condition` selects
/// (a condition on `v`, the conversations table).
pub(crate) fn messages_with_files(
    conn: &Conn<'_>,
    condition: &str,
    params: &[&dyn ToSql],
) -> Result<Vec<MessageId>> {
    conn.rows(
        &format!(
            "SELECT m.id FROM messages m JOIN conversations v ON v.id = m.conversation_id
             WHERE {condition} AND m.files IS NOT NULL"
        ),
        params,
        |row| row.parse(0),
    )
}

/// Checks that every document of a checked selection
/// ([`validate::document_selection`]) is visible to the user; returns the JSON to store.
fn selection_json(
    conn: &Conn<'_>,
    user: UserId,
    documents: &[DocumentId],
) -> Result<Option<String>> {
    let ids: Vec<String> = documents.iter().map(ToString::to_string).collect();
    let json = json_or_null(&ids)?;
    if let Some(json) = &json {
        let missing: Option<String> = conn.row(
            "SELECT value FROM json_each(?1) WHERE value NOT IN
                (SELECT id FROM documents WHERE owner_id = ?2 OR scope = 'global')",
            &[json, &user.to_string()],
            |row| row.text(0),
        )?;
        if let Some(missing) = missing {
            return Err(Error::not_found("document", missing));
        }
    }
    Ok(json)
}

impl SqliteStore {
    /// Loads the user's conversation, checks its status allows `op`, applies the `SET`
    /// clause (parameters: ?1 the id, ?2 now, then `params`) and returns the result.
    fn change(
        &self,
        user: UserId,
        id: ConversationId,
        op: ConversationOp,
        set: &str,
        params: &[&dyn ToSql],
    ) -> Result<Conversation> {
        let at = self.now();
        let now = at.to_string();
        let id_text = id.to_string();
        let sql = format!("UPDATE conversations SET {set} WHERE id = ?1");
        self.db.write(|c| {
            let current = load_conversation(c, user, id)?;
            current.check_unexpired(at)?;
            current.check(op)?;
            let mut all: Vec<&dyn ToSql> = vec![&id_text, &now];
            all.extend_from_slice(params);
            c.execute(&sql, &all)?;
            load_conversation(c, user, id)
        })
    }
}

impl ConversationStore for SqliteStore {
    fn create_conversation(&self, user: UserId, new: &NewConversation) -> Result<Conversation> {
        let new = new.prepare()?;
        let id = ConversationId::new();
        let at = self.now();
        let now = at.to_string();
        let expires_at = new.expires_at(at).map(|at| at.to_string());
        self.db.write(|c| {
            crate::users::require_user(c, user)?;
            let selection = selection_json(c, user, &new.selected_document_ids)?;
            c.execute(
                "INSERT INTO conversations (id, user_id, title, created_at, updated_at,
                     last_activity_at, llm_provider, llm_model, selected_document_ids,
                     expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?4, ?4, ?5, ?6, ?7, ?8)",
                &[
                    &id.to_string(),
                    &user.to_string(),
                    &new.title,
                    &now,
                    &new.llm_provider,
                    &new.llm_model,
                    &selection,
                    &expires_at,
                ],
            )?;
            load_conversation(c, user, id)
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
        let (hidden_from, hidden_to) = match query.visibility {
            Visibility::Visible => (0, 0),
            Visibility::Hidden => (1, 1),
            Visibility::All => (0, 1),
        };
        let after = query
            .cursor
            .as_ref()
            .map(Cursor::key2::<Timestamp, ConversationId>)
            .transpose()?
            .map(|(at, id)| (at.to_string(), id.to_string()));
        let (user_text, mask, fetch) = (user.to_string(), status_mask(&query.statuses), limit + 1);
        let now = self.now().to_string();
        let items = self.db.read(|c| {
            let first: [&dyn ToSql; 6] =
                [&user_text, &mask, &hidden_from, &hidden_to, &fetch, &now];
            match &after {
                None => c.rows(LIST_FIRST_PAGE, &first, summary_from_row),
                Some((at, id)) => {
                    let mut next = first.to_vec();
                    next.extend_from_slice(&[at as &dyn ToSql, id]);
                    c.rows(LIST_NEXT_PAGE, &next, summary_from_row)
                }
            }
        })?;
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
            "title = ?3, updated_at = ?2",
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
            "llm_provider = ?3, llm_model = ?4, updated_at = ?2",
            &[&provider, &model],
        )
    }

    fn set_selected_documents(
        &self,
        user: UserId,
        id: ConversationId,
        documents: &[DocumentId],
    ) -> Result<Conversation> {
        let now = self.now().to_string();
        self.db.write(|c| {
            load_conversation(c, user, id)?.check(ConversationOp::SelectDocuments)?;
            let selection = selection_json(c, user, &validate::document_selection(documents)?)?;
            c.execute(
                "UPDATE conversations SET selected_document_ids = ?1, updated_at = ?2 WHERE id = ?3",
                &[&selection, &now, &id.to_string()],
            )?;
            load_conversation(c, user, id)
        })
    }

    fn archive_conversation(&self, user: UserId, id: ConversationId) -> Result<Conversation> {
        self.change(
            user,
            id,
            ConversationOp::Archive,
            "status = 'archived', archived_at = ?2, updated_at = ?2",
            &[],
        )
    }

    fn unarchive_conversation(&self, user: UserId, id: ConversationId) -> Result<Conversation> {
        self.change(
            user,
            id,
            ConversationOp::Unarchive,
            "status = 'active', archived_at = NULL, updated_at = ?2",
            &[],
        )
    }

    fn close_conversation(&self, user: UserId, id: ConversationId) -> Result<Conversation> {
        self.change(
            user,
            id,
            ConversationOp::Close,
            "status = 'closed', closed_at = ?2, archived_at = NULL, updated_at = ?2",
            &[],
        )
    }

    fn reopen_conversation(&self, user: UserId, id: ConversationId) -> Result<Conversation> {
        self.change(
            user,
            id,
            ConversationOp::Reopen,
            "status = 'active', closed_at = NULL, updated_at = ?2",
            &[],
        )
    }

    fn delete_conversation(&self, user: UserId, id: ConversationId) -> Result<Conversation> {
        self.change(
            user,
            id,
            ConversationOp::Delete,
            "status_before_delete = status, status = 'deleted', deleted_at = ?2, updated_at = ?2",
            &[],
        )
    }

    fn restore_conversation(&self, user: UserId, id: ConversationId) -> Result<Conversation> {
        self.change(
            user,
            id,
            ConversationOp::Restore,
            "status = coalesce(status_before_delete, 'active'), status_before_delete = NULL,
             deleted_at = NULL, updated_at = ?2",
            &[],
        )
    }

    fn purge_conversation(&self, user: UserId, id: ConversationId) -> Result<Cleanup> {
        let id_text = id.to_string();
        self.db.write(|c| {
            load_conversation(c, user, id)?.check(ConversationOp::Purge)?;
            let messages_with_files = messages_with_files(c, "v.id = ?1", &[&id_text])?;
            c.execute("DELETE FROM conversations WHERE id = ?1", &[&id_text])?;
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
            "is_hidden = 1, hidden_at = ?2, auto_hidden = 0, updated_at = ?2",
            &[],
        )
    }

    fn unhide_conversation(&self, user: UserId, id: ConversationId) -> Result<Conversation> {
        self.change(
            user,
            id,
            ConversationOp::Unhide,
            "is_hidden = 0, hidden_at = NULL, auto_hidden = 0, updated_at = ?2",
            &[],
        )
    }

    fn mark_conversation_opened(&self, user: UserId, id: ConversationId) -> Result<Conversation> {
        self.change(
            user,
            id,
            ConversationOp::Open,
            "last_opened_at = ?2, updated_at = ?2,
             is_hidden = CASE WHEN auto_hidden = 1 THEN 0 ELSE is_hidden END,
             hidden_at = CASE WHEN auto_hidden = 1 THEN NULL ELSE hidden_at END,
             auto_hidden = 0",
            &[],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::tests::{assert_prepared_once, scratch};

    #[test]
    fn listing_statements_are_prepared_once() {
        let (_dir, _store, conn) = scratch();
        let user = UserId::new().to_string();
        let now = "2026-01-02T00:00:00.000000Z";
        let first: [&dyn ToSql; 6] = [&user, &7, &0, &0, &51, &now];
        assert_prepared_once(&conn, LIST_FIRST_PAGE, &first);
        let next: [&dyn ToSql; 8] = [
            &user,
            &7,
            &0,
            &1,
            &51,
            &now,
            &"2026-01-01T00:00:00.000000Z",
            &"x",
        ];
        assert_prepared_once(&conn, LIST_NEXT_PAGE, &next);
    }

    #[test]
    fn status_masks() {
        assert_eq!(status_mask(&[]), 7);
        assert_eq!(status_mask(&[Deleted]), 8);
        assert_eq!(status_mask(&[Active, Closed]), 5);
    }
}
