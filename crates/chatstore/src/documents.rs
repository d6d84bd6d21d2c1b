//! Documents and their chunks: upload metadata, the processing lifecycle and the text
//! chunks that retrieval works on.

use serde::{Deserialize, Serialize};

use crate::enums::string_enum;
use crate::{
    ChunkId, Cleanup, Cursor, DocumentId, Error, Page, Result, Timestamp, UserId, validate,
};

/// Longest description, generated summary or processing error of a document, in bytes.
pub const MAX_DOCUMENT_TEXT: usize = 65_536;

string_enum! {
    /// Who can see a document.
    DocumentScope, field = "scope" {
        /// Only the uploader.
        User = "user",
        /// Every user (creating one takes `admin:full`).
        Global = "global",
    }
}

string_enum! {
    /// Where a document is in processing.
    ///
    /// ```text
    /// pending → processing → completed
    ///                      ↘ failed → processing (retry)
    /// completed → processing (reprocess)
    /// ```
    ProcessingStatus, field = "processing_status" {
        /// Uploaded, not yet processed.
        Pending = "pending",
        /// Being chunked and embedded.
        Processing = "processing",
        /// Ready for retrieval.
        Completed = "completed",
        /// Processing failed; see `error_message`.
        Failed = "failed",
    }
}

impl ProcessingStatus {
    /// True when a document may move from `self` to `next`.
    pub fn can_become(self, next: ProcessingStatus) -> bool {
        use ProcessingStatus::*;
        matches!(
            (self, next),
            (Pending | Failed | Completed, Processing) | (Processing, Completed | Failed)
        )
    }
}

/// A document's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// The document's id.
    pub id: DocumentId,
    /// Who uploaded it.
    pub owner_id: UserId,
    /// Original file name.
    pub filename: String,
    /// Where the host keeps the file.
    pub file_path: String,
    /// File type (pdf, docx, txt, csv, ...).
    pub file_type: Option<String>,
    /// File size in bytes.
    pub file_size: Option<u64>,
    /// Title (defaults to the file name).
    pub title: String,
    /// User-provided description.
    pub description: Option<String>,
    /// Category.
    pub category: Option<String>,
    /// User-defined tags.
    pub tags: Vec<String>,
    /// Who can see it.
    pub scope: DocumentScope,
    /// Generated summary.
    pub auto_summary: Option<String>,
    /// Extracted keywords.
    pub auto_keywords: Vec<String>,
    /// Classified topics.
    pub auto_topics: Vec<String>,
    /// Content classification (technical, legal, financial, ...).
    pub content_type: Option<String>,
    /// Model used for the summary, keywords and topics.
    pub summarization_model: Option<String>,
    /// Tokens the summarisation used.
    pub summarization_tokens: Option<u32>,
    /// When the summary was made.
    pub summarized_at: Option<Timestamp>,
    /// Processing status.
    pub status: ProcessingStatus,
    /// Why processing failed, when it did.
    pub error_message: Option<String>,
    /// Number of chunks.
    pub num_chunks: u32,
    /// Tokens in all chunks.
    pub num_tokens: u64,
    /// When it was uploaded.
    pub uploaded_at: Timestamp,
    /// When processing last completed.
    pub processed_at: Option<Timestamp>,
}

impl Document {
    /// The user whose private document this is, or `None` for a global one: whom its
    /// vectors and cached embeddings belong to.
    pub fn private_owner(&self) -> Option<UserId> {
        (self.scope == DocumentScope::User).then_some(self.owner_id)
    }

    /// Checks that the document may move to `next` ([`ProcessingStatus::can_become`]);
    /// otherwise the [`crate::ConflictKind::InvalidState`] conflict every backend reports.
    pub fn check_can_become(&self, next: ProcessingStatus) -> Result<()> {
        if self.status.can_become(next) {
            return Ok(());
        }
        Err(Error::conflict(
            crate::ConflictKind::InvalidState,
            "document status",
            format!(
                "document {} cannot go from {} to {next}",
                self.id, self.status
            ),
        ))
    }

    /// Checks that `user` may change the document (a document they can see): its owner
    /// may, and so may whoever holds `admin:full` (a global document is shared by every
    /// user); anyone else gets [`Error::Forbidden`]. `holds_admin` asks the database,
    /// and is only asked when the user is not the owner.
    pub fn check_editable_by(
        &self,
        user: UserId,
        holds_admin: impl FnOnce() -> Result<bool>,
    ) -> Result<()> {
        if self.owner_id == user || holds_admin()? {
            return Ok(());
        }
        Err(forbidden_without_admin())
    }

