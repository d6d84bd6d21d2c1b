//! The fast checksum every blob read checks, one per stored chunk.

/// The checksum of one stored chunk of a blob: xxh3-64. Every backend stores it with
/// the chunk and checks it when the chunk is read, before its bytes are handed on;
/// blake3 ([`super::content_hash`]) stays the content address, checked when a blob is
/// written and by the stores' `verify_contents`. xxh3 was chosen by measurement: about
/// ten times the speed of blake3 on this workload (docs/performance.md, W2).
///
/// ```
/// use chatstore::blob::chunk_checksum;
///
/// assert_eq!(chunk_checksum(b"chunk"), chunk_checksum(b"chunk"));
/// assert_ne!(chunk_checksum(b"chunk"), chunk_checksum(b"chunK"));
/// ```
pub fn chunk_checksum(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}
