//! [`DocumentStore`] on SQLite.

use chatstore::Cursor;
use chatstore::documents::{check_scope_allowed, prepare_chunks, processing_error};
use chatstore::rbac::permissions;
use chatstore::{
    Chunk, ChunkId, Cleanup, Document, DocumentAnalysis, DocumentId, DocumentQuery, DocumentStore,
    DocumentUpdate, Error, NewChunk, NewDocument, Page, ProcessingStatus, Result, Timestamp,
    UserId, validate,
};
use rusqlite::{Row, ToSql};

use crate::SqliteStore;
use crate::db::Conn;
use crate::rbac::holds;
use crate::row::{RowExt, json_text};

const DOCUMENT_COLUMNS: &str = "d.id, d.owner_id, d.filename, d.file_path, d.file_type, \
     d.file_size, d.title, d.description, d.category, d.tags, d.scope, d.auto_summary, \
     d.auto_keywords, d.auto_topics, d.content_type, d.summarization_model, \
     d.summarization_tokens, d.summarized_at, d.processing_status, d.error_message, \
     d.num_chunks, d.num_tokens, d.uploaded_at, d.processed_at";

const CHUNK_COLUMNS: &str = "k.id, k.document_id, k.chunk_index, k.content, k.num_tokens, \
     k.page_number, k.section, k.embedding_id";

/// The condition for documents `d` that the user bound to `param` may read: their own
/// and global ones.
fn visible_to(param: &str) -> String {
    format!("(d.owner_id = {param} OR d.scope = 'global')")
}

fn document_from_row(row: &Row<'_>) -> Result<Document> {
    Ok(Document {
        id: row.parse(0)?,
        owner_id: row.parse(1)?,
        filename: row.text(2)?,
        file_path: row.text(3)?,
        file_type: row.opt_text(4)?,
        file_size: row.opt_uint(5)?,
        title: row.text(6)?,
        description: row.opt_text(7)?,
        category: row.opt_text(8)?,
        tags: row.json(9)?,
        scope: row.parse(10)?,
        auto_summary: row.opt_text(11)?,
        auto_keywords: row.json(12)?,
        auto_topics: row.json(13)?,
        content_type: row.opt_text(14)?,
        summarization_model: row.opt_text(15)?,
        summarization_tokens: row.opt_uint(16)?,
        summarized_at: row.opt_ts(17)?,
        status: row.parse(18)?,
        error_message: row.opt_text(19)?,
        num_chunks: row.uint(20)?,
        num_tokens: row.uint(21)?,
        uploaded_at: row.ts(22)?,
        processed_at: row.opt_ts(23)?,
    })
}

fn chunk_from_row(row: &Row<'_>) -> Result<Chunk> {
    Ok(Chunk {
        id: row.parse(0)?,
        document_id: row.parse(1)?,
        chunk_index: row.uint(2)?,
        content: row.text(3)?,
        num_tokens: row.opt_uint(4)?,
        page_number: row.opt_uint(5)?,
        section: row.opt_text(6)?,
        embedding_id: row.opt_text(7)?,
    })
}

/// A document the user may read, or not-found.
fn load_visible(conn: &Conn<'_>, user: UserId, id: DocumentId) -> Result<Document> {
    conn.row(
        &format!(
            "SELECT {DOCUMENT_COLUMNS} FROM documents d WHERE d.id = ?1 AND {}",
            visible_to("?2")
        ),
        &[&id.to_string(), &user.to_string()],
        document_from_row,
    )?
    .ok_or_else(|| Error::not_found("document", id))
}

/// A document the user may change: their own, or a global one if they hold
/// `admin:full`. Someone else's global document is forbidden; a private one not found.
fn load_editable(conn: &Conn<'_>, user: UserId, id: DocumentId) -> Result<Document> {
    let document = load_visible(conn, user, id)?;
    document.check_editable_by(user, || holds(conn, user, permissions::ADMIN_FULL))?;
    Ok(document)
}