    /// Checks that the document's chunks may change now: only while it is `processing`,
    /// otherwise the [`crate::ConflictKind::InvalidState`] conflict every backend
    /// reports. `verb` says what was to happen to them ("added", "removed", ...).
    pub fn check_chunks_changeable(&self, verb: &str) -> Result<()> {
        if self.status == ProcessingStatus::Processing {
            return Ok(());
        }
        Err(Error::conflict(
            crate::ConflictKind::InvalidState,
            "document status",
            format!(
                "chunks can only be {verb} while processing; document {} is {}",
                self.id, self.status
            ),
        ))
    }
}

/// Checks that a document of `scope` may be created: a global one, shared by every
/// user, only by whoever holds `admin:full` ([`Error::Forbidden`] otherwise).
/// `holds_admin` asks the database, and is only asked for a global document.
pub fn check_scope_allowed(
    scope: DocumentScope,
    holds_admin: impl FnOnce() -> Result<bool>,
) -> Result<()> {
    if scope == DocumentScope::User || holds_admin()? {
        return Ok(());
    }
    Err(forbidden_without_admin())
}

/// The refusal for what needs `admin:full`.
fn forbidden_without_admin() -> Error {
    Error::Forbidden {
        permission: crate::rbac::permissions::ADMIN_FULL.to_owned(),
    }
}

/// What registering an uploaded document takes.
#[derive(Debug, Clone)]
pub struct NewDocument {
    /// Original file name (required).
    pub filename: String,
    /// Where the host keeps the file (required).
    pub file_path: String,
    /// File type.
    pub file_type: Option<String>,
    /// Size in bytes.
    pub file_size: Option<u64>,
    /// Title; the file name when `None`.
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Category.
    pub category: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Scope.
    pub scope: DocumentScope,
}

impl NewDocument {
    /// A private document with just a file name and path.
    pub fn new(filename: &str, file_path: &str) -> NewDocument {
        NewDocument {
            filename: filename.to_owned(),
            file_path: file_path.to_owned(),
            file_type: None,
            file_size: None,
            title: None,
            description: None,
            category: None,
            tags: Vec::new(),
            scope: DocumentScope::User,
        }
    }

    /// Checks the document and gives the values a backend stores: file name and path
    /// given, short texts trimmed and within [`validate::MAX_SHORT_TEXT`] characters, the
    /// title defaulting to the file name, a description of at most [`MAX_DOCUMENT_TEXT`]
    /// bytes, tags as [`validate::tags`] leaves them and a size that fits a database
    /// integer. Anything else is [`Error::Validation`] naming the field.
    ///
    /// ```
    /// use chatstore::NewDocument;
    ///
    /// let mut new = NewDocument::new(" report.pdf ", "/files/report.pdf");
    /// new.tags = vec!["q3".into(), " q3 ".into(), "".into()];
    /// let prepared = new.prepare().unwrap();
    /// assert_eq!(prepared.title, "report.pdf");
    /// assert_eq!(prepared.tags, ["q3"]);
    ///
    /// new.file_size = Some(u64::MAX);
    /// assert!(new.prepare().is_err());
    /// ```
    pub fn prepare(&self) -> Result<PreparedDocument> {
        let filename = validate::required_text("filename", &self.filename)?;
        let file_path = validate::required_text("file_path", &self.file_path)?;
        let file_type = validate::optional_text("file_type", self.file_type.as_deref())?;
        let title = validate::optional_text("title", self.title.as_deref())?
            .unwrap_or_else(|| filename.clone());
        let description = validate::optional_long_text(
            "description",
            self.description.as_deref(),
            MAX_DOCUMENT_TEXT,
        )?;
        let category = validate::optional_text("category", self.category.as_deref())?;
        let tags = validate::tags("tags", &self.tags)?;
        let file_size = self
            .file_size
            .map(|s| i64::try_from(s).map_err(|_| Error::validation("file_size", "too large")))
            .transpose()?;
        Ok(PreparedDocument {
            filename,
            file_path,
            file_type,
            file_size,
            title,
            description,
            category,
            tags,
            scope: self.scope,
        })
    }
}

