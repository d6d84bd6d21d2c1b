//! The rules every blob store applies to the bytes it is given: the size limit, the
//! content hash, and a stream that must hold exactly the size announced.

use std::io::Read;

use crate::{BlobInfo, BlobKey, Error, Result};

/// The content address of some bytes: their blake3 hash, in hex.
///
/// ```
/// let hash = chatstore::blob::content_hash(b"hello");
/// assert_eq!(hash.len(), 64);
/// assert_eq!(hash, chatstore::blob::content_hash(b"hello"));
/// ```
pub fn content_hash(data: &[u8]) -> String {
    blake3::hash(data).to_hex().to_string()
}

/// Refuses a blob larger than the store's maximum: [`Error::Validation`] naming the key.
pub fn check_size(key: &BlobKey, size: u64, max_bytes: u64) -> Result<()> {
    if size > max_bytes {
        return Err(Error::validation(
            "blob",
            format!("{key} is {size} bytes, more than the {max_bytes} allowed"),
        ));
    }
    Ok(())
}

/// What storing each of `items` will record, after checking every size against the
/// store's maximum ([`check_size`]): the first step of every [`crate::BlobStore::put_all`],
/// before anything is written.
pub fn describe_all(items: &[(BlobKey, &[u8])], max_bytes: u64) -> Result<Vec<BlobInfo>> {
    items
        .iter()
        .map(|(key, data)| {
            check_size(key, data.len() as u64, max_bytes)?;
            Ok(BlobInfo {
                key: *key,
                size: data.len() as u64,
                hash: content_hash(data),
            })
        })
        .collect()
}

/// A blob arriving as a stream for [`crate::BlobStore::put_stream`]: hands out its bytes
/// in chunks for the backend to write, hashing them, and fails unless the reader holds
/// exactly the size announced. A reader that fails, ends early or holds more is
/// [`Error::Validation`]; the backend then stores nothing.
///
/// ```
/// use chatstore::blob::{Incoming, content_hash};
/// use chatstore::{BlobKey, MessageId};
///
/// let key = BlobKey::file(MessageId::new(), 0);
/// let mut stored = Vec::new();
/// let mut source: &[u8] = b"twelve bytes";
/// let mut incoming = Incoming::new(&key, 12, 1 << 20, &mut source)?;
/// let mut buffer = [0u8; 5];
/// while let Some(chunk) = incoming.next_chunk(&mut buffer)? {
///     stored.extend_from_slice(chunk);
/// }
/// assert_eq!(incoming.hash(), content_hash(b"twelve bytes"));
/// assert_eq!(stored, b"twelve bytes");
///
/// let mut short: &[u8] = b"eleven byte";
/// assert!(Incoming::new(&key, 12, 1 << 20, &mut short)?.drain().is_err());
/// let mut long: &[u8] = b"thirteen byte";
/// assert!(Incoming::new(&key, 12, 1 << 20, &mut long)?.drain().is_err());
/// assert!(Incoming::new(&key, 2 << 20, 1 << 20, &mut long).is_err());
/// # Ok::<(), chatstore::Error>(())
/// ```
pub struct Incoming<'r> {
    key: BlobKey,
    size: u64,
    received: u64,
    reader: &'r mut dyn Read,
    hasher: blake3::Hasher,
}

impl<'r> Incoming<'r> {
    /// Starts receiving `size` bytes for `key` from `reader`, after checking the size
    /// against the store's `max_bytes`.
    pub fn new(
        key: &BlobKey,
        size: u64,
        max_bytes: u64,
        reader: &'r mut dyn Read,
    ) -> Result<Incoming<'r>> {
        check_size(key, size, max_bytes)?;
        Ok(Incoming {
            key: *key,
            size,
            received: 0,
            reader,
            hasher: blake3::Hasher::new(),
        })
    }

    /// The size announced.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes received so far: the offset of the next chunk.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The next bytes (at most `buffer.len()`), or `None` once all `size` have come and
    /// the reader was found to hold no more.
    pub fn next_chunk<'b>(&mut self, buffer: &'b mut [u8]) -> Result<Option<&'b [u8]>> {
        let key = self.key;
        let failed = move |e: std::io::Error| {
            Error::validation("blob", format!("{key}: reading the stream failed: {e}"))
        };
        if self.received >= self.size {
            let mut probe = [0u8; 1];
            if self.reader.read(&mut probe).map_err(failed)? > 0 {
                return Err(Error::validation(
                    "blob",
                    format!(
                        "{key}: the stream holds more than the {} bytes announced",
                        self.size
                    ),
                ));
            }
            return Ok(None);
        }
        let want = usize::try_from(self.size - self.received)
            .unwrap_or(usize::MAX)
            .min(buffer.len());
        let got = self.reader.read(&mut buffer[..want]).map_err(failed)?;
        if got == 0 {
            return Err(Error::validation(
                "blob",
                format!(
                    "{key}: the stream ended after {} of {} bytes",
                    self.received, self.size
                ),
            ));
        }
        self.hasher.update(&buffer[..got]);
        self.received += got as u64;
        Ok(Some(&buffer[..got]))
    }

    /// Reads the whole stream without keeping it, checking it: for callers that only
    /// need the hash.
    pub fn drain(&mut self) -> Result<String> {
        let mut buffer = vec![0u8; 64 << 10];
        while self.next_chunk(&mut buffer)?.is_some() {}
        Ok(self.hash())
    }

    /// The content hash of the bytes received ([`content_hash`] once all have come).
    pub fn hash(&self) -> String {
        self.hasher.finalize().to_hex().to_string()
    }
}
