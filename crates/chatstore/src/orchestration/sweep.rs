//! The orphan sweep: blobs whose message was never written (the process died between
//! storing the attachment and appending the message) or is gone.

use super::ChatStore;
use crate::{BlobStore, Result, Store, Timestamp, VectorIndex};

/// Messages examined per step.
const PAGE: u32 = 500;

impl<S: Store, B: BlobStore, V: VectorIndex> ChatStore<S, B, V> {
    /// Removes the blobs, stored before `stored_before`, of messages that do not exist;
    /// returns how many blobs went. Blobs are stored before their message is written,
    /// so pass a time far enough back that no append in flight can be caught:
    /// [`super::ORPHAN_GRACE`] ago is what opening uses.
    pub fn sweep_orphan_blobs(&self, stored_before: Timestamp) -> Result<u64> {
        let mut after = None;
        let mut removed = 0;
        loop {
            let page = self.blobs.messages_with_blobs(stored_before, after, PAGE)?;
            let Some(&last) = page.last() else {
                return Ok(removed);
            };
            let orphans = self.missing_messages(page)?;
            removed += self.blobs.delete_by_prefixes(&orphans)?;
            after = Some(last);
        }
    }
}
