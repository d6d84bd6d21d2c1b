//! Attachment storage: the [`BlobStore`] trait and the keys blobs are stored under.
//!
//! File bytes and thumbnails live outside the main database (seed 001's `files.db`),
//! keyed `<message id>/<index>` and `<message id>/<index>.thumb`. The `chatstore-blob`
//! crate implements the trait.

use std::fmt;
use std::str::FromStr;

use crate::{Error, MessageId, Result};

/// The key of one attachment (or its thumbnail) of one message.
///
/// ```
/// use chatstore::{BlobKey, MessageId};
///
/// let message = MessageId::new();
/// let key = BlobKey::thumbnail(message, 0);
/// assert_eq!(key.to_string(), format!("{message}/0.thumb"));
/// assert_eq!(key.to_string().parse::<BlobKey>().unwrap(), key);
/// assert!(format!("{message}/../0").parse::<BlobKey>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobKey {
    /// The message the attachment belongs to.
    pub message: MessageId,
    /// The attachment's position in the message, from 0.
    pub index: u32,
    /// True for the thumbnail rather than the file.
    pub thumbnail: bool,
}

impl BlobKey {
    /// The key of attachment `index` of `message`.
    pub fn file(message: MessageId, index: u32) -> BlobKey {
        BlobKey {
            message,
            index,
            thumbnail: false,
        }
    }

    /// The key of the thumbnail of attachment `index` of `message`.
    pub fn thumbnail(message: MessageId, index: u32) -> BlobKey {
        BlobKey {
            message,
            index,
            thumbnail: true,
        }
    }
}

impl fmt::Display for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let suffix = if self.thumbnail { ".thumb" } else { "" };
        write!(f, "{}/{}{suffix}", self.message, self.index)
    }
}

impl FromStr for BlobKey {
    type Err = Error;

    /// Accepts exactly `<message id>/<index>` or `<message id>/<index>.thumb`, with the
    /// index in plain decimal (no sign, no leading zeros).
    fn from_str(text: &str) -> Result<BlobKey> {
        let bad = || {
            Error::validation(
                "blob key",
                format!(
                    "{:?} is not <message id>/<index> or <message id>/<index>.thumb",
                    text.chars().take(80).collect::<String>()
                ),
            )
        };
        let (message, rest) = text.split_once('/').ok_or_else(bad)?;
        let (index, thumbnail) = match rest.strip_suffix(".thumb") {
            Some(index) => (index, true),
            None => (rest, false),
        };
        let canonical = !index.is_empty()
            && index.bytes().all(|b| b.is_ascii_digit())
            && (index == "0" || !index.starts_with('0'));
        if !canonical {
            return Err(bad());
        }
        Ok(BlobKey {
            message: message.parse()?,
            index: index.parse().map_err(|_| bad())?,
            thumbnail,
        })
    }
}

/// Stores attachment bytes by key. Implemented by `chatstore-blob`.
pub trait BlobStore: Send + Sync {
    /// Stores `data` under `key`, replacing what was there.
    fn put(&self, key: &BlobKey, data: &[u8]) -> Result<()>;

    /// The bytes under `key`; a missing key is [`Error::NotFound`].
    fn get(&self, key: &BlobKey) -> Result<Vec<u8>>;

    /// True when `key` holds a blob.
    fn exists(&self, key: &BlobKey) -> Result<bool>;

    /// Removes `key`; returns whether it existed.
    fn delete(&self, key: &BlobKey) -> Result<bool>;

    /// The keys stored for one message, in order.
    fn list(&self, message: MessageId) -> Result<Vec<BlobKey>>;

    /// Removes every blob of these messages at once; returns how many.
    fn delete_by_prefixes(&self, messages: &[MessageId]) -> Result<u64>;
}

/// A [`BlobStore`] for hosts that keep no attachments: it holds nothing, so reads find
/// nothing, deletions remove nothing, and storing is [`Error::Unavailable`].
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBlobStore;

impl BlobStore for NoBlobStore {
    fn put(&self, key: &BlobKey, _data: &[u8]) -> Result<()> {
        Err(Error::Unavailable {
            detail: format!("cannot store {key}: no blob store is configured"),
        })
    }

    fn get(&self, key: &BlobKey) -> Result<Vec<u8>> {
        Err(Error::not_found("blob", key))
    }

    fn exists(&self, _key: &BlobKey) -> Result<bool> {
        Ok(false)
    }

    fn delete(&self, _key: &BlobKey) -> Result<bool> {
        Ok(false)
    }

    fn list(&self, _message: MessageId) -> Result<Vec<BlobKey>> {
        Ok(Vec::new())
    }

    fn delete_by_prefixes(&self, _messages: &[MessageId]) -> Result<u64> {
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_strictly() {
        let m = MessageId::new();
        assert_eq!(
            format!("{m}/12").parse::<BlobKey>().unwrap(),
            BlobKey::file(m, 12)
        );
        for bad in [
            String::new(),
            format!("{m}"),
            format!("{m}/"),
            format!("{m}/01"),
            format!("{m}/-1"),
            format!("{m}/1/2"),
            format!("{m}/1.thumb.thumb"),
            format!("{m}/.thumb"),
            format!("{m}/99999999999"),
            format!("../{m}/1"),
            "msg-abc123/0".to_owned(),
        ] {
            assert!(bad.parse::<BlobKey>().is_err(), "{bad:?} accepted");
        }
    }
}
