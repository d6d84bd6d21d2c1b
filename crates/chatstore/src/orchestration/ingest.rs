//! Ingesting a document: chunking, embedding (through the cache), storing chunks with
//! their embeddings in one transaction, then indexing the vectors.

use crate::chunking::{ChunkingOptions, TextPart, chunk_text};
use crate::embeddings::{EmbedError, Embedder, cache_key};
use crate::{
    BlobStore, Chunk, CollectionSpec, Document, DocumentId, Error, NewChunk, Result, Store, UserId,
    VectorIndex, VectorRecord,
};

use super::ChatStore;

/// Texts sent to the embedder per call.
const EMBED_BATCH: usize = 64;

/// What [`ChatStore::ingest_document`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Ingested {
    /// The document, now `completed` with its counts.
    pub document: Document,
    /// Its chunks, in order.
    pub chunks: Vec<Chunk>,
    /// Chunks the embedder was asked for.
    pub embedded: usize,
    /// Chunks whose embedding came from the cache.
    pub cached: usize,
    /// Tokens of the texts the embedder was asked for (as its
    /// [`Embedder::count_tokens`] counts them; 0 when it cannot count), for the
    /// embedding call's usage record. Cached chunks cost nothing.
    pub embedded_tokens: u64,
}

/// Chunks ready to store: each with its vector, and what embedding them cost.
struct Embedded {
    chunks: Vec<NewChunk>,
    vectors: Vec<Vec<f32>>,
    embedded: usize,
    embedded_tokens: u64,
}

impl<S: Store, B: BlobStore, V: VectorIndex> ChatStore<S, B, V> {
    /// Creates the collection in the store and the index, if it is not there yet (the
    /// same spec again is a no-op, another spec under its name a conflict).
    pub fn create_collection(&self, spec: &CollectionSpec) -> Result<()> {
        spec.validate()?;
        self.store.create_embedding_collection(spec)?;
        self.vectors.create_collection(spec)
    }

    /// Drops a collection: its embeddings in the store and its vectors in the index.
    pub fn drop_collection(&self, name: &str) -> Result<bool> {
        CollectionSpec::check_name(name)?;
        let existed = self.store.drop_embedding_collection(name)?;
        Ok(self.vectors.drop_collection(name)? || existed)
    }

    /// Ingests a document's text: splits it into chunks, embeds them with `embedder`
    /// (reusing cached embeddings of unchanged text), stores chunks and embeddings and
    /// completes the document in one transaction, then indexes the vectors.
    ///
    /// The document must be pending, failed or completed (re-ingesting replaces its
    /// chunks). On any failure after processing started, the document is `failed`
    /// with the error's message and its previous chunks and vectors are kept as they
    /// were; the error is returned.
    pub fn ingest_document(
        &self,
        user: UserId,
        document: DocumentId,
        collection: &CollectionSpec,
        text: &[TextPart],
        embedder: &dyn Embedder,
        options: &ChunkingOptions,
    ) -> Result<Ingested> {
        self.create_collection(collection)?;
        let chunks = chunk_text(text, options)?;
        let owner = self.store.start_processing(user, document)?.private_owner();
        let stored = self
            .embed_chunks(collection, owner, chunks, embedder)
            .and_then(|embedded| {
                let (document, stored) = self.store.complete_with_chunks(
                    user,
                    document,
                    &collection.name,
                    &embedded.chunks,
                    &embedded.vectors,
                )?;
                Ok((document, stored, embedded))
            });
        let (document, chunks, embedded) = match stored {
            Ok(stored) => stored,
            Err(error) => {
                if let Err(also) = self
                    .store
                    .fail_processing(user, document, &error.to_string())
                {
                    tracing::warn!(%also, "could not mark the document failed");
                }
                return Err(error);
            }
        };
        self.index(collection, &document, &chunks, embedded.vectors);
        Ok(Ingested {
            document,
            cached: chunks.len() - embedded.embedded,
            chunks,
            embedded: embedded.embedded,
            embedded_tokens: embedded.embedded_tokens,
        })
    }

    /// The chunks with their token counts and one vector each, from `owner`'s cache
    /// (see [`cache_key`]) or else the embedder.
    fn embed_chunks(
        &self,
        collection: &CollectionSpec,
        owner: Option<UserId>,
        mut chunks: Vec<NewChunk>,
        embedder: &dyn Embedder,
    ) -> Result<Embedded> {
        if chunks.is_empty() {
            return Err(Error::validation(
                "text",
                "the document has no text to index",
            ));
        }
        for chunk in &mut chunks {
            chunk.num_tokens = embedder.count_tokens(&chunk.content);
        }
        let keys: Vec<String> = chunks
            .iter()
            .map(|c| cache_key(owner, embedder.model(), &c.content))
            .collect();
        let mut vectors = self.store.cached_embeddings(&keys)?;
        let missing: Vec<usize> = (0..chunks.len())
            .filter(|&i| vectors[i].is_none())
            .collect();
        let mut fresh = Vec::with_capacity(missing.len());
        for batch in missing.chunks(EMBED_BATCH) {
            let texts: Vec<&str> = batch.iter().map(|&i| chunks[i].content.as_str()).collect();
            let embedded = embedder
                .embed(&texts)
                .map_err(|source| Error::Embedder { source })?;
            if embedded.len() != texts.len() {
                return Err(embedder_error(format!(
                    "{} vectors for {} texts",
                    embedded.len(),
                    texts.len()
                )));
            }
            for (&i, vector) in batch.iter().zip(embedded) {
                collection
                    .check(&vector)
                    .map_err(|e| embedder_error(e.to_string()))?;
                fresh.push((keys[i].clone(), vector.clone()));
                vectors[i] = Some(vector);
            }
        }
        self.store.cache_embeddings(owner, &fresh)?;
        let vectors: Vec<Vec<f32>> = vectors.into_iter().flatten().collect();
        // A cached vector of another length (the model changed its output) is refused.
        vectors.iter().try_for_each(|v| collection.check(v))?;
        let embedded_tokens = missing
            .iter()
            .filter_map(|&i| chunks[i].num_tokens)
            .map(u64::from)
            .sum();
        Ok(Embedded {
            chunks,
            vectors,
            embedded: missing.len(),
            embedded_tokens,
        })
    }

    /// Replaces the document's vectors in the index. The store already holds them, so
    /// a failure here is logged: the index catches up when it next syncs.
    fn index(
        &self,
        collection: &CollectionSpec,
        document: &Document,
        chunks: &[Chunk],
        vectors: Vec<Vec<f32>>,
    ) {
        let owner = document.private_owner();
        let records: Vec<VectorRecord> = chunks
            .iter()
            .zip(vectors)
            .map(|(chunk, vector)| VectorRecord {
                chunk: chunk.id,
                document: document.id,
                owner,
                vector,
            })
            .collect();
        let indexed = self
            .vectors
            .remove_documents(&[document.id])
            .and_then(|_| self.vectors.upsert(&collection.name, &records));
        if let Err(error) = indexed {
            tracing::warn!(%error, document = %document.id, "vectors not indexed; the index catches up on its next sync");
        }
    }
}

fn embedder_error(detail: String) -> Error {
    Error::Embedder {
        source: EmbedError::from(detail),
    }
}
