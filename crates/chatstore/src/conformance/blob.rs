//! Attachment storage: the behaviour every [`BlobStore`] must show, whatever holds the
//! bytes.
//!
//! A blob store implements [`BlobBackend`] for a throwaway place to keep blobs and
//! expands [`blob_conformance_suite!`](crate::blob_conformance_suite) once; every check
//! then runs as its own `#[test]`:
//!
//! ```ignore
//! struct TempBlobs(tempfile::TempDir);
//!
//! impl chatstore::conformance::BlobBackend for TempBlobs {
//!     fn open(&self) -> chatstore::Result<Box<dyn chatstore::BlobStore>> {
//!         let config = BlobConfig::new(self.0.path().join("files.db")).max_blob_bytes(4 << 20);
//!         Ok(Box::new(SqliteBlobStore::open(config)?))
//!     }
//!
//!     fn max_blob_bytes(&self) -> u64 {
//!         4 << 20
//!     }
//! }
//!
//! chatstore::blob_conformance_suite!(TempBlobs(tempfile::tempdir().unwrap()));
//! ```
//!
//! The checks read the blobs' creation times only through
//! [`BlobStore::messages_with_blobs`], and expect the store's clock to read a time
//! after [`LONG_AGO`].

use std::collections::BTreeSet;
use std::io::{self, Cursor, Read};

use crate::{BlobInfo, BlobKey, BlobStats, BlobStore, Error, MessageId, Result, Timestamp};

/// A blob store under test: opens stores on one place (a file, a database) that
/// belongs to this value.
pub trait BlobBackend {
    /// Opens the backend's blob store. Opening twice, even while the first store is
    /// open, reaches the same data.
    fn open(&self) -> Result<Box<dyn BlobStore>>;

    /// The largest blob, in bytes, the stores it opens accept. The checks store blobs
    /// of [`LARGE`] bytes and build one of a byte more than this limit in memory, so it
    /// is at least [`LARGE`] and small (a few MiB).
    fn max_blob_bytes(&self) -> u64;
}

/// The size of the large blob checks store: several MiB, not a round number, so that
/// it spans many chunks of any streaming size and ends part-way through one.
pub const LARGE: usize = 3 * 1024 * 1024 + 17;

/// A time before any blob a check stores: 2000-01-01.
pub const LONG_AGO: &str = "2000-01-01T00:00:00Z";

/// Opens a store on `backend`.
fn open(backend: &dyn BlobBackend) -> Box<dyn BlobStore> {
    backend.open().expect("the blob store opens")
}

/// `len` bytes derived from `label`: different labels give different bytes.
pub(super) fn bytes(label: &str, len: usize) -> Vec<u8> {
    let seed = blake3::hash(label.as_bytes());
    let mut out = vec![0u8; len];
    blake3::Hasher::new_keyed(seed.as_bytes())
        .finalize_xof()
        .fill(&mut out);
    out
}

/// The blake3 hash of `data`, as a [`BlobInfo`] carries it.
pub(super) fn hash(data: &[u8]) -> String {
    blake3::hash(data).to_hex().to_string()
}

/// What a store should report for `data` stored under `key`.
fn expected(key: BlobKey, data: &[u8]) -> BlobInfo {
    BlobInfo {
        key,
        size: data.len() as u64,
        hash: hash(data),
    }
}

/// The store's totals.
fn stats(store: &dyn BlobStore) -> BlobStats {
    store.stats().expect("stats")
}

/// The keys of a message's blobs, in listing order.
fn keys_of(store: &dyn BlobStore, message: MessageId) -> Vec<BlobKey> {
    store
        .list(message)
        .expect("list")
        .into_iter()
        .map(|info| info.key)
        .collect()
}

/// Reads a streamed blob to its end.
fn read_all(store: &dyn BlobStore, key: &BlobKey) -> Vec<u8> {
    let mut data = Vec::new();
    store
        .open(key)
        .expect("the blob opens for reading")
        .read_to_end(&mut data)
        .expect("the stream reads to its end");
    data
}

/// Opens `key` for reading and tells what it opened.
fn opened(store: &dyn BlobStore, key: &BlobKey) -> Result<BlobInfo> {
    store.open(key).map(|reader| reader.info().clone())
}

