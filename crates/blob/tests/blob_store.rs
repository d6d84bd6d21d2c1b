//! The attachment store: keys, content addressing, checked reads, streaming, size
//! limits, batched deletion, corruption, sweeping support and maintenance.

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

#[test]
fn put_get_info_list_delete() {
    let f = Fixture::new();
    let store = f.open();
    let message = MessageId::new();
    let (file, thumb) = (BlobKey::file(message, 0), BlobKey::thumbnail(message, 0));
    let second = BlobKey::file(message, 1);
    let data = bytes(1, 10_000);
    let info = store.put(&file, &data).expect("put");
    assert_eq!(info.size, 10_000);
    assert_eq!(info.hash, blake3::hash(&data).to_hex().as_str());
    store
        .put_all(&[(thumb, b"thumb".as_slice()), (second, b"second".as_slice())])
        .expect("put all");
    assert_eq!(store.get(&file).expect("get"), data);
    assert_eq!(store.info(&file).expect("info"), Some(info));
    assert!(store.exists(&thumb).expect("exists"));
    let listed: Vec<BlobKey> = store
        .list(message)
        .expect("list")
        .into_iter()
        .map(|i| i.key)
        .collect();
    assert_eq!(listed, vec![file, thumb, second]);
    assert!(store.delete(&thumb).expect("delete"));
    assert!(!store.delete(&thumb).expect("delete again"));
    assert!(matches!(store.get(&thumb), Err(Error::NotFound { .. })));
    assert_eq!(store.info(&thumb).expect("info"), None);
    assert_eq!(store.get(&second).expect("others stay"), b"second");
    let empty = BlobKey::file(message, 7);
    store.put(&empty, &[]).expect("an empty file is a file");
    assert_eq!(store.get(&empty).expect("empty"), Vec::<u8>::new());
}

#[test]
fn identical_content_is_stored_once_and_outlives_any_one_key() {
    let f = Fixture::new();
    let store = f.open();
    let data = bytes(2, 50_000);
    let keys: Vec<BlobKey> = (0..3).map(|_| BlobKey::file(MessageId::new(), 0)).collect();
    for key in &keys {
        store.put(key, &data).expect("put");
    }
    let stats = store.stats().expect("stats");
    assert_eq!((stats.keys, stats.bytes), (3, 150_000));
    assert_eq!(
        (stats.contents, stats.stored_bytes),
        (1, 50_000),
        "kept once"
    );
    assert!(store.delete(&keys[0]).expect("delete"));
    assert_eq!(
        store.get(&keys[1]).expect("another key keeps the bytes"),
        data
    );
    assert_eq!(
        store
            .delete_by_prefixes(&[keys[1].message])
            .expect("delete"),
        1
    );
    assert_eq!(store.get(&keys[2]).expect("the last key keeps them"), data);
    store.delete(&keys[2]).expect("delete");
    let stats = store.stats().expect("stats");
    assert_eq!(
        (stats.keys, stats.contents, stats.stored_bytes),
        (0, 0, 0),
        "nothing left behind"
    );
}

#[test]
fn replacing_a_key_releases_its_old_content() {
    let f = Fixture::new();
    let store = f.open();
    let key = BlobKey::file(MessageId::new(), 0);
    store.put(&key, &bytes(3, 1000)).expect("put");
    store.put(&key, &bytes(4, 2000)).expect("replace");
    assert_eq!(store.get(&key).expect("get"), bytes(4, 2000));
    let stats = store.stats().expect("stats");
    assert_eq!(
        (stats.keys, stats.contents, stats.stored_bytes),
        (1, 1, 2000)
    );
}

#[test]
fn oversized_blobs_are_refused_whole() {
    let f = Fixture::new();
    let store = SqliteBlobStore::open(f.config().max_blob_bytes(1000)).expect("opens");
    let message = MessageId::new();
    let (small, big) = (BlobKey::file(message, 0), BlobKey::file(message, 1));
    match store.put_all(&[
        (small, bytes(5, 10).as_slice()),
        (big, bytes(6, 1001).as_slice()),
    ]) {
        Err(Error::Validation { field: "blob", .. }) => {}
        other => panic!("expected a validation error, got {other:?}"),
    }
    assert!(!store.exists(&small).expect("exists"), "all or none");
    let mut stream = Cursor::new(bytes(7, 2000));
    assert!(matches!(
        store.put_stream(&big, 2000, &mut stream),
        Err(Error::Validation { .. })
    ));
    assert_eq!(stream.position(), 0, "refused before reading");
    store
        .put(&big, &bytes(8, 1000))
        .expect("exactly the limit is fine");
}