/// A document checked by [`NewDocument::prepare`]: the values a backend stores.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedDocument {
    /// Original file name, trimmed.
    pub filename: String,
    /// Where the host keeps the file, trimmed.
    pub file_path: String,
    /// File type.
    pub file_type: Option<String>,
    /// Size in bytes, within a database integer's range.
    pub file_size: Option<i64>,
    /// Title: the one given, or the file name.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Category.
    pub category: Option<String>,
    /// Tags, blanks and repeats dropped.
    pub tags: Vec<String>,
    /// Scope (creating a global document takes `admin:full`, which the backend checks).
    pub scope: DocumentScope,
}

/// Editable descriptive fields; `None` leaves a field unchanged.
#[derive(Debug, Clone, Default)]
pub struct DocumentUpdate {
    /// New title.
    pub title: Option<String>,
    /// New description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// New category (`Some(None)` clears it).
    pub category: Option<Option<String>>,
    /// New tags.
    pub tags: Option<Vec<String>>,
}

impl DocumentUpdate {
    /// Checks the changes with the rules of [`NewDocument::prepare`] (a new title must
    /// not be blank) and gives the values a backend stores; `None` still means
    /// "unchanged" and `Some(None)` "cleared".
    ///
    /// ```
    /// use chatstore::DocumentUpdate;
    ///
    /// let update = DocumentUpdate { description: Some(Some("  ".into())), ..Default::default() };
    /// assert_eq!(update.prepare().unwrap().description, Some(None));
    /// let blank_title = DocumentUpdate { title: Some(" ".into()), ..Default::default() };
    /// assert!(blank_title.prepare().is_err());
    /// ```
    pub fn prepare(&self) -> Result<DocumentUpdate> {
        Ok(DocumentUpdate {
            title: self
                .title
                .as_deref()
                .map(|t| validate::required_text("title", t))
                .transpose()?,
            description: self
                .description
                .as_ref()
                .map(|d| {
                    validate::optional_long_text("description", d.as_deref(), MAX_DOCUMENT_TEXT)
                })
                .transpose()?,
            category: self
                .category
                .as_ref()
                .map(|c| validate::optional_text("category", c.as_deref()))
                .transpose()?,
            tags: self
                .tags
                .as_deref()
                .map(|t| validate::tags("tags", t))
                .transpose()?,
        })
    }
}

/// Generated descriptive metadata (summary, keywords, topics).
#[derive(Debug, Clone, Default)]
pub struct DocumentAnalysis {
    /// Summary.
    pub auto_summary: Option<String>,
    /// Keywords.
    pub auto_keywords: Vec<String>,
    /// Topics.
    pub auto_topics: Vec<String>,
    /// Content classification.
    pub content_type: Option<String>,
    /// Model that produced it.
    pub summarization_model: Option<String>,
    /// Tokens it used.
    pub summarization_tokens: Option<u32>,
}

impl DocumentAnalysis {
    /// Checks the analysis and gives the values a backend stores: a summary of at most
    /// [`MAX_DOCUMENT_TEXT`] bytes, keywords and topics as [`validate::tags`] leaves
    /// them, short texts trimmed. Anything else is [`Error::Validation`] naming the
    /// field.
    ///
    /// ```
    /// use chatstore::DocumentAnalysis;
    ///
    /// let analysis = DocumentAnalysis {
    ///     auto_keywords: vec!["tax".into(), "tax".into()],
    ///     content_type: Some(" legal ".into()),
    ///     ..Default::default()
    /// };
    /// let prepared = analysis.prepare().unwrap();
    /// assert_eq!(prepared.auto_keywords, ["tax"]);
    /// assert_eq!(prepared.content_type.as_deref(), Some("legal"));
    /// ```
    pub fn prepare(&self) -> Result<DocumentAnalysis> {
        Ok(DocumentAnalysis {
            auto_summary: validate::optional_long_text(
                "auto_summary",
                self.auto_summary.as_deref(),
                MAX_DOCUMENT_TEXT,
            )?,
            auto_keywords: validate::tags("auto_keywords", &self.auto_keywords)?,
            auto_topics: validate::tags("auto_topics", &self.auto_topics)?,
            content_type: validate::optional_text("content_type", self.content_type.as_deref())?,
            summarization_model: validate::optional_text(
                "summarization_model",
                self.summarization_model.as_deref(),
            )?,
            summarization_tokens: self.summarization_tokens,
        })
    }
}

