//! Attachment storage: the [`BlobStore`] trait and the keys blobs are stored under.
//!
//! File bytes and thumbnails live outside the main database (seed 001's `files.db`),
//! keyed `<message id>/<index>` and `<message id>/<index>.thumb`. The `chatstore-blob`
//! crate implements the trait.

use std::fmt;
use std::io::Read;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, MessageId, Result, Timestamp};

mod checksum;
mod incoming;

pub use checksum::chunk_checksum;
pub use incoming::{Incoming, check_size, content_hash, describe_all};

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

impl Serialize for BlobKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BlobKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
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

/// What a store knows about one stored blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobInfo {
    /// Its key.
    pub key: BlobKey,
    /// Its length in bytes.
    pub size: u64,
    /// The blake3 hash of its bytes, as 64 hex characters.
    pub hash: String,
}

/// Totals of a blob store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BlobStats {
    /// Keys stored.
    pub keys: u64,
    /// Bytes under all keys (what the keys hold, counting shared content once per key).
    pub bytes: u64,
    /// Distinct contents stored (identical bytes are kept once).
    pub contents: u64,
    /// Bytes of distinct content (what the file actually holds).
    pub stored_bytes: u64,
}

/// A blob being read as a stream. The bytes are checked as they go (against the stored
/// hash, or a checksum the store keeps per chunk): damaged bytes fail a read with
/// [`std::io::ErrorKind::InvalidData`], at the latest the read that reaches the end;
/// discard what was read.
pub trait BlobRead: Read + Send {
    /// The blob being read.
    fn info(&self) -> &BlobInfo;
}

/// Stores attachment bytes by key. Implemented by `chatstore-blob`.
///
/// Every blob carries its blake3 hash, its content address; reads check the bytes
/// (against that hash, or a faster checksum the store keeps with them) and report a
/// mismatch as [`Error::Corrupt`] rather than return bad bytes. Identical content under
/// several keys may be stored once; deleting one key never loses another key's bytes. A
/// store has a maximum blob size (configured): a larger blob is [`Error::Validation`]
/// and nothing is stored.
///
/// The blob suite of the conformance checks (feature `conformance`,
/// `chatstore::blob_conformance_suite!`) holds an implementation to this contract.
pub trait BlobStore: Send + Sync {
    /// Stores `data` under `key`, replacing what was there.
    fn put(&self, key: &BlobKey, data: &[u8]) -> Result<BlobInfo> {
        self.put_all(&[(*key, data)])?
            .into_iter()
            .next()
            .ok_or_else(|| Error::Backend {
                detail: "put_all returned nothing for one blob".to_owned(),
            })
    }

    /// Stores several blobs (say a file and its thumbnail) all or none.
    fn put_all(&self, items: &[(BlobKey, &[u8])]) -> Result<Vec<BlobInfo>>;

    /// Stores exactly `size` bytes read from `reader` under `key`, without holding them
    /// in memory. A reader that ends early, has more, or fails is [`Error::Validation`]
    /// and nothing is stored.
    fn put_stream(&self, key: &BlobKey, size: u64, reader: &mut dyn Read) -> Result<BlobInfo>;

    /// The bytes under `key`, checked (see the trait). A missing key is
    /// [`Error::NotFound`]; damaged bytes are [`Error::Corrupt`].
    fn get(&self, key: &BlobKey) -> Result<Vec<u8>>;

    /// Opens `key` for reading as a stream (see [`BlobRead`]).
    fn open(&self, key: &BlobKey) -> Result<Box<dyn BlobRead + '_>>;

    /// What is stored under `key`, if anything.
    fn info(&self, key: &BlobKey) -> Result<Option<BlobInfo>>;

    /// True when `key` holds a blob.
    fn exists(&self, key: &BlobKey) -> Result<bool> {
        self.info(key).map(|info| info.is_some())
    }

    /// Removes `key`; returns whether it existed.
    fn delete(&self, key: &BlobKey) -> Result<bool>;

    /// The blobs of one message, by index, file before thumbnail.
    fn list(&self, message: MessageId) -> Result<Vec<BlobInfo>>;

    /// Removes every blob of these messages at once; returns how many keys went.
    fn delete_by_prefixes(&self, messages: &[MessageId]) -> Result<u64>;

    /// The messages (in id order, after `after`) holding a blob stored before
    /// `stored_before`, at most `limit` of them: what an orphan sweep examines.
    fn messages_with_blobs(
        &self,
        stored_before: Timestamp,
        after: Option<MessageId>,
        limit: u32,
    ) -> Result<Vec<MessageId>>;

    /// Totals.
    fn stats(&self) -> Result<BlobStats>;
}

/// A [`BlobStore`] for hosts that keep no attachments: it holds nothing, so reads find
/// nothing, deletions remove nothing, and storing is [`Error::Unavailable`].
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBlobStore;

impl NoBlobStore {
    fn refuse<T>(key: &BlobKey) -> Result<T> {
        Err(Error::Unavailable {
            detail: format!("cannot store {key}: no blob store is configured"),
        })
    }
}

impl BlobStore for NoBlobStore {
    fn put_all(&self, items: &[(BlobKey, &[u8])]) -> Result<Vec<BlobInfo>> {
        match items.first() {
            Some((key, _)) => NoBlobStore::refuse(key),
            None => Ok(Vec::new()),
        }
    }

    fn put_stream(&self, key: &BlobKey, _size: u64, _reader: &mut dyn Read) -> Result<BlobInfo> {
        NoBlobStore::refuse(key)
    }

    fn get(&self, key: &BlobKey) -> Result<Vec<u8>> {
        Err(Error::not_found("blob", key))
    }

    fn open(&self, key: &BlobKey) -> Result<Box<dyn BlobRead + '_>> {
        Err(Error::not_found("blob", key))
    }

    fn info(&self, _key: &BlobKey) -> Result<Option<BlobInfo>> {
        Ok(None)
    }

    fn delete(&self, _key: &BlobKey) -> Result<bool> {
        Ok(false)
    }

    fn list(&self, _message: MessageId) -> Result<Vec<BlobInfo>> {
        Ok(Vec::new())
    }

    fn delete_by_prefixes(&self, _messages: &[MessageId]) -> Result<u64> {
        Ok(0)
    }

    fn messages_with_blobs(
        &self,
        _stored_before: Timestamp,
        _after: Option<MessageId>,
        _limit: u32,
    ) -> Result<Vec<MessageId>> {
        Ok(Vec::new())
    }

    fn stats(&self) -> Result<BlobStats> {
        Ok(BlobStats::default())
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