#[test]
fn streams_are_written_and_read_in_chunks_and_checked() {
    let f = Fixture::new();
    let store = f.open();
    let key = BlobKey::file(MessageId::new(), 0);
    let data = bytes(9, 3 * 1024 * 1024 + 17);
    let info = store
        .put_stream(&key, data.len() as u64, &mut Cursor::new(data.clone()))
        .expect("stream in");
    assert_eq!(info.hash, blake3::hash(&data).to_hex().as_str());
    let mut reader = store.open(&key).expect("open");
    assert_eq!(reader.info().size, data.len() as u64);
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
    assert_eq!(store.get(&key).expect("whole"), data);
    // The same bytes streamed under another key are stored once.
    let twin = BlobKey::file(MessageId::new(), 0);
    store
        .put_stream(&twin, data.len() as u64, &mut Cursor::new(data.clone()))
        .expect("twin");
    assert_eq!(store.stats().expect("stats").contents, 1);
}

#[test]
fn a_stream_of_the_wrong_length_stores_nothing() {
    let f = Fixture::new();
    let store = f.open();
    let key = BlobKey::file(MessageId::new(), 0);
    for (announced, actual) in [(1000u64, 999usize), (1000, 1001), (10, 0)] {
        match store.put_stream(&key, announced, &mut Cursor::new(bytes(10, actual))) {
            Err(Error::Validation { field: "blob", .. }) => {}
            other => panic!("{announced}/{actual}: expected a validation error, got {other:?}"),
        }
    }
    assert!(!store.exists(&key).expect("exists"));
    assert_eq!(
        store.stats().expect("stats").contents,
        0,
        "no half-written content"
    );
    struct Failing;
    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("upload interrupted"))
        }
    }
    assert!(matches!(
        store.put_stream(&key, 10, &mut Failing),
        Err(Error::Validation { .. })
    ));
    assert_eq!(store.stats().expect("stats").contents, 0);
}

#[test]
fn deleting_by_prefixes_takes_exactly_those_messages() {
    let f = Fixture::new();
    let store = f.open();
    let messages: Vec<MessageId> = (0..10).map(|_| MessageId::new()).collect();
    for (i, message) in messages.iter().enumerate() {
        for index in 0..2 {
            store
                .put_all(&[
                    (
                        BlobKey::file(*message, index),
                        bytes(i as u8, 100 + index as usize).as_slice(),
                    ),
                    (BlobKey::thumbnail(*message, index), b"t".as_slice()),
                ])
                .expect("put");
        }
    }
    assert_eq!(
        store.delete_by_prefixes(&messages[..4]).expect("delete"),
        16
    );
    assert_eq!(store.delete_by_prefixes(&messages[..4]).expect("again"), 0);
    assert_eq!(store.delete_by_prefixes(&[]).expect("none"), 0);
    for (i, message) in messages.iter().enumerate() {
        assert_eq!(
            store.list(*message).expect("list").len(),
            if i < 4 { 0 } else { 4 }
        );
    }
    assert_eq!(
        store
            .get(&BlobKey::thumbnail(messages[9], 1))
            .expect("kept"),
        b"t"
    );
}

#[test]
fn messages_with_blobs_pages_by_id_and_age() {
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
    let first = store.messages_with_blobs(cutoff, None, 3).expect("page");
    let rest = store
        .messages_with_blobs(cutoff, first.last().copied(), 3)
        .expect("page");
    assert_eq!([first, rest].concat(), old, "young blobs are left out");
    assert!(matches!(
        store.messages_with_blobs(cutoff, None, 0),
        Err(Error::Validation { .. })
    ));
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

#[test]
fn reads_go_on_during_writes_and_a_stream_sees_one_snapshot() {
    let f = Fixture::new();
    let store = Arc::new(f.open());
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
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for i in 0..25 {
                    let key = BlobKey::file(MessageId::new(), 0);
                    let data = bytes((t * 25 + i) as u8, 5000);
                    store.put(&key, &data).expect("put");
                    assert_eq!(store.get(&key).expect("get"), data);
                }
            })
        })
        .collect();
    writers.into_iter().for_each(|w| w.join().expect("thread"));
    assert_eq!(store.stats().expect("stats").keys, 100);
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
    assert_eq!(version, 1);
}