/// Checks the reason [`DocumentStore::fail_processing`] records and gives the text a
/// backend stores: trimmed, not blank, at most [`MAX_DOCUMENT_TEXT`] bytes, no NUL.
///
/// ```
/// use chatstore::documents::processing_error;
///
/// assert_eq!(processing_error(" parser crashed\n").unwrap(), "parser crashed");
/// assert!(processing_error("  ").is_err());
/// ```
pub fn processing_error(error: &str) -> Result<String> {
    validate::optional_long_text("error", Some(error), MAX_DOCUMENT_TEXT)?
        .ok_or_else(|| Error::validation("error", "must not be empty"))
}

/// Which documents to list: the user's own and all global ones.
#[derive(Debug, Clone)]
pub struct DocumentQuery {
    /// Only this scope.
    pub scope: Option<DocumentScope>,
    /// Only this status.
    pub status: Option<ProcessingStatus>,
    /// Page size, 1–1000.
    pub limit: u32,
    /// Where to continue from.
    pub cursor: Option<Cursor>,
}

impl Default for DocumentQuery {
    fn default() -> Self {
        DocumentQuery {
            scope: None,
            status: None,
            limit: 50,
            cursor: None,
        }
    }
}

/// A chunk of a document's text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    /// The chunk's id.
    pub id: ChunkId,
    /// Its document.
    pub document_id: DocumentId,
    /// Position in the document, from 0.
    pub chunk_index: u32,
    /// The text.
    pub content: String,
    /// Tokens in the text.
    pub num_tokens: Option<u32>,
    /// Source page.
    pub page_number: Option<u32>,
    /// Source section.
    pub section: Option<String>,
    /// The vector index entry for this chunk, once embedded.
    pub embedding_id: Option<String>,
}

/// A chunk to store.
#[derive(Debug, Clone)]
pub struct NewChunk {
    /// Position in the document, unique within it.
    pub chunk_index: u32,
    /// The text (not blank).
    pub content: String,
    /// Tokens in the text.
    pub num_tokens: Option<u32>,
    /// Source page.
    pub page_number: Option<u32>,
    /// Source section.
    pub section: Option<String>,
}

impl NewChunk {
    /// A chunk at `chunk_index` with `content` and no token count, page or section.
    pub fn new(chunk_index: u32, content: impl Into<String>) -> NewChunk {
        NewChunk {
            chunk_index,
            content: content.into(),
            num_tokens: None,
            page_number: None,
            section: None,
        }
    }

    /// Checks the chunk (text not blank and without NUL, section a short text) and makes
    /// the chunk a backend stores as `id` of `document`. `embedded_in` names the vector
    /// collection its embedding goes to, which makes its `embedding_id`
    /// `"{collection}/{id}"`.
    ///
    /// ```
    /// use chatstore::{ChunkId, DocumentId, NewChunk};
    ///
    /// let (document, id) = (DocumentId::new(), ChunkId::new());
    /// let chunk = NewChunk::new(0, "Who is eligible?").prepare(document, id, Some("docs")).unwrap();
    /// assert_eq!(chunk.embedding_id, Some(format!("docs/{id}")));
    /// assert!(NewChunk::new(1, " ").prepare(document, id, None).is_err());
    /// ```
    pub fn prepare(
        &self,
        document: DocumentId,
        id: ChunkId,
        embedded_in: Option<&str>,
    ) -> Result<Chunk> {
        validate::body("chunk content", &self.content, usize::MAX)?;
        Ok(Chunk {
            id,
            document_id: document,
            chunk_index: self.chunk_index,
            content: self.content.clone(),
            num_tokens: self.num_tokens,
            page_number: self.page_number,
            section: validate::optional_text("section", self.section.as_deref())?,
            embedding_id: embedded_in.map(|collection| format!("{collection}/{id}")),
        })
    }
}

