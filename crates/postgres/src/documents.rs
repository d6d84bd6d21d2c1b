//! [`DocumentStore`] on PostgreSQL. Each check-then-write locks what it checked
//! (docs/architecture.md, "Check-then-write sequences"): a status transition the
//! document row `FOR UPDATE`, a change of chunks the document row `FOR SHARE`.

use chatstore::Cursor;
use chatstore::documents::{check_scope_allowed, prepare_chunks, processing_error};
use chatstore::rbac::permissions;
use chatstore::{
    Chunk, ChunkId, Cleanup, Document, DocumentAnalysis, DocumentId, DocumentQuery, DocumentStore,
    DocumentUpdate, Error, NewChunk, NewDocument, Page, ProcessingStatus, Result, Timestamp,
    UserId, validate,
};
use postgres::Row;
use postgres::types::ToSql;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::PgStore;
use crate::db::Conn;
use crate::rbac::holds;
use crate::row::{RowExt, UuidId, at};

const DOCUMENT_COLUMNS: &str = "d.id, d.owner_id, d.filename, d.file_path, d.file_type, \
     d.file_size, d.title, d.description, d.category, d.tags, d.scope, d.auto_summary, \
     d.auto_keywords, d.auto_topics, d.content_type, d.summarization_model, \
     d.summarization_tokens, d.summarized_at, d.processing_status, d.error_message, \
     d.num_chunks, d.num_tokens, d.uploaded_at, d.processed_at";

const CHUNK_COLUMNS: &str = "k.id, k.document_id, k.chunk_index, k.content, k.num_tokens, \
     k.page_number, k.section, k.embedding_id";

/// How a check-then-write locks the document row it checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lock {
    /// No lock: the write does not depend on what was read.
    None,
    /// `FOR SHARE`: the document stays as read (adding or removing chunks while it is
    /// processing; completing, which counts them, waits).
    Share,
    /// `FOR UPDATE`: a status transition, so that one ingestion only claims a document.
    Update,
}

impl Lock {
    fn clause(self) -> &'static str {
        match self {
            Lock::None => "",
            Lock::Share => " FOR SHARE",
            Lock::Update => " FOR UPDATE",
        }
    }
}

/// The condition for documents `d` that the user bound to `param` may read: their own
/// and global ones.
fn visible_to(param: &str) -> String {
    format!("(d.owner_id = {param} OR d.scope = 'global')")
}

