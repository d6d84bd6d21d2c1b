//! Semantic search over document chunks: vector collections, the [`VectorIndex`] trait
//! (implemented by `chatstore-vector` on an in-process HNSW graph), and
//! [`EmbeddingSource`], through which an index catches up with the embeddings the main
//! store keeps (the source of truth).

use serde::{Deserialize, Serialize};

use crate::enums::string_enum;
use crate::{ChunkId, Conversation, DocumentId, DocumentScope, Error, Result, UserId};

string_enum! {
    /// How closeness of two vectors is measured.
    Distance, field = "distance" {
        /// Cosine similarity (vectors are normalised when stored and queried).
        Cosine = "cosine",
        /// Inner product.
        Dot = "dot",
        /// Euclidean distance.
        L2 = "l2",
    }
}

/// A vector collection: a name, a fixed dimension and a distance. One per embedding
/// model, say (`rag_documents_custom`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionSpec {
    /// Unique name: 1–64 characters of a-z, 0-9, `_` and `-`.
    pub name: String,
    /// Length of every vector, 1–4096.
    pub dimension: u32,
    /// How vectors are compared.
    pub distance: Distance,
}

impl CollectionSpec {
    /// A collection spec, checked.
    pub fn new(name: &str, dimension: u32, distance: Distance) -> Result<CollectionSpec> {
        let spec = CollectionSpec {
            name: name.to_owned(),
            dimension,
            distance,
        };
        spec.validate().map(|()| spec)
    }

    /// Checks a spec built by hand or read from elsewhere, as [`CollectionSpec::new`]
    /// does. Every entry point that takes a spec calls it.
    pub fn validate(&self) -> Result<()> {
        CollectionSpec::check_name(&self.name)?;
        if !(1..=4096).contains(&self.dimension) {
            return Err(Error::validation(
                "dimension",
                format!("{} is not between 1 and 4096", self.dimension),
            ));
        }
        Ok(())
    }

    /// Checks a collection name: 1–64 characters of a-z, 0-9, `_` and `-`. Names become
    /// file names (a vector index's snapshots), so every entry point that takes a name
    /// checks it, and nothing like `../x` or `/x` gets through.
    ///
    /// ```
    /// use chatstore::CollectionSpec;
    ///
    /// assert!(CollectionSpec::check_name("rag_documents_global-custom").is_ok());
    /// for bad in ["", "../escaped", "/tmp/x", "Upper", "dot.ted", &"x".repeat(65)] {
    ///     assert!(CollectionSpec::check_name(bad).is_err(), "{bad}");
    /// }
    /// ```
    pub fn check_name(name: &str) -> Result<()> {
        let ok = (1..=64).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'));
        if !ok {
            let shown: String = name.chars().take(80).collect();
            return Err(Error::validation(
                "collection",
                format!("{shown:?} must be 1-64 characters of a-z, 0-9, '_' or '-'"),
            ));
        }
        Ok(())
    }

    /// Checks that a collection being created again matches the one already recorded
    /// under its name, `stored` ([`crate::EmbeddingStore::create_embedding_collection`]):
    /// another dimension or distance is the [`crate::ConflictKind::Unique`] conflict on
    /// `embedding_collections.name` every backend reports.
    ///
    /// ```
    /// use chatstore::{CollectionSpec, Distance};
    ///
    /// let stored = CollectionSpec::new("docs", 3, Distance::Cosine).unwrap();
    /// assert!(stored.check_same_as(&stored).is_ok());
    /// let wider = CollectionSpec::new("docs", 4, Distance::Cosine).unwrap();
    /// assert!(wider.check_same_as(&stored).is_err());
    /// ```
    pub fn check_same_as(&self, stored: &CollectionSpec) -> Result<()> {
        if self == stored {
            return Ok(());
        }
        Err(Error::conflict(
            crate::ConflictKind::Unique,
            "embedding_collections.name",
            format!(
                "collection {} exists with {} dimensions and {} distance",
                stored.name, stored.dimension, stored.distance
            ),
        ))
    }

    /// Checks a vector for this collection: the right length, every component finite,
    /// and (for cosine) not all zero.
    pub fn check(&self, vector: &[f32]) -> Result<()> {
        if vector.len() != self.dimension as usize {
            return Err(Error::validation(
                "vector",
                format!(
                    "has {} components; collection {} takes {}",
                    vector.len(),
                    self.name,
                    self.dimension
                ),
            ));
        }
        if let Some(bad) = vector.iter().position(|x| !x.is_finite()) {
            return Err(Error::validation(
                "vector",
                format!("component {bad} is {} (NaN or infinite)", vector[bad]),
            ));
        }
        if self.distance == Distance::Cosine && vector.iter().all(|&x| x == 0.0) {
            return Err(Error::validation(
                "vector",
                "is all zeros, which has no direction to compare",
            ));
        }
        Ok(())
    }
}

/// A collection and how many live vectors it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionInfo {
    /// The collection.
    pub spec: CollectionSpec,
    /// Live (not deleted) vectors.
    pub count: u64,
}

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
    /// The user searching: their own documents and global ones are eligible, no others.
    pub user: UserId,
    /// When set, only these documents (a conversation's selection).
    pub documents: Option<Vec<DocumentId>>,
    /// When set, only documents of this scope.
    pub scope: Option<DocumentScope>,
}