/// Asserts that `key` holds exactly `data`, by every way of reading it.
fn assert_holds(store: &dyn BlobStore, key: &BlobKey, data: &[u8]) {
    assert_eq!(
        store.info(key).expect("info"),
        Some(expected(*key, data)),
        "info of {key}"
    );
    assert!(store.exists(key).expect("exists"), "{key} exists");
    assert!(store.get(key).expect("get") == data, "get {key}");
    assert!(read_all(store, key) == data, "stream {key}");
}

/// Asserts that `key` holds nothing.
fn assert_absent(store: &dyn BlobStore, key: &BlobKey) {
    assert_eq!(store.info(key).expect("info"), None, "info of {key}");
    assert!(!store.exists(key).expect("exists"), "{key} does not exist");
    assert_err!(store.get(key), Error::NotFound { .. }, "get {key}");
}

/// A reader that hands out `data` at most `step` bytes a read.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// A reader that hands out `good` bytes and then fails, like an interrupted upload.
struct Failing {
    good: usize,
}

impl Read for Failing {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.good == 0 {
            return Err(io::Error::other("upload interrupted"));
        }
        let n = self.good.min(buf.len());
        buf[..n].fill(0x5a);
        self.good -= n;
        Ok(n)
    }
}

/// Bytes stored under a key come back exactly, whatever their size (empty, one byte,
/// several MiB), from `get` and from a stream, with their size and blake3 hash; a
/// batch's infos come back in the batch's order.
pub fn blob_put_and_get_round_trip(backend: &dyn BlobBackend) {
    let store = open(backend);
    let s = &*store;
    let message = MessageId::new();
    for (index, len) in [0usize, 1, 1000, LARGE].into_iter().enumerate() {
        let key = BlobKey::file(message, index as u32);
        let data = bytes(&format!("round trip {len}"), len);
        let info = s.put(&key, &data).expect("put");
        assert_eq!(info, expected(key, &data), "{len} bytes");
        assert_eq!(info.hash.len(), 64, "the hash is 64 hex characters");
        assert_holds(s, &key, &data);
    }
    let other = MessageId::new();
    let (file, thumb) = (BlobKey::file(other, 0), BlobKey::thumbnail(other, 0));
    let (pdf, small) = (bytes("pdf", 20_000), bytes("thumbnail", 300));
    let infos = s
        .put_all(&[(thumb, small.as_slice()), (file, pdf.as_slice())])
        .expect("put all");
    assert_eq!(infos, vec![expected(thumb, &small), expected(file, &pdf)]);
    assert_holds(s, &file, &pdf);
    assert_holds(s, &thumb, &small);
    assert_eq!(
        s.put_all(&[]).expect("an empty batch"),
        Vec::<BlobInfo>::new()
    );
}

/// Storing under a key that holds a blob replaces it, by `put`, `put_all` and
/// `put_stream` alike, and the old bytes no longer count in the totals.
pub fn blob_put_replaces(backend: &dyn BlobBackend) {
    let store = open(backend);
    let s = &*store;
    let key = BlobKey::file(MessageId::new(), 0);
    s.put(&key, &bytes("first", 1000)).expect("put");
    let second = bytes("second", 2000);
    s.put(&key, &second).expect("replace by put");
    assert_holds(s, &key, &second);
    assert_eq!(keys_of(s, key.message), vec![key], "still one key");
    assert_eq!(
        stats(s),
        BlobStats {
            keys: 1,
            bytes: 2000,
            contents: 1,
            stored_bytes: 2000,
        },
        "the replaced bytes are gone from the totals"
    );
    let third = bytes("third", 3000);
    s.put_all(&[(key, third.as_slice())])
        .expect("replace by put_all");
    assert_holds(s, &key, &third);
    let fourth = bytes("fourth", 40_000);
    let info = s
        .put_stream(&key, fourth.len() as u64, &mut Cursor::new(&fourth))
        .expect("replace by put_stream");
    assert_eq!(info, expected(key, &fourth));
    assert_holds(s, &key, &fourth);
    assert_eq!(
        stats(s),
        BlobStats {
            keys: 1,
            bytes: 40_000,
            contents: 1,
            stored_bytes: 40_000,
        }
    );
}