/// Checks that the user may change the document's chunks now: it must be theirs (or
/// global, for an admin) and `processing`.
pub(crate) fn editable_while_processing(
    conn: &Conn<'_>,
    user: UserId,
    id: DocumentId,
    verb: &str,
) -> Result<()> {
    load_editable(conn, user, id)?.check_chunks_changeable(verb)
}

/// Inserts prepared chunks.
pub(crate) fn insert_chunks(conn: &Conn<'_>, chunks: &[Chunk]) -> Result<()> {
    for chunk in chunks {
        conn.execute(
            "INSERT INTO document_chunks (id, document_id, chunk_index, content,
                 num_tokens, page_number, section, embedding_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            &[
                &chunk.id.to_string(),
                &chunk.document_id.to_string(),
                &chunk.chunk_index,
                &chunk.content,
                &chunk.num_tokens,
                &chunk.page_number,
                &chunk.section,
                &chunk.embedding_id,
            ],
        )?;
    }
    Ok(())
}

/// The `SET` clause that completes processing, counting the stored chunks.
pub(crate) const COMPLETE: &str = "is_processed = 1, processed_at = ?2, error_message = NULL,
     num_chunks = (SELECT count(*) FROM document_chunks WHERE document_id = ?1),
     num_tokens = (SELECT coalesce(sum(num_tokens), 0) FROM document_chunks WHERE document_id = ?1)";

/// Removes deleted documents from every conversation's selection, so no conversation
/// points at a document that is gone.
pub(crate) fn unselect_documents(conn: &Conn<'_>, documents: &[DocumentId]) -> Result<()> {
    if documents.is_empty() {
        return Ok(());
    }
    let gone: Vec<String> = documents.iter().map(ToString::to_string).collect();
    conn.execute(
        "UPDATE conversations SET selected_document_ids = (
             SELECT CASE WHEN count(*) = 0 THEN NULL ELSE json_group_array(value) END
             FROM json_each(conversations.selected_document_ids)
             WHERE value NOT IN (SELECT value FROM json_each(?1)))
         WHERE selected_document_ids IS NOT NULL
           AND EXISTS (SELECT 1 FROM json_each(conversations.selected_document_ids)
                       WHERE value IN (SELECT value FROM json_each(?1)))",
        &[&json_text(&gone)?],
    )
    .map(drop)
}

/// Moves a document through its lifecycle inside the caller's transaction with the `SET`
/// clause (parameters: ?1 the id, ?2 `now`, then `params`), refusing steps the lifecycle
/// does not allow.
pub(crate) fn transition(
    conn: &Conn<'_>,
    user: UserId,
    id: DocumentId,
    next: ProcessingStatus,
    set: &str,
    now: &str,
    params: &[&dyn ToSql],
) -> Result<Document> {
    load_editable(conn, user, id)?.check_can_become(next)?;
    let id_text = id.to_string();
    let mut all: Vec<&dyn ToSql> = vec![&id_text, &now];
    all.extend_from_slice(params);
    conn.execute(
        &format!(
            "UPDATE documents SET processing_status = '{next}', updated_at = ?2, {set} WHERE id = ?1"
        ),
        &all,
    )?;
    load_visible(conn, user, id)
}

impl SqliteStore {
    /// [`transition`] in a write transaction of its own.
    fn step(
        &self,
        user: UserId,
        id: DocumentId,
        next: ProcessingStatus,
        set: &str,
        params: &[&dyn ToSql],
    ) -> Result<Document> {
        let now = self.now().to_string();
        self.db
            .write(|c| transition(c, user, id, next, set, &now, params))
    }
}

