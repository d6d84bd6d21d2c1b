//! The fast checksums every read checks: one xxh3-64 per chunk of [`CHUNK`] bytes (the
//! last chunk shorter), stored beside the content in `content_checks` as little-endian
//! `u64`s, one per chunk. blake3 stays the content address: it is checked when a blob
//! is written and by `verify_contents`; reads check these instead, chunk by chunk, so a
//! stream can check each chunk before handing its bytes on.
//!
//! Contents stored before the checksums existed have none (no `content_checks` row):
//! reads of those fall back to the blake3 hash of the whole, and `verify_contents`
//! records their checksums.

use chatstore::blob::chunk_checksum;
use xxhash_rust::xxh3::Xxh3;

/// Chunk size of streamed reads and writes, and of the checksums.
pub(crate) const CHUNK: usize = 64 * 1024;

/// Bytes one chunk's checksum takes in `contents.checks`.
const CHECK_BYTES: usize = 8;

/// How many chunks (and so checksums) a content of `size` bytes has: none when empty.
fn chunks_in(size: u64) -> u64 {
    size.div_ceil(CHUNK as u64)
}

/// The packed checksums of `data`, as stored in `content_checks.checks`.
pub(crate) fn checks_of(data: &[u8]) -> Vec<u8> {
    data.chunks(CHUNK)
        .flat_map(|chunk| chunk_checksum(chunk).to_le_bytes())
        .collect()
}

/// The checksums of bytes arriving in pieces of any length (a streamed write), cut into
/// chunks at the same offsets as [`checks_of`].
pub(crate) struct ChecksWriter {
    hasher: Xxh3,
    in_chunk: usize,
    packed: Vec<u8>,
}

impl ChecksWriter {
    /// Checksums of nothing yet.
    pub(crate) fn new() -> ChecksWriter {
        ChecksWriter {
            hasher: Xxh3::new(),
            in_chunk: 0,
            packed: Vec::new(),
        }
    }

    /// Adds the next bytes.
    pub(crate) fn update(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let take = bytes.len().min(CHUNK - self.in_chunk);
            self.hasher.update(&bytes[..take]);
            self.in_chunk += take;
            bytes = &bytes[take..];
            if self.in_chunk == CHUNK {
                self.end_chunk();
            }
        }
    }

    fn end_chunk(&mut self) {
        self.packed
            .extend_from_slice(&self.hasher.digest().to_le_bytes());
        self.hasher.reset();
        self.in_chunk = 0;
    }

    /// The packed checksums of everything added.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        if self.in_chunk > 0 {
            self.end_chunk();
        }
        self.packed
    }
}

/// How the bytes of one content are checked as they are read.
pub(crate) enum ReadCheck {
    /// Each chunk against its stored checksum, before it is handed on.
    Chunks(Vec<u8>),
    /// No checksums stored yet (a content from before them): the blake3 hash of the
    /// whole, known only once the last byte was read.
    Whole {
        /// The content's stored hash, in hex.
        hash: String,
        /// The bytes read so far.
        hasher: Box<blake3::Hasher>,
    },
}

impl ReadCheck {
    /// The check of a content of `size` bytes whose row holds `checks` and `hash`.
    /// Checksums of the wrong length (a damaged row) are `Err`.
    pub(crate) fn new(checks: Option<Vec<u8>>, size: u64, hash: String) -> Result<ReadCheck, ()> {
        match checks {
            Some(packed) if packed.len() as u64 == chunks_in(size) * CHECK_BYTES as u64 => {
                Ok(ReadCheck::Chunks(packed))
            }
            Some(_) => Err(()),
            None => Ok(ReadCheck::Whole {
                hash,
                hasher: Box::new(blake3::Hasher::new()),
            }),
        }
    }

    /// True when chunk `index` (every chunk [`CHUNK`] bytes but the last) holds `bytes`
    /// as far as can be told now; chunks must come in order.
    pub(crate) fn chunk(&mut self, index: usize, bytes: &[u8]) -> bool {
        match self {
            ReadCheck::Chunks(packed) => {
                let at = index * CHECK_BYTES;
                packed
                    .get(at..at + CHECK_BYTES)
                    .is_some_and(|stored| stored == chunk_checksum(bytes).to_le_bytes())
            }
            ReadCheck::Whole { hasher, .. } => {
                hasher.update(bytes);
                true
            }
        }
    }