/// A batch with one blob over the size limit is a validation error and stores none of
/// its blobs: new keys stay absent and a key it would have replaced keeps its bytes. A
/// stream announced over the limit is refused the same way; exactly the limit is
/// accepted.
pub fn blob_put_all_is_all_or_nothing(backend: &dyn BlobBackend) {
    let limit = backend.max_blob_bytes();
    assert!(
        limit >= LARGE as u64,
        "the backend accepts blobs of at least {LARGE} bytes"
    );
    let limit = usize::try_from(limit).expect("the limit fits in memory");
    let store = open(backend);
    let s = &*store;
    let message = MessageId::new();
    let existing = BlobKey::file(message, 0);
    let old = bytes("old", 500);
    s.put(&existing, &old).expect("put");
    let before = stats(s);

    let (fresh, big) = (BlobKey::thumbnail(message, 0), BlobKey::file(message, 1));
    let (small, replacement, oversized) = (
        bytes("fresh", 100),
        bytes("replacement", 600),
        bytes("oversized", limit + 1),
    );
    for batch in [
        vec![
            (fresh, small.as_slice()),
            (existing, replacement.as_slice()),
            (big, oversized.as_slice()),
        ],
        vec![
            (big, oversized.as_slice()),
            (fresh, small.as_slice()),
            (existing, replacement.as_slice()),
        ],
    ] {
        assert_err!(s.put_all(&batch), Error::Validation { .. });
        assert_absent(s, &fresh);
        assert_absent(s, &big);
        assert_holds(s, &existing, &old);
        assert_eq!(stats(s), before, "nothing of the batch was stored");
    }
    assert_err!(s.put(&big, &oversized), Error::Validation { .. });
    let mut endless = io::repeat(7).take(limit as u64 + 1);
    assert_err!(
        s.put_stream(&big, limit as u64 + 1, &mut endless),
        Error::Validation { .. }
    );
    assert_absent(s, &big);
    assert_eq!(stats(s), before);

    let exact = &oversized[..limit];
    s.put(&big, exact).expect("exactly the limit is accepted");
    assert_holds(s, &big, exact);
}

/// A stream is stored whole however its reader hands the bytes out (in one go or a
/// few bytes at a time), an empty one included.
pub fn blob_put_stream_round_trip(backend: &dyn BlobBackend) {
    let store = open(backend);
    let s = &*store;
    let message = MessageId::new();
    let large = bytes("streamed", LARGE);
    let key = BlobKey::file(message, 0);
    let info = s
        .put_stream(&key, large.len() as u64, &mut Cursor::new(&large))
        .expect("a large stream");
    assert_eq!(info, expected(key, &large));
    assert_holds(s, &key, &large);

    let trickled = bytes("trickled", 70_001);
    let key = BlobKey::file(message, 1);
    let mut reader = Trickle {
        data: &trickled,
        step: 999,
    };
    let info = s
        .put_stream(&key, trickled.len() as u64, &mut reader)
        .expect("a stream read in small pieces");
    assert_eq!(info, expected(key, &trickled));
    assert_holds(s, &key, &trickled);

    let key = BlobKey::thumbnail(message, 1);
    let info = s
        .put_stream(&key, 0, &mut io::empty())
        .expect("an empty stream");
    assert_eq!(info, expected(key, &[]));
    assert_holds(s, &key, &[]);
}

/// A stream that ends before its announced size, or has more, is a validation error
/// and stores nothing: a new key stays absent, a key it would replace keeps its bytes,
/// and no content is left behind.
pub fn blob_put_stream_of_the_wrong_length_stores_nothing(backend: &dyn BlobBackend) {
    let store = open(backend);
    let s = &*store;
    let message = MessageId::new();
    let existing = BlobKey::file(message, 0);
    let old = bytes("kept", 800);
    s.put(&existing, &old).expect("put");
    let before = stats(s);
    let fresh = BlobKey::file(message, 1);
    for (announced, actual) in [
        (1000u64, 999usize),
        (1000, 1001),
        (10, 0),
        (0, 1),
        (LARGE as u64, LARGE - 1),
    ] {
        let data = bytes("wrong length", actual);
        for key in [fresh, existing] {
            assert_err!(
                s.put_stream(&key, announced, &mut Cursor::new(&data)),
                Error::Validation { .. },
                "{announced} bytes announced, {actual} given, to {key}"
            );
        }
        assert_absent(s, &fresh);
        assert_holds(s, &existing, &old);
        assert_eq!(
            stats(s),
            before,
            "{announced}/{actual}: no half-written content"
        );
    }
}

