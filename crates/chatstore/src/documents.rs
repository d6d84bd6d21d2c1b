//! Documents and their chunks: upload metadata, the processing lifecycle and the text
//! chunks that retrieval works on.

use serde::{Deserialize, Serialize};

use crate::enums::string_enum;
use crate::{ChunkId, Cleanup, Cursor, DocumentId, Page, Result, Timestamp, UserId};

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