impl VectorFilter {
    /// Everything the user may see.
    pub fn user(user: UserId) -> VectorFilter {
        VectorFilter {
            user,
            documents: None,
            scope: None,
        }
    }

    /// What a conversation may retrieve: the documents it selected, or when it selected
    /// none, everything its owner may see.
    pub fn for_conversation(conversation: &Conversation) -> VectorFilter {
        let selected = &conversation.selected_document_ids;
        VectorFilter {
            documents: (!selected.is_empty()).then(|| selected.clone()),
            ..VectorFilter::user(conversation.user_id)
        }
    }

    /// True when a chunk of `document`, owned by `owner`, passes the filter.
    pub fn admits(&self, document: DocumentId, owner: Option<UserId>) -> bool {
        let visible = owner.is_none_or(|owner| owner == self.user);
        let scope = match self.scope {
            None => true,
            Some(DocumentScope::Global) => owner.is_none(),
            Some(DocumentScope::User) => owner.is_some(),
        };
        let selected = self
            .documents
            .as_ref()
            .is_none_or(|documents| documents.contains(&document));
        visible && scope && selected
    }
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VectorHit {
    /// The chunk.
    pub chunk: ChunkId,
    /// Its document.
    pub document: DocumentId,
    /// Similarity: higher is closer (cosine similarity, inner product, or the negated
    /// Euclidean distance).
    pub score: f32,
}

/// What an index learned when it caught up with the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SyncReport {
    /// Whether a saved snapshot was used (false: built from the store).
    pub from_snapshot: bool,
    /// Vectors added from the store since the snapshot (new chunks and re-embedded
    /// ones).
    pub added: u64,
    /// Vectors removed because the store no longer has them.
    pub removed: u64,
}

/// What changed in a collection's embeddings after a version an index had reached
/// ([`EmbeddingSource::embedding_changes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmbeddingChanges {
    /// The source cannot say what changed since that version (it keeps no record of
    /// removals, or has forgotten those records): here is every embedding of the
    /// collection as (chunk, version), and the index keeps exactly these.
    Everything(Vec<(ChunkId, u64)>),
    /// What changed since that version.
    Since {
        /// Embeddings written after it, as (chunk, version), in version order.
        written: Vec<(ChunkId, u64)>,
        /// Chunks whose embedding was removed after it and not written again.
        removed: Vec<ChunkId>,
        /// The version the index has reached once it applied these.
        latest: u64,
    },
}

/// Where an index reads the embeddings it must hold: the store's copy, the source of
/// truth. System operations, not scoped to a user.
pub trait EmbeddingSource: Send + Sync {
    /// Every embedding of the collection as (chunk, version): a version grows each
    /// time an embedding is written, so an index can tell what changed since it saved.
    fn embedding_versions(&self, collection: &str) -> Result<Vec<(ChunkId, u64)>>;

    /// What changed in the collection after version `since`, so that an index catches
    /// up in proportion to what changed rather than to the collection's size. The
    /// default answers [`EmbeddingChanges::Everything`], which is always correct; a
    /// source that records removals answers [`EmbeddingChanges::Since`] while it still
    /// holds every removal after `since`.
    fn embedding_changes(&self, collection: &str, since: u64) -> Result<EmbeddingChanges> {
        let _ = since;
        Ok(EmbeddingChanges::Everything(
            self.embedding_versions(collection)?,
        ))
    }

    /// The embeddings of these chunks in the collection (missing ones left out).
    fn load_embeddings(&self, collection: &str, chunks: &[ChunkId]) -> Result<Vec<VectorRecord>>;
}

/// An index of chunk embeddings, organised in collections. Implemented by
/// `chatstore-vector`.
///
/// The index is derived data: the store holds every embedding, and
/// [`VectorIndex::sync`] brings an index up to date with it.
///
/// The vector suite of the conformance checks (feature `conformance`,
/// `chatstore::vector_conformance_suite!`) holds an implementation to this contract.
pub trait VectorIndex: Send + Sync {
    /// Creates a collection; creating it again with the same spec is a no-op, with
    /// another spec a [`crate::ConflictKind::Unique`] conflict.
    fn create_collection(&self, spec: &CollectionSpec) -> Result<()>;

    /// Drops a collection and its saved snapshot; returns whether it existed.
    fn drop_collection(&self, name: &str) -> Result<bool>;

    /// The collections with their counts, by name.
    fn collections(&self) -> Result<Vec<CollectionInfo>>;

    /// Adds or replaces embeddings. A vector of the wrong dimension, or with a NaN or
    /// infinite component, is [`Error::Validation`] and none of the batch is added.
    fn upsert(&self, collection: &str, records: &[VectorRecord]) -> Result<()>;

    /// Removes embeddings by chunk; returns how many were there.
    fn delete(&self, collection: &str, chunks: &[ChunkId]) -> Result<u64>;