/// A reader that fails (at once, or after part of the blob) is a validation error and
/// stores nothing.
pub fn blob_a_failing_reader_stores_nothing(backend: &dyn BlobBackend) {
    let store = open(backend);
    let s = &*store;
    let message = MessageId::new();
    let existing = BlobKey::file(message, 0);
    let old = bytes("kept", 800);
    s.put(&existing, &old).expect("put");
    let before = stats(s);
    let fresh = BlobKey::file(message, 1);
    for good in [0usize, 1, 100_000] {
        for key in [fresh, existing] {
            assert_err!(
                s.put_stream(&key, 200_000, &mut Failing { good }),
                Error::Validation { .. },
                "reader failing after {good} bytes, to {key}"
            );
        }
        assert_absent(s, &fresh);
        assert_holds(s, &existing, &old);
        assert_eq!(stats(s), before, "after {good} bytes: nothing left behind");
    }
}

/// A blob opened for reading streams exactly its bytes, whatever the size of the
/// reads, and tells what it is reading; opening a missing key is not found.
pub fn blob_open_streams_the_exact_bytes(backend: &dyn BlobBackend) {
    let store = open(backend);
    let s = &*store;
    let key = BlobKey::file(MessageId::new(), 0);
    let data = bytes("read back", LARGE);
    let info = s.put(&key, &data).expect("put");
    for size in [1usize, 4096, 7777, 1 << 20] {
        let mut reader = s.open(&key).expect("open");
        assert_eq!(reader.info(), &info);
        let mut read = Vec::with_capacity(data.len());
        let mut buffer = vec![0u8; size];
        loop {
            let n = reader.read(&mut buffer).expect("read");
            if n == 0 {
                break;
            }
            assert!(n <= size, "a read fills at most the buffer");
            read.extend_from_slice(&buffer[..n]);
            if size == 1 && read.len() == 10_000 {
                // Byte by byte is slow: the rest in one go.
                reader.read_to_end(&mut read).expect("read the rest");
                break;
            }
        }
        assert!(read == data, "reads of {size} bytes give the blob");
    }
    let empty = BlobKey::thumbnail(key.message, 0);
    s.put(&empty, &[]).expect("put empty");
    let mut reader = s.open(&empty).expect("open empty");
    assert_eq!(reader.info().size, 0);
    let mut read = Vec::new();
    assert_eq!(reader.read_to_end(&mut read).expect("read empty"), 0);
    drop(reader);
    assert_err!(
        opened(s, &BlobKey::file(key.message, 1)),
        Error::NotFound { .. }
    );
}

/// `info` and `exists` tell what a key holds; `list` gives a message's blobs by index
/// (as a number: 2 before 10), each file before its thumbnail, and nothing of other
/// messages.
pub fn blob_info_exists_and_list(backend: &dyn BlobBackend) {
    let store = open(backend);
    let s = &*store;
    let (message, other) = (MessageId::new(), MessageId::new());
    let keys = [
        BlobKey::thumbnail(message, 10),
        BlobKey::file(message, 2),
        BlobKey::thumbnail(message, 0),
        BlobKey::file(message, 10),
        BlobKey::file(message, 0),
        BlobKey::file(message, 1),
    ];
    let mut infos = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let data = bytes(&format!("listed {i}"), 100 + i);
        infos.push(s.put(key, &data).expect("put"));
        assert_eq!(s.info(key).expect("info"), Some(expected(*key, &data)));
    }
    s.put(&BlobKey::file(other, 0), b"other").expect("put");
    infos.sort_by_key(|info| (info.key.index, info.key.thumbnail));
    assert_eq!(s.list(message).expect("list"), infos);
    assert_eq!(
        keys_of(s, message),
        vec![
            BlobKey::file(message, 0),
            BlobKey::thumbnail(message, 0),
            BlobKey::file(message, 1),
            BlobKey::file(message, 2),
            BlobKey::file(message, 10),
            BlobKey::thumbnail(message, 10),
        ]
    );
    assert_eq!(keys_of(s, other), vec![BlobKey::file(other, 0)]);
    assert!(keys_of(s, MessageId::new()).is_empty());
    for missing in [
        BlobKey::thumbnail(message, 1),
        BlobKey::file(message, 3),
        BlobKey::thumbnail(other, 0),
    ] {
        assert_eq!(s.info(&missing).expect("info"), None, "{missing}");
        assert!(!s.exists(&missing).expect("exists"), "{missing}");
    }
}

