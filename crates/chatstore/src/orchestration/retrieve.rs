//! Retrieval for a question: the nearest chunks the user may see, with the document
//! details a message's `retrieved_documents` and `sources` record.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use crate::embeddings::Embedder;
use crate::{
    BlobStore, Chunk, ChunkId, Document, Error, MessageId, ProcessingStatus, Result,
    RetrievedDocument, SourceRef, Store, UserId, VectorFilter, VectorIndex,
};

use super::ChatStore;

/// Characters of a chunk quoted as a source's `cited_text`.
const CITED_CHARS: usize = 300;

/// One retrieved chunk with its document and score.
#[derive(Debug, Clone, PartialEq)]
pub struct Retrieval {
    /// The chunk.
    pub chunk: Chunk,
    /// Its document.
    pub document: Document,
    /// Similarity to the question (higher is closer; see [`crate::VectorHit::score`]).
    pub score: f32,
}

impl Retrieval {
    /// The entry for a message's `retrieved_documents`.
    pub fn retrieved_document(&self) -> RetrievedDocument {
        RetrievedDocument {
            document_id: self.document.id,
            chunk_id: self.chunk.id,
            content: self.chunk.content.clone(),
            similarity_score: f64::from(self.score),
            page_number: self.chunk.page_number,
        }
    }

    /// The citation for a message's `sources`, quoting the start of the chunk.
    pub fn source(&self) -> SourceRef {
        let cited: String = self.chunk.content.chars().take(CITED_CHARS).collect();
        SourceRef {
            id: self.document.id,
            filename: self.document.filename.clone(),
            title: Some(self.document.title.clone()),
            relevance_score: f64::from(self.score).clamp(0.0, 1.0),
            cited_text: Some(cited),
            page: self.chunk.page_number,
        }
    }
}

/// One citation per document, from its best chunk, best first.
pub fn sources(retrievals: &[Retrieval]) -> Vec<SourceRef> {
    let mut seen = std::collections::HashSet::new();
    retrievals
        .iter()
        .filter(|r| seen.insert(r.document.id))
        .map(Retrieval::source)
        .collect()
}

/// A chunk an answer cited (one entry of its `retrieved_documents`), as it stands now.
#[derive(Debug, Clone, PartialEq)]
pub struct Citation {
    /// What the answer recorded: document, chunk, the text the model saw, score, page.
    pub recorded: RetrievedDocument,
    /// The chunk as stored now; `None` when it is gone (its document was deleted, or
    /// re-ingested without this text). `recorded.content` still shows what was cited.
    pub chunk: Option<Chunk>,
}

impl<S: Store, B: BlobStore, V: VectorIndex> ChatStore<S, B, V> {
    /// The chunks a message cited, each with the chunk as it is now, or `None` where it
    /// is gone. An answer is history: its citations stay readable whatever happened to
    /// the documents since. Re-ingesting a document keeps the ids of chunks whose text
    /// did not change, so those keep resolving.
    pub fn citations(&self, user: UserId, message: MessageId) -> Result<Vec<Citation>> {
        let recorded = self
            .store
            .message(user, message)?
            .metadata
            .retrieved_documents;
        let ids: Vec<ChunkId> = recorded.iter().map(|r| r.chunk_id).collect();
        let current: HashMap<ChunkId, Chunk> = self
            .store
            .chunks_by_ids(user, &ids)?
            .into_iter()
            .map(|chunk| (chunk.id, chunk))
            .collect();
        Ok(recorded
            .into_iter()
            .map(|recorded| Citation {
                chunk: current.get(&recorded.chunk_id).cloned(),
                recorded,
            })
            .collect())
    }

    /// The `k` chunks of `collection` nearest to `question` that `filter` admits,
    /// nearest first. The question is embedded with `embedder` (not cached); chunks
    /// are read back through the store as the filter's user, so only what they may see
    /// is returned, and only from completed documents.
    pub fn retrieve(
        &self,
        collection: &str,
        question: &str,
        k: usize,
        filter: &VectorFilter,
        embedder: &dyn Embedder,
    ) -> Result<Vec<Retrieval>> {
        let mut vectors = embedder
            .embed(&[question])
            .map_err(|source| Error::Embedder { source })?;
        if vectors.len() != 1 {
            return Err(Error::Embedder {
                source: format!("{} vectors for one question", vectors.len()).into(),
            });
        }
        self.retrieve_by_vector(collection, &vectors.remove(0), k, filter)
    }

    /// Like [`ChatStore::retrieve`], for a question already embedded.
    pub fn retrieve_by_vector(
        &self,
        collection: &str,
        query: &[f32],
        k: usize,
        filter: &VectorFilter,
    ) -> Result<Vec<Retrieval>> {
        let hits = self.vectors.search(collection, query, k, filter)?;
        let ids: Vec<_> = hits.iter().map(|h| h.chunk).collect();
        let mut chunks: HashMap<_, Chunk> = self
            .store
            .chunks_by_ids(filter.user, &ids)?
            .into_iter()
            .map(|c| (c.id, c))
            .collect();
        let mut documents: HashMap<_, Option<Document>> = HashMap::new();
        let mut found = Vec::with_capacity(hits.len());
        for hit in hits {
            // A chunk the store no longer has (the index not yet caught up) is skipped.
            let Some(chunk) = chunks.remove(&hit.chunk) else {
                continue;
            };
            let document = match documents.entry(chunk.document_id) {
                Entry::Occupied(known) => known.into_mut(),
                Entry::Vacant(slot) => {
                    slot.insert(match self.store.document(filter.user, chunk.document_id) {
                        Ok(document) => Some(document),
                        Err(Error::NotFound { .. }) => None,
                        Err(error) => return Err(error),
                    })
                }
            };
            let Some(document) = document else {
                continue;
            };
            if document.status == ProcessingStatus::Completed {
                found.push(Retrieval {
                    document: document.clone(),
                    chunk,
                    score: hit.score,
                });
            }
        }
        Ok(found)
    }
}
