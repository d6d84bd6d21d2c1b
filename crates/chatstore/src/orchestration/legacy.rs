//! Moving attachments of messages written before the blob store existed (bytes inline
//! in the `files` JSON, base64) into the blob store — seed 001's migration 0012 — and
//! back.

use base64::Engine;

use super::ChatStore;
use super::files::decode_inline;
use crate::{BlobKey, BlobStore, FileMeta, Message, MessageId, Result, Store, VectorIndex};

/// Messages handled per batch.
const BATCH: u32 = 100;

/// How far a legacy migration (or its rollback) has got, reported after each batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LegacyProgress {
    /// Batches of up to 100 messages done.
    pub batches: u64,
    /// Messages examined so far.
    pub messages_seen: u64,
    /// Messages changed so far.
    pub messages_changed: u64,
    /// Files moved so far.
    pub files_moved: u64,
}

/// The outcome of a legacy migration or its rollback.
pub type LegacyReport = LegacyProgress;

impl<S: Store, B: BlobStore, V: VectorIndex> ChatStore<S, B, V> {
    /// Moves inline (base64) attachments into the blob store, 100 messages at a time:
    /// each file and thumbnail is stored, then the message's `files` JSON loses
    /// `data`/`thumbnail` and gains `size`, `has_thumbnail` and `hash`. Entries already
    /// moved are skipped, so the migration can be run again, or resumed after an
    /// interruption, safely. `progress` is called after each batch.
    pub fn migrate_legacy_files(
        &self,
        progress: &mut dyn FnMut(LegacyProgress),
    ) -> Result<LegacyReport> {
        self.each_message_with_files(progress, |chat, message| {
            let mut files = message.files.clone();
            let mut moved = 0;
            for (index, meta) in files.iter_mut().enumerate() {
                let Some(data) = &meta.data else { continue };
                let file = BlobKey::file(message.id, index as u32);
                let bytes = decode_inline(&file, data)?;
                let thumb = BlobKey::thumbnail(message.id, index as u32);
                let thumbnail = meta
                    .thumbnail
                    .as_deref()
                    .map(|t| decode_inline(&thumb, t))
                    .transpose()?;
                let mut items = vec![(file, bytes.as_slice())];
                items.extend(thumbnail.as_deref().map(|t| (thumb, t)));
                let info = chat.blobs.put_all(&items)?;
                *meta = FileMeta {
                    size: bytes.len() as u64,
                    has_thumbnail: thumbnail.is_some(),
                    hash: info.into_iter().next().map(|i| i.hash),
                    data: None,
                    thumbnail: None,
                    ..meta.clone()
                };
                moved += 1;
            }
            Ok((files, moved))
        })
    }

    /// Undoes [`ChatStore::migrate_legacy_files`]: puts each file's bytes back inline
    /// in its message's `files` JSON (as base64 `data` and `thumbnail`), then removes
    /// the message's blobs. Safe to run again.
    pub fn rollback_legacy_files(
        &self,
        progress: &mut dyn FnMut(LegacyProgress),
    ) -> Result<LegacyReport> {
        let engine = base64::engine::general_purpose::STANDARD;
        let mut emptied = Vec::new();
        let report = self.each_message_with_files(progress, |chat, message| {
            let mut files = message.files.clone();
            let mut moved = 0;
            for (index, meta) in files.iter_mut().enumerate() {
                if meta.is_legacy() || meta.hash.is_none() {
                    continue;
                }
                let bytes = chat.blobs.get(&BlobKey::file(message.id, index as u32))?;
                meta.data = Some(engine.encode(&bytes));
                if meta.has_thumbnail {
                    let thumbnail = chat
                        .blobs
                        .get(&BlobKey::thumbnail(message.id, index as u32))?;
                    meta.thumbnail = Some(engine.encode(&thumbnail));
                }
                meta.hash = None;
                moved += 1;
            }
            if moved > 0 {
                emptied.push(message.id);
            }
            Ok((files, moved))
        })?;
        // The bytes are inline again; the blobs can go (a crash before this only
        // leaves unused blobs behind).
        for batch in emptied.chunks(BATCH as usize) {
            self.blobs.delete_by_prefixes(batch)?;
        }
        Ok(report)
    }

    /// Walks every message with files in batches, rewriting the `files` of those for
    /// which `change` moved something.
    fn each_message_with_files(
        &self,
        progress: &mut dyn FnMut(LegacyProgress),
        mut change: impl FnMut(&Self, &Message) -> Result<(Vec<FileMeta>, u64)>,
    ) -> Result<LegacyReport> {
        let mut report = LegacyProgress::default();
        let mut after: Option<MessageId> = None;
        loop {
            let batch = self.store.messages_with_files(after, BATCH)?;
            let Some(last) = batch.last() else {
                return Ok(report);
            };
            after = Some(last.id);
            for message in &batch {
                let (files, moved) = change(self, message)?;
                if moved > 0 {
                    self.store.set_message_files(message.id, &files)?;
                    report.messages_changed += 1;
                    report.files_moved += moved;
                }
            }
            report.batches += 1;
            report.messages_seen += batch.len() as u64;
            progress(report);
        }
    }
}