/// Identical bytes under several keys (stored one by one, in one batch, or streamed)
/// count once as content; deleting any one key never loses another's bytes, and once
/// every key is gone nothing is left.
pub fn blob_identical_content_is_stored_once(backend: &dyn BlobBackend) {
    let store = open(backend);
    let s = &*store;
    let data = bytes("shared", 50_000);
    let keys: Vec<BlobKey> = (0..4).map(|_| BlobKey::file(MessageId::new(), 0)).collect();
    s.put(&keys[0], &data).expect("put");
    s.put_all(&[(keys[1], data.as_slice()), (keys[2], data.as_slice())])
        .expect("put all");
    s.put_stream(&keys[3], data.len() as u64, &mut Cursor::new(&data))
        .expect("put stream");
    let thumb = BlobKey::thumbnail(keys[0].message, 0);
    s.put(&thumb, &bytes("different", 1000)).expect("put");
    assert_eq!(
        stats(s),
        BlobStats {
            keys: 5,
            bytes: 4 * 50_000 + 1000,
            contents: 2,
            stored_bytes: 50_000 + 1000,
        },
        "identical bytes are kept once"
    );
    assert!(s.delete(&keys[0]).expect("delete"));
    assert_holds(s, &keys[1], &data);
    assert_eq!(s.delete_by_prefixes(&[keys[1].message]).expect("delete"), 1);
    assert_holds(s, &keys[2], &data);
    s.put(&keys[2], b"replaced").expect("replace");
    assert_holds(s, &keys[3], &data);
    assert_eq!(
        stats(s),
        BlobStats {
            keys: 3,
            bytes: 50_000 + 1000 + 8,
            contents: 3,
            stored_bytes: 50_000 + 1000 + 8,
        }
    );
    for key in [keys[2], keys[3], thumb] {
        assert!(s.delete(&key).expect("delete"), "{key}");
    }
    assert_eq!(stats(s), BlobStats::default(), "nothing left behind");
}

/// `delete` removes one key and says whether it was there; `delete_by_prefixes`
/// removes every blob of the given messages, counts the keys, and leaves other
/// messages alone.
pub fn blob_delete_and_delete_by_prefixes(backend: &dyn BlobBackend) {
    let store = open(backend);
    let s = &*store;
    let messages: Vec<MessageId> = (0..10).map(|_| MessageId::new()).collect();
    for (i, message) in messages.iter().enumerate() {
        for index in 0..2 {
            let file = bytes(&format!("file {i} {index}"), 100 + index as usize);
            s.put_all(&[
                (BlobKey::file(*message, index), file.as_slice()),
                (BlobKey::thumbnail(*message, index), b"t".as_slice()),
            ])
            .expect("put");
        }
    }
    let one = BlobKey::thumbnail(messages[9], 0);
    assert!(s.delete(&one).expect("delete"), "it was there");
    assert!(!s.delete(&one).expect("delete again"), "it is gone");
    assert_absent(s, &one);
    assert_eq!(s.list(messages[9]).expect("list").len(), 3);
    assert_holds(s, &BlobKey::thumbnail(messages[9], 1), b"t");

    assert_eq!(s.delete_by_prefixes(&messages[..4]).expect("delete"), 16);
    assert_eq!(s.delete_by_prefixes(&messages[..4]).expect("again"), 0);
    assert_eq!(s.delete_by_prefixes(&[]).expect("none"), 0);
    assert_eq!(
        s.delete_by_prefixes(&[MessageId::new()])
            .expect("an unknown message"),
        0
    );
    for (i, message) in messages.iter().enumerate() {
        let expected = match i {
            0..4 => 0,
            9 => 3,
            _ => 4,
        };
        assert_eq!(
            s.list(*message).expect("list").len(),
            expected,
            "message {i}"
        );
    }
    assert_absent(s, &BlobKey::file(messages[0], 0));
    assert_holds(s, &BlobKey::thumbnail(messages[9], 1), b"t");
    assert_eq!(
        s.delete_by_prefixes(&[messages[9], messages[4], messages[9]])
            .expect("repeated messages"),
        7
    );
    assert_eq!(stats(s).keys, 4 * 4);
}

