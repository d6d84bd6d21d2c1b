//! Read-only checks across the main store and the attachment store: messages naming
//! attachments the blob store lacks (dangling references, which the write order is
//! meant to rule out), and blobs no message owns (orphans, which it allows and the
//! sweep removes). An operator's `check` reports both; a backup verifies its pair with
//! the first.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::ChatStore;
use crate::{BlobKey, BlobStore, MessageId, Result, Store, Timestamp, VectorIndex};

/// Messages examined per step.
const PAGE: u32 = 500;

/// What [`ChatStore::audit_attachments`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentAudit {
    /// Messages with files that were examined.
    pub messages_checked: u64,
    /// Attachments (files and thumbnails) that messages name but the blob store lacks.
    pub dangling: Vec<BlobKey>,
    /// Messages that do not exist but hold blobs stored before the cut-off.
    pub orphans: Vec<MessageId>,
}

impl AttachmentAudit {
    /// True when no message points at a missing attachment (orphans are garbage, not
    /// damage).
    pub fn is_consistent(&self) -> bool {
        self.dangling.is_empty()
    }
}

impl<S: Store, B: BlobStore, V: VectorIndex> ChatStore<S, B, V> {
    /// Ties the three together without the clean-ups of [`ChatStore::new`] (no orphan
    /// sweep, no documents marked failed, no vector catch-up): for looking at a store
    /// without changing it, as a check or a dry run does. Deletions through it still
    /// clean the other stores.
    pub fn assemble(store: S, blobs: B, vectors: V) -> Self {
        ChatStore {
            store,
            blobs,
            vectors,
        }
    }

    /// The attachments that messages name but the blob store does not hold: every file
    /// entry with a hash (stored in the blob store, not inline as legacy entries are)
    /// must have its blob, and its thumbnail when it says it has one. Reads every
    /// message with files; changes nothing.
    pub fn dangling_attachments(&self) -> Result<Vec<BlobKey>> {
        let mut dangling = Vec::new();
        self.walk_attachments(|key| {
            if !self.blobs.exists(&key)? {
                dangling.push(key);
            }
            Ok(())
        })?;
        Ok(dangling)
    }

    /// The messages holding blobs stored before `stored_before` that do not exist:
    /// what [`ChatStore::sweep_orphan_blobs`] would remove, found without removing it.
    pub fn orphan_blob_messages(&self, stored_before: Timestamp) -> Result<Vec<MessageId>> {
        let mut after = None;
        let mut orphans = Vec::new();
        loop {
            let page = self.blobs.messages_with_blobs(stored_before, after, PAGE)?;
            let Some(&last) = page.last() else {
                return Ok(orphans);
            };
            orphans.extend(self.missing_messages(page)?);
            after = Some(last);
        }
    }

    /// Both checks at once: dangling attachment references, and orphan blobs stored
    /// before `stored_before`.
    pub fn audit_attachments(&self, stored_before: Timestamp) -> Result<AttachmentAudit> {
        let mut audit = AttachmentAudit::default();
        let mut seen = HashSet::new();
        self.walk_attachments(|key| {
            if seen.insert(key.message) {
                audit.messages_checked += 1;
            }
            if !self.blobs.exists(&key)? {
                audit.dangling.push(key);
            }
            Ok(())
        })?;
        audit.orphans = self.orphan_blob_messages(stored_before)?;
        Ok(audit)
    }

    /// Of these messages, the ones the store does not have.
    pub(super) fn missing_messages(&self, page: Vec<MessageId>) -> Result<Vec<MessageId>> {
        let existing: HashSet<_> = self.store.existing_messages(&page)?.into_iter().collect();
        Ok(page
            .into_iter()
            .filter(|id| !existing.contains(id))
            .collect())
    }

    /// Calls `visit` with the key of every blob a message's files name.
    fn walk_attachments(&self, mut visit: impl FnMut(BlobKey) -> Result<()>) -> Result<()> {
        let mut after = None;
        loop {
            let page = self.store.messages_with_files(after, PAGE)?;
            let Some(last) = page.last().map(|m| m.id) else {
                return Ok(());
            };
            for message in &page {
                for (index, file) in message.files.iter().enumerate() {
                    if file.hash.is_none() || file.data.is_some() {
                        continue;
                    }
                    let index = index as u32;
                    visit(BlobKey::file(message.id, index))?;
                    if file.has_thumbnail && file.thumbnail.is_none() {
                        visit(BlobKey::thumbnail(message.id, index))?;
                    }
                }
            }
            after = Some(last);
        }
    }
}
