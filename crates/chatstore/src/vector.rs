//! Semantic search over document chunks: the [`VectorIndex`] trait. The
//! `chatstore-vector` crate implements it on an in-process HNSW graph.

use serde::{Deserialize, Serialize};

use crate::{ChunkId, DocumentId, Error, Result, UserId};

/// A chunk's embedding with the metadata searches filter on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VectorRecord {
    /// The chunk.
    pub chunk: ChunkId,
    /// Its document.
    pub document: DocumentId,
    /// The document's owner, or `None` for a global document.
    pub owner: Option<UserId>,
    /// The embedding.
    pub vector: Vec<f32>,
}

/// Which chunks a search may return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VectorFilter {
    /// The user searching: their own documents and global ones are eligible.
    pub user: UserId,
    /// When set, only these documents (a conversation's selection).
    pub documents: Option<Vec<DocumentId>>,
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VectorHit {
    /// The chunk.
    pub chunk: ChunkId,
    /// Its document.
    pub document: DocumentId,
    /// Similarity, higher is closer.
    pub score: f32,
}

/// An index of chunk embeddings. Implemented by `chatstore-vector`.
pub trait VectorIndex: Send + Sync {
    /// Adds or replaces embeddings.
    fn upsert(&self, records: &[VectorRecord]) -> Result<()>;

    /// Removes every embedding of these documents; returns how many.
    fn remove_documents(&self, documents: &[DocumentId]) -> Result<u64>;

    /// The `k` eligible chunks nearest to `query`, nearest first.
    fn search(&self, query: &[f32], k: usize, filter: &VectorFilter) -> Result<Vec<VectorHit>>;
}

/// A [`VectorIndex`] for hosts without semantic search: it holds nothing, removing
/// removes nothing, and adding or searching is [`Error::Unavailable`].
#[derive(Debug, Clone, Copy, Default)]
pub struct NoVectorIndex;

impl VectorIndex for NoVectorIndex {
    fn upsert(&self, _records: &[VectorRecord]) -> Result<()> {
        Err(Error::Unavailable {
            detail: "no vector index is configured".to_owned(),
        })
    }

    fn remove_documents(&self, _documents: &[DocumentId]) -> Result<u64> {
        Ok(0)
    }

    fn search(&self, _query: &[f32], _k: usize, _filter: &VectorFilter) -> Result<Vec<VectorHit>> {
        Err(Error::Unavailable {
            detail: "no vector index is configured".to_owned(),
        })
    }
}
