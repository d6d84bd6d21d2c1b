//! [`ChatStore`]: a [`Store`], a [`BlobStore`] and a [`VectorIndex`] kept consistent.
//!
//! The three live in separate files, so no transaction spans them. Operations that touch
//! more than one write in the order that can only leave garbage behind on a crash (an
//! orphan blob or vector), never a reference to something missing: deletions commit in
//! the main store first and clean the others after.

use std::time::Duration;

use crate::{
    BlobStore, Cleanup, ConversationId, DocumentId, NoBlobStore, NoVectorIndex, Result, Store,
    SyncReport, Timestamp, UserId, VectorIndex,
};

mod audit;
mod files;
mod ingest;
mod legacy;
mod retention;
mod retrieve;
mod sweep;

pub use audit::AttachmentAudit;
pub use ingest::Ingested;
pub use legacy::{LegacyProgress, LegacyReport};
pub use retention::{CleanupPlan, CleanupReport};
pub use retrieve::{Citation, Retrieval, sources};

/// How old unfinished work must be before opening cleans up after it: an unreferenced
/// blob (younger ones may belong to a message another process is appending right now)
/// or a document still `processing` (another process may be ingesting it).
pub const ORPHAN_GRACE: Duration = Duration::from_secs(3600);

/// How long a store keeps its records of removed embeddings, which let a vector index
/// saved within that time catch up with only what changed
/// ([`crate::SystemStore::forget_embedding_removals`]).
pub const REMOVALS_KEPT: Duration = Duration::from_secs(30 * 24 * 3600);

/// A store with its attachment store and vector index.
///
/// ```
/// use chatstore::{ChatStore, Store};
///
/// fn forget(store: impl Store, email: &str) -> chatstore::Result<()> {
///     let chat = ChatStore::from_store(store);
///     let user = chat.store().user_by_email(email)?;
///     chat.delete_user(user.id)?; // rows first, then attachments and vectors
///     Ok(())
/// }
/// ```
#[derive(Debug)]
pub struct ChatStore<S, B = NoBlobStore, V = NoVectorIndex> {
    store: S,
    blobs: B,
    vectors: V,
}

impl<S: Store> ChatStore<S> {
    /// A store without attachments or vectors.
    pub fn from_store(store: S) -> Self {
        ChatStore {
            store,
            blobs: NoBlobStore,
            vectors: NoVectorIndex,
        }
    }
}

impl<S: Store, B: BlobStore, V: VectorIndex> ChatStore<S, B, V> {
    /// Ties the three together; sweeps away blobs left by a crash (blobs of messages
    /// that were never written, older than [`ORPHAN_GRACE`]); marks documents whose
    /// processing started before that and never ended as failed, so they can be
    /// ingested again; forgets records of embedding removals older than
    /// [`REMOVALS_KEPT`]; and brings every vector collection up to date with the
    /// embeddings in the store (from its snapshot when one is saved, applying what
    /// changed since).
    pub fn new(store: S, blobs: B, vectors: V) -> Result<Self> {
        let chat = ChatStore {
            store,
            blobs,
            vectors,
        };
        let cut_off = chat.store.now() - ORPHAN_GRACE;
        let swept = chat.sweep_orphan_blobs(cut_off)?;
        if swept > 0 {
            tracing::info!(swept, "orphan attachments removed on open");
        }
        let interrupted = chat.store.fail_interrupted_processing(cut_off)?;
        if !interrupted.is_empty() {
            tracing::warn!(documents = ?interrupted, "ingestion interrupted: documents marked failed");
        }
        chat.store
            .forget_embedding_removals(chat.store.now() - REMOVALS_KEPT)?;
        for (collection, report) in chat.catch_up()? {
            tracing::info!(%collection, ?report, "vector collection ready");
        }
        Ok(chat)
    }

    /// Brings the vector index up to date with the embeddings in the store: every
    /// collection applies what changed since it last caught up (cheap when little did),
    /// and collections the store no longer has are dropped. Where several processes
    /// share one store (application servers on one PostgreSQL database, each with its
    /// own index), each calls this on a timer, say every second: what another process
    /// ingested is then found within that time. What another process deleted is never
    /// returned meanwhile: retrieval reads every hit's chunk back from the store.
    ///
    /// Returns what each collection learned.
    pub fn catch_up(&self) -> Result<Vec<(String, SyncReport)>> {
        let specs = self.store.embedding_collections()?;
        for held in self.vectors.collections()? {
            if !specs.iter().any(|spec| spec.name == held.spec.name) {
                self.vectors.drop_collection(&held.spec.name)?;
            }
        }
        specs
            .into_iter()
            .map(|spec| Ok((spec.name.clone(), self.vectors.sync(&spec, &self.store)?)))
            .collect()
    }

    /// The main store, for everything that touches only it.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The attachment store.
    pub fn blobs(&self) -> &B {
        &self.blobs
    }

    /// The vector index.
    pub fn vectors(&self) -> &V {
        &self.vectors
    }

    /// Deletes a user with everything they own, attachments and vectors included.
    pub fn delete_user(&self, user: UserId) -> Result<Cleanup> {
        self.clean(self.store.delete_user(user))
    }

    /// Purges a soft-deleted conversation with its messages' attachments.
    pub fn purge_conversation(&self, user: UserId, id: ConversationId) -> Result<Cleanup> {
        self.clean(self.store.purge_conversation(user, id))
    }

    /// Purges every conversation soft-deleted before `deleted_before`, attachments
    /// included.
    pub fn purge_deleted_conversations(&self, deleted_before: Timestamp) -> Result<Cleanup> {
        self.clean(self.store.purge_deleted_conversations(deleted_before))
    }

    /// Purges the conversations `rule` retires (expired temporary ones, old archived or
    /// idle ones) with their attachments and vectors.
    pub fn purge_retired_conversations(&self, rule: &crate::Retirement) -> Result<Cleanup> {
        self.clean(self.store.purge_retired_conversations(rule))
    }

    /// Deletes a document with its chunks and their vectors.
    pub fn delete_document(&self, user: UserId, id: DocumentId) -> Result<Cleanup> {
        self.clean(self.store.delete_document(user, id))
    }

    /// Passes on a deletion's result after removing what it left in the other stores. A
    /// failure there leaves orphans, which are harmless and swept later, so it is logged
    /// rather than returned: the deletion itself has happened.
    fn clean(&self, deletion: Result<Cleanup>) -> Result<Cleanup> {
        let cleanup = deletion?;
        if !cleanup.messages_with_files.is_empty()
            && let Err(error) = self.blobs.delete_by_prefixes(&cleanup.messages_with_files)
        {
            tracing::warn!(%error, "attachments left for the orphan sweep");
        }
        if !cleanup.documents.is_empty()
            && let Err(error) = self.vectors.remove_documents(&cleanup.documents)
        {
            tracing::warn!(%error, "vectors left for the orphan sweep");
        }
        Ok(cleanup)
    }
}