impl DocumentStore for SqliteStore {
    fn create_document(&self, user: UserId, new: &NewDocument) -> Result<Document> {
        let new = new.prepare()?;
        let tags = json_text(&new.tags)?;
        let id = DocumentId::new();
        let now = self.now().to_string();
        self.db.write(|c| {
            crate::users::require_user(c, user)?;
            check_scope_allowed(new.scope, || holds(c, user, permissions::ADMIN_FULL))?;
            c.execute(
                "INSERT INTO documents (id, owner_id, filename, file_path, file_type, file_size,
                     title, description, category, tags, scope, uploaded_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
                &[
                    &id.to_string(),
                    &user.to_string(),
                    &new.filename,
                    &new.file_path,
                    &new.file_type,
                    &new.file_size,
                    &new.title,
                    &new.description,
                    &new.category,
                    &tags,
                    &new.scope.as_str(),
                    &now,
                ],
            )?;
            load_visible(c, user, id)
        })
    }

    fn document(&self, user: UserId, id: DocumentId) -> Result<Document> {
        self.db.read(|c| load_visible(c, user, id))
    }

    fn list_documents(&self, user: UserId, query: &DocumentQuery) -> Result<Page<Document>> {
        let limit = validate::page_limit(query.limit)?;
        let after = query
            .cursor
            .as_ref()
            .map(Cursor::key2::<Timestamp, DocumentId>)
            .transpose()?
            .map(|(at, id)| (at.to_string(), id.to_string()));
        let keyset = if after.is_some() {
            " AND (d.uploaded_at, d.id) < (?5, ?6)"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {DOCUMENT_COLUMNS} FROM documents d
             WHERE {} AND (?2 IS NULL OR d.scope = ?2)
               AND (?3 IS NULL OR d.processing_status = ?3){keyset}
             ORDER BY d.uploaded_at DESC, d.id DESC LIMIT ?4 + 0",
            visible_to("?1"),
        );
        let user_text = user.to_string();
        let scope = query.scope.map(|s| s.as_str());
        let status = query.status.map(|s| s.as_str());
        let (after_at, after_id) = after.unzip();
        let fetch = limit + 1;
        let params: [&dyn ToSql; 6] = [&user_text, &scope, &status, &fetch, &after_at, &after_id];
        let used = if after_at.is_some() { 6 } else { 4 };
        let items = self
            .db
            .read(|c| c.rows(&sql, &params[..used], document_from_row))?;
        Ok(Page::from_rows(items, limit, |d| {
            Cursor::from_key(&[&d.uploaded_at, &d.id])
        }))
    }

    fn update_document(
        &self,
        user: UserId,
        id: DocumentId,
        update: &DocumentUpdate,
    ) -> Result<Document> {
        let update = update.prepare()?;
        let tags = update.tags.as_ref().map(json_text).transpose()?;
        let (id_text, now) = (id.to_string(), self.now().to_string());
        self.db.write(|c| {
            load_editable(c, user, id)?;
            c.execute(
                "UPDATE documents SET title = coalesce(?1, title),
                    description = CASE WHEN ?2 THEN ?3 ELSE description END,
                    category = CASE WHEN ?4 THEN ?5 ELSE category END,
                    tags = coalesce(?6, tags), updated_at = ?7
                 WHERE id = ?8",
                &[
                    &update.title,
                    &update.description.is_some(),
                    &update.description.clone().flatten(),
                    &update.category.is_some(),
                    &update.category.clone().flatten(),
                    &tags,
                    &now,
                    &id_text,
                ],
            )?;
            load_visible(c, user, id)
        })
    }

