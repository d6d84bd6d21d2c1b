//! Files attached to messages: the metadata a message keeps (its `files`), and what a
//! host hands in to attach a file.
//!
//! The bytes live in a [`crate::BlobStore`] under `<message id>/<index>` (and
//! `<message id>/<index>.thumb` for the thumbnail); the message keeps only metadata.
//! Messages written by the source system before it had a blob store kept the bytes
//! inline, base64-encoded: such "legacy" entries are still read, and can be migrated.

use std::fmt;
use std::io::Read;

use serde::{Deserialize, Serialize};

use crate::{Error, Result, validate};

/// Longest attachment name or MIME type, in characters.
pub const MAX_NAME: usize = 255;
/// Most attachments on one message.
pub const MAX_ATTACHMENTS: usize = 32;

/// One file of a message, as its `files` JSON records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMeta {
    /// The file's name, as uploaded.
    pub name: String,
    /// Its MIME type (`type` in the JSON, as in the source system).
    #[serde(rename = "type")]
    pub mime_type: String,
    /// Its length in bytes.
    #[serde(default)]
    pub size: u64,
    /// Whether a thumbnail is stored beside it.
    #[serde(default)]
    pub has_thumbnail: bool,
    /// The blake3 hash of its bytes (hex), for files in the blob store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// Legacy entries only: the bytes inline, base64-encoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Legacy entries only: the thumbnail inline, base64-encoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail: Option<String>,
}

impl FileMeta {
    /// True for an entry that still holds its bytes inline (written before the blob
    /// store existed).
    pub fn is_legacy(&self) -> bool {
        self.data.is_some()
    }

    /// Checks the name and type: not blank, at most [`MAX_NAME`] characters.
    pub fn validate(&self) -> Result<()> {
        check_label("file name", &self.name)?;
        check_label("file type", &self.mime_type)
    }
}

/// Checks a list of files: at most [`MAX_ATTACHMENTS`], each valid.
pub fn validate_files(files: &[FileMeta]) -> Result<()> {
    if files.len() > MAX_ATTACHMENTS {
        return Err(Error::validation(
            "files",
            format!("at most {MAX_ATTACHMENTS} attachments per message"),
        ));
    }
    files.iter().try_for_each(FileMeta::validate)
}

fn check_label(field: &'static str, text: &str) -> Result<()> {
    if text.trim().is_empty() || text.chars().count() > MAX_NAME {
        return Err(Error::validation(
            field,
            format!("must be 1 to {MAX_NAME} characters"),
        ));
    }
    validate::optional_text(field, Some(text)).map(drop)
}

/// Where an attachment's bytes come from.
pub enum AttachmentData {
    /// Bytes in memory.
    Bytes(Vec<u8>),
    /// `size` bytes to read from a stream (a large upload), never held whole in memory.
    Stream {
        /// Exactly how many bytes the reader yields.
        size: u64,
        /// The bytes.
        reader: Box<dyn Read + Send>,
    },
}

impl fmt::Debug for AttachmentData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttachmentData::Bytes(bytes) => write!(f, "Bytes({} bytes)", bytes.len()),
            AttachmentData::Stream { size, .. } => write!(f, "Stream({size} bytes)"),
        }
    }
}

/// A file to attach to a new message.
///
/// ```
/// use chatstore::NewAttachment;
///
/// let photo = NewAttachment::new("cat.png", "image/png", vec![0x89, b'P', b'N', b'G'])
///     .with_thumbnail(vec![1, 2, 3]);
/// assert_eq!(photo.name, "cat.png");
/// ```
#[derive(Debug)]
pub struct NewAttachment {
    /// File name.
    pub name: String,
    /// MIME type.
    pub mime_type: String,
    /// The bytes.
    pub data: AttachmentData,
    /// An optional thumbnail.
    pub thumbnail: Option<Vec<u8>>,
}

impl NewAttachment {
    /// An attachment from bytes in memory.
    pub fn new(name: &str, mime_type: &str, bytes: Vec<u8>) -> NewAttachment {
        NewAttachment {
            name: name.to_owned(),
            mime_type: mime_type.to_owned(),
            data: AttachmentData::Bytes(bytes),
            thumbnail: None,
        }
    }

    /// An attachment read from a stream of exactly `size` bytes.
    pub fn stream(
        name: &str,
        mime_type: &str,
        size: u64,
        reader: Box<dyn Read + Send>,
    ) -> NewAttachment {
        NewAttachment {
            name: name.to_owned(),
            mime_type: mime_type.to_owned(),
            data: AttachmentData::Stream { size, reader },
            thumbnail: None,
        }
    }

    /// Adds a thumbnail.
    pub fn with_thumbnail(mut self, thumbnail: Vec<u8>) -> NewAttachment {
        self.thumbnail = Some(thumbnail);
        self
    }

    /// The length of the attachment's bytes.
    pub fn size(&self) -> u64 {
        match &self.data {
            AttachmentData::Bytes(bytes) => bytes.len() as u64,
            AttachmentData::Stream { size, .. } => *size,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_and_current_entries_parse() {
        let legacy: FileMeta = serde_json::from_str(
            r#"{"name":"a.png","type":"image/png","data":"AAEC","thumbnail":"AA=="}"#,
        )
        .unwrap();
        assert!(legacy.is_legacy());
        assert_eq!(legacy.size, 0);
        let current: FileMeta = serde_json::from_str(
            r#"{"name":"a.png","type":"image/png","size":3,"has_thumbnail":true,"hash":"ab"}"#,
        )
        .unwrap();
        assert!(!current.is_legacy());
        let json = serde_json::to_string(&current).unwrap();
        assert!(json.contains(r#""type":"image/png""#) && !json.contains("data"));
    }

    #[test]
    fn names_and_counts_are_checked() {
        let file = |name: &str| FileMeta {
            name: name.to_owned(),
            mime_type: "text/plain".to_owned(),
            size: 1,
            has_thumbnail: false,
            hash: None,
            data: None,
            thumbnail: None,
        };
        assert!(validate_files(&[file("ok.txt")]).is_ok());
        assert!(validate_files(&[file(" ")]).is_err());
        assert!(validate_files(&[file(&"n".repeat(256))]).is_err());
        assert!(validate_files(&vec![file("x"); MAX_ATTACHMENTS + 1]).is_err());
    }
}