/// [`NewChunk::prepare`] for each chunk with the id at the same position in `ids` (one
/// per chunk: new ones, or [`chunk_ids_keeping`]'s); the first bad chunk is the error.
/// Ids and chunks of different lengths are [`Error::Validation`] on `chunk ids`.
///
/// ```
/// use chatstore::{ChunkId, DocumentId, NewChunk};
/// use chatstore::documents::prepare_chunks;
///
/// let chunks = [NewChunk::new(0, "one"), NewChunk::new(1, "two")];
/// let ids = [ChunkId::new(), ChunkId::new()];
/// let stored = prepare_chunks(DocumentId::new(), &chunks, &ids, None).unwrap();
/// assert_eq!(stored[1].id, ids[1]);
/// assert!(prepare_chunks(DocumentId::new(), &chunks, &ids[..1], None).is_err());
/// ```
pub fn prepare_chunks(
    document: DocumentId,
    chunks: &[NewChunk],
    ids: &[ChunkId],
    embedded_in: Option<&str>,
) -> Result<Vec<Chunk>> {
    if ids.len() != chunks.len() {
        return Err(Error::validation(
            "chunk ids",
            format!("{} ids for {} chunks", ids.len(), chunks.len()),
        ));
    }
    chunks
        .iter()
        .zip(ids)
        .map(|(chunk, &id)| chunk.prepare(document, id, embedded_in))
        .collect()
}

/// Ids for a document's new chunks that keep the ids of its unchanged ones: each new
/// chunk whose text equals a `previous` chunk's takes that chunk's id (each previous id
/// once, in order); the rest get new ids. Re-ingesting a document uses it, so that an
/// answer citing an unchanged chunk still resolves afterwards.
///
/// ```
/// use chatstore::{ChunkId, NewChunk};
/// use chatstore::documents::chunk_ids_keeping;
///
/// let kept = ChunkId::new();
/// let previous = [(kept, "unchanged".to_owned()), (ChunkId::new(), "edited".to_owned())];
/// let chunks = [NewChunk::new(0, "unchanged"), NewChunk::new(1, "edited!")];
/// let ids = chunk_ids_keeping(&previous, &chunks);
/// assert_eq!(ids[0], kept);
/// assert!(!previous.iter().any(|(id, _)| *id == ids[1]));
/// ```
pub fn chunk_ids_keeping(previous: &[(ChunkId, String)], chunks: &[NewChunk]) -> Vec<ChunkId> {
    let mut by_text: std::collections::HashMap<&str, std::collections::VecDeque<ChunkId>> =
        std::collections::HashMap::new();
    for (id, text) in previous {
        by_text.entry(text.as_str()).or_default().push_back(*id);
    }
    chunks
        .iter()
        .map(|chunk| {
            by_text
                .get_mut(chunk.content.as_str())
                .and_then(std::collections::VecDeque::pop_front)
                .unwrap_or_else(ChunkId::new)
        })
        .collect()
}

/// Storing documents and chunks.
///
/// Reads see the user's own documents and every global one; another user's private
/// document is [`crate::Error::NotFound`]. Changes need ownership, or `admin:full` for a
/// global document ([`crate::Error::Forbidden`] otherwise).
pub trait DocumentStore: Send + Sync {
    /// Registers an uploaded document as `pending`. A global document needs `admin:full`.
    fn create_document(&self, user: UserId, new: &NewDocument) -> Result<Document>;

    /// One document.
    fn document(&self, user: UserId, id: DocumentId) -> Result<Document>;

    /// A page of visible documents, newest upload first.
    fn list_documents(&self, user: UserId, query: &DocumentQuery) -> Result<Page<Document>>;

    /// Changes the descriptive fields.
    fn update_document(
        &self,
        user: UserId,
        id: DocumentId,
        update: &DocumentUpdate,
    ) -> Result<Document>;

    /// Records generated summary, keywords and topics.
    fn set_document_analysis(
        &self,
        user: UserId,
        id: DocumentId,
        analysis: &DocumentAnalysis,
    ) -> Result<Document>;

    /// Moves the document to `processing` (from pending, failed or completed), clearing
    /// any error message.
    fn start_processing(&self, user: UserId, id: DocumentId) -> Result<Document>;

    /// Moves a processing document to `completed`, setting its chunk and token counts
    /// from the stored chunks.
    fn complete_processing(&self, user: UserId, id: DocumentId) -> Result<Document>;

    /// Moves a processing document to `failed` with the reason.
    fn fail_processing(&self, user: UserId, id: DocumentId, error: &str) -> Result<Document>;

    /// Stores chunks of a document that is `processing`, all or none. A chunk index
    /// already used in the document is a [`crate::ConflictKind::Unique`] conflict.
    fn add_chunks(&self, user: UserId, id: DocumentId, chunks: &[NewChunk]) -> Result<Vec<Chunk>>;

    /// The document's chunks in index order.
    fn chunks(&self, user: UserId, id: DocumentId) -> Result<Vec<Chunk>>;