    fn set_document_analysis(
        &self,
        user: UserId,
        id: DocumentId,
        analysis: &DocumentAnalysis,
    ) -> Result<Document> {
        let analysis = analysis.prepare()?;
        let keywords = json_text(&analysis.auto_keywords)?;
        let topics = json_text(&analysis.auto_topics)?;
        let (id_text, now) = (id.to_string(), self.now().to_string());
        self.db.write(|c| {
            load_editable(c, user, id)?;
            c.execute(
                "UPDATE documents SET auto_summary = ?1, auto_keywords = ?2, auto_topics = ?3,
                    content_type = ?4, summarization_model = ?5, summarization_tokens = ?6,
                    summarized_at = ?7, updated_at = ?7
                 WHERE id = ?8",
                &[
                    &analysis.auto_summary,
                    &keywords,
                    &topics,
                    &analysis.content_type,
                    &analysis.summarization_model,
                    &analysis.summarization_tokens,
                    &now,
                    &id_text,
                ],
            )?;
            load_visible(c, user, id)
        })
    }

    fn start_processing(&self, user: UserId, id: DocumentId) -> Result<Document> {
        self.step(
            user,
            id,
            ProcessingStatus::Processing,
            "error_message = NULL, is_processed = 0",
            &[],
        )
    }

    fn complete_processing(&self, user: UserId, id: DocumentId) -> Result<Document> {
        self.step(user, id, ProcessingStatus::Completed, COMPLETE, &[])
    }

    fn fail_processing(&self, user: UserId, id: DocumentId, error: &str) -> Result<Document> {
        let error = processing_error(error)?;
        self.step(
            user,
            id,
            ProcessingStatus::Failed,
            "error_message = ?3, is_processed = 0",
            &[&error],
        )
    }

    fn add_chunks(&self, user: UserId, id: DocumentId, chunks: &[NewChunk]) -> Result<Vec<Chunk>> {
        let fresh: Vec<ChunkId> = chunks.iter().map(|_| ChunkId::new()).collect();
        let stored = prepare_chunks(id, chunks, &fresh, None)?;
        self.db.write(|c| {
            editable_while_processing(c, user, id, "added")?;
            insert_chunks(c, &stored)
        })?;
        Ok(stored)
    }

    fn chunks(&self, user: UserId, id: DocumentId) -> Result<Vec<Chunk>> {
        self.db.read_snapshot(|c| {
            load_visible(c, user, id)?;
            c.rows(
                &format!(
                    "SELECT {CHUNK_COLUMNS} FROM document_chunks k
                     WHERE k.document_id = ?1 ORDER BY k.chunk_index"
                ),
                &[&id.to_string()],
                chunk_from_row,
            )
        })
    }

    fn chunks_by_ids(&self, user: UserId, ids: &[ChunkId]) -> Result<Vec<Chunk>> {
        validate::id_batch(ids.len())?;
        let wanted: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let found = self.db.read(|c| {
            c.rows(
                &format!(
                    "SELECT {CHUNK_COLUMNS} FROM document_chunks k
                     JOIN documents d ON d.id = k.document_id
                     WHERE k.id IN (SELECT value FROM json_each(?1)) AND {}",
                    visible_to("?2")
                ),
                &[&json_text(&wanted)?, &user.to_string()],
                chunk_from_row,
            )
        })?;
        let mut ordered = Vec::with_capacity(found.len());
        for id in ids {
            if let Some(chunk) = found.iter().find(|k| k.id == *id) {
                ordered.push(chunk.clone());
            }
        }
        Ok(ordered)
    }

    fn delete_chunks(&self, user: UserId, id: DocumentId) -> Result<u64> {
        self.db.write(|c| {
            editable_while_processing(c, user, id, "removed")?;
            c.execute(
                "DELETE FROM document_chunks WHERE document_id = ?1",
                &[&id.to_string()],
            )
            .map(|n| n as u64)
        })
    }

    fn delete_document(&self, user: UserId, id: DocumentId) -> Result<Cleanup> {
        self.db.write(|c| {
            load_editable(c, user, id)?;
            unselect_documents(c, &[id])?;
            c.execute("DELETE FROM documents WHERE id = ?1", &[&id.to_string()])?;
            Ok(Cleanup {
                messages_with_files: Vec::new(),
                documents: vec![id],
                deleted: 1,
            })
        })
    }
}