    /// Removes every embedding of these documents, in every collection; returns how
    /// many were there, all collections together.
    fn remove_documents(&self, documents: &[DocumentId]) -> Result<u64>;

    /// The stored embeddings of these chunks (missing ones left out).
    fn get(&self, collection: &str, chunks: &[ChunkId]) -> Result<Vec<VectorRecord>>;

    /// The `k` chunks nearest to `query` that pass `filter`, nearest first.
    fn search(
        &self,
        collection: &str,
        query: &[f32],
        k: usize,
        filter: &VectorFilter,
    ) -> Result<Vec<VectorHit>>;

    /// Brings the collection up to date with `source`: loads its snapshot (if one is
    /// saved and intact) and applies what changed since, or builds it from `source`.
    /// Afterwards it holds exactly the source's embeddings, whichever way the source
    /// answered [`EmbeddingSource::embedding_changes`], also when the source's versions
    /// end below what the snapshot reached (a store restored from an older copy).
    fn sync(&self, spec: &CollectionSpec, source: &dyn EmbeddingSource) -> Result<SyncReport>;

    /// Saves every collection's snapshot, so the next open is fast.
    fn save(&self) -> Result<()>;
}

/// A [`VectorIndex`] for hosts without semantic search: it holds nothing, removing
/// removes nothing, and adding or searching is [`Error::Unavailable`].
#[derive(Debug, Clone, Copy, Default)]
pub struct NoVectorIndex;

impl NoVectorIndex {
    fn unavailable<T>() -> Result<T> {
        Err(Error::Unavailable {
            detail: "no vector index is configured".to_owned(),
        })
    }
}

impl VectorIndex for NoVectorIndex {
    fn create_collection(&self, _spec: &CollectionSpec) -> Result<()> {
        NoVectorIndex::unavailable()
    }

    fn drop_collection(&self, _name: &str) -> Result<bool> {
        Ok(false)
    }

    fn collections(&self) -> Result<Vec<CollectionInfo>> {
        Ok(Vec::new())
    }

    fn upsert(&self, _collection: &str, _records: &[VectorRecord]) -> Result<()> {
        NoVectorIndex::unavailable()
    }

    fn delete(&self, _collection: &str, _chunks: &[ChunkId]) -> Result<u64> {
        Ok(0)
    }

    fn remove_documents(&self, _documents: &[DocumentId]) -> Result<u64> {
        Ok(0)
    }

    fn get(&self, _collection: &str, _chunks: &[ChunkId]) -> Result<Vec<VectorRecord>> {
        Ok(Vec::new())
    }

    fn search(
        &self,
        _collection: &str,
        _query: &[f32],
        _k: usize,
        _filter: &VectorFilter,
    ) -> Result<Vec<VectorHit>> {
        NoVectorIndex::unavailable()
    }

    fn sync(&self, _spec: &CollectionSpec, _source: &dyn EmbeddingSource) -> Result<SyncReport> {
        Ok(SyncReport::default())
    }

    fn save(&self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_and_vectors_are_checked() {
        assert!(CollectionSpec::new("Bad Name", 3, Distance::Dot).is_err());
        assert!(CollectionSpec::new("ok", 0, Distance::Dot).is_err());
        let spec = CollectionSpec::new("docs_v1", 3, Distance::Cosine).unwrap();
        assert!(spec.check(&[1.0, 0.0, 0.0]).is_ok());
        assert!(spec.check(&[1.0, 0.0]).is_err());
        assert!(spec.check(&[1.0, f32::NAN, 0.0]).is_err());
        assert!(spec.check(&[f32::INFINITY, 0.0, 0.0]).is_err());
        assert!(spec.check(&[0.0, 0.0, 0.0]).is_err());
    }

    #[test]
    fn a_collection_created_again_must_match_the_recorded_one() {
        let stored = CollectionSpec::new("docs_v1", 3, Distance::Cosine).unwrap();
        assert!(stored.check_same_as(&stored).is_ok());
        for other in [
            CollectionSpec::new("docs_v1", 4, Distance::Cosine).unwrap(),
            CollectionSpec::new("docs_v1", 3, Distance::Dot).unwrap(),
        ] {
            assert!(matches!(
                other.check_same_as(&stored),
                Err(Error::Conflict {
                    kind: crate::ConflictKind::Unique,
                    ..
                })
            ));
        }
    }

    #[test]
    fn filters_admit_own_and_global_documents_only() {
        let (ada, eve) = (UserId::new(), UserId::new());
        let (mine, theirs, global) = (DocumentId::new(), DocumentId::new(), DocumentId::new());
        let filter = VectorFilter::user(ada);
        assert!(filter.admits(mine, Some(ada)));
        assert!(filter.admits(global, None));
        assert!(!filter.admits(theirs, Some(eve)));
        let selected = VectorFilter {
            documents: Some(vec![global]),
            ..VectorFilter::user(ada)
        };
        assert!(!selected.admits(mine, Some(ada)) && selected.admits(global, None));
        let own_only = VectorFilter {
            scope: Some(DocumentScope::User),
            ..VectorFilter::user(ada)
        };
        assert!(own_only.admits(mine, Some(ada)) && !own_only.admits(global, None));
    }
}
