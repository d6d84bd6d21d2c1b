//! Attachments on messages: stored before the message that names them, read back
//! through the message's owner, with the source system's inline (legacy) fallback.

use std::io::{Cursor, Read};

use base64::Engine;

use super::ChatStore;
use crate::attachments::{MAX_ATTACHMENTS, validate_files};
use crate::{
    AttachmentData, BlobInfo, BlobKey, BlobStore, ConversationId, ConversationOp, Error, FileMeta,
    Message, MessageId, NewAttachment, NewMessage, Result, Store, UserId, VectorIndex,
};

/// Decodes a legacy entry's inline base64.
pub(super) fn decode_inline(key: &BlobKey, text: &str) -> Result<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| Error::Corrupt {
            detail: format!("inline data of {key} is not valid base64: {e}"),
        })
}

impl<S: Store, B: BlobStore, V: VectorIndex> ChatStore<S, B, V> {
    /// Appends a message with attached files (and their thumbnails).
    ///
    /// The bytes go to the blob store first, then the message naming them is appended,
    /// so a crash at any point leaves at worst blobs without a message (which the orphan
    /// sweep removes), never a message pointing at a missing blob. If the append is
    /// refused, the blobs just stored are removed again. The message's id is chosen
    /// here (`message.id` must be `None`).
    pub fn append_with_attachments(
        &self,
        user: UserId,
        conversation: ConversationId,
        message: &NewMessage,
        attachments: Vec<NewAttachment>,
    ) -> Result<Message> {
        if message.id.is_some() {
            return Err(Error::validation(
                "id",
                "must be None: the id is chosen when the attachments are stored",
            ));
        }
        if message.files.len() + attachments.len() > MAX_ATTACHMENTS {
            return Err(Error::validation(
                "files",
                format!("at most {MAX_ATTACHMENTS} attachments per message"),
            ));
        }
        let mut files = message.files.clone();
        let start = files.len();
        files.extend(attachments.iter().map(|a| FileMeta {
            name: a.name.clone(),
            mime_type: a.mime_type.clone(),
            size: a.size(),
            has_thumbnail: a.thumbnail.is_some(),
            hash: None,
            data: None,
            thumbnail: None,
        }));
        validate_files(&files)?;
        self.store
            .conversation(user, conversation)?
            .check(ConversationOp::Append)?;
        let id = MessageId::reserve(user);
        let stored = attachments
            .into_iter()
            .enumerate()
            .try_for_each(|(offset, attachment)| {
                let index = (start + offset) as u32;
                let info = self.store_attachment(id, index, attachment)?;
                files[start + offset].hash = Some(info.hash);
                Ok(())
            });
        let appended = stored.and_then(|()| {
            let full = NewMessage {
                id: Some(id),
                files,
                ..message.clone()
            };
            self.store.append_message(user, conversation, &full)
        });
        if appended.is_err()
            && let Err(error) = self.blobs.delete_by_prefixes(&[id])
        {
            tracing::warn!(%error, message = %id, "attachments left for the orphan sweep");
        }
        appended
    }

    /// Stores one attachment and its thumbnail; returns the file's blob.
    fn store_attachment(
        &self,
        id: MessageId,
        index: u32,
        attachment: NewAttachment,
    ) -> Result<BlobInfo> {
        let (file, thumb) = (BlobKey::file(id, index), BlobKey::thumbnail(id, index));
        match (attachment.data, attachment.thumbnail) {
            (AttachmentData::Bytes(bytes), Some(thumbnail)) => self
                .blobs
                .put_all(&[(file, &bytes), (thumb, &thumbnail)])?
                .into_iter()
                .next()
                .ok_or_else(|| Error::Backend {
                    detail: "put_all stored nothing".to_owned(),
                }),
            (AttachmentData::Bytes(bytes), None) => self.blobs.put(&file, &bytes),
            (AttachmentData::Stream { size, mut reader }, thumbnail) => {
                let info = self.blobs.put_stream(&file, size, &mut reader)?;
                if let Some(thumbnail) = thumbnail {
                    self.blobs.put(&thumb, &thumbnail)?;
                }
                Ok(info)
            }
        }
    }

    /// File `index` of one of the user's messages, checked against its hash (seed 001's
    /// `/api/messages/<id>/files/<idx>`). Another user's message is
    /// [`Error::NotFound`].
    pub fn message_file(
        &self,
        user: UserId,
        message: MessageId,
        index: u32,
    ) -> Result<(FileMeta, Vec<u8>)> {
        self.read_file(user, message, index, false)
    }

    /// The thumbnail of file `index` of one of the user's messages (seed 001's
    /// `.../files/<idx>/thumbnail`).
    pub fn message_thumbnail(
        &self,
        user: UserId,
        message: MessageId,
        index: u32,
    ) -> Result<(FileMeta, Vec<u8>)> {
        self.read_file(user, message, index, true)
    }

    /// File `index` of one of the user's messages as a stream, for large files: the
    /// bytes are checked against the hash as they are read, and a mismatch fails the
    /// read that reaches the end.
    pub fn open_message_file(
        &self,
        user: UserId,
        message: MessageId,
        index: u32,
    ) -> Result<(FileMeta, Box<dyn Read + Send + '_>)> {
        let (meta, key) = self.file_meta(user, message, index, false)?;
        match self.blobs.open(&key) {
            Ok(reader) => Ok((meta, Box::new(reader))),
            Err(Error::NotFound { .. }) => {
                let bytes = legacy_bytes(&meta, &key)?;
                Ok((meta, Box::new(Cursor::new(bytes))))
            }
            Err(other) => Err(other),
        }
    }

    fn file_meta(
        &self,
        user: UserId,
        message: MessageId,
        index: u32,
        thumbnail: bool,
    ) -> Result<(FileMeta, BlobKey)> {
        let stored = self.store.message(user, message)?;
        let key = BlobKey {
            message,
            index,
            thumbnail,
        };
        let meta = stored
            .files
            .into_iter()
            .nth(index as usize)
            .ok_or_else(|| Error::not_found("file", key))?;
        Ok((meta, key))
    }

    /// The blob store first; the inline data of a legacy entry if the store has none.
    fn read_file(
        &self,
        user: UserId,
        message: MessageId,
        index: u32,
        thumbnail: bool,
    ) -> Result<(FileMeta, Vec<u8>)> {
        let (meta, key) = self.file_meta(user, message, index, thumbnail)?;
        match self.blobs.get(&key) {
            Ok(bytes) => Ok((meta, bytes)),
            Err(Error::NotFound { .. }) => {
                let bytes = legacy_bytes(&meta, &key)?;
                Ok((meta, bytes))
            }
            Err(other) => Err(other),
        }
    }
}

/// The inline bytes a legacy entry holds for `key`, or not-found.
fn legacy_bytes(meta: &FileMeta, key: &BlobKey) -> Result<Vec<u8>> {
    let inline = if key.thumbnail {
        &meta.thumbnail
    } else {
        &meta.data
    };
    match inline {
        Some(text) => decode_inline(key, text),
        None => Err(Error::not_found("blob", key)),
    }
}