fn document_from_row(row: &Row) -> Result<Document> {
    Ok(Document {
        id: row.id(0)?,
        owner_id: row.id(1)?,
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

fn chunk_from_row(row: &Row) -> Result<Chunk> {
    Ok(Chunk {
        id: row.id(0)?,
        document_id: row.id(1)?,
        chunk_index: row.uint(2)?,
        content: row.text(3)?,
        num_tokens: row.opt_uint(4)?,
        page_number: row.opt_uint(5)?,
        section: row.opt_text(6)?,
        embedding_id: row.opt_text(7)?,
    })
}

/// A list of strings as `jsonb` takes it.
fn json_list(items: &[String]) -> serde_json::Value {
    serde_json::Value::from(items.to_vec())
}

/// A document the user may read, or not-found, locked as `lock` says.
fn load_visible(
    conn: &mut Conn<'_, '_>,
    user: UserId,
    id: DocumentId,
    lock: Lock,
) -> Result<Document> {
    let row = conn.row(
        &format!(
            "SELECT {DOCUMENT_COLUMNS} FROM documents d WHERE d.id = $1 AND {}{}",
            visible_to("$2"),
            lock.clause()
        ),
        &[&id.stored(), &user.stored()],
    )?;
    row.map(|row| document_from_row(&row))
        .transpose()?
        .ok_or_else(|| Error::not_found("document", id))
}

/// A document the user may change: their own, or a global one if they hold
/// `admin:full`. Someone else's global document is forbidden; a private one not found.
fn load_editable(
    conn: &mut Conn<'_, '_>,
    user: UserId,
    id: DocumentId,
    lock: Lock,
) -> Result<Document> {
    let document = load_visible(conn, user, id, lock)?;
    document.check_editable_by(user, || holds(conn, user, permissions::ADMIN_FULL))?;
    Ok(document)
}

/// Checks that the user may change the document's chunks now: it must be theirs (or
/// global, for an admin) and `processing`. The row is locked as `lock` says until the
/// transaction ends.
pub(crate) fn editable_while_processing(
    conn: &mut Conn<'_, '_>,
    user: UserId,
    id: DocumentId,
    verb: &str,
    lock: Lock,
) -> Result<()> {
    load_editable(conn, user, id, lock)?.check_chunks_changeable(verb)
}

/// A count as `bigint` takes it.
fn big(value: Option<u32>) -> Option<i64> {
    value.map(i64::from)
}

/// Inserts prepared chunks, all in one statement.
pub(crate) fn insert_chunks(conn: &mut Conn<'_, '_>, chunks: &[Chunk]) -> Result<()> {
    let Some(first) = chunks.first() else {
        return Ok(());
    };
    let ids: Vec<Uuid> = chunks.iter().map(|k| k.id.stored()).collect();
    let indexes: Vec<i64> = chunks.iter().map(|k| i64::from(k.chunk_index)).collect();
    let contents: Vec<&str> = chunks.iter().map(|k| k.content.as_str()).collect();
    let tokens: Vec<Option<i64>> = chunks.iter().map(|k| big(k.num_tokens)).collect();
    let pages: Vec<Option<i64>> = chunks.iter().map(|k| big(k.page_number)).collect();
    let sections: Vec<Option<&str>> = chunks.iter().map(|k| k.section.as_deref()).collect();
    let embedding_ids: Vec<Option<&str>> =
        chunks.iter().map(|k| k.embedding_id.as_deref()).collect();
    conn.execute(
        "INSERT INTO document_chunks (id, document_id, chunk_index, content,
             num_tokens, page_number, section, embedding_id)
         SELECT k.id, $1, k.chunk_index, k.content, k.num_tokens, k.page_number, k.section,
                k.embedding_id
         FROM unnest($2::uuid[], $3::bigint[], $4::text[], $5::bigint[], $6::bigint[],
                     $7::text[], $8::text[])
              AS k(id, chunk_index, content, num_tokens, page_number, section, embedding_id)",
        &[
            &first.document_id.stored(),
            &ids,
            &indexes,
            &contents,
            &tokens,
            &pages,
            &sections,
            &embedding_ids,
        ],
    )
    .map(drop)
}

/// The `SET` clause that completes processing, counting the stored chunks.
pub(crate) const COMPLETE: &str = "is_processed = true, processed_at = $2, error_message = NULL,
     num_chunks = (SELECT count(*) FROM document_chunks WHERE document_id = $1),
     num_tokens = (SELECT coalesce(sum(num_tokens), 0)::bigint FROM document_chunks
                   WHERE document_id = $1)";

/// Removes these documents from every conversation's selection, inside the caller's
/// transaction (a selection never names a deleted document); an emptied selection
/// becomes NULL.
pub(crate) fn unselect_documents(conn: &mut Conn<'_, '_>, documents: &[DocumentId]) -> Result<()> {
    if documents.is_empty() {
        return Ok(());
    }
    let gone: Vec<String> = documents.iter().map(ToString::to_string).collect();
    conn.execute(
        "UPDATE conversations SET selected_document_ids = (
             SELECT jsonb_agg(e) FROM jsonb_array_elements(selected_document_ids) e
             WHERE NOT (e #>> '{}' = ANY($1)))
         WHERE selected_document_ids ?| $1",
        &[&gone],
    )
    .map(drop)
}

/// Moves a document through its lifecycle inside the caller's transaction with the `SET`
/// clause (parameters: $1 the id, $2 `now`, then `params`), refusing steps the lifecycle
/// does not allow. The document row is locked `FOR UPDATE` before its status is
/// checked, so two transitions from one status cannot both pass.
pub(crate) fn transition(
    conn: &mut Conn<'_, '_>,
    user: UserId,
    id: DocumentId,
    next: ProcessingStatus,
    set: &str,
    now: OffsetDateTime,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Document> {
    load_editable(conn, user, id, Lock::Update)?.check_can_become(next)?;
    let stored = id.stored();
    let mut all: Vec<&(dyn ToSql + Sync)> = vec![&stored, &now];
    all.extend_from_slice(params);
    conn.execute(
        &format!(
            "UPDATE documents SET processing_status = '{next}', updated_at = $2, {set} WHERE id = $1"
        ),
        &all,
    )?;
    load_visible(conn, user, id, Lock::None)
}

impl PgStore {
    /// [`transition`] in a write transaction of its own.
    fn step(
        &self,
        user: UserId,
        id: DocumentId,
        next: ProcessingStatus,
        set: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Document> {
        let now = at(self.now());
        self.db
            .write(|c| transition(c, user, id, next, set, now, params))
    }
}

impl DocumentStore for PgStore {
    fn create_document(&self, user: UserId, new: &NewDocument) -> Result<Document> {
        let new = new.prepare()?;
        let tags = json_list(&new.tags);
        let id = DocumentId::new();
        let now = at(self.now());
        self.db.write(|c| {
            crate::users::require_user(c, user)?;
            check_scope_allowed(new.scope, || holds(c, user, permissions::ADMIN_FULL))?;
            c.execute(
                "INSERT INTO documents (id, owner_id, filename, file_path, file_type, file_size,
                     title, description, category, tags, scope, uploaded_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
                &[
                    &id.stored(),
                    &user.stored(),
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
            load_visible(c, user, id, Lock::None)
        })
    }

    fn document(&self, user: UserId, id: DocumentId) -> Result<Document> {
        self.db.read(|c| load_visible(c, user, id, Lock::None))
    }

    fn list_documents(&self, user: UserId, query: &DocumentQuery) -> Result<Page<Document>> {
        let limit = validate::page_limit(query.limit)?;
        let after = query
            .cursor
            .as_ref()
            .map(Cursor::key2::<Timestamp, DocumentId>)
            .transpose()?;
        let scope = query.scope.map(|s| s.as_str());
        let status = query.status.map(|s| s.as_str());
        let fetch = i64::from(limit) + 1;
        let filter = format!(
            "{} AND ($2::text IS NULL OR d.scope = $2)
               AND ($3::text IS NULL OR d.processing_status = $3)",
            visible_to("$1")
        );
        let rows = self.db.read(|c| match after {
            Some((uploaded, last)) => c.rows(
                &format!(
                    "SELECT {DOCUMENT_COLUMNS} FROM documents d
                     WHERE {filter} AND (d.uploaded_at, d.id) < ($5, $6)
                     ORDER BY d.uploaded_at DESC, d.id DESC LIMIT $4"
                ),
                &[
                    &user.stored(),
                    &scope,
                    &status,
                    &fetch,
                    &at(uploaded),
                    &last.stored(),
                ],
            ),
            None => c.rows(
                &format!(
                    "SELECT {DOCUMENT_COLUMNS} FROM documents d
                     WHERE {filter}
                     ORDER BY d.uploaded_at DESC, d.id DESC LIMIT $4"
                ),
                &[&user.stored(), &scope, &status, &fetch],
            ),
        })?;
        let items = rows
            .iter()
            .map(document_from_row)
            .collect::<Result<Vec<_>>>()?;
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
        let tags = update.tags.as_deref().map(json_list);
        let now = at(self.now());
        self.db.write(|c| {
            load_editable(c, user, id, Lock::None)?;
            c.execute(
                "UPDATE documents SET title = coalesce($1, title),
                    description = CASE WHEN $2 THEN $3 ELSE description END,
                    category = CASE WHEN $4 THEN $5 ELSE category END,
                    tags = coalesce($6, tags), updated_at = $7
                 WHERE id = $8",
                &[
                    &update.title,
                    &update.description.is_some(),
                    &update.description.clone().flatten(),
                    &update.category.is_some(),
                    &update.category.clone().flatten(),
                    &tags,
                    &now,
                    &id.stored(),
                ],
            )?;
            load_visible(c, user, id, Lock::None)
        })
    }

    fn set_document_analysis(
        &self,
        user: UserId,
        id: DocumentId,
        analysis: &DocumentAnalysis,
    ) -> Result<Document> {
        let analysis = analysis.prepare()?;
        let keywords = json_list(&analysis.auto_keywords);
        let topics = json_list(&analysis.auto_topics);
        let tokens = big(analysis.summarization_tokens);
        let now = at(self.now());
        self.db.write(|c| {
            load_editable(c, user, id, Lock::None)?;
            c.execute(
                "UPDATE documents SET auto_summary = $1, auto_keywords = $2, auto_topics = $3,
                    content_type = $4, summarization_model = $5, summarization_tokens = $6,
                    summarized_at = $7, updated_at = $7
                 WHERE id = $8",
                &[
                    &analysis.auto_summary,
                    &keywords,
                    &topics,
                    &analysis.content_type,
                    &analysis.summarization_model,
                    &tokens,
                    &now,
                    &id.stored(),
                ],
            )?;
            load_visible(c, user, id, Lock::None)
        })
    }

    fn start_processing(&self, user: UserId, id: DocumentId) -> Result<Document> {
        self.step(
            user,
            id,
            ProcessingStatus::Processing,
            "error_message = NULL, is_processed = false",
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
            "error_message = $3, is_processed = false",
            &[&error],
        )
    }

    fn add_chunks(&self, user: UserId, id: DocumentId, chunks: &[NewChunk]) -> Result<Vec<Chunk>> {
        let fresh: Vec<ChunkId> = chunks.iter().map(|_| ChunkId::new()).collect();
        let stored = prepare_chunks(id, chunks, &fresh, None)?;
        self.db.write(|c| {
            editable_while_processing(c, user, id, "added", Lock::Share)?;
            insert_chunks(c, &stored)
        })?;
        Ok(stored)
    }

    fn chunks(&self, user: UserId, id: DocumentId) -> Result<Vec<Chunk>> {
        let rows = self.db.read_snapshot(|c| {
            load_visible(c, user, id, Lock::None)?;
            c.rows(
                &format!(
                    "SELECT {CHUNK_COLUMNS} FROM document_chunks k
                     WHERE k.document_id = $1 ORDER BY k.chunk_index"
                ),
                &[&id.stored()],
            )
        })?;
        rows.iter().map(chunk_from_row).collect()
    }

    fn chunks_by_ids(&self, user: UserId, ids: &[ChunkId]) -> Result<Vec<Chunk>> {
        validate::id_batch(ids.len())?;
        let wanted: Vec<Uuid> = ids.iter().map(UuidId::stored).collect();
        let rows = self.db.read(|c| {
            c.rows(
                &format!(
                    "SELECT {CHUNK_COLUMNS} FROM document_chunks k
                     JOIN documents d ON d.id = k.document_id
                     WHERE k.id = ANY($1) AND {}",
                    visible_to("$2")
                ),
                &[&wanted, &user.stored()],
            )
        })?;
        let found = rows
            .iter()
            .map(chunk_from_row)
            .collect::<Result<Vec<_>>>()?;
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
            editable_while_processing(c, user, id, "removed", Lock::Share)?;
            c.execute(
                "DELETE FROM document_chunks WHERE document_id = $1",
                &[&id.stored()],
            )
        })
    }

    fn delete_document(&self, user: UserId, id: DocumentId) -> Result<Cleanup> {
        self.db.write(|c| {
            // Locked first: a selection of this document holding it FOR SHARE commits
            // before (and is unselected below) or waits and then finds it gone.
            load_editable(c, user, id, Lock::Update)?;
            unselect_documents(c, &[id])?;
            c.execute("DELETE FROM documents WHERE id = $1", &[&id.stored()])?;
            Ok(Cleanup {
                messages_with_files: Vec::new(),
                documents: vec![id],
                deleted: 1,
            })
        })
    }
}
