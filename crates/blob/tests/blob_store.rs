//! The attachment store's own behaviour, beyond the blob conformance suite
//! (tests/conformance.rs): streaming limits and chunks, creation times from the
//! configured clock, damaged files, maintenance, read snapshots and the file's layout.

use std::io::{Cursor, Read};
use std::sync::Arc;
use std::time::Duration;

use chatstore::{BlobKey, BlobStore, Error, ManualClock, MessageId, Timestamp};
use chatstore_blob::{BlobConfig, SqliteBlobStore};

struct Fixture {
    dir: tempfile::TempDir,
    clock: ManualClock,
}

impl Fixture {
    fn new() -> Fixture {
        let start: Timestamp = "2026-01-01T00:00:00Z".parse().expect("timestamp");
        Fixture {
            dir: tempfile::tempdir().expect("temporary directory"),
            clock: ManualClock::new(start),
        }
    }

    fn config(&self) -> BlobConfig {
        BlobConfig::new(self.dir.path().join("files.db")).clock(Arc::new(self.clock.clone()))
    }

    fn open(&self) -> SqliteBlobStore {
        SqliteBlobStore::open(self.config()).expect("blob store opens")
    }
}

/// Distinct bytes of `len`, derived from `seed`.
fn bytes(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// The configured limit is checked before a stream is read: an upload announced too
/// large is refused without consuming any of it.
#[test]
fn an_oversized_stream_is_refused_before_it_is_read() {
    let f = Fixture::new();
    let store = SqliteBlobStore::open(f.config().max_blob_bytes(1000)).expect("opens");
    let key = BlobKey::file(MessageId::new(), 0);
    let mut stream = Cursor::new(bytes(7, 2000));
    match store.put_stream(&key, 2000, &mut stream) {
        Err(Error::Validation { field: "blob", .. }) => {}
        other => panic!("expected a validation error, got {other:?}"),
    }
    assert_eq!(stream.position(), 0, "refused before reading");
    assert!(!store.exists(&key).expect("exists"));
}

/// Streamed reads come in chunks of at most 64 KiB, however large the caller's buffer.
#[test]
fn streamed_reads_come_in_chunks_of_at_most_64_kib() {
    let f = Fixture::new();
    let store = f.open();
    let key = BlobKey::file(MessageId::new(), 0);
    let data = bytes(9, 3 * 1024 * 1024 + 17);
    store
        .put_stream(&key, data.len() as u64, &mut Cursor::new(data.clone()))
        .expect("stream in");
    let mut reader = store.open(&key).expect("open");
    let mut read = Vec::new();
    let mut chunk = vec![0u8; 100_000];
    loop {
        let n = reader.read(&mut chunk).expect("read");
        assert!(n <= 64 * 1024, "read in chunks of at most 64 KiB");
        if n == 0 {
            break;
        }
        read.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(read, data);
}

/// Blob creation times come from the configured clock: blobs stored at or after the
/// cut-off are left out of what an orphan sweep examines.
#[test]
fn messages_with_blobs_leaves_out_blobs_stored_after_the_cut_off() {
    let f = Fixture::new();
    let store = f.open();
    let mut old: Vec<MessageId> = (0..5).map(|_| MessageId::new()).collect();
    for message in &old {
        store.put(&BlobKey::file(*message, 0), b"x").expect("put");
    }
    f.clock.advance(Duration::from_secs(3600));
    let cutoff = f.clock.now_plus(Duration::ZERO);
    let young = MessageId::new();
    store.put(&BlobKey::file(young, 0), b"y").expect("put");
    old.sort();
    assert_eq!(
        store.messages_with_blobs(cutoff, None, 100).expect("page"),
        old,
        "young blobs are left out"
    );
}

trait NowPlus {
    fn now_plus(&self, by: Duration) -> Timestamp;
}

impl NowPlus for ManualClock {
    fn now_plus(&self, by: Duration) -> Timestamp {
        use chatstore::Clock;
        self.now() + by
    }
}

#[test]
fn damaged_bytes_are_reported_not_returned() {
    let f = Fixture::new();
    let key = BlobKey::file(MessageId::new(), 0);
    let intact = BlobKey::file(MessageId::new(), 0);
    let marker: Vec<u8> = b"THE-BYTES-THAT-WILL-BE-DAMAGED-".repeat(200);
    {
        let store = f.open();
        store.put(&key, &marker).expect("put");
        store.put(&intact, &bytes(11, 5000)).expect("put");
        store.close().expect("close");
    }
    let path = f.dir.path().join("files.db");
    let mut file = std::fs::read(&path).expect("read file");
    let at = file
        .windows(marker.len().min(64))
        .position(|w| w == &marker[..64])
        .expect("the bytes are in the file");
    file[at + 100] ^= 0x55;
    std::fs::write(&path, &file).expect("damage the file");

    let store = f.open();
    match store.get(&key) {
        Err(Error::Corrupt { detail }) => assert!(detail.contains(&key.to_string()), "{detail}"),
        other => panic!("expected Corrupt, got {:?}", other.map(|b| b.len())),
    }
    let mut streamed = Vec::new();
    let error = store
        .open(&key)
        .expect("open")
        .read_to_end(&mut streamed)
        .expect_err("the stream fails at the end");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
    assert_eq!(store.verify_contents().expect("verify"), vec![key]);
    assert_eq!(
        store.get(&intact).expect("the other blob is fine"),
        bytes(11, 5000)
    );
    store
        .check_integrity()
        .expect("the file's structure is intact");
}

#[test]
fn vacuum_reclaims_space_and_keeps_data() {
    let f = Fixture::new();
    let store = f.open();
    let keep = BlobKey::file(MessageId::new(), 0);
    store.put(&keep, &bytes(12, 20_000)).expect("put");
    let gone: Vec<MessageId> = (0..30).map(|_| MessageId::new()).collect();
    for (i, message) in gone.iter().enumerate() {
        store
            .put(&BlobKey::file(*message, 0), &bytes(i as u8 + 50, 100_000))
            .expect("put");
    }
    store.delete_by_prefixes(&gone).expect("delete");
    let path = f.dir.path().join("files.db");
    store.vacuum().expect("vacuum");
    let after = std::fs::metadata(&path).expect("stat").len();
    assert!(after < 1_000_000, "space reclaimed: {after} bytes");
    assert_eq!(store.get(&keep).expect("kept"), bytes(12, 20_000));
    store.check_integrity().expect("healthy");
}

/// A stream reads one snapshot: deleting the blob while it is being read does not
/// pull the bytes away.
#[test]
fn a_stream_sees_one_snapshot() {
    let f = Fixture::new();
    let store = f.open();
    let key = BlobKey::file(MessageId::new(), 0);
    let data = bytes(13, 300_000);
    store.put(&key, &data).expect("put");
    let mut reader = store.open(&key).expect("open");
    let mut first = vec![0u8; 1000];
    reader.read_exact(&mut first).expect("start reading");
    store.delete(&key).expect("deleted while being read");
    let mut rest = Vec::new();
    reader
        .read_to_end(&mut rest)
        .expect("the snapshot still holds the bytes");
    assert_eq!([first, rest].concat(), data);
    drop(reader);
    assert!(!store.exists(&key).expect("exists"));
}

#[test]
fn a_second_open_sees_the_same_blobs_and_the_schema_is_versioned() {
    let f = Fixture::new();
    let key = BlobKey::file(MessageId::new(), 3);
    f.open().put(&key, b"persisted").expect("put");
    let store = f.open();
    assert_eq!(store.get(&key).expect("get"), b"persisted");
    let conn = rusqlite::Connection::open(f.dir.path().join("files.db")).expect("open");
    let (legible_key, version): (String, i64) = conn
        .query_row(
            "SELECT key, (SELECT max(version) FROM schema_migrations) FROM blobs",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .expect("query");
    assert_eq!(
        legible_key,
        key.to_string(),
        "the seeds' key form is readable in the file"
    );
    assert_eq!(
        version,
        i64::from(chatstore_sqlite::engine::latest(chatstore_blob::MIGRATIONS))
    );
    assert_eq!(version, 2);
}