/// `messages_with_blobs` lists each message holding a blob once, in id order, page by
/// page after a cursor; blobs stored after the cut-off are left out, a deleted
/// message's blobs no longer count, and a page limit of 0 is a validation error.
pub fn blob_messages_with_blobs_pages_in_id_order(backend: &dyn BlobBackend) {
    let store = open(backend);
    let s = &*store;
    let mut messages: Vec<MessageId> = (0..7).map(|_| MessageId::new()).collect();
    // Stored in reverse, so insertion order is not id order.
    for (i, message) in messages.iter().enumerate().rev() {
        s.put(&BlobKey::file(*message, 0), &bytes(&format!("m{i}"), 10))
            .expect("put");
        if i % 2 == 0 {
            s.put(&BlobKey::thumbnail(*message, 3), b"thumb")
                .expect("put");
        }
    }
    messages.sort();
    let page = |after: Option<MessageId>, limit: u32| {
        s.messages_with_blobs(Timestamp::MAX, after, limit)
            .expect("a page")
    };
    assert_eq!(page(None, 100), messages);
    let mut walked = Vec::new();
    let mut after = None;
    loop {
        let next = page(after, 3);
        assert!(next.len() <= 3, "a page holds at most the limit");
        match next.last() {
            Some(last) => after = Some(*last),
            None => break,
        }
        walked.extend(next);
        assert!(walked.len() <= messages.len(), "paging never ends");
    }
    assert_eq!(walked, messages, "pages in id order, each message once");
    assert_eq!(page(Some(messages[2]), 2), messages[3..5].to_vec());
    assert!(page(Some(messages[6]), 10).is_empty());

    let long_ago: Timestamp = LONG_AGO.parse().expect("a valid timestamp");
    assert!(
        s.messages_with_blobs(long_ago, None, 100)
            .expect("a page")
            .is_empty(),
        "nothing was stored before {LONG_AGO}"
    );
    s.delete_by_prefixes(&[messages[0], messages[5]])
        .expect("delete");
    let left: Vec<MessageId> = messages
        .iter()
        .copied()
        .filter(|m| *m != messages[0] && *m != messages[5])
        .collect();
    assert_eq!(page(None, 100), left);
    assert_err!(
        s.messages_with_blobs(Timestamp::MAX, None, 0),
        Error::Validation { .. }
    );
}

/// A key that holds nothing is not found by `get` and `open`, absent to `info` and
/// `exists`, and `delete` reports it was not there, before it is stored and after it
/// is deleted.
pub fn blob_missing_keys_are_not_found(backend: &dyn BlobBackend) {
    let store = open(backend);
    let s = &*store;
    let message = MessageId::new();
    let key = BlobKey::file(message, 0);
    let check = |key: &BlobKey| {
        assert_absent(s, key);
        assert_err!(opened(s, key), Error::NotFound { .. }, "open {key}");
        assert!(!s.delete(key).expect("delete"), "{key} was not there");
    };
    check(&key);
    s.put(&key, b"present").expect("put");
    check(&BlobKey::thumbnail(message, 0));
    check(&BlobKey::file(message, 1));
    assert!(s.delete(&key).expect("delete"));
    check(&key);
    s.put(&key, b"again").expect("put again");
    s.delete_by_prefixes(&[message]).expect("delete");
    check(&key);
}

