//! What a deletion in the main store leaves for the other stores to remove.

use serde::{Deserialize, Serialize};

use crate::{DocumentId, MessageId};

/// Data in other files (attachments, vectors) that belonged to rows a store just deleted.
///
/// The main database commits first; the blob store and vector index are cleaned after.
/// A crash in between leaves only orphans (blobs, vectors nothing points at), never a
/// reference to something missing; orphan sweeps remove them later.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cleanup {
    /// Messages that had attachments: their blobs (`<message id>/...`) must go.
    pub messages_with_files: Vec<MessageId>,
    /// Documents whose chunks' vectors must go.
    pub documents: Vec<DocumentId>,
    /// How many rows of the main kind were deleted (users, conversations, documents).
    pub deleted: u64,
}

impl Cleanup {
    /// True when there is nothing for the other stores to do.
    pub fn is_empty(&self) -> bool {
        self.messages_with_files.is_empty() && self.documents.is_empty()
    }

    /// Adds another deletion's leftovers to this one.
    pub fn merge(&mut self, other: Cleanup) {
        self.messages_with_files.extend(other.messages_with_files);
        self.documents.extend(other.documents);
        self.deleted += other.deleted;
    }
}
