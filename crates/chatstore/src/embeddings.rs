//! Embeddings kept by the main store beside their chunks — the source of truth the
//! vector index is rebuilt from — and the embedding cache.

use crate::{
    Chunk, CollectionSpec, Document, DocumentId, EmbeddingSource, Error, NewChunk, Result, UserId,
};

/// The cache key of an embedding: blake3 of whose text it is, the model name and the
/// text, so unchanged text is never sent to the embedder twice.
///
/// `owner` is the user whose private document the text is in, or `None` for global
/// documents. Each owner has a cache of their own: were it shared, a user ingesting a
/// text would learn from the cache (and from the tokens not billed) that someone else
/// had already embedded exactly that text.
///
/// ```
/// use chatstore::UserId;
/// use chatstore::embeddings::cache_key;
///
/// let ada = Some(UserId::new());
/// let a = cache_key(ada, "nomic-embed-text", "hello");
/// assert_eq!(a.len(), 64);
/// assert_ne!(a, cache_key(ada, "other-model", "hello"));
/// assert_ne!(a, cache_key(Some(UserId::new()), "nomic-embed-text", "hello"));
/// assert_ne!(a, cache_key(None, "nomic-embed-text", "hello"));
/// ```
pub fn cache_key(owner: Option<UserId>, model: &str, text: &str) -> String {
    let mut hasher = blake3::Hasher::new();
    match owner {
        Some(user) => hasher.update(b"user").update(user.as_uuid().as_bytes()),
        None => hasher.update(b"global"),
    };
    hasher.update(&(model.len() as u64).to_le_bytes());
    hasher.update(model.as_bytes());
    hasher.update(text.as_bytes());
    hasher.finalize().to_hex().to_string()
}

/// Checks that [`EmbeddingStore::complete_with_chunks`] got one vector per chunk;
/// otherwise [`Error::Validation`] on `vectors`. (Whether each vector fits the collection
/// is [`CollectionSpec::check`]'s to say.)
///
/// ```
/// use chatstore::NewChunk;
/// use chatstore::embeddings::check_one_vector_per_chunk;
///
/// let chunks = [NewChunk::new(0, "one"), NewChunk::new(1, "two")];
/// assert!(check_one_vector_per_chunk(&chunks, &[vec![0.1], vec![0.2]]).is_ok());
/// assert!(check_one_vector_per_chunk(&chunks, &[vec![0.1]]).is_err());
/// ```
pub fn check_one_vector_per_chunk(chunks: &[NewChunk], vectors: &[Vec<f32>]) -> Result<()> {
    if chunks.len() != vectors.len() {
        return Err(Error::validation(
            "vectors",
            format!("{} vectors for {} chunks", vectors.len(), chunks.len()),
        ));
    }
    Ok(())
}

/// Storing embeddings and the embedding cache.
pub trait EmbeddingStore: EmbeddingSource {
    /// Records a collection. The same spec again is a no-op; another spec under the
    /// same name is a [`crate::ConflictKind::Unique`] conflict.
    fn create_embedding_collection(&self, spec: &CollectionSpec) -> Result<()>;

    /// The recorded collections, by name.
    fn embedding_collections(&self) -> Result<Vec<CollectionSpec>>;

    /// Forgets a collection and all its embeddings; returns whether it existed.
    fn drop_embedding_collection(&self, name: &str) -> Result<bool>;

    /// Finishes processing a document in one transaction: its chunks are replaced by
    /// `chunks`, each with its embedding from `vectors` in `collection` (same order and
    /// length), and the document becomes `completed` with its counts. A new chunk with
    /// the text of a previous one keeps that chunk's id
    /// ([`crate::documents::chunk_ids_keeping`]), so citations of it stay valid. The document
    /// must be `processing` and changeable by the user; vectors must fit the
    /// collection. On any error nothing is written.
    fn complete_with_chunks(
        &self,
        user: UserId,
        document: DocumentId,
        collection: &str,
        chunks: &[NewChunk],
        vectors: &[Vec<f32>],
    ) -> Result<(Document, Vec<Chunk>)>;

    /// Cached embeddings for these keys (see [`cache_key`]), `None` where missing.
    fn cached_embeddings(&self, keys: &[String]) -> Result<Vec<Option<Vec<f32>>>>;

    /// Adds embeddings of `owner`'s text to the cache (replacing entries with the same
    /// key); `None` for a global document's. Deleting the owner removes their entries.
    /// An unknown owner is [`crate::Error::NotFound`].
    fn cache_embeddings(&self, owner: Option<UserId>, entries: &[(String, Vec<f32>)])
    -> Result<()>;
}

/// The error an [`Embedder`] reports (any error type of the host's).
pub type EmbedError = Box<dyn std::error::Error + Send + Sync>;

/// Turns text into vectors: implemented by the host around its embedding model. The
/// library never calls a model service itself.
///
/// ```
/// use chatstore::embeddings::{EmbedError, Embedder};
///
/// /// A toy embedder: letter counts.
/// struct Letters;
///
/// impl Embedder for Letters {
///     fn model(&self) -> &str {
///         "letters-v1"
///     }
///
///     fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
///         Ok(texts
///             .iter()
///             .map(|t| {
///                 let mut v = vec![0.0; 26];
///                 t.bytes().filter(u8::is_ascii_lowercase).for_each(|b| v[usize::from(b - b'a')] += 1.0);
///                 v
///             })
///             .collect())
///     }
/// }
/// assert_eq!(Letters.embed(&["abc"]).unwrap()[0][1], 1.0);
/// ```
pub trait Embedder: Send + Sync {
    /// The model's name; part of the cache key, so a new model never reuses another's
    /// vectors.
    fn model(&self) -> &str;

    /// One vector per text, in order.
    fn embed(&self, texts: &[&str]) -> std::result::Result<Vec<Vec<f32>>, EmbedError>;

    /// Tokens in a text, when the host can count them (stored with each chunk).
    fn count_tokens(&self, _text: &str) -> Option<u32> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_and_chunks_must_pair_up() {
        let chunks = [NewChunk::new(0, "a"), NewChunk::new(1, "b")];
        assert!(check_one_vector_per_chunk(&[], &[]).is_ok());
        assert!(check_one_vector_per_chunk(&chunks, &[vec![1.0], vec![2.0]]).is_ok());
        for vectors in [vec![], vec![vec![1.0]], vec![vec![1.0]; 3]] {
            assert!(matches!(
                check_one_vector_per_chunk(&chunks, &vectors),
                Err(Error::Validation {
                    field: "vectors",
                    ..
                })
            ));
        }
    }
}