    /// True when `data` is the whole content: every chunk and then [`ReadCheck::finish`].
    pub(crate) fn all(&mut self, data: &[u8]) -> bool {
        data.chunks(CHUNK)
            .enumerate()
            .all(|(i, chunk)| self.chunk(i, chunk))
            && self.finish()
    }

    /// True when the bytes read, all of them, match: the last word, after the last chunk.
    pub(crate) fn finish(&self) -> bool {
        match self {
            ReadCheck::Chunks(_) => true,
            ReadCheck::Whole { hash, hasher } => hasher.finalize().to_hex().as_str() == hash,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 253) as u8).collect()
    }

    #[test]
    fn one_checksum_per_chunk_the_last_one_short() {
        for (len, chunks) in [
            (0, 0),
            (1, 1),
            (CHUNK, 1),
            (CHUNK + 1, 2),
            (3 * CHUNK + 5, 4),
        ] {
            let data = bytes(len);
            let packed = checks_of(&data);
            assert_eq!(packed.len(), chunks * CHECK_BYTES, "{len} bytes");
            assert_eq!(chunks_in(len as u64), chunks as u64);
            let mut check =
                ReadCheck::new(Some(packed), len as u64, String::new()).expect("right length");
            for (i, chunk) in data.chunks(CHUNK).enumerate() {
                assert!(check.chunk(i, chunk), "chunk {i} of {len} bytes");
            }
            assert!(check.finish());
        }
    }

    #[test]
    fn a_streamed_write_in_uneven_pieces_gives_the_same_checksums() {
        let data = bytes(2 * CHUNK + 999);
        for piece in [1, 1000, CHUNK - 1, CHUNK, CHUNK + 3] {
            let mut writer = ChecksWriter::new();
            for part in data.chunks(piece) {
                writer.update(part);
            }
            assert_eq!(writer.finish(), checks_of(&data), "pieces of {piece}");
        }
        assert_eq!(ChecksWriter::new().finish(), checks_of(&[]));
    }

    #[test]
    fn any_changed_byte_fails_its_chunk_and_only_its_chunk() {
        let data = bytes(3 * CHUNK + 10);
        for at in [0, CHUNK - 1, CHUNK + 17, 3 * CHUNK + 9] {
            let mut damaged = data.clone();
            damaged[at] ^= 0x01;
            let mut check =
                ReadCheck::new(Some(checks_of(&data)), data.len() as u64, String::new())
                    .expect("right length");
            let failed: Vec<usize> = damaged
                .chunks(CHUNK)
                .enumerate()
                .filter_map(|(i, chunk)| (!check.chunk(i, chunk)).then_some(i))
                .collect();
            assert_eq!(failed, vec![at / CHUNK], "byte {at} changed");
        }
    }

    #[test]
    fn checksums_of_the_wrong_length_or_chunks_past_them_fail() {
        let data = bytes(CHUNK + 1);
        let mut packed = checks_of(&data);
        packed.pop();
        assert!(ReadCheck::new(Some(packed), data.len() as u64, String::new()).is_err());
        assert!(ReadCheck::new(Some(Vec::new()), 1, String::new()).is_err());
        assert!(ReadCheck::new(Some(checks_of(b"x")), 0, String::new()).is_err());
        let mut check = ReadCheck::new(Some(checks_of(b"x")), 1, String::new()).expect("fits");
        assert!(!check.chunk(1, b"x"), "no checksum for a second chunk");
    }

    #[test]
    fn without_checksums_the_whole_is_checked_against_its_hash() {
        let data = bytes(2 * CHUNK + 3);
        let hash = blake3::hash(&data).to_hex().to_string();
        let mut good = ReadCheck::new(None, data.len() as u64, hash.clone()).expect("whole");
        for (i, chunk) in data.chunks(CHUNK).enumerate() {
            assert!(good.chunk(i, chunk));
        }
        assert!(good.finish());

        let mut damaged = data.clone();
        damaged[CHUNK + 5] ^= 0x80;
        let mut bad = ReadCheck::new(None, data.len() as u64, hash).expect("whole");
        for (i, chunk) in damaged.chunks(CHUNK).enumerate() {
            assert!(bad.chunk(i, chunk), "nothing is known before the end");
        }
        assert!(!bad.finish());
    }
}