    /// The chunks with these ids that the user can see, in the order asked (missing or
    /// invisible ones are left out). At most [`crate::validate::MAX_IDS`] ids.
    fn chunks_by_ids(&self, user: UserId, ids: &[ChunkId]) -> Result<Vec<Chunk>>;

    /// Deletes a processing document's chunks (to re-chunk it); returns how many.
    fn delete_chunks(&self, user: UserId, id: DocumentId) -> Result<u64>;

    /// Deletes the document and its chunks. Returns what the vector index must remove
    /// ([`crate::ChatStore::delete_document`] does that).
    fn delete_document(&self, user: UserId, id: DocumentId) -> Result<Cleanup>;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The field a validation error names.
    fn field<T: std::fmt::Debug>(result: Result<T>) -> &'static str {
        match result {
            Err(Error::Validation { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn new_documents_are_trimmed_defaulted_and_checked() {
        let mut new = NewDocument::new(" a.pdf ", " /f/a.pdf ");
        new.file_size = Some(i64::MAX as u64);
        new.tags = vec!["x".into(), "x".into(), " ".into(), "y".into()];
        let prepared = new.prepare().unwrap();
        assert_eq!(prepared.filename, "a.pdf");
        assert_eq!(prepared.file_path, "/f/a.pdf");
        assert_eq!(prepared.title, "a.pdf");
        assert_eq!(prepared.file_size, Some(i64::MAX));
        assert_eq!(prepared.tags, ["x", "y"]);
        assert_eq!(prepared.scope, DocumentScope::User);

        let bad = |change: fn(&mut NewDocument)| {
            let mut new = NewDocument::new("a.pdf", "/f/a.pdf");
            change(&mut new);
            field(new.prepare())
        };
        assert_eq!(bad(|n| n.filename = " ".into()), "filename");
        assert_eq!(bad(|n| n.file_path = String::new()), "file_path");
        assert_eq!(bad(|n| n.file_type = Some("p\0df".into())), "file_type");
        assert_eq!(bad(|n| n.title = Some("t".repeat(501))), "title");
        assert_eq!(
            bad(|n| n.description = Some("d".repeat(MAX_DOCUMENT_TEXT + 1))),
            "description"
        );
        assert_eq!(bad(|n| n.category = Some("c".repeat(501))), "category");
        assert_eq!(
            bad(|n| n.tags = (0..=validate::MAX_TAGS).map(|i| i.to_string()).collect()),
            "tags"
        );
        assert_eq!(
            bad(|n| n.file_size = Some(i64::MAX as u64 + 1)),
            "file_size"
        );
        let mut at_limit = NewDocument::new("a.pdf", "/f/a.pdf");
        at_limit.description = Some("d".repeat(MAX_DOCUMENT_TEXT));
        assert!(at_limit.prepare().is_ok());
    }

    #[test]
    fn document_updates_keep_unchanged_and_cleared_apart() {
        let update = DocumentUpdate {
            title: Some(" New ".into()),
            description: Some(None),
            category: None,
            tags: Some(vec!["a".into(), "a".into()]),
        };
        let prepared = update.prepare().unwrap();
        assert_eq!(prepared.title.as_deref(), Some("New"));
        assert_eq!(prepared.description, Some(None));
        assert_eq!(prepared.category, None);
        assert_eq!(prepared.tags, Some(vec!["a".to_owned()]));

        let bad = |update: DocumentUpdate| field(update.prepare());
        let none = DocumentUpdate::default;
        assert_eq!(
            bad(DocumentUpdate {
                title: Some(" ".into()),
                ..none()
            }),
            "title"
        );
        assert_eq!(
            bad(DocumentUpdate {
                description: Some(Some("d".repeat(MAX_DOCUMENT_TEXT + 1))),
                ..none()
            }),
            "description"
        );
        assert_eq!(
            bad(DocumentUpdate {
                category: Some(Some("c\0".into())),
                ..none()
            }),
            "category"
        );
        assert_eq!(
            bad(DocumentUpdate {
                tags: Some(vec!["t".repeat(501)]),
                ..none()
            }),
            "tags"
        );
    }

    #[test]
    fn analyses_are_checked_field_by_field() {
        let bad = |change: fn(&mut DocumentAnalysis)| {
            let mut analysis = DocumentAnalysis::default();
            change(&mut analysis);
            field(analysis.prepare())
        };
        assert_eq!(
            bad(|a| a.auto_summary = Some("s".repeat(MAX_DOCUMENT_TEXT + 1))),
            "auto_summary"
        );
        assert_eq!(
            bad(|a| a.auto_keywords = vec!["k\0".into()]),
            "auto_keywords"
        );
        assert_eq!(
            bad(|a| a.auto_topics = (0..=validate::MAX_TAGS).map(|i| i.to_string()).collect()),
            "auto_topics"
        );
        assert_eq!(
            bad(|a| a.content_type = Some("c".repeat(501))),
            "content_type"
        );
        assert_eq!(
            bad(|a| a.summarization_model = Some("m\0".into())),
            "summarization_model"
        );
        let blank = DocumentAnalysis {
            auto_summary: Some("  ".into()),
            summarization_tokens: Some(7),
            ..DocumentAnalysis::default()
        }
        .prepare()
        .unwrap();
        assert_eq!(blank.auto_summary, None);
        assert_eq!(blank.summarization_tokens, Some(7));
    }

    #[test]
    fn processing_errors_need_text_within_the_limit() {
        assert_eq!(field(processing_error(" \n ")), "error");
        assert_eq!(
            field(processing_error(&"e".repeat(MAX_DOCUMENT_TEXT + 1))),
            "error"
        );
        assert_eq!(field(processing_error("a\0b")), "error");
        assert_eq!(processing_error(" timeout ").unwrap(), "timeout");
    }

    #[test]
    fn chunks_are_checked_and_given_their_ids() {
        let document = DocumentId::new();
        let id = ChunkId::new();
        assert_eq!(
            field(NewChunk::new(0, " \n").prepare(document, id, None)),
            "chunk content"
        );
        assert_eq!(
            field(NewChunk::new(0, "a\0").prepare(document, id, None)),
            "chunk content"
        );
        let mut long_section = NewChunk::new(0, "text");
        long_section.section = Some("s".repeat(501));
        assert_eq!(field(long_section.prepare(document, id, None)), "section");

        let mut chunk = NewChunk::new(3, " kept as given ");
        chunk.section = Some(" Intro ".into());
        let stored = chunk.prepare(document, id, None).unwrap();
        assert_eq!(stored.content, " kept as given ");
        assert_eq!(stored.section.as_deref(), Some("Intro"));
        assert_eq!((stored.chunk_index, stored.embedding_id), (3, None));

        let chunks = [NewChunk::new(0, "a"), NewChunk::new(1, " ")];
        let ids = [ChunkId::new(), ChunkId::new()];
        assert_eq!(
            field(prepare_chunks(document, &chunks, &ids, None)),
            "chunk content"
        );
        assert_eq!(
            field(prepare_chunks(document, &chunks[..1], &ids, None)),
            "chunk ids"
        );
        assert!(
            prepare_chunks(document, &[], &[], Some("c"))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn lifecycle_checks_are_invalid_state_conflicts() {
        let now = Timestamp::MIN;
        let mut document = Document {
            id: DocumentId::new(),
            owner_id: UserId::new(),
            filename: "a".into(),
            file_path: "a".into(),
            file_type: None,
            file_size: None,
            title: "a".into(),
            description: None,
            category: None,
            tags: Vec::new(),
            scope: DocumentScope::User,
            auto_summary: None,
            auto_keywords: Vec::new(),
            auto_topics: Vec::new(),
            content_type: None,
            summarization_model: None,
            summarization_tokens: None,
            summarized_at: None,
            status: ProcessingStatus::Pending,
            error_message: None,
            num_chunks: 0,
            num_tokens: 0,
            uploaded_at: now,
            processed_at: None,
        };
        let invalid_state = |result: Result<()>| {
            matches!(
                result,
                Err(Error::Conflict {
                    kind: crate::ConflictKind::InvalidState,
                    ..
                })
            )
        };
        assert!(invalid_state(
            document.check_can_become(ProcessingStatus::Completed)
        ));
        assert!(invalid_state(document.check_chunks_changeable("added")));
        assert!(
            document
                .check_can_become(ProcessingStatus::Processing)
                .is_ok()
        );
        document.status = ProcessingStatus::Processing;
        assert!(document.check_chunks_changeable("added").is_ok());
        assert!(document.check_can_become(ProcessingStatus::Failed).is_ok());
    }
}