/// What one store wrote, another opened on the same place reads, at the same time and
/// after the first is closed.
pub fn blob_data_survives_reopening(backend: &dyn BlobBackend) {
    let message = MessageId::new();
    let (file, thumb, streamed, gone) = (
        BlobKey::file(message, 0),
        BlobKey::thumbnail(message, 0),
        BlobKey::file(message, 1),
        BlobKey::file(message, 2),
    );
    let (pdf, small, large) = (
        bytes("persisted", 9000),
        bytes("small", 10),
        bytes("large", LARGE),
    );
    let totals = {
        let first = open(backend);
        first
            .put_all(&[(file, pdf.as_slice()), (thumb, small.as_slice())])
            .expect("put all");
        first
            .put_stream(&streamed, large.len() as u64, &mut Cursor::new(&large))
            .expect("put stream");
        first.put(&gone, b"deleted").expect("put");
        let second = open(backend);
        assert_holds(&*second, &file, &pdf);
        assert!(second.delete(&gone).expect("delete"));
        assert_absent(&*first, &gone);
        stats(&*first)
    };
    let reopened = open(backend);
    let r = &*reopened;
    assert_holds(r, &file, &pdf);
    assert_holds(r, &thumb, &small);
    assert_holds(r, &streamed, &large);
    assert_absent(r, &gone);
    assert_eq!(keys_of(r, message), vec![file, thumb, streamed]);
    assert_eq!(stats(r), totals);
}

/// Blobs stored from several threads at once all land, those sharing bytes included.
pub fn blob_concurrent_puts_all_land(backend: &dyn BlobBackend) {
    const THREADS: usize = 4;
    const EACH: usize = 20;
    let store = open(backend);
    let s = &*store;
    let stored: Vec<Vec<(BlobKey, Vec<u8>)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    for i in 0..EACH {
                        let message = MessageId::new();
                        // Every other blob has the same bytes in every thread.
                        let data = if i % 2 == 0 {
                            bytes(&format!("shared {i}"), 3000)
                        } else {
                            bytes(&format!("thread {t} blob {i}"), 3000 + i)
                        };
                        let (file, thumb) =
                            (BlobKey::file(message, 0), BlobKey::thumbnail(message, 0));
                        if i % 3 == 0 {
                            let small = bytes(&format!("thumb {t} {i}"), 50);
                            s.put_all(&[(file, data.as_slice()), (thumb, small.as_slice())])
                                .expect("put all");
                            mine.push((thumb, small));
                        } else {
                            s.put(&file, &data).expect("put");
                        }
                        assert!(s.get(&file).expect("get") == data, "read back at once");
                        mine.push((file, data));
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a writer thread"))
            .collect()
    });
    let all: Vec<(BlobKey, Vec<u8>)> = stored.into_iter().flatten().collect();
    for (key, data) in &all {
        assert!(s.get(key).expect("get") == *data, "{key}");
    }
    let distinct: BTreeSet<&Vec<u8>> = all.iter().map(|(_, data)| data).collect();
    let totals = stats(s);
    assert_eq!(totals.keys, all.len() as u64, "every blob landed");
    assert_eq!(
        totals.bytes,
        all.iter().map(|(_, d)| d.len() as u64).sum::<u64>()
    );
    assert_eq!(
        totals.contents,
        distinct.len() as u64,
        "shared bytes kept once"
    );
    assert_eq!(
        totals.stored_bytes,
        distinct.iter().map(|d| d.len() as u64).sum::<u64>()
    );
}

/// Expands to one `#[test]` per check of the blob store suite, each on a backend made
/// by `$make` (an expression evaluated afresh for every test).
#[macro_export]
macro_rules! blob_conformance_suite {
    ($make:expr) => {
        $crate::blob_conformance_suite!(@tests $make;
            blob_put_and_get_round_trip,
            blob_put_replaces,
            blob_put_all_is_all_or_nothing,
            blob_put_stream_round_trip,
            blob_put_stream_of_the_wrong_length_stores_nothing,
            blob_a_failing_reader_stores_nothing,
            blob_open_streams_the_exact_bytes,
            blob_info_exists_and_list,
            blob_identical_content_is_stored_once,
            blob_delete_and_delete_by_prefixes,
            blob_messages_with_blobs_pages_in_id_order,
            blob_missing_keys_are_not_found,
            blob_data_survives_reopening,
            blob_concurrent_puts_all_land,
        );
    };
    (@tests $make:expr; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                let backend = $make;
                $crate::conformance::$check(&backend);
            }
        )*
    };
}
